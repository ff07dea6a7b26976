//===- Program.cpp - in-memory MIL program --------------------------------===//

#include "lib/MIL/Program.h"

#include <array>

namespace ane::mil {
namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  int bits;
};

constexpr std::array<DTypeInfo, 20> kDTypes = {{
    {DType::Bool, "bool", 1},      {DType::String, "string", 0},
    {DType::FP16, "fp16", 16},     {DType::FP32, "fp32", 32},
    {DType::FP64, "fp64", 64},     {DType::BF16, "bf16", 16},
    {DType::Int4, "int4", 4},      {DType::Int8, "int8", 8},
    {DType::Int16, "int16", 16},   {DType::Int32, "int32", 32},
    {DType::Int64, "int64", 64},   {DType::UInt1, "uint1", 1},
    {DType::UInt2, "uint2", 2},    {DType::UInt3, "uint3", 3},
    {DType::UInt4, "uint4", 4},    {DType::UInt6, "uint6", 6},
    {DType::UInt8, "uint8", 8},    {DType::UInt16, "uint16", 16},
    {DType::UInt32, "uint32", 32}, {DType::UInt64, "uint64", 64},
}};

const DTypeInfo &info(DType d) { return kDTypes[static_cast<size_t>(d)]; }

} // namespace

std::string_view dtypeName(DType d) { return info(d).name; }

std::optional<DType> parseDType(std::string_view name) {
  for (const DTypeInfo &i : kDTypes)
    if (i.name == name)
      return i.dtype;
  return std::nullopt;
}

bool isSignedIntDType(DType d) {
  return d == DType::Int4 || d == DType::Int8 || d == DType::Int16 ||
         d == DType::Int32 || d == DType::Int64;
}

bool isUnsignedIntDType(DType d) {
  switch (d) {
  case DType::UInt1:
  case DType::UInt2:
  case DType::UInt3:
  case DType::UInt4:
  case DType::UInt6:
  case DType::UInt8:
  case DType::UInt16:
  case DType::UInt32:
  case DType::UInt64:
    return true;
  default:
    return false;
  }
}

int dtypeBits(DType d) { return info(d).bits; }

int64_t Type::numElements() const {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d == kDynamic || d < 0)
      return kDynamic;
    n *= d;
  }
  return n;
}

bool Type::operator==(const Type &o) const {
  if (kind != o.kind)
    return false;
  switch (kind) {
  case Kind::Tensor:
    return dtype == o.dtype && dims == o.dims;
  case Kind::List:
    return listSize == o.listSize && elements == o.elements;
  case Kind::Tuple:
  case Kind::Dict:
  case Kind::State:
    return elements == o.elements;
  }
  return false;
}

Value Value::makeInt(int64_t v) {
  Value x;
  x.kind = Kind::Int;
  x.intValue = v;
  return x;
}

Value Value::makeFloat(double v) {
  Value x;
  x.kind = Kind::Float;
  x.floatValue = v;
  return x;
}

Value Value::makeBool(bool v) {
  Value x;
  x.kind = Kind::Bool;
  x.boolValue = v;
  return x;
}

Value Value::makeString(std::string s) {
  Value x;
  x.kind = Kind::String;
  x.text = std::move(s);
  return x;
}

Value Value::makeRef(std::string name) {
  Value x;
  x.kind = Kind::Ref;
  x.text = std::move(name);
  return x;
}

Value Value::makeList(std::vector<Value> items) {
  Value x;
  x.kind = Kind::List;
  x.items = std::move(items);
  return x;
}

Value Value::makeTuple(std::vector<Value> items) {
  Value x;
  x.kind = Kind::Tuple;
  x.items = std::move(items);
  return x;
}

Value Value::makeTyped(Type type, Value inner) {
  Value x;
  x.kind = Kind::Typed;
  x.type = std::make_shared<Type>(std::move(type));
  x.items.push_back(std::move(inner));
  return x;
}

Value Value::makeBlobFile(Type type, std::string path, uint64_t offset) {
  Value call;
  call.kind = Kind::Call;
  call.text = "BLOBFILE";
  call.namedArgs.emplace_back("path", makeTyped(Type::scalar(DType::String),
                                                makeString(std::move(path))));
  call.namedArgs.emplace_back("offset",
                              makeTyped(Type::scalar(DType::UInt64),
                                        makeInt(static_cast<int64_t>(offset))));
  return makeTyped(std::move(type), std::move(call));
}

bool Value::isBlobFile() const {
  if (kind != Kind::Typed || items.size() != 1)
    return false;
  const Value &call = items[0];
  if (call.kind != Kind::Call || call.text != "BLOBFILE" ||
      call.namedArgs.size() != 2)
    return false;
  auto inner = [](const Value &v) -> const Value * {
    return v.kind == Kind::Typed && v.items.size() == 1 ? &v.items[0] : nullptr;
  };
  const Value *path = nullptr, *offset = nullptr;
  for (const auto &[name, v] : call.namedArgs) {
    if (name == "path")
      path = inner(v);
    else if (name == "offset")
      offset = inner(v);
  }
  return path && path->kind == Kind::String && offset &&
         offset->kind == Kind::Int && offset->intValue >= 0;
}

std::string Value::blobPath() const {
  for (const auto &[name, v] : items[0].namedArgs)
    if (name == "path")
      return v.items[0].text;
  return {};
}

uint64_t Value::blobOffset() const {
  for (const auto &[name, v] : items[0].namedArgs)
    if (name == "offset")
      return static_cast<uint64_t>(v.items[0].intValue);
  return 0;
}

void Value::setBlobOffset(uint64_t offset) {
  for (auto &[name, v] : items[0].namedArgs)
    if (name == "offset")
      v.items[0].intValue = static_cast<int64_t>(offset);
}

const Value *Statement::arg(std::string_view name) const {
  for (const Argument &a : args)
    if (a.name == name)
      return &a.value;
  return nullptr;
}

const Value *Statement::attr(std::string_view name) const {
  for (const Argument &a : attrs)
    if (a.name == name)
      return &a.value;
  return nullptr;
}

int Function::opsetVersion() const {
  if (opset.size() != 5 || opset.compare(0, 3, "ios") != 0 || opset[3] < '0' ||
      opset[3] > '9' || opset[4] < '0' || opset[4] > '9')
    return 0;
  return (opset[3] - '0') * 10 + (opset[4] - '0');
}

const Function *Program::function(std::string_view name) const {
  for (const Function &f : functions)
    if (f.name == name)
      return &f;
  return nullptr;
}

namespace {

/// The walk of both forEachBlobFile overloads: `FunctionT` and `ValueT`
/// are const or not together.
template <typename FunctionT, typename ValueT, typename F>
void visitBlobFiles(FunctionT &fn, const F &f) {
  std::function<void(ValueT &, const Statement &)> visit =
      [&](ValueT &v, const Statement &st) {
        if (v.isBlobFile())
          f(v, st);
        for (ValueT &item : v.items)
          visit(item, st);
      };
  for (auto &st : fn.body) {
    for (auto &a : st.args)
      visit(a.value, st);
    for (auto &a : st.attrs)
      visit(a.value, st);
  }
}

} // namespace

void forEachBlobFile(
    const Function &fn,
    const std::function<void(const Value &, const Statement &)> &f) {
  visitBlobFiles<const Function, const Value>(fn, f);
}

void forEachBlobFile(Function &fn,
                     const std::function<void(Value &, const Statement &)> &f) {
  visitBlobFiles<Function, Value>(fn, f);
}

} // namespace ane::mil
