//===- QuantMatMul.cpp - conv/matmul straight from packed weights ---------===//

#include "lib/Runtime/Cpu/QuantMatMul.h"

#include "lib/Support/Float16.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace ane::runtime {
namespace {

float halfAt(const uint8_t *p, int64_t i) {
  uint16_t h;
  std::memcpy(&h, p + 2 * i, 2);
  return ane::halfBitsToFloat(h);
}

int nibble(const uint8_t *p, int64_t i) {
  int v = (p[i / 2] >> (4 * (i % 2))) & 0xF;
  return v >= 8 ? v - 16 : v;
}

/// Row r of W, dequantized into `out` (cols floats).
void decodeRow(const PackedWeight &w, int64_t r, float *out) {
  for (int64_t c = 0; c < w.cols; ++c)
    out[c] = w.at(r, c);
}

/// x as [S, C] so that every token's column is contiguous.
std::vector<float> transpose(const float *x, int64_t C, int64_t S) {
  std::vector<float> t(C * S);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t s = 0; s < S; ++s)
      t[s * C + c] = x[c * S + s];
  return t;
}

#if defined(__x86_64__)

#define ANE_AVX2 __attribute__((target("avx2,fma,f16c")))

ANE_AVX2 float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

ANE_AVX2 float dotAvx2(const float *a, const float *b, int64_t n) {
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

/// 32 signed int4 codes (16 bytes, element 2k in the low nibble of byte k)
/// as four vectors of 8 floats, in order.
ANE_AVX2 void unpackQ4(const uint8_t *p, __m256 out[4]) {
  __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
  __m128i mask = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
  __m128i lo = _mm_and_si128(bytes, mask);
  __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
  // Sign-extend 4 bits: (v ^ 8) - 8.
  lo = _mm_sub_epi8(_mm_xor_si128(lo, eight), eight);
  hi = _mm_sub_epi8(_mm_xor_si128(hi, eight), eight);
  __m128i first = _mm_unpacklo_epi8(lo, hi), second = _mm_unpackhi_epi8(lo, hi);
  out[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(first));
  out[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(first, 8)));
  out[2] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(second));
  out[3] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(second, 8)));
}

ANE_AVX2 __m256 load8Codes(const int8_t *p) {
  __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(p));
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v));
}

/// 32 int4 codes (16 bytes, element 2k in the low nibble of byte k) as 32
/// signed bytes in order.
ANE_AVX2 __m256i unpackQ4Bytes(const uint8_t *p) {
  const __m128i mask = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
  __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
  __m128i lo =
      _mm_sub_epi8(_mm_xor_si128(_mm_and_si128(bytes, mask), eight), eight);
  __m128i hi = _mm_sub_epi8(
      _mm_xor_si128(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask), eight),
      eight);
  return _mm256_set_m128i(_mm_unpackhi_epi8(lo, hi), _mm_unpacklo_epi8(lo, hi));
}

/// Rows r .. r + R - 1 of an int4 GEMV against int8 activations: 32
/// products per maddubs, and each activation block is loaded once for R
/// rows (R independent chains keep the multipliers busy). The codes' signs
/// move onto the activations so that the unsigned x signed multiply sees
/// |w| (at most 8) and +-x (at most 127): no overflow.
template <int R>
ANE_AVX2 void rowsQ4Q8(const PackedWeight &w, int64_t r,
                       const QuantizedActivations &x, float *y) {
  int64_t groups = w.cols / w.group, blocks = w.group / 32;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 total[R];
  for (int k = 0; k < R; ++k)
    total[k] = _mm256_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    __m256 acc[R];
    for (int k = 0; k < R; ++k)
      acc[k] = _mm256_setzero_ps();
    for (int64_t b = 0; b < blocks; ++b) {
      int64_t c = (g * blocks + b) * 32;
      __m256i xv = _mm256_loadu_si256(
          reinterpret_cast<const __m256i *>(x.codes.data() + c));
      __m256 xs = _mm256_set1_ps(x.scales[c / 32]);
      for (int k = 0; k < R; ++k) {
        __m256i wv = unpackQ4Bytes(w.data + (r + k) * w.cols / 2 + c / 2);
        __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(wv, wv),
                                           _mm256_sign_epi8(xv, wv));
        __m256 p = _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, ones));
        acc[k] = _mm256_fmadd_ps(p, xs, acc[k]);
      }
    }
    for (int k = 0; k < R; ++k)
      total[k] = _mm256_fmadd_ps(
          acc[k], _mm256_set1_ps(halfAt(w.scales, (r + k) * groups + g)),
          total[k]);
  }
  for (int k = 0; k < R; ++k)
    y[r + k] = hsum(total[k]);
}

