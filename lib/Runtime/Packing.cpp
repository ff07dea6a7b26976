//===- Packing.cpp - weight slots to weight.bin segments ------------------===//

#include "lib/Runtime/Packing.h"

#include "lib/MIL/WeightFile.h"
#include "lib/Model/Quant.h"
#include "lib/Runtime/Avx2.h"
#include "lib/Runtime/HalfFloat.h"
#include "lib/Runtime/Interleaved.h"
#include "lib/Support/Float16.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <thread>

#if defined(__aarch64__)
#include <arm_neon.h>
#endif

#include <fmt/format.h>

namespace ane::runtime {
namespace {

float roundTo(mil::DType t, float v) {
  return t == mil::DType::FP16 ? ane::roundToHalf(v) : v;
}

/// Appends float values as a blob of `dtype` (fp16 or fp32).
uint64_t appendFloats(mil::WeightWriter &w, mil::DType dtype,
                      const std::vector<float> &v) {
  if (dtype == mil::DType::FP16) {
    std::vector<uint16_t> h(v.size());
    for (size_t i = 0; i < v.size(); ++i)
      h[i] = ane::floatToHalfBits(v[i]);
    return w.append(mil::BlobDType::Float16, h.data(), h.size() * 2);
  }
  return w.append(mil::BlobDType::Float32, v.data(), v.size() * 4);
}

/// Reorders each head's rows (elements of a bias) from interleaved pairs
/// (2p, 2p+1) to halves (p, p + hd/2) in the first `slot.ropeRows` rows.
Status toRotateHalfOrder(std::vector<float> &w, const abi::SlotSpec &slot) {
  int64_t hd = slot.headDim, rows = slot.ropeRows;
  int64_t cols = slot.shape.size() == 2   ? slot.shape[1]
                 : slot.shape.size() == 1 ? 1
                                          : 0;
  if (hd <= 0 || hd % 2 != 0 || rows < 0 || rows % hd != 0 || cols <= 0 ||
      rows > slot.shape[0] || static_cast<int64_t>(w.size()) < rows * cols)
    return Status::error(
        fmt::format("slot {}: cannot reorder {} rows of heads of {} in [{}]",
                    slot.role, rows, hd, fmt::join(slot.shape, ", ")));
  std::vector<float> head(hd * cols);
  for (int64_t h0 = 0; h0 < rows; h0 += hd) {
    float *base = w.data() + h0 * cols;
    for (int64_t r = 0; r < hd; ++r) {
      int64_t to = r % 2 == 0 ? r / 2 : hd / 2 + r / 2;
      std::copy(base + r * cols, base + (r + 1) * cols,
                head.begin() + to * cols);
    }
    std::copy(head.begin(), head.end(), base);
  }
  return Status::success();
}

} // namespace

Result<std::vector<float>> assembleSlotTensor(
    const abi::SlotSpec &slot,
    const std::function<Result<std::vector<float>>(const std::string &)>
        &roleTensor) {
  std::vector<float> out;
  if (slot.fusedFrom.empty()) {
    auto t = roleTensor(slot.role);
    if (!t.ok())
      return t.status();
    out = std::move(*t);
  } else {
    for (const std::string &role : slot.fusedFrom) {
      auto t = roleTensor(role);
      if (!t.ok())
        return t.status();
      out.insert(out.end(), t->begin(), t->end());
    }
  }
  if (slot.ropeRows) {
    Status s = toRotateHalfOrder(out, slot);
    if (!s.ok())
      return s;
  }
  if (!slot.foldNorm.empty()) {
    auto g = roleTensor(slot.foldNorm);
    if (!g.ok())
      return g.status();
    int64_t cols = slot.shape.size() == 2 ? slot.shape[1] : 0;
    if (cols == 0 || static_cast<int64_t>(g->size()) != cols ||
        out.size() % cols != 0)
      return Result<std::vector<float>>::error(
          fmt::format("slot {}: cannot fold a {}-element norm into [{}]",
                      slot.role, g->size(), fmt::join(slot.shape, ", ")));
    for (size_t i = 0; i < out.size(); ++i)
      out[i] *= (*g)[i % cols];
  }
  return out;
}

void splitRows(int64_t rows, int threads,
               const std::function<void(int64_t, int64_t)> &work) {
  int64_t n = std::clamp<int64_t>(threads, 1, std::max<int64_t>(rows, 1));
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < n; ++t)
    pool.emplace_back(work, rows * t / n, rows * (t + 1) / n);
  work(0, rows / n);
  for (std::thread &t : pool)
    t.join();
}

