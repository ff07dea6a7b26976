//===- Executor.cpp - reference MIL executor ------------------------------===//
//
// Plain loops, one function per op. Every index computed from program data is
// checked, so a malformed program gives an error, never an out-of-bounds
// access.
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Cpu/Executor.h"
#include "lib/Runtime/Cpu/ThreadPool.h"
#include "lib/Runtime/Cpu/VectorMath.h"

#include "lib/MIL/ShapeRules.h"
#include "lib/MIL/Text.h"
#include "lib/Support/Float16.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <string_view>

#include <fmt/format.h>

namespace ane::runtime {

using mil::DType;
using mil::Shape;

Tensor Tensor::floats(DType dtype, Shape shape, std::vector<float> values) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.f = std::move(values);
  if (dtype == DType::FP16)
    roundToHalfs(t.f.data(), int64_t(t.f.size()));
  return t;
}

Tensor Tensor::ints(DType dtype, Shape shape, std::vector<int64_t> values) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.i = std::move(values);
  return t;
}

Tensor Tensor::viewOf(std::shared_ptr<const Tensor> base, Shape shape) {
  Tensor t;
  t.dtype = base->dtype;
  t.shape = std::move(shape);
  if (base->halfStored) {
    t.halfStored = true;
    t.halfView = base->halfs();
  } else {
    t.view = base->values();
  }
  t.viewOwner = std::move(base);
  return t;
}

Tensor Tensor::owned() const {
  if (!view && !halfStored)
    return *this;
  Tensor t;
  t.dtype = dtype;
  t.shape = shape;
  if (halfStored) {
    t.f.resize(numElements());
    halfsToFloats(halfs(), t.f.data(), numElements());
  } else {
    t.f.assign(view, view + numElements());
  }
  return t;
}

Tensor Tensor::halfZeros(Shape shape) {
  Tensor t;
  t.dtype = DType::FP16;
  t.shape = std::move(shape);
  t.halfStored = true;
  t.h.assign(t.numElements(), 0);
  return t;
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  if (mil::isFloatDType(dtype))
    t.f.assign(t.numElements(), 0.0f);
  else
    t.i.assign(t.numElements(), 0);
  return t;
}

namespace {

using TensorPtr = std::shared_ptr<const Tensor>;

/// Wraps an integer to what a tensor of `dtype` stores, as a cast does.
int64_t wrapInt(DType dtype, int64_t v) {
  int bits = mil::dtypeBits(dtype);
  if (dtype == DType::Bool)
    return v != 0;
  if (bits <= 0 || bits >= 64)
    return v;
  uint64_t mask = (uint64_t(1) << bits) - 1;
  uint64_t u = static_cast<uint64_t>(v) & mask;
  if (mil::isSignedIntDType(dtype) && (u >> (bits - 1)))
    return static_cast<int64_t>(u) - (int64_t(1) << bits);
  return static_cast<int64_t>(u);
}

/// Float to integer the way NumPy's astype does on sane values: truncate,
/// with out-of-range values saturated instead of undefined.
int64_t floatToInt(double v) {
  if (std::isnan(v))
    return 0;
  if (v >= 9.2e18)
    return std::numeric_limits<int64_t>::max();
  if (v <= -9.2e18)
    return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

std::vector<int64_t> stridesOf(const Shape &s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int64_t k = static_cast<int64_t>(s.size()) - 2; k >= 0; --k)
    st[k] = st[k + 1] * s[k + 1];
  return st;
}

/// Strides of `in` viewed in the broadcast shape `out` (0 on broadcast dims).
std::vector<int64_t> broadcastStrides(const Shape &in, const Shape &out) {
  std::vector<int64_t> st(out.size(), 0);
  std::vector<int64_t> inSt = stridesOf(in);
  size_t lead = out.size() - in.size();
  for (size_t k = 0; k < in.size(); ++k)
    st[lead + k] = in[k] == 1 ? 0 : inSt[k];
  return st;
}

/// Calls fn(outIndex, offsets) for every element of `out` in row-major
/// order; operand k starts at off[k] and moves by st[k][d] along dim d.
/// Size-1 dims are dropped and dims every operand walks contiguously are
/// merged, so the inner loop runs long: per-element index bookkeeping cost
/// more than the arithmetic in decode's small ops.
template <size_t N, typename Fn>
void forEachStrided(const Shape &out,
                    const std::array<std::vector<int64_t>, N> &st,
                    std::array<int64_t, N> off, Fn fn) {
  std::vector<int64_t> dims;
  std::array<std::vector<int64_t>, N> steps;
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 0)
      return;
    if (out[d] == 1)
      continue;
    bool merge = !dims.empty();
    for (size_t k = 0; k < N && merge; ++k)
      merge = steps[k].back() == st[k][d] * out[d];
    if (merge) {
      dims.back() *= out[d];
      for (size_t k = 0; k < N; ++k)
        steps[k].back() = st[k][d];
      continue;
    }
    dims.push_back(out[d]);
    for (size_t k = 0; k < N; ++k)
      steps[k].push_back(st[k][d]);
  }
  if (dims.empty()) {
    fn(int64_t(0), off);
    return;
  }
  const int64_t inner = dims.back(), last = int64_t(dims.size()) - 1;
  std::vector<int64_t> idx(dims.size(), 0);
  for (int64_t n = 0;;) {
    std::array<int64_t, N> o = off;
    for (int64_t i = 0; i < inner; ++i, ++n) {
      fn(n, o);
      for (size_t k = 0; k < N; ++k)
        o[k] += steps[k][last];
    }
    int64_t d = last - 1;
    for (; d >= 0; --d) {
      if (++idx[d] < dims[d]) {
        for (size_t k = 0; k < N; ++k)
          off[k] += steps[k][d];
        break;
      }
      for (size_t k = 0; k < N; ++k)
        off[k] -= steps[k][d] * (dims[d] - 1);
      idx[d] = 0;
    }
    if (d < 0)
      return;
  }
}

/// Calls fn(outIndex, offsets...) for every element of `out`.
template <size_t N, typename Fn>
void forEachBroadcast(const Shape &out, const std::array<Shape, N> &ins,
                      Fn fn) {
  std::array<std::vector<int64_t>, N> st;
  for (size_t k = 0; k < N; ++k)
    st[k] = broadcastStrides(ins[k], out);
  forEachStrided<N>(out, st, std::array<int64_t, N>{}, fn);
}

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

namespace {

//===----------------------------------------------------------------------===//
// Op context: parameter access with MIL's defaults
//===----------------------------------------------------------------------===//

class OpContext {
public:
  OpContext(const mil::Statement &st,
            const std::map<std::string, TensorPtr> &env,
            const WeightFiles &weights)
      : st(st), env(env), weights(weights) {}

  /// A tensor parameter (argument or, for iOS16 constexpr ops, attribute).
  Result<TensorPtr> tensor(const char *name) const {
    const mil::Value *v = find(name);
    if (!v)
      return Result<TensorPtr>::error(
          fmt::format("missing parameter '{}'", name));
    return resolve(*v, name);
  }
  /// An optional tensor parameter: nullptr when absent.
  Result<TensorPtr> optTensor(const char *name) const {
    if (!find(name))
      return TensorPtr();
    return tensor(name);
  }
  Result<std::vector<TensorPtr>> tuple(const char *name) const {
    const mil::Value *v = find(name);
    if (!v)
      return Result<std::vector<TensorPtr>>::error(
          fmt::format("missing parameter '{}'", name));
    std::vector<TensorPtr> out;
    if (v->kind != mil::Value::Kind::Tuple) {
      auto t = resolve(*v, name);
      if (!t.ok())
        return t.status();
      out.push_back(*t);
      return out;
    }
    for (const mil::Value &item : v->items) {
      auto t = resolve(item, name);
      if (!t.ok())
        return t.status();
      out.push_back(*t);
    }
    return out;
  }

  Result<int64_t> intScalar(const char *name,
                            std::optional<int64_t> dflt) const {
    if (!find(name)) {
      if (dflt)
        return *dflt;
      return Result<int64_t>::error(
          fmt::format("missing parameter '{}'", name));
    }
    auto t = tensor(name);
    if (!t.ok())
      return t.status();
    if ((*t)->numElements() != 1 || (*t)->isFloat() || (*t)->i.empty())
      return Result<int64_t>::error(
          fmt::format("parameter '{}' must be one integer", name));
    return (*t)->i[0];
  }
  Result<bool> boolScalar(const char *name, bool dflt) const {
    if (!find(name))
      return dflt;
    auto v = intScalar(name, std::nullopt);
    if (!v.ok())
      return v.status();
    return *v != 0;
  }
  Result<float> floatScalar(const char *name, float dflt) const {
    if (!find(name))
      return dflt;
    auto t = tensor(name);
    if (!t.ok())
      return t.status();
    if ((*t)->numElements() != 1)
      return Result<float>::error(
          fmt::format("parameter '{}' must be a scalar", name));
    return static_cast<float>((*t)->at(0));
  }
  Result<std::string> string(const char *name, const char *dflt) const {
    if (!find(name)) {
      if (dflt)
        return std::string(dflt);
      return Result<std::string>::error(
          fmt::format("missing parameter '{}'", name));
    }
    auto t = tensor(name);
    if (!t.ok())
      return t.status();
    if ((*t)->dtype != DType::String)
      return Result<std::string>::error(
          fmt::format("parameter '{}' must be a string", name));
    return (*t)->s;
  }
  /// An integer list parameter; nullopt when absent.
  Result<std::optional<std::vector<int64_t>>> intList(const char *name) const {
    if (!find(name))
      return std::optional<std::vector<int64_t>>();
    auto t = tensor(name);
    if (!t.ok())
      return t.status();
    if ((*t)->isFloat() || (*t)->dtype == DType::String ||
        (*t)->shape.size() > 1)
      return Result<std::optional<std::vector<int64_t>>>::error(
          fmt::format("parameter '{}' must be a list of integers", name));
    return std::optional<std::vector<int64_t>>((*t)->i);
  }
  Result<std::vector<bool>> boolList(const char *name) const {
    auto l = intList(name);
    if (!l.ok())
      return l.status();
    std::vector<bool> out;
    if (*l)
      for (int64_t v : **l)
        out.push_back(v != 0);
    return out;
  }

