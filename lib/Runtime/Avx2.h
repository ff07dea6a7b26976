//===- Avx2.h - what the AVX2 kernels share ---------------------*- C++ -*-===//
//
// Vector code is compiled for AVX2 + FMA + F16C function by function and
// chosen at run time (hostHasAvx2), so the rest of the build stays baseline
// x86-64.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_AVX2_H
#define ANE_LIB_RUNTIME_AVX2_H

namespace ane::runtime {
/// Whether this CPU has AVX2, FMA and F16C.
bool hostHasAvx2();
} // namespace ane::runtime

#if defined(__x86_64__)
#include <immintrin.h>

#define ANE_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace ane::runtime {

/// The sum of v's eight lanes.
ANE_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

} // namespace ane::runtime

#endif // __x86_64__

#endif // ANE_LIB_RUNTIME_AVX2_H