namespace {

/// Quantizing with one scale into [-qmax-1, qmax]. The error runs about
/// fifteen times per weight while a 4-bit scale is searched, so it rounds
/// with the 1.5 * 2^23 trick (nearest even, exact for |x| < 2^22; clamping
/// first keeps x small) and sums in eight float lanes.
struct GroupCoder {
  float scale, inv, lo, hi;
  static constexpr float kMagic = 12582912.0f;
  GroupCoder(float scale, int64_t qmax)
      : scale(scale), inv(1.0f / scale), lo(float(-qmax - 1)), hi(float(qmax)) {
  }
  float code(float v) const {
    float x = std::clamp(v * inv, lo - 1.0f, hi + 1.0f);
    return std::clamp((x + kMagic) - kMagic, lo, hi);
  }
  /// The lanes' sum, then the elements from `i` on (their codes to
  /// `codes` when it is given).
  double finish(const float lanes[8], const float *p, int64_t i, int64_t n,
                int8_t *codes) const {
    double err = 0;
    for (int k = 0; k < 8; ++k)
      err += lanes[k];
    for (; i < n; ++i) {
      float q = code(p[i]);
      float d = p[i] - q * scale;
      err += d * d;
      if (codes)
        codes[i] = int8_t(q);
    }
    return err;
  }
};

double groupErrorLanes(const float *p, int64_t n, const GroupCoder &c,
                       int8_t *codes) {
  float lanes[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) {
      float q = c.code(p[i + k]);
      float d = p[i + k] - q * c.scale;
      lanes[k] += d * d;
      if (codes)
        codes[i + k] = int8_t(q);
    }
  return c.finish(lanes, p, i, n, codes);
}

#if defined(__x86_64__)
/// GroupCoder's clamps and rounding constant, in registers.
struct CoderBoundsAvx2 {
  __m256 lo1, hi1, lo, hi, magic;
};

ANE_AVX2 inline CoderBoundsAvx2 boundsAvx2(const GroupCoder &c) {
  return {_mm256_set1_ps(c.lo - 1.0f), _mm256_set1_ps(c.hi + 1.0f),
          _mm256_set1_ps(c.lo), _mm256_set1_ps(c.hi),
          _mm256_set1_ps(GroupCoder::kMagic)};
}

/// GroupCoder::code of eight values at 1 / scale `inv`.
ANE_AVX2 inline __m256 codesAvx2(__m256 v, __m256 inv,
                                 const CoderBoundsAvx2 &b) {
  __m256 x = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(v, inv), b.lo1), b.hi1);
  __m256 q = _mm256_sub_ps(_mm256_add_ps(x, b.magic), b.magic);
  return _mm256_min_ps(_mm256_max_ps(q, b.lo), b.hi);
}

/// acc + (v - q scale)^2, multiplied and added apart as the scalar loop does.
ANE_AVX2 inline __m256 addSquaredResidual(__m256 acc, __m256 v, __m256 q,
                                          __m256 scale) {
  __m256 d = _mm256_sub_ps(v, _mm256_mul_ps(q, scale));
  return _mm256_add_ps(acc, _mm256_mul_ps(d, d));
}

/// The scalar loop's lanes in one register, the same operations in the
/// same order (no FMA): the same bits.
ANE_AVX2 double groupErrorAvx2(const float *p, int64_t n, const GroupCoder &c,
                               int8_t *codes) {
  const __m256 inv = _mm256_set1_ps(c.inv), scale = _mm256_set1_ps(c.scale);
  const CoderBoundsAvx2 bounds = boundsAvx2(c);
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(p + i);
    __m256 q = codesAvx2(v, inv, bounds);
    acc = addSquaredResidual(acc, v, q, scale);
    if (codes) { // whole numbers in [-128, 127]: the packs are exact
      __m256i w = _mm256_cvtps_epi32(q);
      __m128i h = _mm_packs_epi32(_mm256_castsi256_si128(w),
                                  _mm256_extracti128_si256(w, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i *>(codes + i),
                       _mm_packs_epi16(h, h));
    }
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, acc);
  return c.finish(lanes, p, i, n, codes);
}

/// groupErrorAvx2 of four scales at once, for n a multiple of 8: the same
/// operations per scale (the same bits), four independent chains.
ANE_AVX2 void fourErrorsAvx2(const float *p, int64_t n, const float *scales,
                             int64_t qmax, double *out) {
  __m256 inv[4], scale[4], acc[4];
  for (int j = 0; j < 4; ++j) {
    GroupCoder c(scales[j], qmax);
    inv[j] = _mm256_set1_ps(c.inv);
    scale[j] = _mm256_set1_ps(c.scale);
    acc[j] = _mm256_setzero_ps();
  }
  // The bounds depend on qmax alone.
  const CoderBoundsAvx2 bounds = boundsAvx2(GroupCoder(1.0f, qmax));
  for (int64_t i = 0; i < n; i += 8) {
    __m256 v = _mm256_loadu_ps(p + i);
    for (int j = 0; j < 4; ++j)
      acc[j] =
          addSquaredResidual(acc[j], v, codesAvx2(v, inv[j], bounds), scale[j]);
  }
  float lanes[4][8];
  for (int j = 0; j < 4; ++j)
    _mm256_storeu_ps(lanes[j], acc[j]);
  for (int j = 0; j < 4; ++j) {
    double err = 0;
    for (int k = 0; k < 8; ++k)
      err += lanes[j][k];
    out[j] = err;
  }
}
#endif

/// groupError of `count` scales.
void groupErrors(const float *p, int64_t n, const float *scales, int count,
                 int64_t qmax, double *out) {
  int j = 0;
#if defined(__x86_64__)
  if (n % 8 == 0 && hostHasAvx2())
    for (; j + 4 <= count; j += 4)
      fourErrorsAvx2(p, n, scales + j, qmax, out + j);
#endif
  for (; j < count; ++j)
    out[j] = groupError(p, n, scales[j], qmax, nullptr);
}

} // namespace

