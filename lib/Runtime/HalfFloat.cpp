//===- HalfFloat.cpp - fp16 conversions over arrays -----------------------===//

#include "lib/Runtime/HalfFloat.h"

#include "lib/Runtime/Avx2.h"
#include "lib/Support/Float16.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace ane::runtime {

bool hostHasAvx2() {
#if defined(__x86_64__)
  // clang's __builtin_cpu_supports has no "f16c": read CPUID leaf 1.
  static const bool has = [] {
    unsigned a, b, c, d;
    bool f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
    return f16c && __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("fma");
  }();
  return has;
#else
  return false;
#endif
}

namespace {

#if defined(__x86_64__)
ANE_AVX2 void halfsToFloatsAvx2(const uint16_t *h, float *out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(
                                  reinterpret_cast<const __m128i *>(h + i))));
  for (; i < n; ++i)
    out[i] = _cvtsh_ss(h[i]);
}

ANE_AVX2 void floatsToHalfsAvx2(const float *v, uint16_t *out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(
        reinterpret_cast<__m128i *>(out + i),
        _mm256_cvtps_ph(_mm256_loadu_ps(v + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i)
    out[i] = ane::floatToHalfBits(v[i]);
}

ANE_AVX2 void roundToHalfsAvx2(float *v, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(
        v + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(v + i),
                                               _MM_FROUND_TO_NEAREST_INT)));
  for (; i < n; ++i)
    v[i] = ane::roundToHalf(v[i]);
}
#endif

} // namespace

void halfsToFloats(const uint16_t *halfs, float *out, int64_t n) {
#if defined(__x86_64__)
  if (hostHasAvx2())
    return halfsToFloatsAvx2(halfs, out, n);
#endif
  for (int64_t i = 0; i < n; ++i)
    out[i] = ane::halfBitsToFloat(halfs[i]);
}

void floatsToHalfs(const float *values, uint16_t *out, int64_t n) {
#if defined(__x86_64__)
  if (hostHasAvx2())
    return floatsToHalfsAvx2(values, out, n);
#endif
  for (int64_t i = 0; i < n; ++i)
    out[i] = ane::floatToHalfBits(values[i]);
}

void roundToHalfs(float *values, int64_t n) {
#if defined(__x86_64__)
  if (hostHasAvx2())
    return roundToHalfsAvx2(values, n);
#endif
  for (int64_t i = 0; i < n; ++i)
    values[i] = ane::roundToHalf(values[i]);
}

} // namespace ane::runtime
