//===- VectorMath.cpp - exp, softmax and SiLU over float rows -------------===//

#include "lib/Runtime/Cpu/VectorMath.h"
#include "lib/Runtime/Avx2.h"
#include "lib/Runtime/Cpu/CpuIsa.h"
#include "lib/Runtime/Cpu/QuantMatMul.h"

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace ane::runtime {
namespace {

#if defined(__x86_64__)
/// 2^e for e in [-126, 127].
ANE_AVX2 inline __m256 power(__m256i e) {
  return _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23));
}

/// exp of eight floats. x = n ln2 + r with |r| <= ln2 / 2 (ln2 in two
/// parts, so r keeps its low bits); e^r from Cephes' expf polynomial; 2^n
/// as two powers of two, since n reaches 128 just below the overflow.
ANE_AVX2 inline __m256 exp8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.3365448f); // ln(FLT_MIN)
  const __m256 hi = _mm256_set1_ps(88.7228394f);  // ln(FLT_MAX)
  __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
  p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
  __m256i k = _mm256_cvtps_epi32(n);
  __m256i half = _mm256_srai_epi32(k, 1);
  __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, power(half)),
                           power(_mm256_sub_epi32(k, half)));
  y = _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), y);
  y = _mm256_blendv_ps(y,
                       _mm256_set1_ps(std::numeric_limits<float>::infinity()),
                       _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

/// The lanes of a row's tail: read, and written back, through a buffer.
struct Tail {
  float lanes[8] = {};
  ANE_AVX2 __m256 load(const float *p, int64_t n) {
    std::copy_n(p, n, lanes);
    return _mm256_loadu_ps(lanes);
  }
  ANE_AVX2 void store(__m256 v, float *p, int64_t n) {
    _mm256_storeu_ps(lanes, v);
    std::copy_n(lanes, n, p);
  }
};

ANE_AVX2 float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

/// out[i] = f(x[i]) eight lanes at a time; the tail goes through a buffer.
template <typename F>
ANE_AVX2 void mapRowAvx2(const float *x, float *out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, f(_mm256_loadu_ps(x + i)));
  if (i < n) {
    Tail t;
    t.store(f(t.load(x + i, n - i)), out + i, n - i);
  }
}

struct Exp8 {
  ANE_AVX2 __m256 operator()(__m256 x) const { return exp8(x); }
};

/// x / (1 + exp(-x)).
struct Silu8 {
  ANE_AVX2 __m256 operator()(__m256 x) const {
    __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
  }
};

ANE_AVX2 void softmaxRowAvx2(float *v, int64_t n) {
  float mx = -std::numeric_limits<float>::infinity();
  int64_t i = 0;
  __m256 vmax = _mm256_set1_ps(mx);
  for (; i + 8 <= n; i += 8)
    vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(v + i));
  mx = hmax(vmax);
  for (; i < n; ++i)
    mx = std::max(mx, v[i]);
  // mx is -inf for a row of -inf: v - mx is NaN then, as in the oracle.
  __m256 shift = _mm256_set1_ps(mx), sum = _mm256_setzero_ps();
  for (i = 0; i + 8 <= n; i += 8) {
    __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(v + i), shift));
    _mm256_storeu_ps(v + i, e);
    sum = _mm256_add_ps(sum, e);
  }
  float total = hsum(sum);
  if (i < n) {
    Tail t;
    __m256 e = exp8(_mm256_sub_ps(t.load(v + i, n - i), shift));
    t.store(e, v + i, n - i);
    for (int64_t j = i; j < n; ++j)
      total += v[j];
  }
  __m256 scale = _mm256_set1_ps(1.0f / total);
  for (i = 0; i + 8 <= n; i += 8)
    _mm256_storeu_ps(v + i, _mm256_mul_ps(_mm256_loadu_ps(v + i), scale));
  for (; i < n; ++i)
    v[i] *= 1.0f / total;
}

#endif

#if defined(__aarch64__)
/// 2^e for e in [-126, 127].
inline float32x4_t power4(int32x4_t e) {
  return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(e, vdupq_n_s32(127)), 23));
}