double groupError(const float *p, int64_t n, float scale, int64_t qmax,
                  int8_t *codes) {
  GroupCoder c(scale, qmax);
#if defined(__x86_64__)
  if (hostHasAvx2())
    return groupErrorAvx2(p, n, c, codes);
#endif
  return groupErrorLanes(p, n, c, codes);
}

double groupErrorScalar(const float *p, int64_t n, float scale, int64_t qmax,
                        int8_t *codes) {
  return groupErrorLanes(p, n, GroupCoder(scale, qmax), codes);
}

namespace {

/// The least-squares scale for `p`'s codes at `scale`: sum(w q) / sum(q q).
float refitScale(const float *p, int64_t n, float scale, int64_t qmax) {
  constexpr int64_t kChunk = 256;
  int8_t codes[kChunk];
  double wq = 0, qq = 0;
  for (int64_t at = 0; at < n; at += kChunk) {
    int64_t m = std::min(kChunk, n - at);
    groupError(p + at, m, scale, qmax, codes);
    for (int64_t i = 0; i < m; ++i) {
      wq += double(p[at + i]) * codes[i];
      qq += double(codes[i]) * codes[i];
    }
  }
  return qq > 0 ? float(wq / qq) : 0.0f;
}

/// The fp16 scale of one group. 8-bit codes are fine at amax / qmax; with 4
/// or 3 bits that wastes levels on a lone outlier, so the scale is the
/// least-squares best of a small grid of divisors around qmax (the negative
/// side reaches -qmax-1), then refitted to its own codes.
float groupScale(const float *p, int64_t n, int64_t qmax, int bits) {
  float amax = 0, signedMax = 0;
  for (int64_t i = 0; i < n; ++i)
    if (std::fabs(p[i]) > amax) {
      amax = std::fabs(p[i]);
      signedMax = p[i];
    }
  if (amax == 0)
    return 1.0f;
  // Blocks that are already fp16 scale x code come through unchanged: a
  // GGUF Q8_0 block's largest value is scale x +-127 (the first candidate
  // below), a Q4_0 block's is scale x -8, where the scale may be negative.
  float best = ane::roundToHalf(amax / qmax);
  if (bits > 4 || best == 0)
    return best;
  // The candidates' errors in one batch: the exact scale (amax / qmax in
  // its place when it rounds to 0), amax / qmax, then the grid; rounded to
  // fp16 together (vectorized: one at a time, this took a third of a Q6_K
  // classifier's requantization).
  float raw[16] = {signedMax / float(-qmax - 1)};
  int grid = 0;
  for (double d = qmax - 2.0; d <= qmax + 1.0; d += 0.25)
    raw[1 + grid++] = float(amax / d);
  roundToHalfs(raw, 1 + grid);
  const float exact = raw[0];
  float scales[16] = {exact != 0 ? exact : best, best};
  int count = 2;
  for (int k = 1; k <= grid; ++k)
    if (raw[k] != 0)
      scales[count++] = raw[k];
  // Padded to whole batches of four with a copy of `best`.
  const int padded = (count + 3) / 4 * 4;
  std::fill(scales + count, scales + padded, best);
  double errors[16];
  groupErrors(p, n, scales, padded, qmax, errors);
  if (exact != 0 && errors[0] == 0.0)
    return exact;
  double bestErr = errors[1];
  for (int j = 2; j < count; ++j)
    if (errors[j] < bestErr) {
      bestErr = errors[j];
      best = scales[j];
    }
  float refit = ane::roundToHalf(refitScale(p, n, best, qmax));
  if (refit > 0 && groupError(p, n, refit, qmax, nullptr) < bestErr)
    best = refit;
  return best;
}

/// One row's groups: each group's fp16-exact scale, and its codes
/// quantized against that stored scale.
void quantizeRow(const float *row, int64_t cols, int64_t group, int bits,
                 float *scales, int8_t *codes) {
  const int64_t qmax = (int64_t(1) << (bits - 1)) - 1;
  for (int64_t g = 0; g < cols / group; ++g) {
    const float *p = row + g * group;
    scales[g] = groupScale(p, group, qmax, bits);
    groupError(p, group, scales[g], qmax, codes + g * group);
  }
}

} // namespace

QuantizedMatrix quantizeSymmetric(const float *w, int64_t rows, int64_t cols,
                                  int64_t group, int bits, int threads) {
  QuantizedMatrix q;
  q.values.resize(rows * cols);
  int64_t groups = cols / group;
  q.scales.resize(rows * groups);
  auto quantizeRows = [&](int64_t from, int64_t to) {
    for (int64_t r = from; r < to; ++r)
      quantizeRow(w + r * cols, cols, group, bits, q.scales.data() + r * groups,
                  q.values.data() + r * cols);
  };
  splitRows(rows, threads, quantizeRows);
  return q;
}