/// One row of a q8 GEMV; groups are whole multiples of 8 columns.
ANE_AVX2 float rowQ8(const PackedWeight &w, int64_t r, const float *x) {
  int64_t groups = w.cols / w.group;
  const int8_t *codes = reinterpret_cast<const int8_t *>(w.data) + r * w.cols;
  __m256 total = _mm256_setzero_ps();
  float zero = w.zeroPoints ? float(int8_t(w.zeroPoints[r])) : 0.0f;
  float xSum = 0; // the zero point's share: zp * sum(x)
  for (int64_t g = 0; g < groups; ++g) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t c = g * w.group; c < (g + 1) * w.group; c += 8)
      acc = _mm256_fmadd_ps(load8Codes(codes + c), _mm256_loadu_ps(x + c), acc);
    float scale = halfAt(w.scales, r * groups + g);
    total = _mm256_fmadd_ps(acc, _mm256_set1_ps(scale), total);
    if (zero != 0.0f)
      for (int64_t c = g * w.group; c < (g + 1) * w.group; ++c)
        xSum += scale * x[c];
  }
  return hsum(total) - zero * xSum;
}

ANE_AVX2 float rowF16(const PackedWeight &w, int64_t r, const float *x) {
  const uint8_t *row = w.data + 2 * r * w.cols;
  __m256 acc = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c + 8 <= w.cols; c += 8) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i *>(row + 2 * c));
    acc = _mm256_fmadd_ps(_mm256_cvtph_ps(h), _mm256_loadu_ps(x + c), acc);
  }
  float sum = hsum(acc);
  for (; c < w.cols; ++c)
    sum += halfAt(row, c) * x[c];
  return sum;
}

ANE_AVX2 float rowF32(const PackedWeight &w, int64_t r, const float *x) {
  return dotAvx2(reinterpret_cast<const float *>(w.data) + r * w.cols, x,
                 w.cols);
}

/// Whether the vector row kernels cover this weight's grouping.
bool avx2Covers(const PackedWeight &w) {
  switch (w.format) {
  case PackedWeight::Format::Q4:
    return w.group % 32 == 0;
  case PackedWeight::Format::Q8:
    return w.group % 8 == 0;
  default:
    return true;
  }
}

ANE_AVX2 void gemvRowsAvx2(const PackedWeight &w, const float *x,
                           const QuantizedActivations *qx, float *y,
                           int64_t begin, int64_t end) {
  int64_t r = begin;
  if (w.format == PackedWeight::Format::Q4)
    for (; r + 4 <= end; r += 4)
      rowsQ4Q8<4>(w, r, *qx, y);
  for (; r < end; ++r) {
    switch (w.format) {
    case PackedWeight::Format::Q4:
      rowsQ4Q8<1>(w, r, *qx, y);
      break;
    case PackedWeight::Format::Q8:
      y[r] = rowQ8(w, r, x);
      break;
    case PackedWeight::Format::F16:
      y[r] = rowF16(w, r, x);
      break;
    case PackedWeight::Format::F32:
      y[r] = rowF32(w, r, x);
      break;
    }
  }
}

/// Row r of W dequantized into `out` with vector unpacking where the
/// grouping allows (the scalar decodeRow otherwise).
ANE_AVX2 void decodeRowAvx2(const PackedWeight &w, int64_t r, float *out) {
  if (w.format == PackedWeight::Format::Q4 && w.group % 32 == 0) {
    int64_t groups = w.cols / w.group;
    const uint8_t *codes = w.data + r * w.cols / 2;
    for (int64_t g = 0; g < groups; ++g) {
      __m256 scale = _mm256_set1_ps(halfAt(w.scales, r * groups + g));
      for (int64_t c = g * w.group; c < (g + 1) * w.group; c += 32) {
        __m256 q[4];
        unpackQ4(codes + c / 2, q);
        for (int k = 0; k < 4; ++k)
          _mm256_storeu_ps(out + c + 8 * k, _mm256_mul_ps(q[k], scale));
      }
    }
    return;
  }
  if (w.format == PackedWeight::Format::F16) {
    const uint8_t *row = w.data + 2 * r * w.cols;
    int64_t c = 0;
    for (; c + 8 <= w.cols; c += 8)
      _mm256_storeu_ps(out + c,
                       _mm256_cvtph_ps(_mm_loadu_si128(
                           reinterpret_cast<const __m128i *>(row + 2 * c))));
    for (; c < w.cols; ++c)
      out[c] = halfAt(row, c);
    return;
  }
  decodeRow(w, r, out);
}

