//===- Tensor.cpp - host tensors ------------------------------------------===//

#include "lib/Runtime/Tensor.h"

#include "lib/Runtime/HalfFloat.h"

#include <cmath>
#include <limits>

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

} // namespace ane::runtime
