//===- Json.cpp - a small JSON reader and writer --------------------------===//

#include "lib/Support/Json.h"

#include "lib/Support/TextInput.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace ane::json {

const Value *Value::get(std::string_view key) const {
  if (kind != Kind::Object)
    return nullptr;
  for (const auto &[k, v] : object)
    if (k == key)
      return &v;
  return nullptr;
}

namespace {

constexpr int kMaxDepth = 64;

class Parser {
public:
  Parser(std::string_view text, const std::string &source)
      : text(text), source(source) {}

  Result<Value> document() {
    Value v;
    if (Status s = parseValue(v, 0); !s.ok())
      return s;
    skipSpace();
    if (at < text.size())
      return fail("unexpected text after the document");
    return v;
  }

private:
  Status fail(const std::string &what) const {
    return Status::error(fmt::format("{}: offset {}: {}", source, at, what));
  }

  void skipSpace() {
    while (at < text.size() && (text[at] == ' ' || text[at] == '\n' ||
                                text[at] == '\r' || text[at] == '\t'))
      ++at;
  }

  bool literal(std::string_view word) {
    if (text.substr(at, word.size()) != word)
      return false;
    at += word.size();
    return true;
  }

  Status parseValue(Value &v, int depth) {
    if (depth > kMaxDepth)
      return fail("nesting deeper than 64 levels");
    skipSpace();
    if (at >= text.size())
      return fail("unexpected end of input");
    char c = text[at];
    if (c == '{')
      return parseObject(v, depth);
    if (c == '[')
      return parseArray(v, depth);
    if (c == '"') {
      v.kind = Value::Kind::String;
      return parseString(v.string);
    }
    if (literal("true") || literal("false")) {
      v.kind = Value::Kind::Bool;
      v.boolean = c == 't';
      return Status::success();
    }
    if (literal("null"))
      return Status::success();
    if (c == '-' || (c >= '0' && c <= '9'))
      return parseNumber(v);
    return fail(fmt::format("unexpected character '{}'", c));
  }

  Status parseObject(Value &v, int depth) {
    v.kind = Value::Kind::Object;
    ++at; // {
    skipSpace();
    if (at < text.size() && text[at] == '}') {
      ++at;
      return Status::success();
    }
    while (true) {
      skipSpace();
      if (at >= text.size() || text[at] != '"')
        return fail("expected a member name");
      std::string key;
      if (Status s = parseString(key); !s.ok())
        return s;
      skipSpace();
      if (at >= text.size() || text[at] != ':')
        return fail("expected ':'");
      ++at;
      Value member;
      if (Status s = parseValue(member, depth + 1); !s.ok())
        return s;
      v.object.emplace_back(std::move(key), std::move(member));
      skipSpace();
      if (at < text.size() && text[at] == ',') {
        ++at;
        continue;
      }
      if (at < text.size() && text[at] == '}') {
        ++at;
        return Status::success();
      }
      return fail("expected ',' or '}'");
    }
  }

  Status parseArray(Value &v, int depth) {
    v.kind = Value::Kind::Array;
    ++at; // [
    skipSpace();
    if (at < text.size() && text[at] == ']') {
      ++at;
      return Status::success();
    }
    while (true) {
      Value element;
      if (Status s = parseValue(element, depth + 1); !s.ok())
        return s;
      v.array.push_back(std::move(element));
      skipSpace();
      if (at < text.size() && text[at] == ',') {
        ++at;
        continue;
      }
      if (at < text.size() && text[at] == ']') {
        ++at;
        return Status::success();
      }
      return fail("expected ',' or ']'");
    }
  }

  static void appendUtf8(std::string &out, uint32_t cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }

  Status hex4(uint32_t &cp) {
    if (text.size() - at < 4)
      return fail("truncated \\u escape");
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      char h = text[at++];
      cp <<= 4;
      if (h >= '0' && h <= '9')
        cp |= h - '0';
      else if (h >= 'a' && h <= 'f')
        cp |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F')
        cp |= h - 'A' + 10;
      else
        return fail("bad hex digit in \\u escape");
    }
    return Status::success();
  }

  Status parseString(std::string &out) {
    ++at; // "
    while (true) {
      if (at >= text.size())
        return fail("unterminated string");
      char c = text[at++];
      if (c == '"')
        return Status::success();
      if (static_cast<unsigned char>(c) < 0x20)
        return fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at >= text.size())
        return fail("unterminated escape");
      char e = text[at++];
      switch (e) {
      case '"':
      case '\\':
      case '/':
        out += e;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t cp = 0;
        if (Status s = hex4(cp); !s.ok())
          return s;
        if (cp >= 0xD800 && cp < 0xDC00) {
          uint32_t low = 0;
          if (!literal("\\u"))
            return fail("a high surrogate without its low half");
          if (Status s = hex4(low); !s.ok())
            return s;
          if (low < 0xDC00 || low >= 0xE000)
            return fail("a high surrogate without its low half");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp < 0xE000) {
          return fail("a lone low surrogate");
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        return fail(fmt::format("unknown escape '\\{}'", e));
      }
    }
  }

