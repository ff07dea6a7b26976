//===- FloatMatMul.cpp - float products of the attention ------------------===//
//
// matmulFloat and matmulHalfY (QuantMatMul.h): the attention's q x K and
// scores x V, over an fp32 or fp16-bit cache.
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Cpu/QuantMatMul.h"

#include "lib/Runtime/Cpu/CpuIsa.h"
#include "lib/Runtime/Cpu/Dot.h"
#include "lib/Support/Float16.h"

#include <algorithm>

#if defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace ane::runtime {
namespace {

#if defined(__x86_64__)

ANE_AVX2 inline __m256 load8(const float *p) { return _mm256_loadu_ps(p); }
ANE_AVX2 inline __m256 load8(const uint16_t *p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
}
ANE_AVX2 inline float load1(const float *p) { return *p; }
ANE_AVX2 inline float load1(const uint16_t *p) { return _cvtsh_ss(*p); }

/// acc[0, n) += a * y[0, n), y floats or fp16 bits.
template <typename Y>
ANE_AVX2 void axpyRow(float a, const Y *y, float *acc, int64_t n) {
  __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(
        acc + i, _mm256_fmadd_ps(av, load8(y + i), _mm256_loadu_ps(acc + i)));
  for (; i < n; ++i)
    acc[i] += a * load1(y + i);
}

/// Four axpyRow calls, rows y + j * n for a[j], in one pass over acc: the
/// same multiply-adds in the same order, with a quarter of acc's loads and
/// stores (attention's q x K, whose cache holds K as [head dim, context]).
template <typename Y>
ANE_AVX2 void axpy4Rows(const float *a, const Y *y, float *acc, int64_t n) {
  __m256 a0 = _mm256_set1_ps(a[0]), a1 = _mm256_set1_ps(a[1]),
         a2 = _mm256_set1_ps(a[2]), a3 = _mm256_set1_ps(a[3]);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    // The next four rows, spread over this pass (64 bytes per step for
    // fp16): the hardware prefetcher stops at every 4 KiB page.
    _mm_prefetch(reinterpret_cast<const char *>(y + 4 * n + 4 * i),
                 _MM_HINT_T0);
    __m256 v = _mm256_fmadd_ps(a0, load8(y + i), _mm256_loadu_ps(acc + i));
    v = _mm256_fmadd_ps(a1, load8(y + n + i), v);
    v = _mm256_fmadd_ps(a2, load8(y + 2 * n + i), v);
    _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(a3, load8(y + 3 * n + i), v));
  }
  for (; i < n; ++i)
    for (int j = 0; j < 4; ++j)
      acc[i] += a[j] * load1(y + j * n + i);
}

ANE_AVX2 inline float dotRow(const float *y, const float *x, int64_t k) {
  return dotAvx2(x, y, k);
}
ANE_AVX2 inline float dotRow(const uint16_t *y, const float *x, int64_t k) {
  return dotHalfFloat(reinterpret_cast<const uint8_t *>(y), x, k);
}

/// matmulFloat / matmulHalfY: y's rows are dot products (transposeY) or
/// axpy sources, floats or fp16 bits.
template <typename Y>
ANE_AVX2 void matmulAvx2(const float *x, const Y *y, float *out, int64_t m,
                         int64_t k, int64_t n, bool transposeY) {
  for (int64_t i = 0; i < m; ++i) {
    float *row = out + i * n;
    if (transposeY) {
      for (int64_t j = 0; j < n; ++j)
        row[j] = dotRow(y + j * k, x + i * k, k);
      continue;
    }
    std::fill(row, row + n, 0.0f);
    int64_t p = 0;
    for (; p + 4 <= k; p += 4)
      axpy4Rows(x + i * k + p, y + p * n, row, n);
    for (; p < k; ++p)
      axpyRow(x[i * k + p], y + p * n, row, n);
  }
}

/// Rows [lo, hi) of x^T y for x [k, m] and y [k, n]: 64 rows of the
/// result stay in L1 while every row p of x and y streams past once.
ANE_AVX2 void matmulTxAvx2(const float *x, const float *y, float *out,
                           int64_t m, int64_t k, int64_t n, int64_t lo,
                           int64_t hi) {
  std::fill(out + lo * n, out + hi * n, 0.0f);
  for (int64_t i0 = lo; i0 < hi; i0 += 64) {
    int64_t i1 = std::min(hi, i0 + 64);
    for (int64_t p = 0; p < k; ++p)
      for (int64_t i = i0; i < i1; ++i)
        axpyRow(x[p * m + i], y + p * n, out + i * n, n);
  }
}

#endif // __x86_64__