  const mil::Statement &st;

private:
  const mil::Value *find(const char *name) const {
    if (const mil::Value *v = st.arg(name))
      return v;
    if (std::string_view(name) != "name")
      return st.attr(name);
    return nullptr;
  }
  Result<TensorPtr> resolve(const mil::Value &v, const char *name) const {
    if (v.kind == mil::Value::Kind::Ref) {
      auto it = env.find(v.text);
      if (it == env.end())
        return Result<TensorPtr>::error(fmt::format(
            "parameter '{}' names '{}', which is not defined before it", name,
            v.text));
      return it->second;
    }
    if (v.kind == mil::Value::Kind::Typed) {
      auto t = decodeLiteral(v, weights);
      if (!t.ok())
        return t.status();
      return TensorPtr(std::make_shared<Tensor>(std::move(*t)));
    }
    return Result<TensorPtr>::error(fmt::format(
        "parameter '{}' must be a value name or a typed literal", name));
  }

  const std::map<std::string, TensorPtr> &env;
  const WeightFiles &weights;
};

using Outputs = std::vector<Tensor>;
using OpFn = std::function<Status(const OpContext &, Outputs &)>;

#define TRY_ASSIGN(var, expr)                                                  \
  auto var##_result = (expr);                                                  \
  if (!var##_result.ok())                                                      \
    return var##_result.status();                                              \
  auto var = std::move(*var##_result)

Status needFloat(const Tensor &t, const char *what) {
  if (!t.isFloat())
    return Status::error(fmt::format("{} must be fp16 or fp32, got {}", what,
                                     mil::dtypeName(t.dtype)));
  return Status::success();
}

Status needSameDType(const Tensor &a, const Tensor &b) {
  if (a.dtype != b.dtype)
    return Status::error(fmt::format("operands have different dtypes {} and {}",
                                     mil::dtypeName(a.dtype),
                                     mil::dtypeName(b.dtype)));
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

// The element functions are template parameters, not std::function: an
// indirect call per element cost more than the arithmetic it called.
template <typename F> OpFn binary(F f, bool floatOnly = false) {
  return [f, floatOnly](const OpContext &c, Outputs &out) -> Status {
    TRY_ASSIGN(x, c.tensor("x"));
    TRY_ASSIGN(y, c.tensor("y"));
    if (Status s = needSameDType(*x, *y); !s.ok())
      return s;
    if (floatOnly)
      if (Status s = needFloat(*x, "x"); !s.ok())
        return s;
    auto shape = mil::broadcastShapes(x->shape, y->shape);
    if (!shape.ok())
      return Status::error(shape.error);
    Tensor r = Tensor::zeros(x->dtype, shape.shape);
    if (r.isFloat()) {
      const float *xv = x->values(), *yv = y->values();
      int64_t total = r.numElements();
      // The common shapes skip the index bookkeeping: equal shapes, or one
      // side a single value.
      int64_t xs = x->numElements() == total ? 1 : 0;
      int64_t ys = y->numElements() == total ? 1 : 0;
      bool flat = (xs || x->numElements() == 1) &&
                  (ys || y->numElements() == 1) &&
                  (!xs || x->shape == r.shape) && (!ys || y->shape == r.shape);
      if (flat)
        for (int64_t n = 0; n < total; ++n)
          r.f[n] = static_cast<float>(f(xv[n * xs], yv[n * ys]));
      else
        forEachBroadcast<2>(r.shape, {x->shape, y->shape},
                            [&](int64_t n, const std::array<int64_t, 2> &o) {
                              r.f[n] =
                                  static_cast<float>(f(xv[o[0]], yv[o[1]]));
                            });
      if (r.dtype == DType::FP16)
        roundToHalfs(r.f.data(), r.numElements());
    } else {
      forEachBroadcast<2>(r.shape, {x->shape, y->shape},
                          [&](int64_t n, const std::array<int64_t, 2> &o) {
                            double v = f(x->at(o[0]), y->at(o[1]));
                            r.i[n] = wrapInt(r.dtype, floatToInt(v));
                          });
    }
    out.push_back(std::move(r));
    return Status::success();
  };
}

template <typename F> OpFn compare(F f) {
  return [f](const OpContext &c, Outputs &out) -> Status {
    TRY_ASSIGN(x, c.tensor("x"));
    TRY_ASSIGN(y, c.tensor("y"));
    if (Status s = needSameDType(*x, *y); !s.ok())
      return s;
    auto shape = mil::broadcastShapes(x->shape, y->shape);
    if (!shape.ok())
      return Status::error(shape.error);
    Tensor r = Tensor::zeros(DType::Bool, shape.shape);
    forEachBroadcast<2>(r.shape, {x->shape, y->shape},
                        [&](int64_t n, const std::array<int64_t, 2> &o) {
                          r.i[n] = f(x->at(o[0]), y->at(o[1]));
                        });
    out.push_back(std::move(r));
    return Status::success();
  };
}

template <typename F> OpFn unary(F f) {
  return [f](const OpContext &c, Outputs &out) -> Status {
    TRY_ASSIGN(x, c.tensor("x"));
    if (Status s = needFloat(*x, "x"); !s.ok())
      return s;
    Tensor r = x->owned();
    for (float &v : r.f)
      v = f(v);
    if (r.dtype == DType::FP16)
      roundToHalfs(r.f.data(), r.numElements());
    out.push_back(std::move(r));
    return Status::success();
  };
}

Status rsqrtOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(eps, c.floatScalar("epsilon", 1e-12f));
  return unary([eps](float v) { return 1.0f / std::sqrt(v + eps); })(c, out);
}

Status geluOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(mode, c.string("mode", "EXACT"));
  std::function<float(float)> f;
  if (mode == "EXACT")
    f = [](float x) {
      return 0.5f * x * (1.0f + std::erf(x / std::sqrt(2.0f)));
    };
  else if (mode == "TANH_APPROXIMATION")
    f = [](float x) {
      float k = std::sqrt(2.0f / 3.14159265358979f);
      return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
    };
  else if (mode == "SIGMOID_APPROXIMATION")
    f = [](float x) { return x / (1.0f + std::exp(-1.702f * x)); };
  else
    return Status::error("unknown gelu mode '" + mode + "'");
  return unary(f)(c, out);
}

Status selectOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(cond, c.tensor("cond"));
  TRY_ASSIGN(a, c.tensor("a"));
  TRY_ASSIGN(b, c.tensor("b"));
  if (Status s = needSameDType(*a, *b); !s.ok())
    return s;
  if (cond->dtype != DType::Bool)
    return Status::error("cond must be bool");
  auto ab = mil::broadcastShapes(a->shape, b->shape);
  if (!ab.ok())
    return Status::error(ab.error);
  auto shape = mil::broadcastShapes(cond->shape, ab.shape);
  if (!shape.ok())
    return Status::error(shape.error);
  Tensor r = Tensor::zeros(a->dtype, shape.shape);
  forEachBroadcast<3>(r.shape, {cond->shape, a->shape, b->shape},
                      [&](int64_t n, const std::array<int64_t, 3> &o) {
                        const Tensor &src = cond->i[o[0]] ? *a : *b;
                        int64_t k = cond->i[o[0]] ? o[1] : o[2];
                        if (r.isFloat())
                          r.f[n] = src.values()[k];
                        else
                          r.i[n] = src.i[k];
                      });
  out.push_back(std::move(r));
  return Status::success();
}

Status castOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(name, c.string("dtype", nullptr));
  auto dtype = mil::parseDType(name);
  if (!dtype || *dtype == DType::String)
    return Status::error("unknown dtype '" + name + "'");
  Tensor r = Tensor::zeros(*dtype, x->shape);
  for (int64_t k = 0; k < r.numElements(); ++k) {
    double v = x->at(k);
    if (r.isFloat())
      r.f[k] = storeAs(r.dtype, static_cast<float>(v));
    else
      r.i[k] = wrapInt(r.dtype, floatToInt(v));
  }
  out.push_back(std::move(r));
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Reductions and normalization
//===----------------------------------------------------------------------===//

/// Folds every element of x into acc[o] (sum or max) for its output o, in
/// row-major order: the general case.
void reduceAny(const Tensor &x, const std::vector<bool> &reduced,
               const Shape &kept, bool isMax, std::vector<double> &acc,
               std::vector<int64_t> &counts) {
  int64_t rank = static_cast<int64_t>(x.shape.size());
  std::vector<int64_t> keptStrides = stridesOf(kept);
  std::vector<int64_t> idx(rank, 0);
  for (int64_t n = 0; n < x.numElements(); ++n) {
    int64_t o = 0;
    for (int64_t d = 0; d < rank; ++d)
      if (!reduced[d])
        o += idx[d] * keptStrides[d];
    double v = x.at(n);
    acc[o] = isMax ? std::max(acc[o], v) : acc[o] + v;
    ++counts[o];
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++idx[d] < x.shape[d])
        break;
      idx[d] = 0;
    }
  }
}

/// reduceAny for one reduced axis of a float tensor (RMSNorm's mean, every
/// decode step): the same order of additions without the index walk.
void reduceLines(const float *x, const Shape &shape, int64_t axis, bool isMax,
                 std::vector<double> &acc, std::vector<int64_t> &counts) {
  int64_t outer = 1, inner = 1, n = shape[axis];
  for (int64_t d = 0; d < axis; ++d)
    outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d)
    inner *= shape[d];
  for (int64_t o = 0; o < outer; ++o) {
    double *a = acc.data() + o * inner;
    if (inner == 1) {
      // A contiguous line (RMSNorm over channels): the sum stays in a
      // register instead of going through memory on every addition.
      double v = *a;
      const float *line = x + o * n;
      for (int64_t k = 0; k < n; ++k)
        v = isMax ? std::max(v, double(line[k])) : v + line[k];
      *a = v;
      continue;
    }
    for (int64_t k = 0; k < n; ++k) {
      const float *line = x + (o * n + k) * inner;
      for (int64_t i = 0; i < inner; ++i)
        a[i] = isMax ? std::max(a[i], double(line[i])) : a[i] + line[i];
    }
  }
  std::fill(counts.begin(), counts.end(), n);
}