  Status parseNumber(Value &v) {
    size_t start = at;
    if (text[at] == '-')
      ++at;
    auto digits = [&] {
      size_t from = at;
      while (at < text.size() && text[at] >= '0' && text[at] <= '9')
        ++at;
      return at - from;
    };
    size_t intDigits = digits();
    if (intDigits == 0)
      return fail("a number needs digits");
    if (intDigits > 1 && text[at - intDigits] == '0') {
      at = start;
      return fail("a number with a leading zero");
    }
    bool integral = true;
    if (at < text.size() && text[at] == '.') {
      ++at;
      integral = false;
      if (digits() == 0)
        return fail("a fraction needs digits");
    }
    if (at < text.size() && (text[at] == 'e' || text[at] == 'E')) {
      ++at;
      integral = false;
      if (at < text.size() && (text[at] == '+' || text[at] == '-'))
        ++at;
      if (digits() == 0)
        return fail("an exponent needs digits");
    }
    std::string literalText(text.substr(start, at - start));
    v.kind = Value::Kind::Number;
    v.number = std::strtod(literalText.c_str(), nullptr);
    if (integral) {
      errno = 0;
      long long i = std::strtoll(literalText.c_str(), nullptr, 10);
      if (errno != ERANGE) {
        v.integral = true;
        v.integer = i;
      }
    }
    return Status::success();
  }

  std::string_view text;
  const std::string &source;
  size_t at = 0;
};

const char *kindName(Value::Kind k) {
  switch (k) {
  case Value::Kind::Null:
    return "null";
  case Value::Kind::Bool:
    return "a boolean";
  case Value::Kind::Number:
    return "a number";
  case Value::Kind::String:
    return "a string";
  case Value::Kind::Array:
    return "an array";
  case Value::Kind::Object:
    return "an object";
  }
  return "?";
}

} // namespace

Result<Value> parse(std::string_view text, const std::string &source) {
  return Parser(text, source).document();
}

Fields::Fields(const Value &object, std::string path)
    : value(object), path(std::move(path)) {
  if (value.kind != Value::Kind::Object)
    error = Status::error(fmt::format("{}: expected an object, found {}",
                                      this->path, kindName(value.kind)));
}

std::string Fields::pathOf(const char *key) const {
  return path.empty() ? key : path + "." + key;
}

void Fields::fail(const Status &status) {
  if (error.ok())
    error = status;
}

void Fields::fail(const char *key, const std::string &what) {
  if (error.ok())
    error = Status::error(fmt::format("{}: {}", pathOf(key), what));
}

const Value *Fields::member(const char *key, Value::Kind kind,
                            const char *what) {
  if (!error.ok())
    return nullptr;
  const Value *v = value.get(key);
  if (!v) {
    fail(key, "missing");
    return nullptr;
  }
  if (v->kind != kind) {
    fail(key, fmt::format("expected {}, found {}", what, kindName(v->kind)));
    return nullptr;
  }
  return v;
}

int64_t Fields::integer(const char *key) {
  const Value *v = member(key, Value::Kind::Number, "an integer");
  if (v && !v->integral) {
    fail(key, "expected an integer");
    return 0;
  }
  return v ? v->integer : 0;
}

double Fields::number(const char *key) {
  const Value *v = member(key, Value::Kind::Number, "a number");
  return v ? v->number : 0;
}

std::string Fields::string(const char *key) {
  const Value *v = member(key, Value::Kind::String, "a string");
  return v ? v->string : std::string();
}

bool Fields::boolean(const char *key) {
  const Value *v = member(key, Value::Kind::Bool, "a boolean");
  return v && v->boolean;
}

const Value *Fields::array(const char *key) {
  return member(key, Value::Kind::Array, "an array");
}

const Value *Fields::object(const char *key) {
  return member(key, Value::Kind::Object, "an object");
}

std::vector<int64_t> Fields::integers(const char *key) {
  std::vector<int64_t> out;
  const Value *v = array(key);
  if (!v)
    return out;
  for (const Value &e : v->array) {
    if (e.kind != Value::Kind::Number || !e.integral) {
      fail(key, "expected an array of integers");
      return {};
    }
    out.push_back(e.integer);
  }
  return out;
}

std::vector<std::string> Fields::strings(const char *key) {
  std::vector<std::string> out;
  const Value *v = array(key);
  if (!v)
    return out;
  for (const Value &e : v->array) {
    if (e.kind != Value::Kind::String) {
      fail(key, "expected an array of strings");
      return {};
    }
    out.push_back(e.string);
  }
  return out;
}

void Writer::separate() {
  if (afterKey) {
    afterKey = false;
    return;
  }
  if (!first.empty()) {
    if (!first.back())
      out += ',';
    first.back() = false;
  }
}

Writer &Writer::beginObject() {
  separate();
  out += '{';
  first.push_back(true);
  return *this;
}

Writer &Writer::endObject() {
  out += '}';
  first.pop_back();
  return *this;
}

Writer &Writer::beginArray() {
  separate();
  out += '[';
  first.push_back(true);
  return *this;
}

Writer &Writer::endArray() {
  out += ']';
  first.pop_back();
  return *this;
}

Writer &Writer::key(std::string_view k) {
  string(k);
  out += ':';
  afterKey = true;
  return *this;
}

Writer &Writer::string(std::string_view s) {
  separate();
  out += '"';
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (u < 0x20) {
      out += fmt::format("\\u{:04x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
  return *this;
}

Writer &Writer::integer(int64_t v) {
  separate();
  out += std::to_string(v);
  return *this;
}

Writer &Writer::number(double v) {
  separate();
  // JSON has no NaN or infinity; a config never holds them.
  out += std::isfinite(v) ? fmt::format("{}", v) : "null";
  return *this;
}

Writer &Writer::boolean(bool v) {
  separate();
  out += v ? "true" : "false";
  return *this;
}

Writer &Writer::integers(const std::vector<int64_t> &v) {
  beginArray();
  for (int64_t x : v)
    integer(x);
  return endArray();
}

Result<Value> parseFile(const std::string &path) {
  auto text = readTextInput(path);
  if (!text.ok())
    return text.status();
  return parse(*text, path);
}

} // namespace ane::json