namespace {

/// GGUF's 32-value blocks: an fp16 scale, then 16 bytes of 4-bit codes
/// (value j in byte j's low nibble, j + 16 in its high one, stored + 8) or
/// 32 int8 codes.
constexpr int64_t kBlock = 32;

int64_t rowsOf(const model::TensorData &t) {
  return t.shape.size() == 2 ? t.shape[0] : 0;
}

/// The stacked source row behind row `o` of the slot: rows of a RoPE head
/// go from interleaved pairs to halves (toRotateHalfOrder).
int64_t sourceRow(const abi::SlotSpec &slot, int64_t o) {
  if (o >= slot.ropeRows)
    return o;
  int64_t hd = slot.headDim, head = o - o % hd, within = o % hd;
  return head + (within < hd / 2 ? 2 * within : 2 * (within - hd / 2) + 1);
}

/// Slot rows read at a time: whole 16-row blocks and whole heads, so a
/// span's source rows (sourceRow) are the span itself.
int64_t spanRows(const abi::SlotSpec &slot) {
  int64_t unit = interleaved::kRows;
  if (slot.ropeRows && slot.headDim > 0)
    unit = std::lcm(unit, slot.headDim);
  return (256 + unit - 1) / unit * unit;
}

/// A slot's stacked source rows (every source's rows, one after another),
/// a span at a time in a buffer of its own: the packer reads each source
/// byte once, and MappedFile::copy beats faulting the mapping in.
class SourceRows {
public:
  SourceRows(const std::vector<model::TensorData> &sources, uint64_t rowBytes)
      : sources(sources), rowBytes(rowBytes) {}

  /// Reads stacked rows [from, to).
  void load(int64_t from, int64_t to) {
    first = from;
    buffer.resize(uint64_t(to - from) * rowBytes);
    int64_t start = 0; // the current source's first stacked row
    for (const model::TensorData &t : sources) {
      const int64_t rows = rowsOf(t);
      const int64_t a = std::max(from, start), b = std::min(to, start + rows);
      if (a < b)
        t.copyBytes(uint64_t(a - start) * rowBytes, uint64_t(b - a) * rowBytes,
                    buffer.data() + uint64_t(a - from) * rowBytes);
      start += rows;
    }
  }
  /// Stacked row r of the loaded span.
  const uint8_t *row(int64_t r) const {
    return buffer.data() + uint64_t(r - first) * rowBytes;
  }

private:
  const std::vector<model::TensorData> &sources;
  const uint64_t rowBytes;
  int64_t first = 0;
  std::vector<uint8_t> buffer;
};

/// Runs work(source, from, to) on spans of the slot's `rows`, split over
/// `threads`, with the span's source rows loaded.
void forEachSpan(
    const abi::SlotSpec &slot, int64_t rows,
    const std::vector<model::TensorData> &sources, uint64_t rowBytes,
    int threads,
    const std::function<void(const SourceRows &, int64_t, int64_t)> &work) {
  const int64_t span = spanRows(slot);
  splitRows((rows + span - 1) / span, threads, [&](int64_t from, int64_t to) {
    SourceRows source(sources, rowBytes);
    for (int64_t s = from; s < to; ++s) {
      const int64_t a = s * span, b = std::min(rows, a + span);
      source.load(a, b);
      work(source, a, b);
    }
  });
}

/// The nibbles at the low end of each byte of `v` (the rest zero), two
/// bytes' into one: byte j of the result is n(2j) | n(2j + 1) << 4.
uint32_t pairNibbles(uint64_t v) {
  v = (v | (v >> 4)) & 0x00FF00FF00FF00FFull;
  v = (v | (v >> 8)) & 0x0000FFFF0000FFFFull;
  return uint32_t(v | (v >> 16));
}

/// One row of Q4_0 blocks as int4 codes, two per byte, LSB first: code
/// c - 8 is nibble c ^ 8 in two's complement. Values 0-15 are the low
/// nibbles of the block's 16 bytes, 16-31 their high nibbles; eight bytes
/// at a time as one word (byte order: little-endian hosts only, as the
/// whole file format).
void carryQ4RowScalar(const uint8_t *blocks, int64_t count, uint8_t *codes,
                      uint16_t *scales) {
  constexpr uint64_t kLow = 0x0F0F0F0F0F0F0F0Full;
  constexpr uint32_t kFlip = 0x88888888u;
  for (int64_t b = 0; b < count; ++b, blocks += 18, codes += 16) {
    std::memcpy(&scales[b], blocks, 2);
    uint64_t q[2];
    std::memcpy(q, blocks + 2, 16);
    uint32_t out[4] = {pairNibbles(q[0] & kLow) ^ kFlip,
                       pairNibbles(q[1] & kLow) ^ kFlip,
                       pairNibbles((q[0] >> 4) & kLow) ^ kFlip,
                       pairNibbles((q[1] >> 4) & kLow) ^ kFlip};
    std::memcpy(codes, out, 16);
  }
}

// The same by vectors: a block's low and high nibbles are split, adjacent
// ones paired into bytes, and the two halves' bytes packed side by side.
#if defined(__x86_64__)
/// Two blocks per 256-bit vector; maddubs pairs nibbles n0 + 16 n1.
ANE_AVX2 void carryQ4RowAvx2(const uint8_t *blocks, int64_t count,
                             uint8_t *codes, uint16_t *scales) {
  const __m256i low = _mm256_set1_epi8(0x0F);
  const __m256i flip = _mm256_set1_epi8(char(0x88));
  const __m256i pair = _mm256_set1_epi16(0x1001); // bytes 1, 16
  int64_t b = 0;
  for (; b + 2 <= count; b += 2, blocks += 36, codes += 32) {
    __m256i q = _mm256_inserti128_si256(
        _mm256_castsi128_si256(
            _mm_loadu_si128(reinterpret_cast<const __m128i *>(blocks + 2))),
        _mm_loadu_si128(reinterpret_cast<const __m128i *>(blocks + 20)), 1);
    __m256i lo = _mm256_and_si256(q, low);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
    __m256i out = _mm256_packus_epi16(_mm256_maddubs_epi16(lo, pair),
                                      _mm256_maddubs_epi16(hi, pair));
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(codes),
                        _mm256_xor_si256(out, flip));
    std::memcpy(&scales[b], blocks, 2);
    std::memcpy(&scales[b + 1], blocks + 18, 2);
  }
  carryQ4RowScalar(blocks, count - b, codes, scales + b);
}
#endif

