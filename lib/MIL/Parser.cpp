//===- Parser.cpp - MIL text parser ---------------------------------------===//
//
// A hand-written recursive-descent parser. Whitespace and newlines are
// insignificant; `//` comments are skipped. Nesting is bounded so hostile
// input cannot exhaust the stack.
//
//===----------------------------------------------------------------------===//

#include "lib/MIL/Text.h"
#include "lib/Support/Float16.h"

#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace ane::mil {
namespace {

constexpr int kMaxDepth = 64;

struct Token {
  enum class Kind { End, Ident, Int, Float, String, Punct, Arrow, Error };
  Kind kind = Kind::End;
  std::string_view text; // source spelling
  std::string str;       // decoded string literal
  int64_t intValue = 0;
  double floatValue = 0;
  int line = 1, col = 1;
};

bool isIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool isIdentChar(char c) { return isIdentStart(c) || (c >= '0' && c <= '9'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isHexDigit(char c) {
  return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

class Lexer {
public:
  explicit Lexer(std::string_view src) : src(src) {}

  Token next() {
    skipTrivia();
    Token t;
    t.line = line;
    t.col = col;
    if (pos >= src.size())
      return t;
    size_t start = pos;
    char c = src[pos];
    if (isIdentStart(c)) {
      while (pos < src.size() && isIdentChar(src[pos]))
        advance();
      t.kind = Token::Kind::Ident;
    } else if (isDigit(c) ||
               (c == '-' && pos + 1 < src.size() && isDigit(src[pos + 1]))) {
      lexNumber(t);
    } else if (c == '-' && pos + 1 < src.size() && src[pos + 1] == '>') {
      advance();
      advance();
      t.kind = Token::Kind::Arrow;
    } else if (c == '"') {
      lexString(t);
    } else if (std::string_view("()[]{}<>,=;?-").find(c) !=
               std::string_view::npos) {
      advance();
      t.kind = Token::Kind::Punct;
    } else {
      advance();
      t.kind = Token::Kind::Error;
      t.str = "unexpected character";
    }
    t.text = src.substr(start, pos - start);
    return t;
  }

private:
  void advance() {
    if (src[pos] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
    ++pos;
  }

  void skipTrivia() {
    while (pos < src.size()) {
      char c = src[pos];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        advance();
      } else if (c == '/' && pos + 1 < src.size() && src[pos + 1] == '/') {
        while (pos < src.size() && src[pos] != '\n')
          advance();
      } else {
        break;
      }
    }
  }

  void lexNumber(Token &t) {
    bool negative = src[pos] == '-';
    if (negative)
      advance();
    size_t digitsStart = pos;
    bool hex = pos + 1 < src.size() && src[pos] == '0' &&
               (src[pos + 1] == 'x' || src[pos + 1] == 'X');
    bool isFloat = false;
    if (hex) {
      advance();
      advance();
      digitsStart = pos;
      while (pos < src.size() && (isHexDigit(src[pos]) || src[pos] == '.'))
        advance();
      if (pos < src.size() && (src[pos] == 'p' || src[pos] == 'P')) {
        advance();
        if (pos < src.size() && (src[pos] == '+' || src[pos] == '-'))
          advance();
        while (pos < src.size() && isDigit(src[pos]))
          advance();
      }
      isFloat = true;
    } else {
      while (pos < src.size() && isDigit(src[pos]))
        advance();
      if (pos < src.size() && src[pos] == '.') {
        isFloat = true;
        advance();
        while (pos < src.size() && isDigit(src[pos]))
          advance();
      }
      if (pos < src.size() && (src[pos] == 'e' || src[pos] == 'E')) {
        isFloat = true;
        advance();
        if (pos < src.size() && (src[pos] == '+' || src[pos] == '-'))
          advance();
        while (pos < src.size() && isDigit(src[pos]))
          advance();
      }
    }
    std::string_view digits = src.substr(digitsStart, pos - digitsStart);
    const char *b = digits.data(), *e = digits.data() + digits.size();
    if (isFloat) {
      double v = 0;
      auto r = std::from_chars(
          b, e, v, hex ? std::chars_format::hex : std::chars_format::general);
      if (r.ec != std::errc() || r.ptr != e) {
        t.kind = Token::Kind::Error;
        t.str = "malformed number";
        return;
      }
      t.kind = Token::Kind::Float;
      t.floatValue = negative ? -v : v;
    } else {
      uint64_t v = 0;
      auto r = std::from_chars(b, e, v);
      uint64_t limit = negative ? uint64_t(1) << 63
                                : uint64_t(std::numeric_limits<int64_t>::max());
      if (r.ec != std::errc() || r.ptr != e || v > limit) {
        t.kind = Token::Kind::Error;
        t.str = "integer out of range";
        return;
      }
      t.kind = Token::Kind::Int;
      t.intValue =
          negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
    }
  }

  void lexString(Token &t) {
    advance(); // opening quote
    while (pos < src.size() && src[pos] != '"') {
      if (src[pos] == '\\' && pos + 1 < src.size()) {
        advance();
        char c = src[pos];
        t.str += c == 'n' ? '\n' : c == 't' ? '\t' : c;
        advance();
        continue;
      }
      if (src[pos] == '\n')
        break;
      t.str += src[pos];
      advance();
    }
    if (pos >= src.size() || src[pos] != '"') {
      t.kind = Token::Kind::Error;
      t.str = "unterminated string";
      return;
    }
    advance();
    t.kind = Token::Kind::String;
  }

  std::string_view src;
  size_t pos = 0;
  int line = 1, col = 1;
};

std::string describe(const Token &t) {
  switch (t.kind) {
  case Token::Kind::End:
    return "end of input";
  case Token::Kind::Error:
    return t.str + " '" + std::string(t.text) + "'";
  default:
    return "'" + std::string(t.text.substr(0, 40)) + "'";
  }
}

/// Rounds a parsed float to the precision of the dtype it is written in, so
/// the value in memory is the one the tensor holds.
void roundFloats(Value &v, DType dtype) {
  if (v.kind == Value::Kind::Float) {
    if (dtype == DType::FP16)
      v.floatValue = roundToHalf(static_cast<float>(v.floatValue));
    else if (dtype == DType::FP32)
      v.floatValue = static_cast<float>(v.floatValue);
    return;
  }
  if (v.kind == Value::Kind::List)
    for (Value &item : v.items)
      roundFloats(item, dtype);
}

class Parser {
public:
  Parser(std::string_view src, std::string_view file) : lex(src), file(file) {
    tok = lex.next();
    peekTok = lex.next();
  }

  Result<Program> program() {
    Program p;
    if (!expectKeyword("program") || !expectPunct('('))
      return failure();
    if (tok.kind != Token::Kind::Float && tok.kind != Token::Kind::Int)
      return fail("a program version such as 1.0");
    p.version = std::string(tok.text);
    consume();
    if (!expectPunct(')'))
      return failure();
    if (isPunct('[') && !attrList(p.attrs))
      return failure();
    if (!expectPunct('{'))
      return failure();
    while (!isPunct('}')) {
      if (tok.kind == Token::Kind::End)
        return fail("'}' closing the program");
      Function f;
      if (!function(f))
        return failure();
      p.functions.push_back(std::move(f));
    }
    consume();
    if (tok.kind != Token::Kind::End)
      return fail("end of input after the program");
    return p;
  }

private:
  // -- token helpers --------------------------------------------------------

  void consume() {
    tok = std::move(peekTok);
    peekTok = lex.next();
  }

  bool isPunct(char c) const {
    return tok.kind == Token::Kind::Punct && tok.text[0] == c;
  }
  bool isIdent(std::string_view s) const {
    return tok.kind == Token::Kind::Ident && tok.text == s;
  }
  bool peekIsPunct(char c) const {
    return peekTok.kind == Token::Kind::Punct && peekTok.text[0] == c;
  }

  bool setError(const std::string &what) {
    if (error.empty())
      error = fmt::format("{}:{}:{}: expected {}, found {}", file, tok.line,
                          tok.col, what, describe(tok));
    return false;
  }
  Status failure() const { return Status::error(error); }
  Status fail(const std::string &what) {
    setError(what);
    return failure();
  }

  bool expectPunct(char c) {
    if (!isPunct(c))
      return setError(fmt::format("'{}'", c));
    consume();
    return true;
  }
  bool expectKeyword(std::string_view kw) {
    if (!isIdent(kw))
      return setError(fmt::format("'{}'", kw));
    consume();
    return true;
  }
  bool ident(std::string &out, const char *what) {
    if (tok.kind != Token::Kind::Ident)
      return setError(what);
    out = std::string(tok.text);
    consume();
    return true;
  }

  struct DepthGuard {
    explicit DepthGuard(int &d) : depth(d) { ++depth; }
    ~DepthGuard() { --depth; }
    int &depth;
  };
  bool tooDeep() {
    if (depth <= kMaxDepth)
      return false;
    setError(fmt::format("nesting no deeper than {}", kMaxDepth));
    return true;
  }

  // -- types ----------------------------------------------------------------

  bool startsType() const {
    if (tok.kind != Token::Kind::Ident)
      return false;
    if (tok.text == "tensor" || tok.text == "list" || tok.text == "tuple" ||
        tok.text == "dict" || tok.text == "state")
      return peekIsPunct('<');
    return parseDType(tok.text).has_value();
  }

  bool type(Type &t) {
    DepthGuard g(depth);
    if (tooDeep())
      return false;
    if (tok.kind != Token::Kind::Ident)
      return setError("a type");
    std::string_view kw = tok.text;
    if (auto d = parseDType(kw)) {
      consume();
      t = Type::scalar(*d);
      return true;
    }
    if (kw == "tensor") {
      consume();
      if (!expectPunct('<'))
        return false;
      if (tok.kind != Token::Kind::Ident || !parseDType(tok.text))
        return setError("an element type");
      t = Type::scalar(*parseDType(tok.text));
      consume();
      if (!expectPunct(',') || !expectPunct('['))
        return false;
      while (!isPunct(']')) {
        if (!t.dims.empty() && !expectPunct(','))
          return false;
        if (isPunct('?')) {
          t.dims.push_back(kDynamic);
          consume();
        } else if (tok.kind == Token::Kind::Int && tok.intValue >= 0) {
          t.dims.push_back(tok.intValue);
          consume();
        } else {
          return setError("a dimension (a non-negative integer or '?')");
        }
      }
      consume();
      return expectPunct('>');
    }
    Type::Kind kind;
    if (kw == "list")
      kind = Type::Kind::List;
    else if (kw == "tuple")
      kind = Type::Kind::Tuple;
    else if (kw == "dict")
      kind = Type::Kind::Dict;
    else if (kw == "state")
      kind = Type::Kind::State;
    else
      return setError("a type");
    consume();
    t = Type();
    t.kind = kind;
    if (!expectPunct('<'))
      return false;
    if (kind == Type::Kind::List) {
      t.elements.emplace_back();
      if (!type(t.elements[0]) || !expectPunct(','))
        return false;
      if (isPunct('?')) {
        consume();
      } else if (tok.kind == Token::Kind::Int && tok.intValue >= 0) {
        t.listSize = tok.intValue;
        consume();
      } else {
        return setError("a list length (an integer or '?')");
      }
      return expectPunct('>');
    }
    do {
      if (!t.elements.empty())
        consume(); // ','
      t.elements.emplace_back();
      if (!type(t.elements.back()))
        return false;
    } while (isPunct(','));
    if (!expectPunct('>'))
      return false;
    size_t want = kind == Type::Kind::Dict    ? 2
                  : kind == Type::Kind::State ? 1
                                              : 0;
    if (want && t.elements.size() != want)
      return setError(fmt::format("{} type parameter(s)", want));
    return true;
  }

  // -- values ---------------------------------------------------------------

  bool value(Value &v) {
    DepthGuard g(depth);
    if (tooDeep())
      return false;
    switch (tok.kind) {
    case Token::Kind::Int:
      v = Value::makeInt(tok.intValue);
      consume();
      return true;
    case Token::Kind::Float:
      v = Value::makeFloat(tok.floatValue);
      consume();
      return true;
    case Token::Kind::String:
      v = Value::makeString(tok.str);
      consume();
      return true;
    case Token::Kind::Punct:
      return punctValue(v);
    case Token::Kind::Ident:
      return identValue(v);
    default:
      return setError("a value");
    }
  }

  bool punctValue(Value &v) {
    char c = tok.text[0];
    if (c == '-') { // -inf, -nan
      consume();
      if (!isIdent("inf") && !isIdent("nan"))
        return setError("'inf' or 'nan' after '-'");
      double x = tok.text == "inf" ? std::numeric_limits<double>::infinity()
                                   : std::numeric_limits<double>::quiet_NaN();
      consume();
      v = Value::makeFloat(-x);
      return true;
    }
    if (c == '[' || c == '(') {
      char close = c == '[' ? ']' : ')';
      consume();
      v = Value();
      v.kind = c == '[' ? Value::Kind::List : Value::Kind::Tuple;
      return sequence(v.items, close);
    }
    if (c == '{') {
      consume();
      v = Value();
      v.kind = Value::Kind::Dict;
      while (!isPunct('}')) {
        if (!v.items.empty() && !expectPunct(','))
          return false;
        Value key, val;
        if (!expectPunct('{') || !value(key) || !expectPunct(',') ||
            !value(val) || !expectPunct('}'))
          return false;
        v.items.push_back(std::move(key));
        v.items.push_back(std::move(val));
      }
      consume();
      return true;
    }
    return setError("a value");
  }

  bool sequence(std::vector<Value> &items, char close) {
    while (!isPunct(close)) {
      if (!items.empty() && !expectPunct(','))
        return false;
      items.emplace_back();
      if (!value(items.back()))
        return false;
    }
    consume();
    return true;
  }

  bool identValue(Value &v) {
    std::string_view word = tok.text;
    if (startsType() && (peekIsPunct('(') || peekIsPunct('<'))) {
      Type t;
      if (!type(t) || !expectPunct('('))
        return false;
      Value inner;
      if (!value(inner) || !expectPunct(')'))
        return false;
      if (t.isTensor())
        roundFloats(inner, t.dtype);
      v = Value::makeTyped(std::move(t), std::move(inner));
      return true;
    }
    if (peekIsPunct('(')) { // BLOBFILE(path = ..., offset = ...)
      v = Value();
      v.kind = Value::Kind::Call;
      v.text = std::string(word);
      consume();
      consume();
      while (!isPunct(')')) {
        if (!v.namedArgs.empty() && !expectPunct(','))
          return false;
        std::string name;
        Value arg;
        if (!ident(name, "an argument name") || !expectPunct('=') ||
            !value(arg))
          return false;
        v.namedArgs.emplace_back(std::move(name), std::move(arg));
      }
      consume();
      return true;
    }
    if (word == "true" || word == "false") {
      v = Value::makeBool(word == "true");
    } else if (word == "inf") {
      v = Value::makeFloat(std::numeric_limits<double>::infinity());
    } else if (word == "nan") {
      v = Value::makeFloat(std::numeric_limits<double>::quiet_NaN());
    } else {
      v = Value::makeRef(std::string(word));
    }
    consume();
    return true;
  }

  // -- structure ------------------------------------------------------------

  bool attrList(std::vector<Argument> &out) {
    consume(); // '['
    while (!isPunct(']')) {
      if (!out.empty() && !expectPunct(','))
        return false;
      Argument a;
      if (!ident(a.name, "an attribute name") || !expectPunct('=') ||
          !value(a.value))
        return false;
      out.push_back(std::move(a));
    }
    consume();
    return true;
  }

  bool function(Function &f) {
    if (!expectKeyword("func") || !ident(f.name, "a function name") ||
        !expectPunct('<') || !ident(f.opset, "an opset such as ios18") ||
        !expectPunct('>') || !expectPunct('('))
      return false;
    while (!isPunct(')')) {
      if (!f.params.empty() && !expectPunct(','))
        return false;
      Param p;
      if (!type(p.type) || !ident(p.name, "a parameter name"))
        return false;
      f.params.push_back(std::move(p));
    }
    consume();
    if (isPunct('[') && !attrList(f.attrs))
      return false;
    if (!expectPunct('{'))
      return false;
    while (!isPunct('}')) {
      if (tok.kind == Token::Kind::End)
        return setError("'}' closing the function body");
      Statement s;
      if (!statement(s))
        return false;
      f.body.push_back(std::move(s));
    }
    consume();
    if (tok.kind != Token::Kind::Arrow)
      return setError("'->' before the function outputs");
    consume();
    if (!expectPunct('('))
      return false;
    while (!isPunct(')')) {
      if (!f.outputs.empty() && !expectPunct(','))
        return false;
      std::string name;
      if (!ident(name, "an output name"))
        return false;
      f.outputs.push_back(std::move(name));
    }
    consume();
    return expectPunct(';');
  }

  bool outputList(Statement &s) {
    bool parens = isPunct('(');
    if (parens)
      consume();
    do {
      if (!s.outputs.empty())
        consume(); // ','
      Statement::Output o;
      if (!type(o.type) || !ident(o.name, "an output name"))
        return false;
      s.outputs.push_back(std::move(o));
    } while (isPunct(','));
    if (parens && !expectPunct(')'))
      return false;
    return expectPunct('=');
  }

  bool statement(Statement &s) {
    s.line = tok.line;
    bool noOutputs = tok.kind == Token::Kind::Ident && peekIsPunct('(') &&
                     !parseDType(tok.text);
    if (!noOutputs && !outputList(s))
      return false;
    if (!ident(s.op, "an op name") || !expectPunct('('))
      return false;
    while (!isPunct(')')) {
      if (!s.args.empty() && !expectPunct(','))
        return false;
      Argument a;
      if (!ident(a.name, "an argument name") || !expectPunct('=') ||
          !value(a.value))
        return false;
      s.args.push_back(std::move(a));
    }
    consume();
    if (isPunct('[') && !attrList(s.attrs))
      return false;
    return expectPunct(';');
  }

  Lexer lex;
  std::string_view file;
  Token tok, peekTok;
  std::string error;
  int depth = 0;
};

} // namespace

Result<Program> parseProgram(std::string_view text, std::string_view fileName) {
  Parser parser(text, fileName);
  Result<Program> result = parser.program();
  if (result.ok()) {
    // The compiler ends its files without a newline; some copies have one.
    result->trailingNewline = !text.empty() && text.back() == '\n';
  }
  return result;
}

Result<Function> parseMainFunction(std::string_view text) {
  Result<Program> program = parseProgram(text);
  if (!program.ok())
    return program.status();
  const Function *fn = program->function("main");
  if (!fn)
    return Status::error("the program has no function 'main'");
  return *fn;
}

} // namespace ane::mil
