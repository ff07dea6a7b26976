//===- Printer.cpp - canonical MIL text -----------------------------------===//

#include "lib/MIL/Text.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace ane::mil {
namespace {

class Printer {
public:
  explicit Printer(bool bareScalars) : bare(bareScalars) {}

  void type(const Type &t) {
    switch (t.kind) {
    case Type::Kind::Tensor:
      if (t.dims.empty() && bare) {
        out += dtypeName(t.dtype);
        return;
      }
      out += "tensor<";
      out += dtypeName(t.dtype);
      out += ", [";
      for (size_t i = 0; i < t.dims.size(); ++i) {
        if (i)
          out += ", ";
        out += t.dims[i] == kDynamic ? "?" : std::to_string(t.dims[i]);
      }
      out += "]>";
      return;
    case Type::Kind::List:
      out += "list<";
      type(t.elements.at(0));
      out += ", ";
      out += t.listSize ? std::to_string(*t.listSize) : "?";
      out += ">";
      return;
    case Type::Kind::Tuple:
    case Type::Kind::Dict:
    case Type::Kind::State:
      out += t.kind == Type::Kind::Tuple  ? "tuple<"
             : t.kind == Type::Kind::Dict ? "dict<"
                                          : "state<";
      for (size_t i = 0; i < t.elements.size(); ++i) {
        if (i)
          out += ", ";
        type(t.elements[i]);
      }
      out += ">";
      return;
    }
  }

  void value(const Value &v) {
    switch (v.kind) {
    case Value::Kind::Int:
      out += std::to_string(v.intValue);
      return;
    case Value::Kind::Float:
      out += formatHexFloat(v.floatValue);
      return;
    case Value::Kind::Bool:
      out += v.boolValue ? "true" : "false";
      return;
    case Value::Kind::String:
      string(v.text);
      return;
    case Value::Kind::Ref:
      out += v.text;
      return;
    case Value::Kind::List:
      sequence('[', v.items, ']');
      return;
    case Value::Kind::Tuple:
      sequence('(', v.items, ')');
      return;
    case Value::Kind::Dict:
      out += '{';
      for (size_t i = 0; i + 1 < v.items.size(); i += 2) {
        if (i)
          out += ", ";
        out += '{';
        value(v.items[i]);
        out += ", ";
        value(v.items[i + 1]);
        out += '}';
      }
      out += '}';
      return;
    case Value::Kind::Typed:
      type(*v.type);
      out += '(';
      if (!v.items.empty())
        value(v.items[0]);
      out += ')';
      return;
    case Value::Kind::Call:
      out += v.text;
      out += '(';
      for (size_t i = 0; i < v.namedArgs.size(); ++i) {
        if (i)
          out += ", ";
        out += v.namedArgs[i].first;
        out += " = ";
        value(v.namedArgs[i].second);
      }
      out += ')';
      return;
    }
  }

  /// `name = value` pairs sorted by name, as the compiler writes them.
  void sortedArgs(const std::vector<Argument> &args) {
    std::vector<const Argument *> sorted;
    for (const Argument &a : args)
      sorted.push_back(&a);
    std::stable_sort(
        sorted.begin(), sorted.end(),
        [](const Argument *a, const Argument *b) { return a->name < b->name; });
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (i)
        out += ", ";
      out += sorted[i]->name;
      out += " = ";
      value(sorted[i]->value);
    }
  }

  void attrList(const std::vector<Argument> &attrs) {
    if (attrs.empty())
      return;
    out += '[';
    sortedArgs(attrs);
    out += ']';
  }

  void statement(const Statement &s) {
    out += "            ";
    for (size_t i = 0; i < s.outputs.size(); ++i) {
      if (i)
        out += ", ";
      type(s.outputs[i].type);
      out += ' ';
      out += s.outputs[i].name;
    }
    if (!s.outputs.empty())
      out += " = ";
    out += s.op;
    out += '(';
    sortedArgs(s.args);
    out += ')';
    attrList(s.attrs);
    out += ";\n";
  }

  void function(const Function &f) {
    out += "    func ";
    out += f.name;
    out += '<';
    out += f.opset;
    out += ">(";
    for (size_t i = 0; i < f.params.size(); ++i) {
      if (i)
        out += ", ";
      type(f.params[i].type);
      out += ' ';
      out += f.params[i].name;
    }
    out += ')';
    if (!f.attrs.empty()) {
      out += ' ';
      attrList(f.attrs);
    }
    out += " {\n";
    for (const Statement &s : f.body)
      statement(s);
    out += "        } -> (";
    for (size_t i = 0; i < f.outputs.size(); ++i) {
      if (i)
        out += ", ";
      out += f.outputs[i];
    }
    out += ");\n";
  }

  std::string out;
  bool bare;

private:
  void sequence(char open, const std::vector<Value> &items, char close) {
    out += open;
    for (size_t i = 0; i < items.size(); ++i) {
      if (i)
        out += ", ";
      value(items[i]);
    }
    out += close;
  }

  void string(const std::string &s) {
    out += '"';
    for (char c : s) {
      if (c == '"' || c == '\\')
        out += '\\';
      out += c;
    }
    out += '"';
  }
};

bool programUsesBareScalars(const Program &p) {
  return p.version != "1.0" && p.version != "1.1" && p.version != "1.2";
}

} // namespace

std::string formatHexFloat(double v) {
  if (std::isnan(v))
    return std::signbit(v) ? "-nan" : "nan";
  if (std::isinf(v))
    return v < 0 ? "-inf" : "inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), std::fabs(v),
                         std::chars_format::hex);
  std::string s(buf, r.ptr);
  return (std::signbit(v) ? "-0x" : "0x") + s;
}

std::string printType(const Type &type, bool bareScalars) {
  Printer p(bareScalars);
  p.type(type);
  return std::move(p.out);
}

std::string printValue(const Value &value, bool bareScalars) {
  Printer p(bareScalars);
  p.value(value);
  return std::move(p.out);
}

std::string printProgram(const Program &program) {
  Printer p(programUsesBareScalars(program));
  p.out += "program(" + program.version + ")\n";
  if (!program.attrs.empty()) {
    p.attrList(program.attrs);
    p.out += '\n';
  }
  p.out += "{\n";
  for (const Function &f : program.functions) {
    p.bare = f.opsetVersion() >= 18;
    p.function(f);
  }
  p.out += '}';
  if (program.trailingNewline)
    p.out += '\n';
  return std::move(p.out);
}

} // namespace ane::mil
