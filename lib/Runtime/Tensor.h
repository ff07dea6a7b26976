//===- Tensor.h - host tensors ---------------------------------*- C++ -*-===//
//
// The runtime's host buffers: what the engine hands a backend as inputs and
// gets back as outputs, and what the cpu executor computes on.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_TENSOR_H
#define ANE_LIB_RUNTIME_TENSOR_H

#include "lib/MIL/Program.h"
#include "lib/Support/Float16.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ane::runtime {

/// A dense row-major tensor. Float dtypes keep their values in `f` (fp16
/// values already rounded to fp16, so storage is exactly fp16); integer and
/// bool dtypes in `i`; strings in `s`. Straightforward on purpose: this is
/// the oracle fast kernels are checked against.
///
/// A float tensor may instead be a view of another's values (a reshape
/// that moves no data): then `f` is empty, `view` points at the values and
/// `viewOwner` keeps them alive. Readers go through values().
struct Tensor {
  mil::DType dtype = mil::DType::FP32;
  mil::Shape shape;
  std::vector<float> f;
  std::vector<int64_t> i;
  std::string s;
  const float *view = nullptr;
  /// An fp16 tensor may hold fp16 bits instead of floats (halfStored): the
  /// K/V caches, which attention then reads at half the bytes. Only the
  /// executor's view ops and fast matmul read them; every other op gets a
  /// widened copy (owned()).
  std::vector<uint16_t> h;
  const uint16_t *halfView = nullptr;
  bool halfStored = false;
  std::shared_ptr<const void> viewOwner;

  /// Float storage only (not halfStored).
  const float *values() const { return view ? view : f.data(); }
  const uint16_t *halfs() const { return halfView ? halfView : h.data(); }
  /// Values held, whatever the storage.
  int64_t storedElements() const {
    if (halfStored)
      return halfView ? numElements() : int64_t(h.size());
    if (isFloat())
      return view ? numElements() : int64_t(f.size());
    return int64_t(i.size());
  }

  int64_t numElements() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
  bool isFloat() const { return mil::isFloatDType(dtype); }
  /// Element k as a double, whatever the storage.
  double at(int64_t k) const {
    return isFloat() ? static_cast<double>(values()[k])
                     : static_cast<double>(i[k]);
  }

  static Tensor floats(mil::DType dtype, mil::Shape shape,
                       std::vector<float> values);
  static Tensor ints(mil::DType dtype, mil::Shape shape,
                     std::vector<int64_t> values);
  static Tensor zeros(mil::DType dtype, mil::Shape shape);
  /// An fp16 tensor of zeros stored as fp16 bits.
  static Tensor halfZeros(mil::Shape shape);
  /// `base`'s values under another shape of as many elements, no copy.
  static Tensor viewOf(std::shared_ptr<const Tensor> base, mil::Shape shape);
  /// The tensor with float values of its own (a view's are copied, fp16
  /// bits widened).
  Tensor owned() const;
};

/// A tensor shared without copying, e.g. a K/V cache passed to a kernel.
using TensorRef = std::shared_ptr<const Tensor>;

/// Wraps an integer to what a tensor of `dtype` stores, as a cast does.
int64_t wrapInt(mil::DType dtype, int64_t v);
/// Float to integer the way NumPy's astype does on sane values: truncate,
/// with out-of-range values saturated instead of undefined.
int64_t floatToInt(double v);

/// Rounds a float to what a tensor of `dtype` stores (fp16 or fp32).
inline float storeAs(mil::DType dtype, float value) {
  return dtype == mil::DType::FP16 ? ane::roundToHalf(value) : value;
}

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_TENSOR_H