/// Reduces `x` over `axes` (normalized): a sum, mean or max per output
/// element, accumulated in double.
Status reduce(const OpContext &c, Outputs &out, const char *kind) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(axes, c.intList("axes"));
  TRY_ASSIGN(keep, c.boolScalar("keep_dims", false));
  auto shape = mil::reduceShape(x->shape, axes, keep);
  if (!shape.ok())
    return Status::error(shape.error);
  int64_t rank = static_cast<int64_t>(x->shape.size());
  std::vector<bool> reduced(rank, !axes.has_value());
  if (axes)
    for (int64_t a : *axes)
      reduced[*mil::normalizeAxis(a, rank)] = true;
  // Output element of each input element: drop reduced dims.
  Shape kept;
  for (int64_t d = 0; d < rank; ++d)
    kept.push_back(reduced[d] ? 1 : x->shape[d]);
  int64_t outCount = 1;
  for (int64_t d : kept)
    outCount *= d;
  const bool isMax = std::string_view(kind) == "max";
  const bool isMean = std::string_view(kind) == "mean";
  std::vector<double> acc(outCount, isMax ? -INFINITY : 0.0);
  std::vector<int64_t> counts(outCount, 0);
  if (x->isFloat() && std::count(reduced.begin(), reduced.end(), true) == 1)
    reduceLines(x->values(), x->shape,
                std::find(reduced.begin(), reduced.end(), true) -
                    reduced.begin(),
                isMax, acc, counts);
  else
    reduceAny(*x, reduced, kept, isMax, acc, counts);
  Tensor r = Tensor::zeros(x->dtype, shape.shape);
  for (int64_t o = 0; o < outCount; ++o) {
    double v = isMean && counts[o] ? acc[o] / counts[o] : acc[o];
    if (r.isFloat())
      r.f[o] = storeAs(r.dtype, static_cast<float>(v));
    else
      r.i[o] = wrapInt(r.dtype, floatToInt(v));
  }
  out.push_back(std::move(r));
  return Status::success();
}

/// Visits every 1-D line of `shape` along `axis`: fn(base offset, stride).
template <typename Fn>
void forEachLine(const Shape &shape, int64_t axis, Fn fn) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d)
    inner *= shape[d];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i)
      fn(o * shape[axis] * inner + i, inner);
}

Status softmaxOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(axis, c.intScalar("axis", -1));
  if (Status s = needFloat(*x, "x"); !s.ok())
    return s;
  auto a = mil::normalizeAxis(axis, static_cast<int64_t>(x->shape.size()));
  if (!a)
    return Status::error(fmt::format("axis {} is out of range", axis));
  Tensor r = x->owned();
  int64_t n = x->shape[*a];
  const float *xv = x->values();
  // exp once per element: kept in r, then scaled by 1 / sum.
  forEachLine(x->shape, *a, [&](int64_t base, int64_t stride) {
    float mx = -INFINITY;
    for (int64_t k = 0; k < n; ++k)
      mx = std::max(mx, xv[base + k * stride]);
    float sum = 0;
    for (int64_t k = 0; k < n; ++k) {
      float e = std::exp(xv[base + k * stride] - mx);
      r.f[base + k * stride] = e;
      sum += e;
    }
    for (int64_t k = 0; k < n; ++k)
      r.f[base + k * stride] /= sum;
  });
  if (r.dtype == DType::FP16)
    roundToHalfs(r.f.data(), r.numElements());
  out.push_back(std::move(r));
  return Status::success();
}

Status layerNormOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(gamma, c.optTensor("gamma"));
  TRY_ASSIGN(beta, c.optTensor("beta"));
  TRY_ASSIGN(axes, c.intList("axes"));
  TRY_ASSIGN(eps, c.floatScalar("epsilon", 1e-5f));
  if (Status s = needFloat(*x, "x"); !s.ok())
    return s;
  int64_t rank = static_cast<int64_t>(x->shape.size());
  std::vector<bool> norm(rank, !axes.has_value());
  if (axes)
    for (int64_t a : *axes) {
      auto n = mil::normalizeAxis(a, rank);
      if (!n)
        return Status::error(fmt::format("axis {} is out of range", a));
      norm[*n] = true;
    }
  // Group elements by their non-normalized index.
  Shape groupShape;
  int64_t groupSize = 1;
  for (int64_t d = 0; d < rank; ++d) {
    groupShape.push_back(norm[d] ? 1 : x->shape[d]);
    if (norm[d])
      groupSize *= x->shape[d];
  }
  for (const TensorPtr &p : {gamma, beta})
    if (p && p->numElements() != groupSize)
      return Status::error("gamma and beta must match x over axes");
  std::vector<int64_t> gStrides = stridesOf(groupShape);
  int64_t groups = x->numElements() / std::max<int64_t>(groupSize, 1);
  std::vector<double> mean(groups, 0), var(groups, 0);
  std::vector<int64_t> groupOf(x->numElements()), posInGroup(x->numElements());
  std::vector<int64_t> filled(groups, 0);
  std::vector<int64_t> idx(rank, 0);
  for (int64_t n = 0; n < x->numElements(); ++n) {
    int64_t g = 0;
    for (int64_t d = 0; d < rank; ++d)
      if (!norm[d])
        g += idx[d] * gStrides[d];
    groupOf[n] = g;
    posInGroup[n] = filled[g]++;
    mean[g] += x->values()[n];
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++idx[d] < x->shape[d])
        break;
      idx[d] = 0;
    }
  }
  for (double &m : mean)
    m /= groupSize;
  for (int64_t n = 0; n < x->numElements(); ++n) {
    double d = x->values()[n] - mean[groupOf[n]];
    var[groupOf[n]] += d * d;
  }
  Tensor r = x->owned();
  for (int64_t n = 0; n < x->numElements(); ++n) {
    int64_t g = groupOf[n];
    double v = (x->values()[n] - mean[g]) / std::sqrt(var[g] / groupSize + eps);
    if (gamma)
      v *= gamma->at(posInGroup[n]);
    if (beta)
      v += beta->at(posInGroup[n]);
    r.f[n] = storeAs(r.dtype, static_cast<float>(v));
  }
  out.push_back(std::move(r));
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Linear algebra and convolution
//===----------------------------------------------------------------------===//

Status matmulOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x0, c.tensor("x"));
  TRY_ASSIGN(y0, c.tensor("y"));
  TRY_ASSIGN(tx, c.boolScalar("transpose_x", false));
  TRY_ASSIGN(ty, c.boolScalar("transpose_y", false));
  if (Status s = needSameDType(*x0, *y0); !s.ok())
    return s;
  auto shape = mil::matmulShape(x0->shape, y0->shape, tx, ty);
  if (!shape.ok())
    return Status::error(shape.error);
  // Promote vectors, then work on [batch..., rows, cols] views.
  Shape xs = x0->shape, ys = y0->shape;
  bool xVec = xs.size() == 1, yVec = ys.size() == 1;
  if (xVec)
    xs.insert(xs.begin(), 1);
  if (yVec)
    ys.push_back(1);
  int64_t xr = xs[xs.size() - 2], xc = xs.back();
  int64_t yr = ys[ys.size() - 2], yc = ys.back();
  int64_t m = (tx && !xVec) ? xc : xr, k = (tx && !xVec) ? xr : xc;
  int64_t n = (ty && !yVec) ? yr : yc;
  Shape bx(xs.begin(), xs.end() - 2), by(ys.begin(), ys.end() - 2);
  Shape batch = mil::broadcastShapes(bx, by).shape;
  Tensor r = Tensor::zeros(x0->dtype, shape.shape);
  int64_t outOff = 0;
  bool isFloat = r.isFloat();
  forEachBroadcast<2>(
      batch, {bx, by}, [&](int64_t, const std::array<int64_t, 2> &o) {
        int64_t xb = o[0] * xr * xc, yb = o[1] * yr * yc;
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double acc = 0;
            for (int64_t p = 0; p < k; ++p) {
              int64_t xi = (tx && !xVec) ? p * xc + i : i * xc + p;
              int64_t yi = (ty && !yVec) ? j * yc + p : p * yc + j;
              acc += x0->at(xb + xi) * y0->at(yb + yi);
            }
            if (isFloat)
              r.f[outOff] = storeAs(r.dtype, static_cast<float>(acc));
            else
              r.i[outOff] = wrapInt(r.dtype, floatToInt(acc));
            ++outOff;
          }
      });
  out.push_back(std::move(r));
  return Status::success();
}

Status linearOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(w, c.tensor("weight"));
  TRY_ASSIGN(b, c.optTensor("bias"));
  auto shape = mil::linearShape(x->shape, w->shape);
  if (!shape.ok())
    return Status::error(shape.error);
  int64_t dout = w->shape[0], din = w->shape[1];
  if (b && b->numElements() != dout)
    return Status::error("bias must have one entry per output");
  Tensor r = Tensor::zeros(x->dtype, shape.shape);
  int64_t rows = x->numElements() / std::max<int64_t>(din, 1);
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t o = 0; o < dout; ++o) {
      double acc = b ? b->at(o) : 0.0;
      for (int64_t i = 0; i < din; ++i)
        acc += x->at(row * din + i) * w->at(o * din + i);
      if (r.isFloat())
        r.f[row * dout + o] = storeAs(r.dtype, static_cast<float>(acc));
      else
        r.i[row * dout + o] = wrapInt(r.dtype, floatToInt(acc));
    }
  out.push_back(std::move(r));
  return Status::success();
}