#if defined(__aarch64__)
/// One block per vector; uzp splits even and odd nibbles.
void carryQ4RowNeon(const uint8_t *blocks, int64_t count, uint8_t *codes,
                    uint16_t *scales) {
  const uint8x16_t low = vdupq_n_u8(0x0F), flip = vdupq_n_u8(0x88);
  for (int64_t b = 0; b < count; ++b, blocks += 18, codes += 16) {
    std::memcpy(&scales[b], blocks, 2);
    uint8x16_t q = vld1q_u8(blocks + 2);
    uint8x16_t lo = vandq_u8(q, low), hi = vshrq_n_u8(q, 4);
    uint8x16_t even = vuzp1q_u8(lo, hi), odd = vuzp2q_u8(lo, hi);
    vst1q_u8(codes, veorq_u8(vorrq_u8(even, vshlq_n_u8(odd, 4)), flip));
  }
}
#endif

/// carryQ4Row by the host's vectors (every ARM64 has NEON).
void carryQ4Row(const uint8_t *blocks, int64_t count, uint8_t *codes,
                uint16_t *scales) {
#if defined(__x86_64__)
  if (hostHasAvx2())
    return carryQ4RowAvx2(blocks, count, codes, scales);
#elif defined(__aarch64__)
  return carryQ4RowNeon(blocks, count, codes, scales);
#endif
  carryQ4RowScalar(blocks, count, codes, scales);
}

/// Row blocks [from, to) of a q4 slot in the cpu layout from Q4_0 blocks
/// (`source` holds the blocks' source rows): a Q4_0 block's 16 bytes are
/// already a row's 32 codes + 8 as the layout pairs them (column j low,
/// j + 16 high), so its dword p goes to unit p as it is.
void carryQ4Interleaved(const abi::SlotSpec &slot, const SourceRows &source,
                        uint8_t *codes, uint16_t *scales, int64_t from,
                        int64_t to) {
  const int64_t runs = slot.shape[1] / kBlock;
  const int64_t rows = interleaved::kRows, runBytes = rows * kBlock / 2;
  for (int64_t b = from; b < to; ++b)
    for (int64_t k = 0; k < runs; ++k) {
      uint8_t *run = codes + (b * runs + k) * runBytes;
      for (int64_t i = 0; i < rows; ++i) {
        const uint8_t *block =
            source.row(sourceRow(slot, b * rows + i)) + k * 18;
        std::memcpy(&scales[(b * runs + k) * rows + i], block, 2);
        for (int64_t p = 0; p < 4; ++p)
          std::memcpy(run + 64 * p + 4 * i, block + 2 + 4 * p, 4);
      }
    }
}

void carryQ8Row(const uint8_t *blocks, int64_t count, uint8_t *codes,
                uint16_t *scales) {
  for (int64_t b = 0; b < count; ++b, blocks += 34, codes += kBlock) {
    std::memcpy(&scales[b], blocks, 2);
    std::memcpy(codes, blocks + 2, kBlock);
  }
}

} // namespace

bool canCarryBlocks(const abi::SlotSpec &slot,
                    const std::vector<model::TensorData> &sources) {
  bool q4 = slot.scheme == abi::Scheme::Q4;
  if ((!q4 && slot.scheme != abi::Scheme::Q8) || slot.shape.size() != 2 ||
      slot.effectiveGroup() != kBlock || slot.shape[1] % kBlock != 0 ||
      !slot.foldNorm.empty() || slot.blobs.size() != 2 ||
      slot.blobs[0].dtype != (q4 ? mil::DType::Int4 : mil::DType::Int8) ||
      slot.blobs[1].dtype != mil::DType::FP16 || sources.empty())
    return false;
  if (slot.ropeRows &&
      (slot.headDim <= 0 || slot.headDim % 2 || slot.ropeRows % slot.headDim ||
       slot.ropeRows > slot.shape[0]))
    return false;
  int64_t rows = 0;
  for (const model::TensorData &t : sources) {
    std::optional<uint64_t> bytes = model::tensorBytes(t.type, t.numElements());
    if (t.type != (q4 ? model::TensorType::Q4_0 : model::TensorType::Q8_0) ||
        t.shape.size() != 2 || t.shape[1] != slot.shape[1] || !bytes ||
        *bytes != t.size)
      return false;
    rows += rowsOf(t);
  }
  return rows == slot.shape[0];
}

