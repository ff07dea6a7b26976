//===- Literal.cpp - MIL literals as host tensors -------------------------===//

#include "lib/Runtime/Literal.h"

#include "lib/MIL/Text.h"
#include "lib/Support/Float16.h"

#include <fmt/format.h>

#include <cstring>

namespace ane::runtime {

using mil::DType;

namespace {

//===----------------------------------------------------------------------===//
// Literals
//===----------------------------------------------------------------------===//

Status flattenLiteral(const mil::Value &v, std::vector<const mil::Value *> &out,
                      int depth) {
  if (depth > 64)
    return Status::error("literal nested too deeply");
  if (v.kind == mil::Value::Kind::List) {
    for (const mil::Value &item : v.items)
      if (Status s = flattenLiteral(item, out, depth + 1); !s.ok())
        return s;
    return Status::success();
  }
  out.push_back(&v);
  return Status::success();
}

Result<Tensor> decodeBlob(const mil::Type &type, const mil::Value &typed,
                          const WeightFiles &weights) {
  std::string path = typed.blobPath();
  auto file = weights.find(path);
  if (file == weights.end())
    return Result<Tensor>::error(
        fmt::format("no weight file given for BLOBFILE path '{}'", path));
  auto blob = file->second.blob(typed.blobOffset());
  if (!blob.ok())
    return blob.status();
  int64_t count = type.numElements();
  auto expected = mil::blobDTypeFor(type.dtype);
  if (!expected || *expected != blob->dtype)
    return Result<Tensor>::error(fmt::format(
        "{}: blob at offset {} has data type code {}, the text declares {}",
        file->second.name(), blob->metadataOffset,
        static_cast<uint32_t>(blob->dtype), mil::dtypeName(type.dtype)));
  if (count < 0 || blob->elementCount() != static_cast<uint64_t>(count))
    return Result<Tensor>::error(fmt::format(
        "{}: blob at offset {} holds {} elements, the text declares {}",
        file->second.name(), blob->metadataOffset, blob->elementCount(),
        count));
  Tensor t;
  t.dtype = type.dtype;
  t.shape = type.dims;
  const uint8_t *p = blob->data;
  auto le = [&](int64_t k, int bytes) {
    uint64_t v = 0;
    for (int b = 0; b < bytes; ++b)
      v |= uint64_t(p[k * bytes + b]) << (8 * b);
    return v;
  };
  switch (type.dtype) {
  case DType::FP16:
    for (int64_t k = 0; k < count; ++k)
      t.f.push_back(ane::halfBitsToFloat(static_cast<uint16_t>(le(k, 2))));
    break;
  case DType::FP32:
    for (int64_t k = 0; k < count; ++k) {
      uint32_t bits = static_cast<uint32_t>(le(k, 4));
      float f;
      std::memcpy(&f, &bits, 4);
      t.f.push_back(f);
    }
    break;
  case DType::Int8:
  case DType::UInt8:
  case DType::Int16:
  case DType::UInt16:
  case DType::Int32:
  case DType::UInt32: {
    int bytes = mil::dtypeBits(type.dtype) / 8;
    for (int64_t k = 0; k < count; ++k)
      t.i.push_back(wrapInt(type.dtype, static_cast<int64_t>(le(k, bytes))));
    break;
  }
  default:
    if (mil::dtypeBits(type.dtype) >= 8)
      return Result<Tensor>::error(
          fmt::format("cannot execute {} data", mil::dtypeName(type.dtype)));
    t.i = mil::unpackSubByte(p, count, mil::dtypeBits(type.dtype),
                             mil::isSignedIntDType(type.dtype));
  }
  return t;
}

} // namespace

Result<Tensor> decodeLiteral(const mil::Value &typed,
                             const WeightFiles &weights) {
  if (typed.kind != mil::Value::Kind::Typed || !typed.type ||
      !typed.type->isTensor())
    return Result<Tensor>::error("expected a typed tensor literal");
  const mil::Type &type = *typed.type;
  int64_t count = type.numElements();
  if (count < 0)
    return Result<Tensor>::error("a constant needs a static shape");
  if (typed.isBlobFile())
    return decodeBlob(type, typed, weights);
  Tensor t;
  t.dtype = type.dtype;
  t.shape = type.dims;
  if (type.dtype == DType::String) {
    if (count != 1 || typed.items.empty() ||
        typed.items[0].kind != mil::Value::Kind::String)
      return Result<Tensor>::error("expected one string literal");
    t.s = typed.items[0].text;
    return t;
  }
  std::vector<const mil::Value *> flat;
  if (typed.items.empty())
    return Result<Tensor>::error("empty literal");
  if (Status s = flattenLiteral(typed.items[0], flat, 0); !s.ok())
    return s;
  if (static_cast<int64_t>(flat.size()) != count)
    return Result<Tensor>::error(
        fmt::format("literal has {} values, its type {} holds {}", flat.size(),
                    mil::printType(type, false), count));
  for (const mil::Value *v : flat) {
    double x;
    switch (v->kind) {
    case mil::Value::Kind::Int:
      x = static_cast<double>(v->intValue);
      break;
    case mil::Value::Kind::Float:
      x = v->floatValue;
      break;
    case mil::Value::Kind::Bool:
      x = v->boolValue ? 1 : 0;
      break;
    default:
      return Result<Tensor>::error("literal values must be numbers or bools");
    }
    if (mil::isFloatDType(type.dtype))
      t.f.push_back(storeAs(type.dtype, static_cast<float>(x)));
    else if (v->kind == mil::Value::Kind::Float)
      t.i.push_back(wrapInt(type.dtype, floatToInt(x)));
    else
      t.i.push_back(wrapInt(type.dtype, v->kind == mil::Value::Kind::Int
                                            ? v->intValue
                                            : static_cast<int64_t>(x)));
  }
  return t;
}

} // namespace ane::runtime