Status convOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(w, c.tensor("weight"));
  TRY_ASSIGN(b, c.optTensor("bias"));
  TRY_ASSIGN(strides, c.intList("strides"));
  TRY_ASSIGN(dilations, c.intList("dilations"));
  TRY_ASSIGN(pad, c.intList("pad"));
  TRY_ASSIGN(padType, c.string("pad_type", "valid"));
  TRY_ASSIGN(groups, c.intScalar("groups", 1));
  if (Status s = needFloat(*x, "x"); !s.ok())
    return s;
  mil::ConvParams p;
  p.strides = strides.value_or(std::vector<int64_t>{});
  p.dilations = dilations.value_or(std::vector<int64_t>{});
  p.pad = pad.value_or(std::vector<int64_t>{});
  p.groups = groups;
  if (padType == "valid")
    p.padType = mil::PadType::Valid;
  else if (padType == "same")
    p.padType = mil::PadType::Same;
  else if (padType == "same_lower")
    p.padType = mil::PadType::SameLower;
  else if (padType == "custom")
    p.padType = mil::PadType::Custom;
  else
    return Status::error("unknown pad_type '" + padType + "'");
  auto shape = mil::convShape(x->shape, w->shape, p);
  if (!shape.ok())
    return Status::error(shape.error);
  size_t sp = x->shape.size() - 2;
  int64_t cout = w->shape[0];
  if (b && b->numElements() != cout)
    return Status::error("bias must have one entry per output channel");
  // Work in 3 spatial dims, padding unused ones with size 1.
  int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, o[3] = {1, 1, 1};
  int64_t st[3] = {1, 1, 1}, dl[3] = {1, 1, 1}, pb[3] = {0, 0, 0};
  for (size_t d = 0; d < sp; ++d) {
    size_t e = 3 - sp + d;
    in[e] = x->shape[2 + d];
    k[e] = w->shape[2 + d];
    o[e] = shape.shape[2 + d];
    st[e] = p.strides.empty() ? 1 : p.strides[d];
    dl[e] = p.dilations.empty() ? 1 : p.dilations[d];
    if (p.padType == mil::PadType::Custom) {
      pb[e] = p.pad[2 * d];
    } else if (p.padType != mil::PadType::Valid) {
      int64_t total = std::max<int64_t>(
          (o[e] - 1) * st[e] + (k[e] - 1) * dl[e] + 1 - in[e], 0);
      pb[e] = p.padType == mil::PadType::Same ? total / 2 : total - total / 2;
    }
  }
  int64_t batch = x->shape[0], cin = x->shape[1], cinG = cin / groups,
          coutG = cout / groups;
  Tensor r = Tensor::zeros(x->dtype, shape.shape);
  int64_t inSp = in[0] * in[1] * in[2], kSp = k[0] * k[1] * k[2],
          oSp = o[0] * o[1] * o[2];
  bool pointwise = kSp == 1 && inSp == oSp && w->isFloat();
  for (int e = 0; e < 3; ++e)
    pointwise = pointwise && st[e] == 1 && pb[e] == 0;
  if (pointwise) {
    // A 1x1 conv is a matrix product (every projection of the kernels).
    // Same sums in the same order as the general loop below, with the
    // positions innermost so that x is read contiguously.
    std::vector<double> acc(oSp);
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t oc = 0; oc < cout; ++oc) {
        int64_t g = oc / coutG;
        std::fill(acc.begin(), acc.end(), b ? b->at(oc) : 0.0);
        for (int64_t ic = 0; ic < cinG; ++ic) {
          double wv = w->values()[oc * cinG + ic];
          const float *xs = &x->values()[(n * cin + g * cinG + ic) * inSp];
          for (int64_t i = 0; i < oSp; ++i)
            acc[i] += xs[i] * wv;
        }
        float *rs = &r.f[(n * cout + oc) * oSp];
        for (int64_t i = 0; i < oSp; ++i)
          rs[i] = storeAs(r.dtype, static_cast<float>(acc[i]));
      }
    out.push_back(std::move(r));
    return Status::success();
  }
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t oc = 0; oc < cout; ++oc) {
      int64_t g = oc / coutG;
      for (int64_t z = 0; z < o[0]; ++z)
        for (int64_t y = 0; y < o[1]; ++y)
          for (int64_t xx = 0; xx < o[2]; ++xx) {
            double acc = b ? b->at(oc) : 0.0;
            for (int64_t ic = 0; ic < cinG; ++ic) {
              int64_t xBase = (n * cin + g * cinG + ic) * inSp;
              int64_t wBase = (oc * cinG + ic) * kSp;
              for (int64_t kz = 0; kz < k[0]; ++kz) {
                int64_t iz = z * st[0] + kz * dl[0] - pb[0];
                if (iz < 0 || iz >= in[0])
                  continue;
                for (int64_t ky = 0; ky < k[1]; ++ky) {
                  int64_t iy = y * st[1] + ky * dl[1] - pb[1];
                  if (iy < 0 || iy >= in[1])
                    continue;
                  for (int64_t kx = 0; kx < k[2]; ++kx) {
                    int64_t ix = xx * st[2] + kx * dl[2] - pb[2];
                    if (ix < 0 || ix >= in[2])
                      continue;
                    acc += x->values()[xBase + (iz * in[1] + iy) * in[2] + ix] *
                           w->at(wBase + (kz * k[1] + ky) * k[2] + kx);
                  }
                }
              }
            }
            r.f[(n * cout + oc) * oSp + (z * o[1] + y) * o[2] + xx] =
                storeAs(r.dtype, static_cast<float>(acc));
          }
    }
  out.push_back(std::move(r));
  return Status::success();
}

Status sdpaOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(q, c.tensor("query"));
  TRY_ASSIGN(k, c.tensor("key"));
  TRY_ASSIGN(v, c.tensor("value"));
  TRY_ASSIGN(mask, c.optTensor("attn_mask"));
  std::optional<Shape> maskShape;
  if (mask)
    maskShape = mask->shape;
  auto shape = mil::sdpaShape(q->shape, k->shape, v->shape, maskShape);
  if (!shape.ok())
    return Status::error(shape.error);
  size_t rank = q->shape.size();
  int64_t L = q->shape[rank - 2], E = q->shape[rank - 1];
  int64_t S = k->shape[rank - 2], EV = v->shape[rank - 1];
  int64_t batches = q->numElements() / (L * E);
  Shape scoreShape(q->shape.begin(), q->shape.end() - 2);
  scoreShape.push_back(L);
  scoreShape.push_back(S);
  std::vector<int64_t> mst;
  if (mask)
    mst = broadcastStrides(mask->shape, scoreShape);
  Tensor r = Tensor::zeros(q->dtype, shape.shape);
  float scale = 1.0f / std::sqrt(static_cast<float>(E));
  std::vector<float> scores(S);
  std::vector<int64_t> bIdx(rank - 2, 0);
  for (int64_t bt = 0; bt < batches; ++bt) {
    int64_t maskBase = 0;
    for (size_t d = 0; d + 2 < rank; ++d)
      maskBase += mask ? bIdx[d] * mst[d] : 0;
    for (int64_t i = 0; i < L; ++i) {
      float mx = -INFINITY;
      for (int64_t j = 0; j < S; ++j) {
        double acc = 0;
        for (int64_t e = 0; e < E; ++e)
          acc += q->values()[(bt * L + i) * E + e] *
                 k->values()[(bt * S + j) * E + e];
        float s = static_cast<float>(acc) * scale;
        if (mask) {
          int64_t mi = maskBase + i * mst[rank - 2] + j * mst[rank - 1];
          if (mask->dtype == DType::Bool)
            s = mask->i[mi] ? s : -INFINITY;
          else
            s += mask->values()[mi];
        }
        scores[j] = s;
        mx = std::max(mx, s);
      }
      double sum = 0;
      for (int64_t j = 0; j < S; ++j) {
        scores[j] = std::isinf(mx) && mx < 0 ? 0 : std::exp(scores[j] - mx);
        sum += scores[j];
      }
      for (int64_t e = 0; e < EV; ++e) {
        double acc = 0;
        for (int64_t j = 0; j < S; ++j)
          acc += scores[j] / sum * v->values()[(bt * S + j) * EV + e];
        r.f[(bt * L + i) * EV + e] = storeAs(r.dtype, static_cast<float>(acc));
      }
    }
    for (int64_t d = static_cast<int64_t>(rank) - 3; d >= 0; --d) {
      if (++bIdx[d] < q->shape[d])
        break;
      bIdx[d] = 0;
    }
  }
  out.push_back(std::move(r));
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Shape and data movement
//===----------------------------------------------------------------------===//

/// x's values under `shape`. A float tensor's (or fp16 bits) are shared,
/// not copied: a reshaped K/V cache costs nothing.
Tensor reshaped(const TensorPtr &x, Shape shape) {
  if (x->isFloat() || x->halfStored)
    return Tensor::viewOf(x, std::move(shape));
  Tensor r = *x;
  r.shape = std::move(shape);
  return r;
}

Status reshapeOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(shape, c.intList("shape"));
  if (!shape)
    return Status::error("missing parameter 'shape'");
  auto s = mil::reshapeShape(x->shape, *shape);
  if (!s.ok())
    return Status::error(s.error);
  out.push_back(reshaped(x, s.shape));
  return Status::success();
}

Status expandDimsOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(axes, c.intList("axes"));
  auto s =
      mil::expandDimsShape(x->shape, axes.value_or(std::vector<int64_t>{}));
  if (!s.ok())
    return Status::error(s.error);
  out.push_back(reshaped(x, s.shape));
  return Status::success();
}

Status squeezeOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(axes, c.intList("axes"));
  auto s = mil::squeezeShape(x->shape, axes);
  if (!s.ok())
    return Status::error(s.error);
  out.push_back(reshaped(x, s.shape));
  return Status::success();
}

/// Gathers x elements into a tensor of `shape`, where source offset of each
/// output element comes from `srcOffset(multi-index)`.
template <typename Fn>
Tensor gatherElements(const Tensor &x, DType dtype, const Shape &shape,
                      Fn srcOffset) {
  Tensor r = Tensor::zeros(dtype, shape);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t n = 0; n < r.numElements(); ++n) {
    int64_t s = srcOffset(idx);
    if (s < 0)
      ; // no source element: stays zero
    else if (r.isFloat())
      r.f[n] = x.values()[s];
    else
      r.i[n] = x.i[s];
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      if (++idx[d] < shape[d])
        break;
      idx[d] = 0;
    }
  }
  return r;
}

/// The elements of x at base + sum(idx[d] * strides[d]) for every index
/// of `shape`: transposes and slices.
Tensor affineGather(const Tensor &x, const Shape &shape, int64_t base,
                    std::vector<int64_t> strides) {
  Tensor r = Tensor::zeros(x.dtype, shape);
  if (r.isFloat()) {
    const float *xv = x.values();
    forEachStrided<1>(
        shape, {std::move(strides)}, {base},
        [&](int64_t n, const std::array<int64_t, 1> &o) { r.f[n] = xv[o[0]]; });
  } else {
    forEachStrided<1>(shape, {std::move(strides)}, {base},
                      [&](int64_t n, const std::array<int64_t, 1> &o) {
                        r.i[n] = x.i[o[0]];
                      });
  }
  return r;
}

Status transposeOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(perm, c.intList("perm"));
  if (!perm)
    return Status::error("missing parameter 'perm'");
  auto s = mil::transposeShape(x->shape, *perm);
  if (!s.ok())
    return Status::error(s.error);
  std::vector<int64_t> st = stridesOf(x->shape);
  int64_t rank = static_cast<int64_t>(x->shape.size());
  std::vector<int64_t> permuted(rank); // source stride of each output axis
  for (int64_t d = 0; d < rank; ++d)
    permuted[d] = st[*mil::normalizeAxis((*perm)[d], rank)];
  out.push_back(affineGather(*x, s.shape, 0, std::move(permuted)));
  return Status::success();
}