Status carryBlocks(const abi::SlotSpec &slot,
                   const std::vector<model::TensorData> &sources,
                   uint8_t *codes, uint16_t *scales, int threads) {
  if (!canCarryBlocks(slot, sources))
    return Status::error(fmt::format(
        "slot {}: its sources' blocks cannot be carried over", slot.role));
  const bool q4 = slot.scheme == abi::Scheme::Q4;
  const int64_t rows = slot.shape[0], cols = slot.shape[1];
  const int64_t blocks = cols / kBlock, blockBytes = q4 ? 18 : 34;
  const int64_t rowCodes = q4 ? cols / 2 : cols;
  const bool interleave = slot.layout == abi::SlotLayout::Interleaved16;
  if (interleave && !abi::canInterleave(slot))
    return Status::error(fmt::format(
        "slot {}: its blobs cannot take the interleaved16 layout", slot.role));
  forEachSpan(slot, rows, sources, uint64_t(blocks * blockBytes), threads,
              [&](const SourceRows &source, int64_t from, int64_t to) {
                if (interleave)
                  return carryQ4Interleaved(slot, source, codes, scales,
                                            from / interleaved::kRows,
                                            to / interleaved::kRows);
                for (int64_t o = from; o < to; ++o)
                  (q4 ? carryQ4Row : carryQ8Row)(source.row(sourceRow(slot, o)),
                                                 blocks, codes + o * rowCodes,
                                                 scales + o * blocks);
              });
  return Status::success();
}

PalettizedMatrix palettize(const float *w, int64_t rows, int64_t cols,
                           int64_t group) {
  PalettizedMatrix p;
  p.indices.resize(rows * cols);
  int64_t groups = cols / group;
  p.palettes.resize(rows * groups * 16);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      const float *v = w + r * cols + g * group;
      float lo = *std::min_element(v, v + group);
      float hi = *std::max_element(v, v + group);
      float *pal = &p.palettes[(r * groups + g) * 16];
      for (int k = 0; k < 16; ++k)
        pal[k] = ane::roundToHalf(lo + (hi - lo) * k / 15.0f);
      for (int64_t i = 0; i < group; ++i) {
        int best = 0;
        for (int k = 1; k < 16; ++k)
          if (std::fabs(v[i] - pal[k]) < std::fabs(v[i] - pal[best]))
            best = k;
        p.indices[r * cols + g * group + i] = best;
      }
    }
  return p;
}

std::vector<float> effectiveWeights(const abi::SlotSpec &s,
                                    const std::vector<float> &w) {
  std::vector<float> out(w.size());
  if (s.scheme == abi::Scheme::F16) {
    for (size_t i = 0; i < w.size(); ++i)
      out[i] = roundTo(s.blobs.at(0).dtype, w[i]);
    return out;
  }
  int64_t rows = s.shape[0], cols = s.shape[1], group = s.effectiveGroup();
  mil::DType scaleType = s.blobs.at(1).dtype;
  if (s.scheme == abi::Scheme::Lut4) {
    PalettizedMatrix p = palettize(w.data(), rows, cols, group);
    for (int64_t i = 0; i < rows * cols; ++i) {
      int64_t r = i / cols, g = (i % cols) / group;
      out[i] = roundTo(
          scaleType, p.palettes[(r * (cols / group) + g) * 16 + p.indices[i]]);
    }
    return out;
  }
  QuantizedMatrix q =
      quantizeSymmetric(w.data(), rows, cols, group, abi::schemeBits(s.scheme));
  for (int64_t i = 0; i < rows * cols; ++i) {
    int64_t r = i / cols, g = (i % cols) / group;
    out[i] = roundTo(scaleType, q.scales[r * (cols / group) + g] *
                                    static_cast<float>(q.values[i]));
  }
  return out;
}