/// exp8's reduction and polynomial, four lanes at a time.
inline float32x4_t exp4(float32x4_t x) {
  const float32x4_t lo = vdupq_n_f32(-87.3365448f); // ln(FLT_MIN)
  const float32x4_t hi = vdupq_n_f32(88.7228394f);  // ln(FLT_MAX)
  float32x4_t xc = vminq_f32(vmaxq_f32(x, lo), hi);
  float32x4_t n = vrndnq_f32(vmulq_f32(xc, vdupq_n_f32(1.44269504f)));
  float32x4_t r = vfmsq_f32(xc, n, vdupq_n_f32(0.693359375f));
  r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
  float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
  p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
  p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
  p = vfmaq_f32(r, p, vmulq_f32(r, r));
  p = vaddq_f32(p, vdupq_n_f32(1.0f));
  int32x4_t k = vcvtnq_s32_f32(n);
  int32x4_t half = vshrq_n_s32(k, 1);
  float32x4_t y =
      vmulq_f32(vmulq_f32(p, power4(half)), power4(vsubq_s32(k, half)));
  y = vbslq_f32(vcltq_f32(x, lo), vdupq_n_f32(0.0f), y);
  y = vbslq_f32(vcgtq_f32(x, hi),
                vdupq_n_f32(std::numeric_limits<float>::infinity()), y);
  return vbslq_f32(vceqq_f32(x, x), y, x); // NaN stays NaN
}

/// out[i] = f(x[i]) four lanes at a time; the tail goes through a buffer.
template <typename F>
void mapRowNeon(const float *x, float *out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    vst1q_f32(out + i, f(vld1q_f32(x + i)));
  if (i < n) {
    float lanes[4] = {};
    std::copy_n(x + i, n - i, lanes);
    vst1q_f32(lanes, f(vld1q_f32(lanes)));
    std::copy_n(lanes, n - i, out + i);
  }
}

struct Exp4 {
  float32x4_t operator()(float32x4_t x) const { return exp4(x); }
};

/// x / (1 + exp(-x)).
struct Silu4 {
  float32x4_t operator()(float32x4_t x) const {
    return vdivq_f32(x, vaddq_f32(vdupq_n_f32(1.0f), exp4(vnegq_f32(x))));
  }
};

void softmaxRowNeon(float *v, int64_t n) {
  float mx = -std::numeric_limits<float>::infinity();
  int64_t i = 0;
  float32x4_t vmax = vdupq_n_f32(mx);
  for (; i + 4 <= n; i += 4)
    vmax = vmaxq_f32(vmax, vld1q_f32(v + i));
  mx = vmaxvq_f32(vmax);
  for (; i < n; ++i)
    mx = std::max(mx, v[i]);
  // mx is -inf for a row of -inf: v - mx is NaN then, as in the oracle.
  float32x4_t shift = vdupq_n_f32(mx), sum = vdupq_n_f32(0.0f);
  for (i = 0; i + 4 <= n; i += 4) {
    float32x4_t e = exp4(vsubq_f32(vld1q_f32(v + i), shift));
    vst1q_f32(v + i, e);
    sum = vaddq_f32(sum, e);
  }
  float total = vaddvq_f32(sum);
  if (i < n) {
    mapRowNeon(v + i, v + i, n - i,
               [shift](float32x4_t x) { return exp4(vsubq_f32(x, shift)); });
    for (int64_t j = i; j < n; ++j)
      total += v[j];
  }
  float32x4_t scale = vdupq_n_f32(1.0f / total);
  for (i = 0; i + 4 <= n; i += 4)
    vst1q_f32(v + i, vmulq_f32(vld1q_f32(v + i), scale));
  for (; i < n; ++i)
    v[i] *= 1.0f / total;
}
#endif

} // namespace

void expRow(const float *x, float *out, int64_t n) {
#if defined(__x86_64__)
  if (matmulHasAvx2())
    return mapRowAvx2(x, out, n, Exp8());
#elif defined(__aarch64__)
  if (isNeonIsa(kernelIsa()))
    return mapRowNeon(x, out, n, Exp4());
#endif
  for (int64_t i = 0; i < n; ++i)
    out[i] = std::exp(x[i]);
}

void softmaxRow(float *v, int64_t n) {
#if defined(__x86_64__)
  if (matmulHasAvx2())
    return softmaxRowAvx2(v, n);
#elif defined(__aarch64__)
  if (isNeonIsa(kernelIsa()))
    return softmaxRowNeon(v, n);
#endif
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i)
    mx = std::max(mx, v[i]);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i)
    sum += v[i] = std::exp(v[i] - mx);
  for (int64_t i = 0; i < n; ++i)
    v[i] /= sum;
}

void siluRow(float *v, int64_t n) {
#if defined(__x86_64__)
  if (matmulHasAvx2())
    return mapRowAvx2(v, v, n, Silu8());
#elif defined(__aarch64__)
  if (isNeonIsa(kernelIsa()))
    return mapRowNeon(v, v, n, Silu4());
#endif
  for (int64_t i = 0; i < n; ++i)
    v[i] = v[i] / (1.0f + std::exp(-v[i]));
}

} // namespace ane::runtime