Status sliceByIndexOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(begin, c.intList("begin"));
  TRY_ASSIGN(end, c.intList("end"));
  TRY_ASSIGN(stride, c.intList("stride"));
  TRY_ASSIGN(beginMask, c.boolList("begin_mask"));
  TRY_ASSIGN(endMask, c.boolList("end_mask"));
  TRY_ASSIGN(squeezeMask, c.boolList("squeeze_mask"));
  if (!begin || !end)
    return Status::error("slice_by_index needs begin and end");
  mil::SliceByIndexParams p{
      *begin,    *end,    stride.value_or(std::vector<int64_t>{}),
      beginMask, endMask, squeezeMask};
  auto s = mil::sliceByIndexShape(x->shape, p);
  if (!s.ok())
    return Status::error(s.error);
  size_t rank = x->shape.size();
  std::vector<mil::SliceRange> ranges(rank);
  for (size_t d = 0; d < rank; ++d) {
    bool sq = !squeezeMask.empty() && squeezeMask[d];
    int64_t st = p.stride.empty() ? 1 : p.stride[d];
    if (sq) {
      int64_t b = (*begin)[d] < 0 ? (*begin)[d] + x->shape[d] : (*begin)[d];
      ranges[d] = {b, 1, 1};
    } else {
      ranges[d] = *mil::resolveSliceAxis(x->shape[d], (*begin)[d], (*end)[d],
                                         st, !beginMask.empty() && beginMask[d],
                                         !endMask.empty() && endMask[d]);
    }
  }
  // Iterate over the un-squeezed slice, then drop squeezed dims.
  Shape full;
  for (const auto &r : ranges)
    full.push_back(r.count);
  std::vector<int64_t> st = stridesOf(x->shape), steps(rank);
  int64_t base = 0;
  for (size_t d = 0; d < rank; ++d) {
    base += ranges[d].start * st[d];
    steps[d] = ranges[d].stride * st[d];
  }
  Tensor r = affineGather(*x, full, base, std::move(steps));
  r.shape = s.shape;
  out.push_back(std::move(r));
  return Status::success();
}

Status sliceBySizeOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(begin, c.intList("begin"));
  TRY_ASSIGN(size, c.intList("size"));
  if (!begin || !size)
    return Status::error("slice_by_size needs begin and size");
  auto s = mil::sliceBySizeShape(x->shape, *begin, *size);
  if (!s.ok())
    return Status::error(s.error);
  std::vector<int64_t> st = stridesOf(x->shape);
  int64_t base = 0;
  for (size_t d = 0; d < x->shape.size(); ++d)
    base += ((*begin)[d] < 0 ? (*begin)[d] + x->shape[d] : (*begin)[d]) * st[d];
  out.push_back(affineGather(*x, s.shape, base, std::move(st)));
  return Status::success();
}

/// Constant-mode pad with zeros, the only mode the compiler emits.
Status padOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(pad, c.intList("pad"));
  TRY_ASSIGN(mode, c.string("mode", "constant"));
  TRY_ASSIGN(value, c.floatScalar("constant_val", 0.0));
  if (!pad)
    return Status::error("pad needs 'pad'");
  if (mode != "constant" || value != 0.0)
    return Status::error("only constant pad with zeros is supported");
  auto s = mil::padShape(x->shape, *pad);
  if (!s.ok())
    return Status::error(s.error);
  std::vector<int64_t> st = stridesOf(x->shape);
  size_t rank = x->shape.size(), first = rank - pad->size() / 2;
  out.push_back(gatherElements(*x, x->dtype, s.shape, [&](const auto &idx) {
    int64_t off = 0;
    for (size_t d = 0; d < rank; ++d) {
      int64_t i = idx[d];
      if (d >= first)
        i -= (*pad)[2 * (d - first)];
      if (i < 0 || i >= x->shape[d])
        return int64_t(-1);
      off += i * st[d];
    }
    return off;
  }));
  return Status::success();
}

Status concatOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(values, c.tuple("values"));
  TRY_ASSIGN(axis, c.intScalar("axis", std::nullopt));
  TRY_ASSIGN(interleave, c.boolScalar("interleave", false));
  std::vector<Shape> shapes;
  for (const TensorPtr &v : values) {
    if (v->dtype != values[0]->dtype)
      return Status::error("values have different dtypes");
    shapes.push_back(v->shape);
  }
  auto s = mil::concatShape(shapes, axis, interleave);
  if (!s.ok())
    return Status::error(s.error);
  int64_t a = *mil::normalizeAxis(axis, static_cast<int64_t>(shapes[0].size()));
  Tensor r = Tensor::zeros(values[0]->dtype, s.shape);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < a; ++d)
    outer *= s.shape[d];
  for (size_t d = a + 1; d < s.shape.size(); ++d)
    inner *= s.shape[d];
  int64_t outAxis = s.shape[a], n = static_cast<int64_t>(values.size());
  int64_t axisOff = 0;
  for (int64_t vi = 0; vi < n; ++vi) {
    const Tensor &v = *values[vi];
    int64_t va = v.shape[a];
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t k = 0; k < va; ++k) {
        int64_t dstAxis = interleave ? k * n + vi : axisOff + k;
        int64_t src = (o * va + k) * inner;
        int64_t dst = (o * outAxis + dstAxis) * inner;
        if (r.isFloat())
          std::copy_n(v.values() + src, inner, r.f.data() + dst);
        else
          std::copy_n(v.i.data() + src, inner, r.i.data() + dst);
      }
    axisOff += va;
  }
  out.push_back(std::move(r));
  return Status::success();
}

Status splitOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(axis, c.intScalar("axis", std::nullopt));
  TRY_ASSIGN(sizes, c.intList("split_sizes"));
  std::optional<int64_t> numSplits;
  if (c.st.arg("num_splits") || c.st.attr("num_splits")) {
    TRY_ASSIGN(n, c.intScalar("num_splits", std::nullopt));
    numSplits = n;
  }
  auto s = mil::splitShapes(x->shape, axis, numSplits, sizes);
  if (!s.ok())
    return Status::error(s.error);
  int64_t a = *mil::normalizeAxis(axis, static_cast<int64_t>(x->shape.size()));
  // Row-major: each part is `outer` runs of part[a] * inner contiguous
  // elements.
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < a; ++d)
    outer *= x->shape[d];
  for (size_t d = a + 1; d < x->shape.size(); ++d)
    inner *= x->shape[d];
  int64_t offset = 0;
  for (const Shape &part : s.shapes) {
    Tensor r = Tensor::zeros(x->dtype, part);
    int64_t run = part[a] * inner;
    for (int64_t o = 0; o < outer; ++o) {
      int64_t src = (o * x->shape[a] + offset) * inner;
      if (r.isFloat())
        std::copy_n(x->values() + src, run, r.f.data() + o * run);
      else
        std::copy_n(x->i.data() + src, run, r.i.data() + o * run);
    }
    out.push_back(std::move(r));
    offset += part[a];
  }
  return Status::success();
}

Status gatherOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(indices, c.tensor("indices"));
  TRY_ASSIGN(axis, c.intScalar("axis", 0));
  TRY_ASSIGN(batchDims, c.intScalar("batch_dims", 0));
  if (indices->isFloat())
    return Status::error("indices must be integers");
  auto s = mil::gatherShape(x->shape, indices->shape, axis, batchDims);
  if (!s.ok())
    return Status::error(s.error);
  int64_t rank = static_cast<int64_t>(x->shape.size());
  int64_t a = *mil::normalizeAxis(axis, rank);
  int64_t dim = x->shape[a];
  for (int64_t v : indices->i)
    if (v < -dim || v >= dim)
      return Status::error(fmt::format(
          "index {} is out of range for axis {} of size {}", v, a, dim));
  std::vector<int64_t> xst = stridesOf(x->shape),
                       ist = stridesOf(indices->shape);
  int64_t iRank = static_cast<int64_t>(indices->shape.size());
  out.push_back(gatherElements(*x, x->dtype, s.shape, [&](const auto &idx) {
    // idx = x[:a] + indices[batch_dims:] + x[a+1:]
    int64_t iOff = 0;
    for (int64_t d = 0; d < batchDims; ++d)
      iOff += idx[d] * ist[d];
    for (int64_t d = batchDims; d < iRank; ++d)
      iOff += idx[a + d - batchDims] * ist[d];
    int64_t sel = indices->i[iOff];
    if (sel < 0)
      sel += dim;
    int64_t off = sel * xst[a];
    for (int64_t d = 0; d < a; ++d)
      off += idx[d] * xst[d];
    for (int64_t d = a + 1; d < rank; ++d)
      off += idx[d - 1 + (iRank - batchDims)] * xst[d];
    return off;
  }));
  return Status::success();
}

Status bandPartOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(lower, c.intScalar("lower", -1));
  TRY_ASSIGN(upper, c.intScalar("upper", -1));
  size_t rank = x->shape.size();
  if (rank < 2)
    return Status::error("x must have rank >= 2");
  int64_t rows = x->shape[rank - 2], cols = x->shape[rank - 1];
  Tensor r = x->owned();
  for (int64_t n = 0; n < r.numElements(); ++n) {
    int64_t m = n / cols % rows, k = n % cols;
    bool keep = (lower < 0 || m - k <= lower) && (upper < 0 || k - m <= upper);
    if (keep)
      continue;
    if (r.isFloat())
      r.f[n] = 0;
    else
      r.i[n] = 0;
  }
  out.push_back(std::move(r));
  return Status::success();
}

Status fillOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(shape, c.intList("shape"));
  TRY_ASSIGN(value, c.optTensor("value"));
  if (!shape)
    return Status::error("missing parameter 'shape'");
  for (int64_t d : *shape)
    if (d <= 0 || d > (int64_t(1) << 31))
      return Status::error(fmt::format("shape entry {} is invalid", d));
  DType dtype = value ? value->dtype : DType::FP32;
  Tensor r = Tensor::zeros(dtype, *shape);
  double v = value && value->numElements() == 1 ? value->at(0) : 0.0;
  for (int64_t n = 0; n < r.numElements(); ++n) {
    if (r.isFloat())
      r.f[n] = storeAs(dtype, static_cast<float>(v));
    else
      r.i[n] = wrapInt(dtype, floatToInt(v));
  }
  out.push_back(std::move(r));
  return Status::success();
}

Status identityOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  out.push_back(reshaped(x, x->shape));
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Quantization and compressed constants
//===----------------------------------------------------------------------===//

/// Index along `axis` of flat element n of `shape`.
int64_t axisIndex(const Shape &shape, int64_t axis, int64_t n) {
  int64_t inner = 1;
  for (size_t d = axis + 1; d < shape.size(); ++d)
    inner *= shape[d];
  return n / inner % shape[axis];
}

/// Scale or zero point: scalar, or 1-D along `axis` of `data`.
Result<std::function<double(int64_t)>> perAxis(const TensorPtr &p,
                                               const Tensor &data,
                                               std::optional<int64_t> axis,
                                               const char *name) {
  if (!p)
    return std::function<double(int64_t)>([](int64_t) { return 0.0; });
  if (p->numElements() == 1)
    return std::function<double(int64_t)>(
        [v = p->at(0)](int64_t) { return v; });
  int64_t rank = static_cast<int64_t>(data.shape.size());
  auto a = axis ? mil::normalizeAxis(*axis, rank) : std::nullopt;
  if (!a || p->shape.size() != 1 || p->shape[0] != data.shape[*a])
    return Result<std::function<double(int64_t)>>::error(fmt::format(
        "{} must be a scalar or have one entry per element of axis", name));
  Shape shape = data.shape;
  int64_t ax = *a;
  return std::function<double(int64_t)>(
      [p, shape, ax](int64_t n) { return p->at(axisIndex(shape, ax, n)); });
}