namespace {

/// Appends a carried slot's two blobs; returns their offsets.
Result<std::vector<uint64_t>>
appendCarried(mil::WeightWriter &writer, const abi::SlotSpec &s,
              const std::vector<model::TensorData> &sources, int threads) {
  bool q8 = s.scheme == abi::Scheme::Q8;
  int64_t rows = s.shape[0], cols = s.shape[1];
  std::vector<uint64_t> offsets = {
      writer.appendSpace(q8 ? mil::BlobDType::Int8 : mil::BlobDType::Int4,
                         q8 ? rows * cols : rows * cols / 2),
      writer.appendSpace(mil::BlobDType::Float16, 2 * rows * (cols / kBlock))};
  // Payloads start 64 bytes after a 64-byte aligned record: aligned.
  auto *scales = reinterpret_cast<uint16_t *>(writer.payload(offsets[1]));
  if (Status st =
          carryBlocks(s, sources, writer.payload(offsets[0]), scales, threads);
      !st.ok())
    return st;
  return offsets;
}

/// Codes as int8 bytes, or two int4 per byte (the first in the low
/// nibble), as packSubByte stores them.
void packCodes(const std::vector<int8_t> &codes, int bits, uint8_t *out) {
  if (bits == 8) {
    std::memcpy(out, codes.data(), codes.size());
    return;
  }
  for (size_t i = 0; i + 1 < codes.size(); i += 2)
    out[i / 2] = uint8_t((codes[i] & 0xF) | (codes[i + 1] & 0xF) << 4);
  if (codes.size() % 2)
    out[codes.size() / 2] = uint8_t(codes.back() & 0xF);
}

/// Whether `slot` can be quantized row by row straight from its one stored
/// tensor: nothing to fuse, reorder or rescale, and rows of whole blocks.
/// A 7B's Q6_K classifier then never exists as 524 MB of floats.
bool canQuantizeRows(const abi::SlotSpec &slot,
                     const std::vector<model::TensorData> &sources) {
  bool q8 = slot.scheme == abi::Scheme::Q8;
  if ((!q8 && slot.scheme != abi::Scheme::Q4 &&
       slot.scheme != abi::Scheme::Q3) ||
      slot.shape.size() != 2 || slot.ropeRows || !slot.foldNorm.empty() ||
      slot.blobs.size() != 2 ||
      slot.blobs[0].dtype != (q8 ? mil::DType::Int8 : mil::DType::Int4) ||
      (slot.blobs[1].dtype != mil::DType::FP16 &&
       slot.blobs[1].dtype != mil::DType::FP32) ||
      sources.size() != 1)
    return false;
  const int64_t rows = slot.shape[0], cols = slot.shape[1];
  const int64_t group = slot.effectiveGroup();
  const model::TensorData &t = sources[0];
  std::optional<uint64_t> rowBytes = model::tensorBytes(t.type, cols);
  return rows > 0 && cols > 0 && cols % 2 == 0 && group > 0 &&
         cols % group == 0 && t.shape == slot.shape && rowBytes &&
         t.size == *rowBytes * uint64_t(rows);
}

/// Appends a slot's two blobs quantized row by row from its stored tensor
/// (canQuantizeRows): the same codes and scales as from the whole tensor
/// in floats, rows split over `threads`. Returns their offsets.
std::vector<uint64_t> appendQuantizedRows(mil::WeightWriter &writer,
                                          const abi::SlotSpec &s,
                                          const model::TensorData &source,
                                          int threads) {
  const bool q8 = s.scheme == abi::Scheme::Q8;
  const bool halfScales = s.blobs[1].dtype == mil::DType::FP16;
  const int bits = abi::schemeBits(s.scheme);
  const int64_t rows = s.shape[0], cols = s.shape[1];
  const int64_t group = s.effectiveGroup(), groups = cols / group;
  const int64_t rowCodes = q8 ? cols : cols / 2;
  const uint64_t rowBytes = *model::tensorBytes(source.type, cols);
  std::vector<uint64_t> offsets = {
      writer.appendSpace(q8 ? mil::BlobDType::Int8 : mil::BlobDType::Int4,
                         uint64_t(rows * rowCodes)),
      writer.appendSpace(halfScales ? mil::BlobDType::Float16
                                    : mil::BlobDType::Float32,
                         uint64_t(rows * groups) * (halfScales ? 2 : 4))};
  uint8_t *codes = writer.payload(offsets[0]);
  uint8_t *scales = writer.payload(offsets[1]);
  forEachSpan(
      s, rows, {source}, rowBytes, threads,
      [&](const SourceRows &rowsRead, int64_t from, int64_t to) {
        std::vector<float> row(cols), rowScales(groups);
        std::vector<int8_t> q(cols);
        for (int64_t r = from; r < to; ++r) {
          model::dequantize(source.type, rowsRead.row(r), row.data(), cols);
          quantizeRow(row.data(), cols, group, bits, rowScales.data(),
                      q.data());
          for (int64_t g = 0; g < groups; ++g) {
            uint8_t *at = scales + (r * groups + g) * (halfScales ? 2 : 4);
            if (halfScales) {
              uint16_t h = ane::floatToHalfBits(rowScales[g]);
              std::memcpy(at, &h, 2);
            } else {
              std::memcpy(at, &rowScales[g], 4);
            }
          }
          packCodes(q, q8 ? 8 : 4, codes + r * rowCodes);
        }
      });
  return offsets;
}

/// Rewrites a written q4 slot's blobs into the cpu backend's layout.
void interleaveSlot(mil::WeightWriter &writer, const abi::SlotSpec &s,
                    int threads) {
  uint8_t *codes = writer.payload(s.blobs[0].offset);
  // Payloads start 64 bytes after a 64-byte aligned record: aligned.
  auto *scales =
      reinterpret_cast<uint16_t *>(writer.payload(s.blobs[1].offset));
  splitRows(s.shape[0] / interleaved::kRows, threads,
            [&](int64_t from, int64_t to) {
              interleaved::interleaveBlocks(codes, scales, s.shape[1], s.group,
                                            from, to);
            });
}

/// Appends a slot's blobs from its fp32 tensor; returns their offsets.
Result<std::vector<uint64_t>> appendFromFloats(mil::WeightWriter &writer,
                                               const abi::SlotSpec &s,
                                               const std::vector<float> &w,
                                               int threads) {
  int64_t count = 1;
  for (int64_t d : s.shape)
    count *= d;
  if (static_cast<int64_t>(w.size()) != count)
    return Result<std::vector<uint64_t>>::error(
        fmt::format("slot {}: {} values for a [{}] weight", s.role, w.size(),
                    fmt::join(s.shape, ", ")));
  std::vector<uint64_t> offsets;
  if (s.scheme == abi::Scheme::F16) {
    offsets.push_back(appendFloats(writer, s.blobs.at(0).dtype, w));
  } else if (s.scheme == abi::Scheme::Lut4) {
    PalettizedMatrix p =
        palettize(w.data(), s.shape[0], s.shape[1], s.effectiveGroup());
    offsets.push_back(writer.appendValues(mil::BlobDType::UInt4, p.indices));
    offsets.push_back(appendFloats(writer, s.blobs.at(1).dtype, p.palettes));
  } else {
    QuantizedMatrix q =
        quantizeSymmetric(w.data(), s.shape[0], s.shape[1], s.effectiveGroup(),
                          abi::schemeBits(s.scheme), threads);
    bool q8 = s.scheme == abi::Scheme::Q8;
    uint64_t at =
        writer.appendSpace(q8 ? mil::BlobDType::Int8 : mil::BlobDType::Int4,
                           q8 ? q.values.size() : (q.values.size() + 1) / 2,
                           q8 ? 0 : 4 * (q.values.size() % 2));
    packCodes(q.values, q8 ? 8 : 4, writer.payload(at));
    offsets.push_back(at);
    offsets.push_back(appendFloats(writer, s.blobs.at(1).dtype, q.scales));
    if (s.scheme == abi::Scheme::Q8 &&
        s.blobs.size() == 3) // per-channel zero points
      offsets.push_back(writer.appendValues(
          mil::BlobDType::Int8, std::vector<int64_t>(s.shape[0], 0)));
  }
  return offsets;
}

} // namespace

