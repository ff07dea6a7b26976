//===- Dot.h - dot products the vector kernels share ------------*- C++ -*-===//
//
// fp32 and fp16-by-fp32 dot products for the packed-weight GEMV
// (QuantMatMul.cpp) and the attention products (FloatMatMul.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_CPU_DOT_H
#define ANE_LIB_RUNTIME_CPU_DOT_H

#include "lib/Runtime/Avx2.h"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__)

namespace ane::runtime {

/// An fp16 value by F16C (halfAt is a library call: too slow per group).
ANE_AVX2 inline float halfAtF16C(const uint8_t *p, int64_t i) {
  uint16_t h;
  std::memcpy(&h, p + 2 * i, 2);
  return _cvtsh_ss(h);
}

/// 8 fp16 values at `h` times x, added to acc.
ANE_AVX2 inline __m256 fmaF16(const uint8_t *h, const float *x, __m256 acc) {
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(h));
  return _mm256_fmadd_ps(_mm256_cvtph_ps(v), _mm256_loadu_ps(x), acc);
}

/// sum_i half(h[i]) * x[i] in four independent sums: one chain waits on
/// each FMA's latency (it ran attention's scores x V at a third of this
/// speed).
ANE_AVX2 inline float dotHalfFloat(const uint8_t *h, const float *x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t c = 0;
  for (; c + 32 <= n; c += 32) {
    _mm_prefetch(reinterpret_cast<const char *>(h + 2 * c) + 1024, _MM_HINT_T0);
    a0 = fmaF16(h + 2 * c, x + c, a0);
    a1 = fmaF16(h + 2 * c + 16, x + c + 8, a1);
    a2 = fmaF16(h + 2 * c + 32, x + c + 16, a2);
    a3 = fmaF16(h + 2 * c + 48, x + c + 24, a3);
  }
  for (; c + 8 <= n; c += 8)
    a0 = fmaF16(h + 2 * c, x + c, a0);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; c < n; ++c)
    sum += halfAtF16C(h, c) * x[c];
  return sum;
}

ANE_AVX2 inline float dotAvx2(const float *a, const float *b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 =
        _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8),
                           _mm256_loadu_ps(b + i + 8), acc1);
  }
  float sum = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i)
    sum += a[i] * b[i];
  return sum;
}

} // namespace ane::runtime

#endif // __x86_64__

#endif // ANE_LIB_RUNTIME_CPU_DOT_H