/// S > 1: each row is decoded once and dotted with every token's column.
ANE_AVX2 void gemmRowsAvx2(const PackedWeight &w, const float *xT, int64_t S,
                           float *y, int64_t begin, int64_t end) {
  std::vector<float> row(w.cols);
  for (int64_t r = begin; r < end; ++r) {
    decodeRowAvx2(w, r, row.data());
    for (int64_t s = 0; s < S; ++s)
      y[r * S + s] = dotAvx2(row.data(), xT + s * w.cols, w.cols);
  }
}

#endif // __x86_64__

} // namespace

QuantizedActivations quantizeActivations(const float *x, int64_t n) {
  QuantizedActivations q;
  q.codes.resize(n);
  q.scales.resize((n + 31) / 32);
  for (int64_t b = 0; b * 32 < n; ++b) {
    int64_t end = std::min<int64_t>(n, (b + 1) * 32);
    float amax = 0;
    for (int64_t i = b * 32; i < end; ++i)
      amax = std::max(amax, std::fabs(x[i]));
    float scale = amax / 127.0f, inv = amax > 0 ? 127.0f / amax : 0.0f;
    q.scales[b] = scale;
    for (int64_t i = b * 32; i < end; ++i)
      q.codes[i] = int8_t(std::lrintf(x[i] * inv));
  }
  return q;
}

float dotQ4Q8Scalar(const PackedWeight &w, int64_t r,
                    const QuantizedActivations &x) {
  int64_t groups = w.cols / w.group;
  double total = 0;
  for (int64_t g = 0; g < groups; ++g) {
    double acc = 0;
    for (int64_t b = g * w.group; b < (g + 1) * w.group; b += 32) {
      int32_t dot = 0;
      for (int64_t i = b; i < b + 32; ++i)
        dot += nibble(w.data, r * w.cols + i) * x.codes[i];
      acc += double(dot) * x.scales[b / 32];
    }
    total += acc * halfAt(w.scales, r * groups + g);
  }
  return float(total);
}

float PackedWeight::at(int64_t r, int64_t c) const {
  switch (format) {
  case Format::F32: {
    float v;
    std::memcpy(&v, data + 4 * (r * cols + c), 4);
    return v;
  }
  case Format::F16:
    return halfAt(data, r * cols + c);
  case Format::Q8: {
    float zero = zeroPoints ? float(int8_t(zeroPoints[r])) : 0.0f;
    float code = float(int8_t(data[r * cols + c]));
    return halfAt(scales, r * (cols / group) + c / group) * (code - zero);
  }
  case Format::Q4:
    return halfAt(scales, r * (cols / group) + c / group) *
           float(nibble(data, r * cols + c));
  }
  return 0.0f;
}

void matmulScalar(const PackedWeight &w, const float *x, int64_t S, float *y,
                  int64_t begin, int64_t end) {
  std::vector<double> acc(S);
  for (int64_t r = begin; r < end; ++r) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t c = 0; c < w.cols; ++c) {
      double v = w.at(r, c);
      for (int64_t s = 0; s < S; ++s)
        acc[s] += v * x[c * S + s];
    }
    for (int64_t s = 0; s < S; ++s)
      y[r * S + s] = float(acc[s]);
  }
}

bool matmulHasAvx2() {
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

void matmul(const PackedWeight &w, const float *x, int64_t S, float *y,
            ThreadPool &pool) {
  // Rows in grains of 16 keep each thread's share of y on its own lines.
  const int64_t grain = 16;
#if defined(__x86_64__)
  if (matmulHasAvx2() && avx2Covers(w)) {
    if (S == 1) {
      // int4 weights take int8 activations (groups are whole 32-blocks).
      QuantizedActivations qx;
      bool int8 = w.format == PackedWeight::Format::Q4;
      if (int8)
        qx = quantizeActivations(x, w.cols);
      pool.parallelFor(w.rows, grain, [&](int64_t begin, int64_t end) {
        gemvRowsAvx2(w, x, int8 ? &qx : nullptr, y, begin, end);
      });
    } else {
      std::vector<float> xT = transpose(x, w.cols, S);
      pool.parallelFor(w.rows, grain, [&](int64_t begin, int64_t end) {
        gemmRowsAvx2(w, xT.data(), S, y, begin, end);
      });
    }
    return;
  }
#endif
  pool.parallelFor(w.rows, grain, [&](int64_t begin, int64_t end) {
    matmulScalar(w, x, S, y, begin, end);
  });
}

} // namespace ane::runtime