Status affineDequantizeOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(q, c.tensor("quantized_data"));
  TRY_ASSIGN(scale, c.tensor("scale"));
  TRY_ASSIGN(zp, c.tensor("zero_point"));
  TRY_ASSIGN(axis, c.intScalar("axis", std::nullopt));
  if (Status s = needFloat(*scale, "scale"); !s.ok())
    return s;
  TRY_ASSIGN(sf, perAxis(scale, *q, axis, "scale"));
  TRY_ASSIGN(zf, perAxis(zp, *q, axis, "zero_point"));
  Tensor r = Tensor::zeros(scale->dtype, q->shape);
  for (int64_t n = 0; n < r.numElements(); ++n)
    r.f[n] = storeAs(r.dtype, static_cast<float>(sf(n) * (q->at(n) - zf(n))));
  out.push_back(std::move(r));
  return Status::success();
}

Status blockwiseShiftScaleOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(data, c.tensor("data"));
  TRY_ASSIGN(scale, c.tensor("scale"));
  TRY_ASSIGN(offset, c.optTensor("offset"));
  if (Status s = needFloat(*scale, "scale"); !s.ok())
    return s;
  size_t rank = data->shape.size();
  if (scale->shape.size() != rank || (offset && offset->shape != scale->shape))
    return Status::error("scale and offset need the data's rank");
  std::vector<int64_t> block(rank);
  for (size_t d = 0; d < rank; ++d) {
    if (scale->shape[d] <= 0 || data->shape[d] % scale->shape[d] != 0)
      return Status::error("scale dims must divide data dims");
    block[d] = data->shape[d] / scale->shape[d];
  }
  std::vector<int64_t> sst = stridesOf(scale->shape);
  Tensor r = Tensor::zeros(scale->dtype, data->shape);
  // Weights [out, in, 1, 1] with blocks along `in`: the same arithmetic as
  // the general loop below, without its per-element index walk.
  bool rowBlocks = rank >= 2 && block[0] == 1 && data->isFloat() == false;
  for (size_t d = 2; d < rank; ++d)
    rowBlocks = rowBlocks && data->shape[d] == 1;
  if (rowBlocks) {
    int64_t rows = data->shape[0], cols = data->shape[1],
            groups = scale->shape[1];
    for (int64_t o = 0; o < rows; ++o)
      for (int64_t i = 0; i < cols; ++i) {
        int64_t so = o * groups + i / block[1], n = o * cols + i;
        double off = offset ? offset->at(so) : 0.0;
        r.f[n] =
            storeAs(r.dtype, static_cast<float>(double(scale->values()[so]) *
                                                (double(data->i[n]) - off)));
      }
    out.push_back(std::move(r));
    return Status::success();
  }
  std::vector<int64_t> idx(rank, 0);
  for (int64_t n = 0; n < r.numElements(); ++n) {
    int64_t so = 0;
    for (size_t d = 0; d < rank; ++d)
      so += idx[d] / block[d] * sst[d];
    double off = offset ? offset->at(so) : 0.0;
    r.f[n] = storeAs(r.dtype,
                     static_cast<float>(scale->at(so) * (data->at(n) - off)));
    for (int64_t d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
      if (++idx[d] < data->shape[d])
        break;
      idx[d] = 0;
    }
  }
  out.push_back(std::move(r));
  return Status::success();
}

Status lutToDenseOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(indices, c.tensor("indices"));
  TRY_ASSIGN(lut, c.tensor("lut"));
  TRY_ASSIGN(shape, c.intList("shape"));
  if (shape) {
    // iOS16: packed bytes, flat palette, explicit shape.
    int64_t palette = lut->numElements();
    int bits = 0;
    for (int b : {1, 2, 4, 6, 8})
      if (palette == (int64_t(1) << b))
        bits = b;
    if (!bits || lut->shape.size() != 1)
      return Status::error("lut must be 1-D with 2, 4, 16, 64 or 256 entries");
    int64_t count = 1;
    for (int64_t d : *shape) {
      if (d <= 0 || d > (int64_t(1) << 31))
        return Status::error("invalid shape");
      count *= d;
    }
    if (indices->numElements() * 8 < count * bits)
      return Status::error("indices hold too few bytes for the shape");
    std::vector<uint8_t> bytes(indices->i.begin(), indices->i.end());
    std::vector<int64_t> idx =
        mil::unpackSubByte(bytes.data(), count, bits, false);
    Tensor r = Tensor::zeros(lut->dtype, *shape);
    for (int64_t n = 0; n < count; ++n) {
      if (r.isFloat())
        r.f[n] = lut->values()[idx[n]];
      else
        r.i[n] = lut->i[idx[n]];
    }
    out.push_back(std::move(r));
    return Status::success();
  }
  // iOS18: per-group palettes, optional vectors along vector_axis.
  TRY_ASSIGN(vectorAxis, c.intScalar("vector_axis", 0));
  size_t rank = indices->shape.size();
  if (lut->shape.size() != rank + 2)
    return Status::error("lut rank must be the indices rank + 2");
  int64_t palette = lut->shape[rank], vsize = lut->shape[rank + 1];
  Shape outShape = indices->shape;
  int64_t va = 0;
  if (vsize > 1) {
    auto a = mil::normalizeAxis(vectorAxis, static_cast<int64_t>(rank));
    if (!a)
      return Status::error("vector_axis is out of range");
    va = *a;
    outShape[va] *= vsize;
  }
  std::vector<int64_t> group(rank);
  for (size_t d = 0; d < rank; ++d) {
    if (lut->shape[d] <= 0 || outShape[d] % lut->shape[d] != 0)
      return Status::error("lut dims must divide the output dims");
    group[d] = outShape[d] / lut->shape[d];
  }
  std::vector<int64_t> lst = stridesOf(lut->shape),
                       ist = stridesOf(indices->shape);
  Tensor r = Tensor::zeros(lut->dtype, outShape);
  std::vector<int64_t> idx(rank, 0);
  for (int64_t n = 0; n < r.numElements(); ++n) {
    int64_t io = 0, lo = 0;
    for (size_t d = 0; d < rank; ++d) {
      int64_t id = idx[d];
      if (vsize > 1 && static_cast<int64_t>(d) == va)
        id /= vsize;
      io += id * ist[d];
      lo += idx[d] / group[d] * lst[d];
    }
    int64_t sel = indices->i[io];
    if (sel < 0 || sel >= palette)
      return Status::error("index outside the palette");
    int64_t lane = vsize > 1 ? idx[va] % vsize : 0;
    int64_t src = lo + sel * lst[rank] + lane;
    if (r.isFloat())
      r.f[n] = lut->values()[src];
    else
      r.i[n] = lut->i[src];
    for (int64_t d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
      if (++idx[d] < outShape[d])
        break;
      idx[d] = 0;
    }
  }
  out.push_back(std::move(r));
  return Status::success();
}

Status quantizeOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(input, c.tensor("input"));
  TRY_ASSIGN(scale, c.tensor("scale"));
  TRY_ASSIGN(zp, c.optTensor("zero_point"));
  TRY_ASSIGN(dtypeName, c.string("output_dtype", nullptr));
  std::optional<int64_t> axis;
  if (c.st.arg("axis") || c.st.attr("axis")) {
    TRY_ASSIGN(a, c.intScalar("axis", std::nullopt));
    axis = a;
  }
  auto dtype = mil::parseDType(dtypeName);
  if (!dtype || (*dtype != DType::Int8 && *dtype != DType::UInt8))
    return Status::error("output_dtype must be int8 or uint8");
  TRY_ASSIGN(sf, perAxis(scale, *input, axis, "scale"));
  TRY_ASSIGN(zf, perAxis(zp, *input, axis, "zero_point"));
  int64_t lo = *dtype == DType::Int8 ? -128 : 0,
          hi = *dtype == DType::Int8 ? 127 : 255;
  Tensor r = Tensor::zeros(*dtype, input->shape);
  for (int64_t n = 0; n < r.numElements(); ++n) {
    double q = std::nearbyint(input->at(n) / sf(n)) + zf(n); // half to even
    r.i[n] = std::clamp<int64_t>(floatToInt(q), lo, hi);
  }
  out.push_back(std::move(r));
  return Status::success();
}

Status dequantizeOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(input, c.tensor("input"));
  TRY_ASSIGN(scale, c.tensor("scale"));
  TRY_ASSIGN(zp, c.optTensor("zero_point"));
  std::optional<int64_t> axis;
  if (c.st.arg("axis") || c.st.attr("axis")) {
    TRY_ASSIGN(a, c.intScalar("axis", std::nullopt));
    axis = a;
  }
  if (Status s = needFloat(*scale, "scale"); !s.ok())
    return s;
  TRY_ASSIGN(sf, perAxis(scale, *input, axis, "scale"));
  TRY_ASSIGN(zf, perAxis(zp, *input, axis, "zero_point"));
  Tensor r = Tensor::zeros(scale->dtype, input->shape);
  for (int64_t n = 0; n < r.numElements(); ++n)
    r.f[n] =
        storeAs(r.dtype, static_cast<float>(sf(n) * (input->at(n) - zf(n))));
  out.push_back(std::move(r));
  return Status::success();
}

const std::map<std::string, OpFn> &opTable() {
  static const std::map<std::string, OpFn> table = {
      {"add", binary([](double a, double b) { return a + b; })},
      {"sub", binary([](double a, double b) { return a - b; })},
      {"mul", binary([](double a, double b) { return a * b; })},
      {"real_div", binary([](double a, double b) { return a / b; })},
      {"pow", binary([](double a, double b) { return std::pow(a, b); }, true)},
      {"maximum", binary([](double a, double b) { return std::max(a, b); })},
      {"minimum", binary([](double a, double b) { return std::min(a, b); })},
      {"greater_equal", compare([](double a, double b) { return a >= b; })},
      {"less", compare([](double a, double b) { return a < b; })},
      {"sqrt", unary([](float x) { return std::sqrt(x); })},
      {"exp", unary([](float x) { return std::exp(x); })},
      {"sigmoid", unary([](float x) { return 1.0f / (1.0f + std::exp(-x)); })},
      {"silu", unary([](float x) { return x / (1.0f + std::exp(-x)); })},
      {"rsqrt", rsqrtOp},
      {"gelu", geluOp},
      {"softmax", softmaxOp},
      {"select", selectOp},
      {"cast", castOp},
      {"reduce_sum",
       [](const OpContext &c, Outputs &o) { return reduce(c, o, "sum"); }},
      {"reduce_mean",
       [](const OpContext &c, Outputs &o) { return reduce(c, o, "mean"); }},
      {"reduce_max",
       [](const OpContext &c, Outputs &o) { return reduce(c, o, "max"); }},
      {"layer_norm", layerNormOp},
      {"matmul", matmulOp},
      {"linear", linearOp},
      {"conv", convOp},
      {"scaled_dot_product_attention", sdpaOp},
      {"reshape", reshapeOp},
      {"transpose", transposeOp},
      {"expand_dims", expandDimsOp},
      {"squeeze", squeezeOp},
      {"slice_by_index", sliceByIndexOp},
      {"slice_by_size", sliceBySizeOp},
      {"pad", padOp},
      {"concat", concatOp},
      {"split", splitOp},
      {"gather", gatherOp},
      {"band_part", bandPartOp},
      {"fill", fillOp},
      {"identity", identityOp},
      {"constexpr_affine_dequantize", affineDequantizeOp},
      {"constexpr_blockwise_shift_scale", blockwiseShiftScaleOp},
      {"constexpr_lut_to_dense", lutToDenseOp},
      {"quantize", quantizeOp},
      {"dequantize", dequantizeOp},
  };
  return table;
}

