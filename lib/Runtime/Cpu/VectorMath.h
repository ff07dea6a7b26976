//===- VectorMath.h - exp, softmax and SiLU over float rows -----*- C++ -*-===//
//
// The attention's softmax and the FFN's SiLU take one exp per element; with
// the C library's scalar expf they were 2-3% of a 7B decode step and more
// of a prefill. These functions evaluate exp eight lanes at a time where the
// CPU has AVX2 + FMA, four on ARM64's NEON (the same degree-6 polynomial
// after reducing by ln 2), and call std::exp with the scalar family. The
// executor's plain loops stay the oracle.
//
// exp here is within 2 ulp of std::exp where the result is a normal float;
// results below FLT_MIN (x < -87.34) are flushed to 0, x > 88.72 gives
// +inf, and NaN stays NaN.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_CPU_VECTORMATH_H
#define ANE_LIB_RUNTIME_CPU_VECTORMATH_H

#include <cstdint>

namespace ane::runtime {

/// out[i] = exp(x[i]); out may be x.
void expRow(const float *x, float *out, int64_t n);

/// In place: v[i] = exp(v[i] - max v) / sum of those.
void softmaxRow(float *v, int64_t n);

/// In place: v[i] = v[i] / (1 + exp(-v[i])).
void siluRow(float *v, int64_t n);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_CPU_VECTORMATH_H
