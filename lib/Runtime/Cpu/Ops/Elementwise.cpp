//===- Elementwise.cpp - elementwise ops ----------------------------------===//

#include "lib/Runtime/Cpu/Ops/Ops.h"
#include "lib/Runtime/Cpu/Ops/Strided.h"

#include "lib/MIL/ShapeRules.h"
#include "lib/Runtime/HalfFloat.h"

#include <algorithm>
#include <cmath>

namespace ane::runtime {
namespace {

//===----------------------------------------------------------------------===//
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

} // namespace

void addElementwiseOps(OpTable &table) {
  table[size_t(mil::OpKind::Add)] =
      binary([](double a, double b) { return a + b; });
  table[size_t(mil::OpKind::Sub)] =
      binary([](double a, double b) { return a - b; });
  table[size_t(mil::OpKind::Mul)] =
      binary([](double a, double b) { return a * b; });
  table[size_t(mil::OpKind::RealDiv)] =
      binary([](double a, double b) { return a / b; });
  table[size_t(mil::OpKind::Pow)] =
      binary([](double a, double b) { return std::pow(a, b); }, true);
  table[size_t(mil::OpKind::Maximum)] =
      binary([](double a, double b) { return std::max(a, b); });
  table[size_t(mil::OpKind::Minimum)] =
      binary([](double a, double b) { return std::min(a, b); });
  table[size_t(mil::OpKind::GreaterEqual)] =
      compare([](double a, double b) { return a >= b; });
  table[size_t(mil::OpKind::Less)] =
      compare([](double a, double b) { return a < b; });
  table[size_t(mil::OpKind::Sqrt)] =
      unary([](float x) { return std::sqrt(x); });
  table[size_t(mil::OpKind::Exp)] = unary([](float x) { return std::exp(x); });
  table[size_t(mil::OpKind::Sigmoid)] =
      unary([](float x) { return 1.0f / (1.0f + std::exp(-x)); });
  table[size_t(mil::OpKind::Silu)] =
      unary([](float x) { return x / (1.0f + std::exp(-x)); });
  table[size_t(mil::OpKind::Rsqrt)] = rsqrtOp;
  table[size_t(mil::OpKind::Gelu)] = geluOp;
  table[size_t(mil::OpKind::Select)] = selectOp;
  table[size_t(mil::OpKind::Cast)] = castOp;
}

} // namespace ane::runtime