Result<std::vector<uint8_t>> packSegment(
    const std::vector<abi::SlotSpec> &slots,
    const std::function<Result<std::vector<float>>(const abi::SlotSpec &)>
        &tensor,
    int threads, const SlotSources &sources, std::vector<uint8_t> recycled) {
  mil::WeightWriter writer(std::move(recycled));
  writer.reserve(abi::segmentEnd(slots));
  for (const abi::SlotSpec &s : slots) {
    std::optional<std::vector<model::TensorData>> stored;
    if (sources)
      stored = sources(s);
    std::vector<uint64_t> offsets;
    bool inLayout = false; // written in the slot's layout already
    if (stored && canCarryBlocks(s, *stored)) {
      auto appended = appendCarried(writer, s, *stored, threads);
      if (!appended.ok())
        return appended.status();
      offsets = std::move(*appended);
      inLayout = true;
    } else if (stored && canQuantizeRows(s, *stored)) {
      offsets = appendQuantizedRows(writer, s, stored->front(), threads);
    } else {
      auto w = tensor(s);
      if (!w.ok())
        return w.status();
      auto appended = appendFromFloats(writer, s, *w, threads);
      if (!appended.ok())
        return appended.status();
      offsets = std::move(*appended);
    }
    if (offsets.size() != s.blobs.size())
      return Result<std::vector<uint8_t>>::error(
          fmt::format("slot {}: {} blobs written, {} expected", s.role,
                      offsets.size(), s.blobs.size()));
    for (size_t i = 0; i < offsets.size(); ++i)
      if (offsets[i] != s.blobs[i].offset)
        return Result<std::vector<uint8_t>>::error(fmt::format(
            "slot {}: blob {} landed at offset {}, the manifest says {}",
            s.role, i, offsets[i], s.blobs[i].offset));
    if (s.layout == abi::SlotLayout::Interleaved16 && !inLayout) {
      if (!abi::canInterleave(s))
        return Result<std::vector<uint8_t>>::error(fmt::format(
            "slot {}: its blobs cannot take the interleaved16 layout", s.role));
      interleaveSlot(writer, s, threads);
    }
  }
  return writer.release();
}

Result<Tensor> packInputs(const std::vector<abi::PackedPart> &parts,
                          int64_t channels,
                          const std::vector<const Tensor *> &inputs) {
  if (parts.size() != inputs.size() || parts.empty() || channels <= 0)
    return Result<Tensor>::error("packInputs: one input per part is needed");
  int64_t total = 0;
  for (const abi::PackedPart &p : parts)
    total = std::max(total, p.offset + p.columns);
  mil::DType dtype = inputs[0]->dtype;
  Tensor packed = Tensor::zeros(dtype, {1, channels, 1, total});
  for (size_t i = 0; i < parts.size(); ++i) {
    const Tensor &in = *inputs[i];
    const abi::PackedPart &p = parts[i];
    if (in.dtype != dtype || in.numElements() != channels * p.columns)
      return Result<Tensor>::error(
          fmt::format("packInputs: input '{}' does not fit {} x {}", p.name,
                      channels, p.columns));
    for (int64_t f = 0; f < in.numElements(); ++f) {
      int64_t at = (f / p.columns) * total + p.offset + f % p.columns;
      if (packed.isFloat())
        packed.f[at] = in.f[f];
      else
        packed.i[at] = in.i[f];
    }
  }
  return packed;
}

} // namespace ane::runtime