bool isConstantOp(const std::string &op) {
  return op == "const" || op.rfind("constexpr_", 0) == 0;
}

std::string where(const mil::Statement &st) {
  return st.line ? fmt::format("line {}: op '{}'", st.line, st.op)
                 : fmt::format("op '{}'", st.op);
}

/// Runs one statement and binds its outputs, checking them against the
/// types the text declares.
Status runStatement(const mil::Statement &st,
                    std::map<std::string, TensorPtr> &env,
                    std::map<std::string, Tensor> &states,
                    const WeightFiles &weights) {
  OpContext ctx(st, env, weights);
  Outputs outs;
  Status status = Status::success();
  if (st.op == "const") {
    const mil::Value *val = st.attr("val");
    if (!val)
      return Status::error(where(st) + ": const without val");
    auto t = decodeLiteral(*val, weights);
    if (!t.ok())
      return Status::error(where(st) + ": " + t.message());
    outs.push_back(std::move(*t));
  } else if (st.op == "read_state" || st.op == "write_state") {
    const mil::Value *in = st.arg("input");
    if (!in || in->kind != mil::Value::Kind::Ref)
      return Status::error(where(st) + ": input must name a state");
    auto it = states.find(in->text);
    if (it == states.end())
      return Status::error(where(st) + ": state '" + in->text +
                           "' has no value");
    if (st.op == "read_state") {
      outs.push_back(it->second);
    } else {
      auto data = ctx.tensor("data");
      if (!data.ok())
        return Status::error(where(st) + ": " + data.message());
      if ((*data)->dtype != it->second.dtype ||
          (*data)->shape != it->second.shape)
        return Status::error(where(st) + ": data does not match the state");
      it->second = (*data)->owned();
    }
  } else {
    auto fn = opTable().find(st.op);
    if (fn == opTable().end())
      return Status::error(where(st) + ": the executor does not implement it");
    status = fn->second(ctx, outs);
    if (!status.ok())
      return Status::error(where(st) + ": " + status.message());
  }
  if (outs.size() != st.outputs.size())
    return Status::error(
        fmt::format("{}: produces {} values, the text binds {}", where(st),
                    outs.size(), st.outputs.size()));
  for (size_t k = 0; k < outs.size(); ++k) {
    const mil::Type &decl = st.outputs[k].type;
    if (!decl.isTensor() || decl.dtype != outs[k].dtype ||
        !mil::shapesCompatible(decl.dims, outs[k].shape))
      return Status::error(fmt::format(
          "{}: result '{}' is {} {}, the text declares {}", where(st),
          st.outputs[k].name, mil::dtypeName(outs[k].dtype),
          mil::formatShape(outs[k].shape), mil::printType(decl, false)));
    env[st.outputs[k].name] = std::make_shared<Tensor>(std::move(outs[k]));
  }
  return Status::success();
}

} // namespace

namespace {

/// What OpContext reads BLOBFILE literals from when a statement has none
/// (OpContext keeps a reference, so this must outlive it).
const WeightFiles &noWeightFiles() {
  static const WeightFiles none;
  return none;
}

/// Whether a conv is a plain product: groups 1, unit strides and
/// dilations, no padding (its weight is 1x1 by construction).
bool pointwiseConv(const mil::Statement &st,
                   const std::map<std::string, TensorPtr> &constants) {
  OpContext c(st, constants, noWeightFiles());
  auto ones = [&](const char *name) {
    auto list = c.intList(name);
    if (!list.ok())
      return false;
    for (int64_t v : list->value_or(std::vector<int64_t>{}))
      if (v != 1)
        return false;
    return true;
  };
  auto pad = c.intList("pad");
  auto groups = c.intScalar("groups", 1);
  if (!pad.ok() || !groups.ok() || *groups != 1 || !ones("strides") ||
      !ones("dilations"))
    return false;
  for (int64_t v : pad->value_or(std::vector<int64_t>{}))
    if (v != 0)
      return false;
  return true;
}

/// conv(x, weight) with the weight read in place by the vector kernels.
Status packedConv(const mil::Statement &st,
                  std::map<std::string, TensorPtr> &env,
                  const PackedWeight &w) {
  OpContext c(st, env, noWeightFiles());
  auto x = c.tensor("x");
  auto bias = c.optTensor("bias");
  if (!x.ok() || !bias.ok())
    return Status::error(where(st) + ": " +
                         (x.ok() ? bias.message() : x.message()));
  const Tensor &in = **x;
  if (!in.isFloat() || in.shape.size() != 4 || in.shape[0] != 1 ||
      in.shape[2] != 1 || in.shape[1] != w.cols)
    return Status::error(fmt::format("{}: x is {}, the weight takes [1, {}, "
                                     "1, S]",
                                     where(st), mil::formatShape(in.shape),
                                     w.cols));
  int64_t S = in.shape[3];
  Tensor y = Tensor::zeros(in.dtype, {1, w.rows, 1, S});
  matmul(w, in.values(), S, y.f.data(), ThreadPool::global());
  if (*bias && (*bias)->numElements() != w.rows)
    return Status::error(where(st) + ": bias must have one entry per output "
                                     "channel");
  if (*bias)
    for (int64_t r = 0; r < w.rows; ++r)
      for (int64_t s = 0; s < S; ++s)
        y.f[r * S + s] += float((*bias)->at(r));
  // Vector rounding: a conversion call per value showed in decode profiles.
  if (y.dtype == DType::FP16)
    roundToHalfs(y.f.data(), y.numElements());
  if (st.outputs.size() != 1 || st.outputs[0].type.dtype != y.dtype ||
      !mil::shapesCompatible(st.outputs[0].type.dims, y.shape))
    return Status::error(where(st) + ": the result does not match its "
                                     "declared type");
  env[st.outputs[0].name] = std::make_shared<Tensor>(std::move(y));
  return Status::success();
}

/// Whether `v` holds a BLOBFILE literal or refers to one of `names`.
bool readsAny(const mil::Value &v, const std::set<std::string> &names) {
  if (v.isBlobFile() ||
      (v.kind == mil::Value::Kind::Ref && names.count(v.text)))
    return true;
  for (const mil::Value &item : v.items)
    if (readsAny(item, names))
      return true;
  return false;
}

/// For each statement: whether it is a constant whose value comes from a
/// weight file, directly or through other constants.
std::vector<bool> constantsReadingWeights(const mil::Function &fn) {
  std::vector<bool> reads(fn.body.size(), false);
  std::set<std::string> fromWeights;
  for (size_t k = 0; k < fn.body.size(); ++k) {
    const mil::Statement &st = fn.body[k];
    if (!isConstantOp(st.op))
      continue;
    for (const auto *list : {&st.args, &st.attrs})
      for (const mil::Argument &a : *list)
        reads[k] = reads[k] || readsAny(a.value, fromWeights);
    if (reads[k])
      for (const mil::Statement::Output &o : st.outputs)
        fromWeights.insert(o.name);
  }
  return reads;
}

} // namespace

Result<Executor> Executor::createUnbound(const mil::Program &program,
                                         const std::string &functionName) {
  Executor e;
  e.program = std::make_shared<mil::Program>(program);
  e.fn = e.program->function(functionName);
  if (!e.fn)
    return Result<Executor>::error("no function named '" + functionName + "'");
  return e;
}

Result<Executor> Executor::create(const mil::Program &program,
                                  const std::string &functionName,
                                  const WeightFiles &weights) {
  auto e = createUnbound(program, functionName);
  if (!e.ok())
    return e;
  e->bindWeights(weights);
  // Materialise now so that bad weights fail here, not in the first run.
  if (Status s = e->materialise(weights); !s.ok())
    return s;
  return e;
}

void Executor::bindWeights(WeightFiles files) {
  weights = std::move(files);
  constants.clear();
  constantsStale = true;
}

void Executor::useFastKernels(bool on) {
  fastKernels = on;
  packedSources = on ? findPackedWeights(*fn) : decltype(packedSources)();
  packed.clear();
  constants.clear();
  constantsStale = true;
}

Status Executor::materialise(const WeightFiles &weights) {
  constants.clear();
  packed.clear();
  constantsStale = false;
  for (const auto &[name, source] : packedSources) {
    auto w = bindPackedWeight(source, weights);
    if (!w.ok())
      return Status::error(fmt::format("weight '{}': {}", name, w.message()));
    packed.emplace(name, *w);
  }
  std::map<std::string, Tensor> noStates;
  // Constants depend only on constants, so they can run ahead of time. Those
  // that read no weight file are the same for every binding: they run once.
  if (!fixedReady) {
    readsWeights = constantsReadingWeights(*fn);
    fixedConstants.clear();
    for (size_t k = 0; k < fn->body.size(); ++k)
      if (isConstantOp(fn->body[k].op) && !readsWeights[k])
        if (Status s =
                runStatement(fn->body[k], fixedConstants, noStates, weights);
            !s.ok())
          return s;
    fixedReady = true;
  }
  constants = fixedConstants;
  for (size_t k = 0; k < fn->body.size(); ++k) {
    const mil::Statement &st = fn->body[k];
    // Packed weights are read in place instead.
    if (!readsWeights[k] ||
        (st.outputs.size() == 1 && packed.count(st.outputs[0].name)))
      continue;
    if (Status s = runStatement(st, constants, noStates, weights); !s.ok())
      return s;
  }
  // A packed weight whose conv is not a plain 1x1 product is materialised
  // after all.
  for (const mil::Statement &st : fn->body) {
    const mil::Value *w = st.op == "conv" ? st.arg("weight") : nullptr;
    if (!w || !packed.count(w->text) || pointwiseConv(st, constants))
      continue;
    packed.erase(w->text);
    for (const mil::Statement &def : fn->body)
      if (def.outputs.size() == 1 && def.outputs[0].name == w->text)
        if (Status s = runStatement(def, constants, noStates, weights); !s.ok())
          return s;
  }
  return Status::success();
}