float widen(float v) { return v; }
float widen(uint16_t h) { return ane::halfBitsToFloat(h); }

#if defined(__aarch64__)

inline float32x4_t load4(const float *p) { return vld1q_f32(p); }
inline float32x4_t load4(const uint16_t *p) {
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

/// axpyRow and axpy4Rows of the AVX2 path, four lanes at a time: acc[0, n)
/// += the sum over j < R of a[j] * y[j * n, j * n + n).
template <int R, typename Y>
void axpyRowsNeon(const float *a, const Y *y, float *acc, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    float32x4_t v = vld1q_f32(acc + i);
    for (int j = 0; j < R; ++j)
      v = vfmaq_n_f32(v, load4(y + j * n + i), a[j]);
    vst1q_f32(acc + i, v);
  }
  for (; i < n; ++i)
    for (int j = 0; j < R; ++j)
      acc[i] += a[j] * widen(y[j * n + i]);
}

template <typename Y> float dotRowNeon(const Y *y, const float *x, int64_t k) {
  float32x4_t acc[2] = {vdupq_n_f32(0), vdupq_n_f32(0)};
  int64_t p = 0;
  for (; p + 8 <= k; p += 8) {
    acc[0] = vfmaq_f32(acc[0], load4(y + p), vld1q_f32(x + p));
    acc[1] = vfmaq_f32(acc[1], load4(y + p + 4), vld1q_f32(x + p + 4));
  }
  float total = vaddvq_f32(vaddq_f32(acc[0], acc[1]));
  for (; p < k; ++p)
    total += widen(y[p]) * x[p];
  return total;
}

/// matmulAvx2's loops over NEON rows.
template <typename Y>
void matmulNeon(const float *x, const Y *y, float *out, int64_t m, int64_t k,
                int64_t n, bool transposeY) {
  for (int64_t i = 0; i < m; ++i) {
    float *row = out + i * n;
    if (transposeY) {
      for (int64_t j = 0; j < n; ++j)
        row[j] = dotRowNeon(y + j * k, x + i * k, k);
      continue;
    }
    std::fill(row, row + n, 0.0f);
    int64_t p = 0;
    for (; p + 4 <= k; p += 4)
      axpyRowsNeon<4>(x + i * k + p, y + p * n, row, n);
    for (; p < k; ++p)
      axpyRowsNeon<1>(x + i * k + p, y + p * n, row, n);
  }
}

#endif // __aarch64__

template <typename Y>
void matmulAny(const float *x, const Y *y, float *out, int64_t m, int64_t k,
               int64_t n, bool transposeY) {
#if defined(__x86_64__)
  if (matmulHasAvx2())
    return matmulAvx2(x, y, out, m, k, n, transposeY);
#elif defined(__aarch64__)
  if (isNeonIsa(kernelIsa()))
    return matmulNeon(x, y, out, m, k, n, transposeY);
#endif
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float acc = 0;
      for (int64_t p = 0; p < k; ++p)
        acc += x[i * k + p] * widen(transposeY ? y[j * k + p] : y[p * n + j]);
      out[i * n + j] = acc;
    }
}
} // namespace

void matmulFloat(const float *x, const float *y, float *out, int64_t m,
                 int64_t k, int64_t n, bool transposeY) {
  matmulAny(x, y, out, m, k, n, transposeY);
}

void matmulHalfY(const float *x, const uint16_t *y, float *out, int64_t m,
                 int64_t k, int64_t n, bool transposeY) {
  matmulAny(x, y, out, m, k, n, transposeY);
}

void matmulFloatTx(const float *x, const float *y, float *out, int64_t m,
                   int64_t k, int64_t n, int64_t rowBegin, int64_t rowEnd) {
#if defined(__x86_64__)
  if (matmulHasAvx2())
    return matmulTxAvx2(x, y, out, m, k, n, rowBegin, rowEnd);
#elif defined(__aarch64__)
  if (isNeonIsa(kernelIsa())) {
    // matmulTxAvx2's blocking: 64 rows of out stay in L1.
    std::fill(out + rowBegin * n, out + rowEnd * n, 0.0f);
    for (int64_t i0 = rowBegin; i0 < rowEnd; i0 += 64)
      for (int64_t p = 0; p < k; ++p)
        for (int64_t i = i0; i < std::min(rowEnd, i0 + 64); ++i)
          axpyRowsNeon<1>(x + p * m + i, y + p * n, out + i * n, n);
    return;
  }
#endif
  for (int64_t i = rowBegin; i < rowEnd; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float acc = 0;
      for (int64_t p = 0; p < k; ++p)
        acc += x[p * m + i] * y[p * n + j];
      out[i * n + j] = acc;
    }
}

} // namespace ane::runtime