Status Executor::setState(const std::string &param, Tensor value) {
  for (const mil::Param &p : fn->params)
    if (p.name == param && p.type.kind == mil::Type::Kind::State) {
      states[param] = std::move(value);
      return Status::success();
    }
  return Status::error("no state parameter named '" + param + "'");
}

const Tensor *Executor::state(const std::string &param) const {
  auto it = states.find(param);
  return it == states.end() ? nullptr : &it->second;
}

Result<std::vector<Tensor>> Executor::run(const std::vector<Tensor> &inputs) {
  std::vector<TensorRef> shared;
  for (const Tensor &t : inputs)
    shared.push_back(std::make_shared<const Tensor>(t));
  return run(shared);
}

namespace {

/// Whether st's one output is declared a tensor of `dtype` that `shape`
/// fits: a fast path that would produce something else leaves the op to
/// the plain loops, which report the mismatch.
bool declaresOutput(const mil::Statement &st, DType dtype, const Shape &shape) {
  const mil::Type &decl = st.outputs[0].type;
  return decl.isTensor() && decl.dtype == dtype &&
         mil::shapesCompatible(decl.dims, shape);
}

/// matmul of float tensors of one rank >= 2 with equal batch dimensions and
/// x not transposed (the attention products), on the vector kernels,
/// batches spread over the thread pool. Anything else returns nullopt and
/// runs the plain loops.
std::optional<Status> fastMatmul(const mil::Statement &st,
                                 std::map<std::string, TensorPtr> &env) {
  OpContext c(st, env, noWeightFiles());
  auto x = c.tensor("x");
  auto y = c.tensor("y");
  auto tx = c.boolScalar("transpose_x", false);
  auto ty = c.boolScalar("transpose_y", false);
  if (!x.ok() || !y.ok() || !tx.ok() || !ty.ok() || *tx ||
      st.outputs.size() != 1)
    return std::nullopt;
  const Tensor &a = **x, &b = **y;
  size_t rank = a.shape.size();
  if (!a.isFloat() || a.halfStored || a.dtype != b.dtype || rank < 2 ||
      b.shape.size() != rank ||
      !std::equal(a.shape.begin(), a.shape.end() - 2, b.shape.begin()))
    return std::nullopt;
  int64_t m = a.shape[rank - 2], k = a.shape[rank - 1];
  int64_t n = *ty ? b.shape[rank - 2] : b.shape[rank - 1];
  if ((*ty ? b.shape[rank - 1] : b.shape[rank - 2]) != k)
    return std::nullopt; // the plain path reports the mismatch
  mil::Shape shape = a.shape;
  shape.back() = n;
  Tensor r = Tensor::zeros(a.dtype, shape);
  int64_t batches = r.numElements() / std::max<int64_t>(m * n, 1);
  bool ys = *ty;
  ThreadPool::global().parallelFor(batches, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      float *out = r.f.data() + i * m * n;
      if (b.halfStored)
        matmulHalfY(a.values() + i * m * k, b.halfs() + i * k * n, out, m, k, n,
                    ys);
      else
        matmulFloat(a.values() + i * m * k, b.values() + i * k * n, out, m, k,
                    n, ys);
      if (r.dtype == mil::DType::FP16)
        roundToHalfs(out, m * n);
    }
  });
  if (!declaresOutput(st, r.dtype, r.shape))
    return std::nullopt;
  env[st.outputs[0].name] = std::make_shared<Tensor>(std::move(r));
  return Status::success();
}

/// softmax over the last axis and silu on VectorMath's exp, the rows or
/// runs of elements shared out over the pool. nullopt leaves the op to the
/// plain loops (another axis, fp16 bits, an output declared otherwise).
std::optional<Status> fastActivation(const mil::Statement &st,
                                     std::map<std::string, TensorPtr> &env) {
  OpContext c(st, env, noWeightFiles());
  auto x = c.tensor("x");
  if (!x.ok() || !(*x)->isFloat() || (*x)->halfStored || st.outputs.size() != 1)
    return std::nullopt;
  const Tensor &in = **x;
  if (!declaresOutput(st, in.dtype, in.shape) || in.numElements() == 0)
    return std::nullopt;
  bool softmax = st.op == "softmax";
  int64_t run = 1024; // silu: elements per task
  if (softmax) {
    auto axis = c.intScalar("axis", -1);
    int64_t rank = static_cast<int64_t>(in.shape.size());
    if (!axis.ok() || rank == 0 || mil::normalizeAxis(*axis, rank) != rank - 1)
      return std::nullopt;
    run = in.shape.back();
  }
  Tensor r = in.owned();
  int64_t n = r.numElements();
  ThreadPool::global().parallelFor((n + run - 1) / run, 1,
                                   [&](int64_t lo, int64_t hi) {
                                     for (int64_t i = lo; i < hi; ++i) {
                                       float *v = r.f.data() + i * run;
                                       int64_t len = std::min(run, n - i * run);
                                       if (softmax)
                                         softmaxRow(v, len);
                                       else
                                         siluRow(v, len);
                                       if (r.dtype == mil::DType::FP16)
                                         roundToHalfs(v, len);
                                     }
                                   });
  env[st.outputs[0].name] = std::make_shared<Tensor>(std::move(r));
  return Status::success();
}

void collectRefs(const mil::Value &v, std::vector<std::string> &out) {
  if (v.kind == mil::Value::Kind::Ref)
    out.push_back(v.text);
  for (const mil::Value &item : v.items)
    collectRefs(item, out);
}

/// Replaces the fp16-bit tensors `st` reads with widened copies, for the
/// ops that read values(). Later readers get the copy too.
void widenHalfArgs(const mil::Statement &st,
                   std::map<std::string, TensorPtr> &env) {
  std::vector<std::string> refs;
  for (const mil::Argument &a : st.args)
    collectRefs(a.value, refs);
  for (const std::string &ref : refs) {
    auto it = env.find(ref);
    if (it != env.end() && it->second->halfStored)
      it->second = std::make_shared<const Tensor>(it->second->owned());
  }
}

bool isViewOp(const std::string &op) {
  return op == "reshape" || op == "squeeze" || op == "expand_dims" ||
         op == "identity";
}

/// For each statement, the values whose last reader it is (function
/// outputs excepted): run() drops them right after it, so a kernel holds
/// only live intermediates and freed buffers are reused at once.
std::vector<std::vector<std::string>> lastUses(const mil::Function &fn) {
  std::map<std::string, size_t> last;
  for (size_t k = 0; k < fn.body.size(); ++k) {
    std::vector<std::string> refs;
    for (const mil::Argument &a : fn.body[k].args)
      collectRefs(a.value, refs);
    for (const std::string &ref : refs)
      last[ref] = k;
  }
  for (const std::string &out : fn.outputs)
    last.erase(out);
  std::vector<std::vector<std::string>> dead(fn.body.size());
  for (const auto &[name, k] : last)
    dead[k].push_back(name);
  return dead;
}

} // namespace

void Executor::profileInto(OpProfile *p, std::string kernel) {
  profile = p;
  profileKernel = std::move(kernel);
}

Result<std::vector<Tensor>>
Executor::run(const std::vector<TensorRef> &inputs) {
  if (constantsStale) {
    auto started = std::chrono::steady_clock::now();
    if (Status s = materialise(weights); !s.ok()) {
      constantsStale = true;
      return s;
    }
    if (profile)
      profile->add(profileKernel, "(constants)", secondsSince(started));
  }
  if (dead.size() != fn->body.size())
    dead = lastUses(*fn);
  Env env = constants;
  size_t next = 0;
  // Only inputs hold fp16 bits (views pass them on): without such an input
  // no statement needs its arguments looked at.
  bool holdsHalfs = false;
  for (const mil::Param &p : fn->params) {
    if (p.type.kind == mil::Type::Kind::State)
      continue;
    if (next >= inputs.size())
      return Result<std::vector<Tensor>>::error(
          fmt::format("missing input for parameter '{}'", p.name));
    const TensorRef &in = inputs[next++];
    if (!in || !p.type.isTensor() || in->dtype != p.type.dtype ||
        !mil::shapesCompatible(p.type.dims, in->shape))
      return Result<std::vector<Tensor>>::error(
          fmt::format("input '{}' is {} {}, the function takes {}", p.name,
                      in ? mil::dtypeName(in->dtype) : "nothing",
                      in ? mil::formatShape(in->shape) : "",
                      mil::printType(p.type, false)));
    if (in->storedElements() != in->numElements())
      return Result<std::vector<Tensor>>::error(
          fmt::format("input '{}' holds the wrong number of values", p.name));
    env[p.name] = in;
    holdsHalfs = holdsHalfs || in->halfStored;
  }
  if (next != inputs.size())
    return Result<std::vector<Tensor>>::error(fmt::format(
        "{} inputs given, the function takes {}", inputs.size(), next));
  for (size_t k = 0; k < fn->body.size(); ++k) {
    const mil::Statement &st = fn->body[k];
    if (isConstantOp(st.op))
      continue;
    // The clock is read only when profiling.
    auto started = profile ? std::chrono::steady_clock::now()
                           : std::chrono::steady_clock::time_point();
    Status s = Status::success();
    std::optional<Status> fast;
    if (fastKernels && st.op == "matmul")
      fast = fastMatmul(st, env);
    else if (fastKernels && (st.op == "softmax" || st.op == "silu"))
      fast = fastActivation(st, env);
    if (holdsHalfs && !fast && !isViewOp(st.op))
      widenHalfArgs(st, env);
    if (fast) {
      s = *fast;
    } else if (const mil::Value *w =
                   st.op == "conv" ? st.arg("weight") : nullptr;
               w && packed.count(w->text)) {
      s = packedConv(st, env, packed.at(w->text));
    } else {
      s = runStatement(st, env, states, weights);
    }
    if (!s.ok())
      return s;
    for (const std::string &name : dead[k])
      env.erase(name);
    if (profile)
      profile->add(profileKernel, st.op, secondsSince(started));
  }
  std::vector<Tensor> outs;
  for (const std::string &name : fn->outputs) {
    auto it = env.find(name);
    if (it == env.end())
      return Result<std::vector<Tensor>>::error("output '" + name +
                                                "' is never defined");
    outs.push_back(it->second->owned());
  }
  return outs;
}

} // namespace ane::runtime
