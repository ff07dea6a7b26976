//===- QuantMatMul.cpp - conv/matmul straight from packed weights ---------===//

#include "lib/Runtime/Cpu/QuantMatMul.h"
#include "lib/Runtime/Avx2.h"
#include "lib/Runtime/Cpu/CpuIsa.h"
#include "lib/Runtime/Cpu/Dot.h"
#include "lib/Runtime/Cpu/InterleavedTiles.h"
#include "lib/Runtime/Cpu/NeonDot.h"
#include "lib/Runtime/Cpu/Q4Tiles.h"
#include "lib/Runtime/Interleaved.h"

#include "lib/Support/Float16.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__aarch64__)
#include <arm_neon.h>
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

#if defined(__x86_64__)

ANE_AVX2 __m256 load8Codes(const int8_t *p) {
  __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(p));
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v));
}

/// The int4 kernels work on chunks of 64 columns (32 weight bytes). A
/// chunk's low nibbles are its even columns and its high nibbles its odd
/// ones, so the activations are laid out to match, once per product: then
/// a chunk costs one load, one xor and two masks per row, and no byte
/// shuffles. The xor with 0x88 turns each signed code s into u = s + 8 in
/// [0, 15], the unsigned operand maddubs wants; the +8 comes back out as
/// 8 * sum(x) per activation block, which does not depend on the row.
struct Q4Activations {
  int64_t block = 32; // columns per activation scale (32, 64 or 128)
  /// Per chunk: 32 codes of even columns, then 32 of odd columns (with
  /// 32-column blocks, block b in bytes 0-15 of each half and b + 1 in
  /// bytes 16-31).
  std::vector<int8_t> planes;
  /// Per block: its scale, and 8 * scale * sum(codes).
  std::vector<float> scales, blockOffsets;
  /// Set on the first token of a tile of 8: per block, the eight tokens'
  /// scales and offsets, in the lanes the 8-token kernels' sums land in.
  std::vector<float> tileScales, tileOffsets;

  ANE_AVX2 void prepare(const QuantizedActivations &q, const PackedWeight &w);
};

int64_t chunksOf(int64_t cols) { return (cols + 63) / 64; }

/// The sum of 32 int8 codes.
ANE_AVX2 inline int32_t sumCodes32(const int8_t *p) {
  __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
  __m256i pairs = _mm256_maddubs_epi16(_mm256_set1_epi8(1), v);
  __m256i quads = _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(quads),
                            _mm256_extracti128_si256(quads, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

/// The low byte of each int16 lane, sign-extended.
ANE_AVX2 inline __m256i lowBytes(__m256i v) {
  return _mm256_srai_epi16(_mm256_slli_epi16(v, 8), 8);
}

/// The 64 codes at p split into even columns (out[0..31]) and odd columns
/// (out[32..63]): each int16 pair's low and high byte, sign-extended and
/// packed back, then the lanes put in order.
ANE_AVX2 inline void splitEvenOdd(const int8_t *p, int8_t *out) {
  __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
  __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p + 32));
  __m256i even = _mm256_packs_epi16(lowBytes(a), lowBytes(b));
  __m256i odd =
      _mm256_packs_epi16(_mm256_srai_epi16(a, 8), _mm256_srai_epi16(b, 8));
  _mm256_storeu_si256(reinterpret_cast<__m256i *>(out),
                      _mm256_permute4x64_epi64(even, 0xD8));
  _mm256_storeu_si256(reinterpret_cast<__m256i *>(out + 32),
                      _mm256_permute4x64_epi64(odd, 0xD8));
}

/// Lays out `q` (one token, a column per column of w) for the int4 kernels.
ANE_AVX2 void Q4Activations::prepare(const QuantizedActivations &q,
                                     const PackedWeight &w) {
  Q4Activations &out = *this;
  int64_t cols = w.cols, chunks = chunksOf(cols), full = cols / 64;
  out.block = q.block;
  out.planes.resize(chunks * 64);
  for (int64_t k = 0; k < full; ++k)
    splitEvenOdd(q.codes.data() + k * 64, out.planes.data() + k * 64);
  if (full < chunks) { // a tail chunk of 32 columns; the rest stays zero
    int8_t *tail = out.planes.data() + full * 64;
    std::fill_n(tail, 64, int8_t(0));
    for (int64_t j = 0; j < 16; ++j) {
      tail[j] = q.codes[full * 64 + 2 * j];
      tail[32 + j] = q.codes[full * 64 + 2 * j + 1];
    }
  }
  out.scales = q.scales;
  out.blockOffsets.assign(q.scales.size(), 0.0f);
  for (int64_t c = 0; c < cols; c += 32)
    out.blockOffsets[c / q.block] += float(sumCodes32(q.codes.data() + c));
  for (size_t b = 0; b < q.scales.size(); ++b)
    out.blockOffsets[b] *= 8.0f * q.scales[b];
}

/// Fills the tile tables of each tile of 8 among S tokens: the first
/// token's get every token's scales and offsets, block by block.
void linkTiles(Q4Activations *tokens, int64_t S) {
  for (int64_t t = 0; t + 8 <= S; t += 8) {
    Q4Activations &first = tokens[t];
    int64_t blocks = int64_t(first.blockOffsets.size());
    first.tileScales.resize(blocks * 8);
    first.tileOffsets.resize(blocks * 8);
    for (int64_t b = 0; b < blocks; ++b)
      for (int j = 0; j < 8; ++j) {
        first.tileScales[b * 8 + j] = tokens[t + j].scales[b];
        first.tileOffsets[b * 8 + j] = tokens[t + j].blockOffsets[b];
      }
  }
}

/// lo/hi: u = s + 8 of the even and odd columns of the weight bytes v.
ANE_AVX2 inline void splitNibbles(__m256i v, __m256i &lo, __m256i &hi) {
  v = _mm256_xor_si256(v, _mm256_set1_epi8(char(0x88)));
  lo = _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
  hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0F));
}

/// Unpacks the 32 bytes at p (one chunk).
ANE_AVX2 inline void unpackChunk(const uint8_t *p, __m256i &lo, __m256i &hi) {
  // Into L1 1 KiB ahead (no prefetch: 12.3 GB/s, 512 B: 12.9, 1 KiB: 14.1,
  // 2 KiB: 13.8 against a 17.5 GB/s read baseline), and into L2 8 KiB
  // ahead, which the hardware prefetcher alone does not reach: streaming
  // 11008 rows took 8% less time with it. One prefetch per 64-byte line
  // instead of per chunk was 3% slower streaming.
  _mm_prefetch(reinterpret_cast<const char *>(p) + 1024, _MM_HINT_T0);
  _mm_prefetch(reinterpret_cast<const char *>(p) + 8192, _MM_HINT_T1);
  splitNibbles(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(p)), lo,
               hi);
}

/// unpackChunk for a tail chunk of 32 columns: only its 16 bytes are read.
ANE_AVX2 inline void unpackTailChunk(const uint8_t *p, __m256i &lo,
                                     __m256i &hi) {
  splitNibbles(_mm256_zextsi128_si256(
                   _mm_loadu_si128(reinterpret_cast<const __m128i *>(p))),
               lo, hi);
}

/// unpackChunk, or unpackTailChunk for a tail chunk.
ANE_AVX2 inline void unpackChunkOrTail(const uint8_t *p, bool tail, __m256i &lo,
                                       __m256i &hi) {
  if (tail)
    unpackTailChunk(p, lo, hi);
  else
    unpackChunk(p, lo, hi);
}

/// The products of one chunk as int16 pairs. Each pair is at most
/// 2 * 15 * 127 = 3810, so four chunks' sums still fit.
ANE_AVX2 inline __m256i chunkProducts(__m256i lo, __m256i hi,
                                      const int8_t *planes) {
  __m256i xl = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(planes));
  __m256i xh =
      _mm256_loadu_si256(reinterpret_cast<const __m256i *>(planes + 32));
  return _mm256_add_epi16(_mm256_maddubs_epi16(lo, xl),
                          _mm256_maddubs_epi16(hi, xh));
}

/// int16 pair sums to eight int32 lanes, as floats.
ANE_AVX2 inline __m256 widenSums(__m256i sums) {
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(sums, _mm256_set1_epi16(1)));
}

/// The int16 pair sums of one activation block (U <= 2 chunks) of row
/// bytes p against one token's planes x: at most 2 * 3810 = 7620.
template <int U>
ANE_AVX2 inline __m256i blockSums(const uint8_t *p, const int8_t *x) {
  __m256i sum = _mm256_setzero_si256();
  for (int u = 0; u < U; ++u) {
    __m256i lo, hi;
    unpackChunk(p + 32 * u, lo, hi);
    sum = _mm256_add_epi16(sum, chunkProducts(lo, hi, x + 64 * u));
  }
  return sum;
}

/// Adjacent pairs of a's and b's int16 lanes (each at most 7620, so a
/// pair fits) summed, then widened to int32 by a multiply-add with ones:
/// per 128-bit half, two lanes of a's sums, then two of b's. Adding in
/// int16 first halves the multiplies, which share one pipe with maddubs
/// on Zen 1; widening by shifts instead measured 9% slower.
ANE_AVX2 inline __m256i pairSums(__m256i a, __m256i b) {
  return _mm256_madd_epi16(_mm256_hadd_epi16(a, b), _mm256_set1_epi16(1));
}

/// q[i] = pairSums(s[2i], s[2i + 1]): the form halves8 and totals8 take
/// eight blocks' int16 sums in.
ANE_AVX2 inline void pairSums8(const __m256i s[8], __m256i q[4]) {
  for (int i = 0; i < 4; ++i)
    q[i] = pairSums(s[2 * i], s[2 * i + 1]);
}

/// Lane j of low: the total of block j's low eight int16 lanes; of high: of
/// its high eight (q from pairSums8).
ANE_AVX2 inline void halves8(const __m256i q[4], __m256i &low, __m256i &high) {
  __m256i a = _mm256_hadd_epi32(q[0], q[1]);
  __m256i b = _mm256_hadd_epi32(q[2], q[3]);
  low = _mm256_permute2x128_si256(a, b, 0x20);
  high = _mm256_permute2x128_si256(a, b, 0x31);
}

/// Lane j: the total of block j's sixteen int16 lanes (q from pairSums8).
ANE_AVX2 inline __m256 totals8(const __m256i q[4]) {
  __m256i low, high;
  halves8(q, low, high);
  return _mm256_cvtepi32_ps(_mm256_add_epi32(low, high));
}

/// The weight scales of a row's activation blocks, walked in order by
/// counters: a division per block (an idiv on x86) cost 10% of an
/// in-cache GEMV.
class BlockScales {
public:
  ANE_AVX2 BlockScales(const PackedWeight &w, int64_t r, int64_t block)
      : scales(w.scales + 2 * r * (w.cols / w.group)),
        blocksPerGroup(w.group / block) {}
  ANE_AVX2 float next() {
    float s = halfAtF16C(scales, group);
    if (++inGroup == blocksPerGroup) {
      inGroup = 0;
      ++group;
    }
    return s;
  }
  /// The next eight blocks' scales.
  ANE_AVX2 __m256 next8() {
    if (blocksPerGroup == 1) {
      __m256 eight = _mm256_cvtph_ps(_mm_loadu_si128(
          reinterpret_cast<const __m128i *>(scales + 2 * group)));
      group += 8;
      return eight;
    }
    alignas(32) float s[8];
    for (float &v : s)
      v = next();
    return _mm256_load_ps(s);
  }

private:
  const uint8_t *scales;
  int64_t blocksPerGroup, group = 0, inGroup = 0;
};

/// Row r of an int4 GEMV against one token, activation blocks of U * 64
/// columns (the weight group is a whole number of them). A block's chunks
/// add up as int16 and widen to int32 lanes; eight blocks' lanes then
/// reduce to one vector, so the scales and the +8 cost one multiply-add
/// per eight blocks, not a scalar multiply, a broadcast and a float
/// accumulation per block. One row at a time keeps a thread's reads one
/// sequential stream: four interleaved rows measured 20% slower.
template <int U>
ANE_AVX2 float rowQ4(const PackedWeight &w, int64_t r, const Q4Activations &a) {
  const int64_t blocks = w.cols / (64 * U);
  const uint8_t *p = w.data + r * (w.cols / 2);
  const int8_t *x = a.planes.data();
  BlockScales ws(w, r, 64 * U);
  __m256 acc = _mm256_setzero_ps();
  int64_t b = 0;
  for (; b + 8 <= blocks; b += 8) {
    // Pairing the blocks as they are summed keeps eight int16 sums from
    // living at once: with them, GCC spilled sixteen registers a round.
    __m256i q[4];
    for (int i = 0; i < 4; ++i, p += 64 * U, x += 128 * U)
      q[i] = pairSums(blockSums<U>(p, x), blockSums<U>(p + 32 * U, x + 64 * U));
    __m256 scaled = _mm256_fmsub_ps(totals8(q), _mm256_loadu_ps(&a.scales[b]),
                                    _mm256_loadu_ps(&a.blockOffsets[b]));
    acc = _mm256_fmadd_ps(ws.next8(), scaled, acc);
  }
  float total = hsum(acc);
  for (; b < blocks; ++b, p += 32 * U, x += 64 * U) {
    __m256 sums = widenSums(blockSums<U>(p, x));
    total += ws.next() * (hsum(sums) * a.scales[b] - a.blockOffsets[b]);
  }
  return total;
}

/// Row r against tokens t .. t + 7 (acts[t] holds the tile tables; y is
/// [rows, S]): each chunk is unpacked once for the eight tokens, and the
/// eight tokens' block sums reduce to one vector, lane j for token t + j,
/// so one float accumulator serves the tile. Eight float accumulators
/// besides the int16 sums made the compiler spill registers.
template <int U>
ANE_AVX2 void tile8Q4(const PackedWeight &w, int64_t r,
                      const Q4Activations *acts, int64_t t, int64_t S,
                      float *y) {
  const int64_t blocks = w.cols / (64 * U);
  const uint8_t *p = w.data + r * (w.cols / 2);
  const Q4Activations &first = acts[t];
  const int8_t *x[8];
  for (int j = 0; j < 8; ++j)
    x[j] = acts[t + j].planes.data();
  BlockScales ws(w, r, 64 * U);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0, k = 0; b < blocks; ++b) {
    __m256i s[8];
    for (int j = 0; j < 8; ++j)
      s[j] = _mm256_setzero_si256();
    for (int u = 0; u < U; ++u, ++k, p += 32) {
      __m256i lo, hi;
      unpackChunk(p, lo, hi);
      for (int j = 0; j < 8; ++j)
        s[j] = _mm256_add_epi16(s[j], chunkProducts(lo, hi, x[j] + k * 64));
    }
    __m256i q[4];
    pairSums8(s, q);
    __m256 scaled =
        _mm256_fmsub_ps(totals8(q), _mm256_loadu_ps(&first.tileScales[b * 8]),
                        _mm256_loadu_ps(&first.tileOffsets[b * 8]));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(ws.next()), scaled, acc);
  }
  _mm256_storeu_ps(y + r * S + t, acc);
}

/// The weight scales of the next chunk's two 32-blocks: [scale(b) x4,
/// scale(b + 1) x4], the lanes each block's products land in. A tail chunk
/// repeats its one block's scale (its activations are zero).
ANE_AVX2 inline __m256 nextPair(BlockScales &ws, bool tail) {
  __m128 s0 = _mm_set1_ps(ws.next());
  __m128 s1 = tail ? s0 : _mm_set1_ps(ws.next());
  return _mm256_set_m128(s1, s0);
}

/// The int32 sums of one chunk's two 32-blocks: 2k (the low half of
/// the products) and 2k + 1 (the high half).
ANE_AVX2 inline void chunkBlockSums(__m256i products, int32_t &even,
                                    int32_t &odd) {
  __m256i quads = _mm256_madd_epi16(products, _mm256_set1_epi16(1));
  __m128i pairs = _mm_hadd_epi32(_mm256_castsi256_si128(quads),
                                 _mm256_extracti128_si256(quads, 1));
  __m128i both = _mm_hadd_epi32(pairs, pairs);
  even = _mm_cvtsi128_si32(both);
  odd = _mm_extract_epi32(both, 1);
}

/// rowQ4 for activation blocks of 32 columns (weight groups that are not
/// whole chunks, such as GGUF's Q4_0). A chunk's low half holds block
/// 2k's products and its high half block 2k + 1's, so four chunks reduce
/// to eight blocks (in the order 0, 2, 4, 6, 1, 3, 5, 7, put right by one
/// permute).
ANE_AVX2 float rowQ4Block32(const PackedWeight &w, int64_t r,
                            const Q4Activations &a) {
  const int64_t full = w.cols / 64;
  const uint8_t *p = w.data + r * (w.cols / 2);
  const int8_t *x = a.planes.data();
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  BlockScales ws(w, r, 32);
  __m256 acc = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 4 <= full; k += 4) {
    __m256i s[4];
    for (int i = 0; i < 4; ++i, p += 32, x += 64) {
      __m256i lo, hi;
      unpackChunk(p, lo, hi);
      s[i] = chunkProducts(lo, hi, x);
    }
    __m256i blocks = _mm256_permutevar8x32_epi32(
        _mm256_hadd_epi32(pairSums(s[0], s[1]), pairSums(s[2], s[3])), order);
    __m256 scaled = _mm256_fmsub_ps(_mm256_cvtepi32_ps(blocks),
                                    _mm256_loadu_ps(&a.scales[2 * k]),
                                    _mm256_loadu_ps(&a.blockOffsets[2 * k]));
    acc = _mm256_fmadd_ps(ws.next8(), scaled, acc);
  }
  float total = hsum(acc);
  for (; k < chunksOf(w.cols); ++k, p += 32, x += 64) {
    bool tail = k == full;
    __m256i lo, hi;
    unpackChunkOrTail(p, tail, lo, hi);
    int32_t even, odd;
    chunkBlockSums(chunkProducts(lo, hi, x), even, odd);
    total +=
        ws.next() * (float(even) * a.scales[2 * k] - a.blockOffsets[2 * k]);
    if (!tail)
      total += ws.next() *
               (float(odd) * a.scales[2 * k + 1] - a.blockOffsets[2 * k + 1]);
  }
  return total;
}

/// tile8Q4 for activation blocks of 32 columns: each chunk's eight token
/// sums split into its two blocks' vectors.
ANE_AVX2 void tile8Q4Block32(const PackedWeight &w, int64_t r,
                             const Q4Activations *acts, int64_t t, int64_t S,
                             float *y) {
  const int64_t full = w.cols / 64;
  const uint8_t *p = w.data + r * (w.cols / 2);
  const Q4Activations &first = acts[t];
  const int8_t *x[8];
  for (int j = 0; j < 8; ++j)
    x[j] = acts[t + j].planes.data();
  BlockScales ws(w, r, 32);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t k = 0; k < chunksOf(w.cols); ++k, p += 32) {
    bool tail = k == full;
    __m256i lo, hi;
    unpackChunkOrTail(p, tail, lo, hi);
    __m256i s[8];
    for (int j = 0; j < 8; ++j)
      s[j] = chunkProducts(lo, hi, x[j] + k * 64);
    __m256i q[4], sums[2];
    pairSums8(s, q);
    halves8(q, sums[0], sums[1]);
    for (int half = 0; half < (tail ? 1 : 2); ++half) {
      int64_t b = 2 * k + half;
      __m256 scaled =
          _mm256_fmsub_ps(_mm256_cvtepi32_ps(sums[half]),
                          _mm256_loadu_ps(&first.tileScales[b * 8]),
                          _mm256_loadu_ps(&first.tileOffsets[b * 8]));
      acc = _mm256_fmadd_ps(_mm256_set1_ps(ws.next()), scaled, acc);
    }
  }
  _mm256_storeu_ps(y + r * S + t, acc);
}

ANE_AVX2 float rowQ4Any(const PackedWeight &w, int64_t r,
                        const Q4Activations &a) {
  switch (a.block) {
  case 128:
    return rowQ4<2>(w, r, a);
  case 64:
    return rowQ4<1>(w, r, a);
  default:
    return rowQ4Block32(w, r, a);
  }
}

/// Row r against tokens t .. t + T - 1: a tile of 8 shares each chunk's
/// unpacking; fewer tokens take a GEMV each.
template <int T>
ANE_AVX2 void tile(const PackedWeight &w, int64_t r, const Q4Activations *acts,
                   int64_t t, int64_t S, float *y) {
  if (T != 8) {
    for (int64_t j = t; j < t + T; ++j)
      y[r * S + j] = rowQ4Any(w, r, acts[j]);
    return;
  }
  switch (acts[0].block) {
  case 128:
    return tile8Q4<2>(w, r, acts, t, S, y);
  case 64:
    return tile8Q4<1>(w, r, acts, t, S, y);
  default:
    return tile8Q4Block32(w, r, acts, t, S, y);
  }
}

/// x quantized for the int8 kernels: codes in column order, and per weight
/// group the sum over its blocks of scale * sum(codes), which a zero point
/// multiplies.
struct Q8Activations {
  QuantizedActivations q;
  std::vector<float> groupSums;

  ANE_AVX2 void prepare(const QuantizedActivations &from,
                        const PackedWeight &w);
};

ANE_AVX2 void Q8Activations::prepare(const QuantizedActivations &from,
                                     const PackedWeight &w) {
  q = from;
  groupSums.assign(w.cols / w.group, 0.0f);
  for (int64_t c = 0; c < w.cols; c += 32)
    groupSums[c / w.group] +=
        q.scales[c / q.block] * float(sumCodes32(q.codes.data() + c));
}

void linkTiles(Q8Activations *, int64_t) {} // each token reads its own

/// Row r of an int8 weight against tokens t .. t + T - 1, activation blocks
/// of U * 32 columns. maddubs multiplies unsigned by signed bytes, so the
/// weight's sign moves onto the activation: |w| (at most 128) times +-x (at
/// most 127), pairs at most 32512, which fits int16.
template <int T, int U>
ANE_AVX2 void tileQ8(const PackedWeight &w, int64_t r,
                     const Q8Activations *acts, int64_t t, int64_t S,
                     float *y) {
  const int64_t groups = w.cols / w.group;
  const int8_t *row = reinterpret_cast<const int8_t *>(w.data) + r * w.cols;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[T];
  for (int j = 0; j < T; ++j)
    acc[j] = _mm256_setzero_ps();
  // Blocks of 32 * U columns divide the group; counters, not divisions,
  // find the scales.
  const int64_t blocksPerGroup = w.group / (32 * U);
  int64_t block = 0, c = 0;
  for (int64_t g = 0; g < groups; ++g) {
    const float ws = halfAtF16C(w.scales, r * groups + g);
    for (int64_t b = 0; b < blocksPerGroup; ++b, ++block) {
      __m256i sum[T];
      for (int j = 0; j < T; ++j)
        sum[j] = _mm256_setzero_si256();
      for (int u = 0; u < U; ++u, c += 32) {
        _mm_prefetch(reinterpret_cast<const char *>(row + c) + 1024,
                     _MM_HINT_T0);
        __m256i wv =
            _mm256_loadu_si256(reinterpret_cast<const __m256i *>(row + c));
        __m256i aw = _mm256_sign_epi8(wv, wv);
        for (int j = 0; j < T; ++j) {
          __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(
              acts[t + j].q.codes.data() + c));
          __m256i p16 = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(xv, wv));
          sum[j] = _mm256_add_epi32(sum[j], _mm256_madd_epi16(p16, ones));
        }
      }
      for (int j = 0; j < T; ++j) {
        __m256 scale = _mm256_set1_ps(ws * acts[t + j].q.scales[block]);
        acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[j]), scale, acc[j]);
      }
    }
  }
  float zero = w.zeroPoints ? float(int8_t(w.zeroPoints[r])) : 0.0f;
  for (int j = 0; j < T; ++j) {
    float offset =
        zero == 0.0f
            ? 0.0f
            : zero * dotHalfFloat(w.scales + 2 * r * groups,
                                  acts[t + j].groupSums.data(), groups);
    y[r * S + t + j] = hsum(acc[j]) - offset;
  }
}

template <int T>
ANE_AVX2 void tile(const PackedWeight &w, int64_t r, const Q8Activations *acts,
                   int64_t t, int64_t S, float *y) {
  switch (acts[0].q.block) {
  case 128:
    return tileQ8<T, 4>(w, r, acts, t, S, y);
  case 64:
    return tileQ8<T, 2>(w, r, acts, t, S, y);
  default:
    return tileQ8<T, 1>(w, r, acts, t, S, y);
  }
}

/// Rows [begin, end) of an int4 or int8 product against S tokens, in
/// tiles of 8, 4 and 1 tokens.
template <typename Acts>
ANE_AVX2 void rowsInt8(const PackedWeight &w, const Acts *acts, int64_t S,
                       float *y, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    int64_t t = 0;
    for (; t + 8 <= S; t += 8)
      tile<8>(w, r, acts, t, S, y);
    for (; t + 4 <= S; t += 4)
      tile<4>(w, r, acts, t, S, y);
    for (; t < S; ++t)
      tile<1>(w, r, acts, t, S, y);
  }
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
    float scale = halfAtF16C(w.scales, r * groups + g);
    total = _mm256_fmadd_ps(acc, _mm256_set1_ps(scale), total);
    if (zero != 0.0f)
      for (int64_t c = g * w.group; c < (g + 1) * w.group; ++c)
        xSum += scale * x[c];
  }
  return hsum(total) - zero * xSum;
}

ANE_AVX2 float rowF16(const PackedWeight &w, int64_t r, const float *x) {
  return dotHalfFloat(w.data + 2 * r * w.cols, x, w.cols);
}

ANE_AVX2 float rowF32(const PackedWeight &w, int64_t r, const float *x) {
  return dotAvx2(reinterpret_cast<const float *>(w.data) + r * w.cols, x,
                 w.cols);
}

/// Whether the vector row kernels cover this weight's grouping.
bool avx2Covers(const PackedWeight &w) {
  switch (w.format) {
  case PackedWeight::Format::Q4:
  case PackedWeight::Format::Q4Interleaved:
    return false; // the int8-activation kernels, or scalar
  case PackedWeight::Format::Q8:
    return w.group % 8 == 0;
  case PackedWeight::Format::Lut4:
    return w.group % 16 == 0; // rows and groups start on whole bytes
  default:
    return true;
  }
}

/// Row r of a Lut4 weight as floats. Per group, the low and high bytes of
/// the 16 fp16 palette entries become two pshufb tables; 16 indices at a
/// time pick their entries' two bytes, which interleave back into fp16
/// values for F16C. Exact: no value is rounded.
ANE_AVX2 void decodeLut4RowAvx2(const PackedWeight &w, int64_t r, float *out) {
  const int64_t groups = w.cols / w.group;
  const uint8_t *indices = w.data + r * (w.cols / 2);
  const __m128i nibbles = _mm_set1_epi8(0x0F);
  const __m128i splitBytes =
      _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
  for (int64_t g = 0; g < groups; ++g) {
    const uint8_t *palette = w.scales + 32 * (r * groups + g);
    __m128i a = _mm_shuffle_epi8(
        _mm_loadu_si128(reinterpret_cast<const __m128i *>(palette)),
        splitBytes);
    __m128i b = _mm_shuffle_epi8(
        _mm_loadu_si128(reinterpret_cast<const __m128i *>(palette + 16)),
        splitBytes);
    __m128i lowBytes = _mm_unpacklo_epi64(a, b);
    __m128i highBytes = _mm_unpackhi_epi64(a, b);
    for (int64_t c = g * w.group; c < (g + 1) * w.group; c += 16) {
      __m128i packed =
          _mm_loadl_epi64(reinterpret_cast<const __m128i *>(indices + c / 2));
      __m128i even = _mm_and_si128(packed, nibbles);
      __m128i odd = _mm_and_si128(_mm_srli_epi16(packed, 4), nibbles);
      __m128i index = _mm_unpacklo_epi8(even, odd); // column order
      __m128i lo = _mm_shuffle_epi8(lowBytes, index);
      __m128i hi = _mm_shuffle_epi8(highBytes, index);
      _mm256_storeu_ps(out + c, _mm256_cvtph_ps(_mm_unpacklo_epi8(lo, hi)));
      _mm256_storeu_ps(out + c + 8, _mm256_cvtph_ps(_mm_unpackhi_epi8(lo, hi)));
    }
  }
}

ANE_AVX2 void gemvRowsAvx2(const PackedWeight &w, const float *x, float *y,
                           int64_t begin, int64_t end) {
  if (w.format == PackedWeight::Format::Lut4) {
    // Decoded a row at a time into L1, then one dot product.
    std::vector<float> row(w.cols);
    for (int64_t r = begin; r < end; ++r) {
      decodeLut4RowAvx2(w, r, row.data());
      y[r] = dotAvx2(row.data(), x, w.cols);
    }
    return;
  }
  for (int64_t r = begin; r < end; ++r) {
    switch (w.format) {
    case PackedWeight::Format::Q8:
      y[r] = rowQ8(w, r, x);
      break;
    case PackedWeight::Format::F16:
      y[r] = rowF16(w, r, x);
      break;
    default:
      y[r] = rowF32(w, r, x);
      break;
    }
  }
}

/// Row r of W dequantized into `out` with vector unpacking where the
/// grouping allows (the scalar decodeRow otherwise).
ANE_AVX2 void decodeRowAvx2(const PackedWeight &w, int64_t r, float *out) {
  if (w.format == PackedWeight::Format::Lut4)
    return decodeLut4RowAvx2(w, r, out);
  if (w.format == PackedWeight::Format::F16) {
    const uint8_t *row = w.data + 2 * r * w.cols;
    int64_t c = 0;
    for (; c + 8 <= w.cols; c += 8)
      _mm256_storeu_ps(out + c,
                       _mm256_cvtph_ps(_mm_loadu_si128(
                           reinterpret_cast<const __m128i *>(row + 2 * c))));
    for (; c < w.cols; ++c)
      out[c] = halfAtF16C(row, c);
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

/// max |x[i]| over n floats (n a multiple of 8).
ANE_AVX2 float absMaxAvx2(const float *x, int64_t n) {
  const __m256 signBit = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += 8)
    m = _mm256_max_ps(m, _mm256_andnot_ps(signBit, _mm256_loadu_ps(x + i)));
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

/// out[c * outStride + r] = in[r * inStride + c] for an 8 x 8 block.
ANE_AVX2 void transpose8x8(const float *in, int64_t inStride, float *out,
                           int64_t outStride) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i)
    r[i] = _mm256_loadu_ps(in + i * inStride);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  // r[h + j]: column j (low lane) and 4 + j (high lane) of rows h .. h + 3.
  for (int h = 0; h < 8; h += 4)
    for (int j = 0; j < 2; ++j) {
      r[h + 2 * j] = _mm256_shuffle_ps(t[h + j], t[h + 2 + j], 0x44);
      r[h + 2 * j + 1] = _mm256_shuffle_ps(t[h + j], t[h + 2 + j], 0xEE);
    }
  for (int j = 0; j < 4; ++j) {
    _mm256_storeu_ps(out + j * outStride,
                     _mm256_permute2f128_ps(r[j], r[4 + j], 0x20));
    _mm256_storeu_ps(out + (4 + j) * outStride,
                     _mm256_permute2f128_ps(r[j], r[4 + j], 0x31));
  }
}

/// round(p[i] * inv) for 8 floats, as int32.
ANE_AVX2 inline __m256i roundTimes(const float *p, __m256 inv) {
  return _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(p), inv));
}

/// codes[i] = round(x[i] * inv) for n floats (n a multiple of 32): the
/// same single multiply and round-to-nearest-even as lrintf. Returns the
/// sum of the codes.
ANE_AVX2 int32_t roundCodesAvx2(const float *x, int64_t n, float inv,
                                int8_t *codes) {
  const __m256 vInv = _mm256_set1_ps(inv);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  __m256i sums = _mm256_setzero_si256();
  for (int64_t i = 0; i < n; i += 32) {
    __m256i ab = _mm256_packs_epi32(roundTimes(x + i, vInv),
                                    roundTimes(x + i + 8, vInv));
    __m256i cd = _mm256_packs_epi32(roundTimes(x + i + 16, vInv),
                                    roundTimes(x + i + 24, vInv));
    __m256i bytes =
        _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(codes + i), bytes);
    sums = _mm256_add_epi32(sums, _mm256_madd_epi16(_mm256_add_epi16(ab, cd),
                                                    _mm256_set1_epi16(1)));
  }
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sums),
                            _mm256_extracti128_si256(sums, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

#endif // __x86_64__

} // namespace

/// n values as int8 codes under one scale, amax / 127; returns the scale
/// and sets `sum` to the sum of the codes.
static float quantizeBlock(const float *x, int64_t n, int8_t *codes,
                           int32_t &sum) {
#if defined(__x86_64__)
  // Blocks of whole 32s, as the int8 kernels use, take the vector path.
  if (n % 32 == 0 && matmulHasAvx2()) {
    float amax = absMaxAvx2(x, n);
    sum = roundCodesAvx2(x, n, amax > 0 ? 127.0f / amax : 0.0f, codes);
    return amax / 127.0f;
  }
#endif
  float amax = 0;
  for (int64_t i = 0; i < n; ++i)
    amax = std::max(amax, std::fabs(x[i]));
  float inv = amax > 0 ? 127.0f / amax : 0.0f;
  sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    codes[i] = int8_t(std::lrintf(x[i] * inv));
    sum += codes[i];
  }
  return amax / 127.0f;
}

static void quantizeActivationsInto(const float *x, int64_t n, int64_t block,
                                    QuantizedActivations &q) {
  q.block = block;
  q.codes.resize(n);
  q.scales.resize((n + block - 1) / block);
  for (int64_t b = 0; b * block < n; ++b) {
    int64_t begin = b * block, end = std::min<int64_t>(n, begin + block);
    int32_t sum;
    q.scales[b] =
        quantizeBlock(x + begin, end - begin, q.codes.data() + begin, sum);
  }
}

QuantizedActivations quantizeActivations(const float *x, int64_t n,
                                         int64_t block) {
  QuantizedActivations q;
  quantizeActivationsInto(x, n, block, q);
  return q;
}

int64_t activationBlock(int64_t group) {
  return group % 128 == 0 ? 128 : group % 64 == 0 ? 64 : 32;
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
        dot += w.int4At(r, i) * x.codes[i];
      acc += double(dot) * x.scales[b / x.block];
    }
    total += acc * w.scaleAt(r, g);
  }
  return float(total);
}

float dotQ8Q8Scalar(const PackedWeight &w, int64_t r,
                    const QuantizedActivations &x) {
  int64_t groups = w.cols / w.group;
  double zero = w.zeroPoints ? double(int8_t(w.zeroPoints[r])) : 0.0;
  const int8_t *row = reinterpret_cast<const int8_t *>(w.data) + r * w.cols;
  double total = 0;
  for (int64_t g = 0; g < groups; ++g) {
    double acc = 0;
    for (int64_t b = g * w.group; b < (g + 1) * w.group; b += x.block) {
      int64_t dot = 0, sum = 0;
      for (int64_t i = b; i < b + x.block; ++i) {
        dot += int64_t(row[i]) * x.codes[i];
        sum += x.codes[i];
      }
      acc += (double(dot) - zero * double(sum)) * x.scales[b / x.block];
    }
    total += acc * w.scaleAt(r, g);
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
  case Format::Q4Interleaved:
    return scaleAt(r, c / group) * float(int4At(r, c));
  case Format::Lut4: {
    int64_t i = r * cols + c;
    int index = (data[i / 2] >> (4 * (i % 2))) & 0xF;
    return halfAt(scales, (r * (cols / group) + c / group) * 16 + index);
  }
  }
  return 0.0f;
}

int PackedWeight::int4At(int64_t r, int64_t c) const {
  if (format == Format::Q4Interleaved)
    return interleaved::codeAt(data, cols, r, c) - 8;
  return nibble(data, r * cols + c);
}

float PackedWeight::scaleAt(int64_t r, int64_t g) const {
  if (format == Format::Q4Interleaved)
    return halfAt(scales, interleaved::scaleIndex(cols, group, r, g));
  return halfAt(scales, r * (cols / group) + g);
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

bool matmulHasAvx2() { return isX86Isa(kernelIsa()); }

bool matmulQuantizesActivations(const PackedWeight &w) {
  KernelIsa isa = kernelIsa();
  return (isX86Isa(isa) || isNeonIsa(isa)) && w.group > 0 &&
         w.group % 32 == 0 &&
         (w.format == PackedWeight::Format::Q4 ||
          w.format == PackedWeight::Format::Q8 ||
          w.format == PackedWeight::Format::Q4Interleaved);
}

namespace {

/// Rows in grains of 16 keep each thread's share of y on its own lines.
constexpr int64_t kGrain = 16;

#if defined(__x86_64__)
/// An int4 or int8 product: each token's column of x quantized to int8 and
/// laid out as `Acts`, then the rows split over the pool.
template <typename Acts>
void int8Product(const PackedWeight &w, const float *x, int64_t S, float *y,
                 ThreadPool &pool) {
  // Scratch kept per calling thread: no allocation once warmed up.
  thread_local std::vector<float> column;
  thread_local QuantizedActivations q;
  thread_local std::vector<Acts> acts;
  if (int64_t(acts.size()) < S)
    acts.resize(S);
  column.resize(w.cols);
  for (int64_t s = 0; s < S; ++s) {
    const float *token = x; // one token's column is x itself
    if (S > 1) {
      for (int64_t c = 0; c < w.cols; ++c)
        column[c] = x[c * S + s];
      token = column.data();
    }
    quantizeActivationsInto(token, w.cols, activationBlock(w.group), q);
    acts[s].prepare(q, w);
  }
  linkTiles(acts.data(), S);
  // A thread_local named in the lambda would be each worker's own.
  const Acts *tokens = acts.data();
  pool.parallelFor(w.rows, kGrain, [&](int64_t begin, int64_t end) {
    rowsInt8(w, tokens, S, y, begin, end);
  });
}

/// The int4 tile kernels of the selected family, when it has some that
/// take this product (the AVX2 family uses the kernels above). One token
/// keeps the GEMV above: it reads a row as one stream, and a 7B decode
/// from memory ran at 8.8 tok/s with it against 6.9 with 4-row tiles.
const q4tiles::Family *tileFamily(const PackedWeight &w, int64_t S) {
  if (S == 1)
    return nullptr;
  const q4tiles::Family *family = nullptr;
  if (kernelIsa() == KernelIsa::Avx512Vnni)
    family = &q4tiles::kAvx512Vnni;
  else if (kernelIsa() == KernelIsa::Avx512)
    family = &q4tiles::kAvx512;
  if (family && q4tiles::covers(family->vectorBytes, w.cols, w.group))
    return family;
  return nullptr;
}

/// An int4 product on the tile kernels: each token's column quantized to
/// int8 and laid out for `family`, then the rows split over the pool.
void tileProduct(const q4tiles::Family &family, const PackedWeight &w,
                 const float *x, int64_t S, float *y, ThreadPool &pool) {
  thread_local std::vector<uint8_t> buffer;
  const int64_t bytes = q4tiles::tokenBytes(family.vectorBytes, w.cols);
  buffer.resize(S * bytes + 64);
  // Chunks on cache lines.
  uint8_t *tokens =
      buffer.data() + (-reinterpret_cast<uintptr_t>(buffer.data()) & 63);
  // Tokens are quantized on the pool too: with 11008 columns, 16 tokens
  // took 7% of a product on one thread.
  pool.parallelFor(S, 1, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> column;
    thread_local QuantizedActivations q;
    column.resize(w.cols);
    for (int64_t s = begin; s < end; ++s) {
      for (int64_t c = 0; c < w.cols; ++c)
        column[c] = x[c * S + s];
      quantizeActivationsInto(column.data(), w.cols, activationBlock(w.group),
                              q);
      family.layout(q.codes.data(), q.scales.data(), q.block, w.cols,
                    tokens + s * bytes);
    }
  });
  q4tiles::Args args;
  args.weights = w.data;
  args.scales = w.scales;
  args.rows = w.rows;
  args.cols = w.cols;
  args.group = w.group;
  args.S = S;
  args.tokens = tokens;
  args.tokenBytes = bytes;
  args.y = y;
  pool.parallelFor(w.rows, kGrain, [&](int64_t begin, int64_t end) {
    family.rows(args, begin, end);
  });
}
#endif // __x86_64__

/// The kernels for an interleaved int4 weight on the selected family, or
/// null (scalar).
itiles::RowsFn interleavedRows() {
  switch (kernelIsa()) {
#if defined(__x86_64__)
  case KernelIsa::Avx2:
    return itiles::kAvx2;
  case KernelIsa::AvxVnni:
    return itiles::kAvxVnni;
  case KernelIsa::Avx512:
    return itiles::kAvx512;
  case KernelIsa::Avx512Vnni:
    return itiles::kAvx512Vnni;
#endif
#if defined(__aarch64__)
  case KernelIsa::Neon:
    return neon::kInterleavedBase;
  case KernelIsa::NeonDot:
    return neon::kInterleavedSdot;
#endif
  default:
    return nullptr;
  }
}

/// x ([C, S]) as [S, C] in `out`, so that every token's column is
/// contiguous: 8 x 8 at a time in registers where AVX2 and the sizes allow
/// (float by float, an activation block's transpose took 1.9% of a
/// 64-token product's time, 8 x 8 0.8%).
void transposeInto(const float *x, int64_t C, int64_t S, float *out) {
#if defined(__x86_64__)
  if (S % 8 == 0 && C % 8 == 0 && matmulHasAvx2()) {
    for (int64_t c = 0; c < C; c += 8)
      for (int64_t s = 0; s < S; s += 8)
        transpose8x8(x + c * S + s, S, out + s * C + c, C);
    return;
  }
#endif
  for (int64_t c = 0; c < C; ++c)
    for (int64_t s = 0; s < S; ++s)
      out[s * C + c] = x[c * S + s];
}

std::vector<float> transpose(const float *x, int64_t C, int64_t S) {
  std::vector<float> t(C * S);
  transposeInto(x, C, S, t.data());
  return t;
}

/// Every token's activation blocks [kb0, kb1) of x ([cols, S]) as int8
/// `codes` ([S, cols]) with per block (`scales`, `negSums`: [S, blocks])
/// the scale and -8 * the sum of its codes. A block's columns are read a
/// row of x at a time into a transposed copy: gathering a token's column
/// straight from x fetched a line per value and took 4% of a 64-token
/// product.
void quantizeBlocks(const float *x, int64_t cols, int64_t S, int64_t block,
                    int64_t kb0, int64_t kb1, int8_t *codes, int32_t *negSums,
                    float *scales) {
  thread_local std::vector<float> transposed;
  transposed.resize(size_t(S * block));
  const int64_t blocks = cols / block;
  for (int64_t kb = kb0; kb < kb1; ++kb) {
    const float *rows = x + kb * block * S, *tokens = rows;
    if (S > 1) {
      transposeInto(rows, block, S, transposed.data());
      tokens = transposed.data();
    }
    for (int64_t s = 0; s < S; ++s) {
      int32_t sum;
      scales[s * blocks + kb] = quantizeBlock(
          tokens + s * block, block, codes + s * cols + kb * block, sum);
      negSums[s * blocks + kb] = -8 * sum;
    }
  }
}

/// The S tokens of a product as int8 per activation block (quantizeBlocks,
/// on the pool a block of every token at a time when there are several),
/// kept per calling thread so that a warm product allocates nothing.
/// `block` divides cols: it divides the weight's group, which divides cols.
struct QuantizedTokens {
  std::vector<int8_t> codes;    // [S, cols]
  std::vector<int32_t> negSums; // [S, blocks]
  std::vector<float> scales;    // [S, blocks]
  int64_t cols = 0, blocks = 0;

  void quantize(const float *x, int64_t n, int64_t S, int64_t block,
                ThreadPool &pool) {
    cols = n;
    blocks = n / block;
    codes.resize(size_t(S * cols));
    negSums.resize(size_t(S * blocks));
    scales.resize(size_t(S * blocks));
    auto run = [&](int64_t begin, int64_t end) {
      quantizeBlocks(x, cols, S, block, begin, end, codes.data(),
                     negSums.data(), scales.data());
    };
    if (S == 1)
      run(0, blocks);
    else
      pool.parallelFor(blocks, 1, run);
  }
  const int8_t *codesOf(int64_t s) const { return codes.data() + s * cols; }
  const int32_t *negSumsOf(int64_t s) const {
    return negSums.data() + s * blocks;
  }
  const float *scalesOf(int64_t s) const { return scales.data() + s * blocks; }
};

/// An int4 product over the interleaved layout: the tokens quantized
/// (QuantizedTokens), then the row blocks split over the pool.
void interleavedProduct(itiles::RowsFn rows, const PackedWeight &w,
                        const float *x, int64_t S, float *y, ThreadPool &pool) {
  const int64_t block = activationBlock(w.group);
  thread_local QuantizedTokens q;
  thread_local std::vector<itiles::Token> tokens;
  q.quantize(x, w.cols, S, block, pool);
  tokens.resize(size_t(S));
  for (int64_t s = 0; s < S; ++s)
    tokens[size_t(s)] = {q.codesOf(s), q.negSumsOf(s), q.scalesOf(s)};
  itiles::Args args;
  args.weights = w.data;
  args.scales = w.scales;
  args.rows = w.rows;
  args.cols = w.cols;
  args.group = w.group;
  args.block = block;
  args.S = S;
  args.tokens = tokens.data();
  args.y = y;
  // Grains of 12 blocks: whole tiles of every family (1 to 4 blocks).
  pool.parallelFor(w.rows / interleaved::kRows, 12,
                   [&](int64_t begin, int64_t end) { rows(args, begin, end); });
}

#if defined(__aarch64__)
/// An int4 or int8 product on ARM64: the tokens quantized to int8 per
/// block as for the interleaved layout, then the rows split over the pool.
void neonProduct(const PackedWeight &w, const float *x, int64_t S, float *y,
                 ThreadPool &pool) {
  const int64_t block = activationBlock(w.group);
  thread_local QuantizedTokens q;
  thread_local std::vector<const int8_t *> codes;
  thread_local std::vector<const float *> scales;
  q.quantize(x, w.cols, S, block, pool);
  codes.resize(S);
  scales.resize(S);
  for (int64_t s = 0; s < S; ++s) {
    codes[s] = q.codesOf(s);
    scales[s] = q.scalesOf(s);
  }
  neon::Args args;
  args.weights = w.data;
  args.scales = w.scales;
  args.zeroPoints = w.zeroPoints;
  args.int4 = w.format == PackedWeight::Format::Q4;
  args.rows = w.rows;
  args.cols = w.cols;
  args.group = w.group;
  args.S = S;
  args.codes = codes.data();
  args.blockScales = scales.data();
  args.block = block;
  args.y = y;
  neon::RowsFn rows =
      kernelIsa() == KernelIsa::NeonDot ? neon::kRowsSdot : neon::kRowsBase;
  pool.parallelFor(w.rows, kGrain,
                   [&](int64_t begin, int64_t end) { rows(args, begin, end); });
}

/// The sum of a[i] * b[i], four accumulators of four lanes.
float dotNeon(const float *a, const float *b, int64_t n) {
  float32x4_t acc[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0),
                        vdupq_n_f32(0)};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 4; ++k)
      acc[k] =
          vfmaq_f32(acc[k], vld1q_f32(a + i + 4 * k), vld1q_f32(b + i + 4 * k));
  for (; i + 4 <= n; i += 4)
    acc[0] = vfmaq_f32(acc[0], vld1q_f32(a + i), vld1q_f32(b + i));
  float total = vaddvq_f32(
      vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
  for (; i < n; ++i)
    total += a[i] * b[i];
  return total;
}

/// The four fp16 values at p as floats.
inline float32x4_t halves4(const uint8_t *p) {
  return vcvt_f32_f16(
      vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t *>(p))));
}

/// dotNeon of an fp16 row (read in place) and floats.
float dotHalfNeon(const uint8_t *h, const float *x, int64_t n) {
  float32x4_t acc[2] = {vdupq_n_f32(0), vdupq_n_f32(0)};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    acc[0] = vfmaq_f32(acc[0], halves4(h + 2 * i), vld1q_f32(x + i));
    acc[1] = vfmaq_f32(acc[1], halves4(h + 2 * i + 8), vld1q_f32(x + i + 4));
  }
  float total = vaddvq_f32(vaddq_f32(acc[0], acc[1]));
  for (; i < n; ++i)
    total += halfAt(h, i) * x[i];
  return total;
}

/// Row r of W as floats: fp16 by vcvt, other formats by decodeRow.
void decodeRowNeon(const PackedWeight &w, int64_t r, float *out) {
  if (w.format != PackedWeight::Format::F16)
    return decodeRow(w, r, out);
  const uint8_t *row = w.data + 2 * r * w.cols;
  int64_t c = 0;
  for (; c + 4 <= w.cols; c += 4)
    vst1q_f32(out + c, halves4(row + 2 * c));
  for (; c < w.cols; ++c)
    out[c] = halfAt(row, c);
}

/// Rows [begin, end) of a product whose activations stay floats: fp32
/// rows, and fp16 ones against one token, are read in place; other rows
/// are decoded into L1 once and dotted with every token (xT is [S, cols]).
void floatRowsNeon(const PackedWeight &w, const float *xT, int64_t S, float *y,
                   int64_t begin, int64_t end) {
  std::vector<float> decoded;
  for (int64_t r = begin; r < end; ++r) {
    const float *row;
    if (w.format == PackedWeight::Format::F32) {
      row = reinterpret_cast<const float *>(w.data) + r * w.cols;
    } else if (w.format == PackedWeight::Format::F16 && S == 1) {
      y[r] = dotHalfNeon(w.data + 2 * r * w.cols, xT, w.cols);
      continue;
    } else {
      decoded.resize(size_t(w.cols));
      decodeRowNeon(w, r, decoded.data());
      row = decoded.data();
    }
    for (int64_t s = 0; s < S; ++s)
      y[r * S + s] = dotNeon(row, xT + s * w.cols, w.cols);
  }
}
#endif // __aarch64__

} // namespace

void matmul(const PackedWeight &w, const float *x, int64_t S, float *y,
            ThreadPool &pool) {
  if (w.format == PackedWeight::Format::Q4Interleaved)
    if (itiles::RowsFn rows = interleavedRows())
      return interleavedProduct(rows, w, x, S, y, pool);
#if defined(__aarch64__)
  if (matmulQuantizesActivations(w))
    return neonProduct(w, x, S, y, pool);
  if (isNeonIsa(kernelIsa())) {
    std::vector<float> xT =
        S > 1 ? transpose(x, w.cols, S) : std::vector<float>();
    const float *tokens = S > 1 ? xT.data() : x;
    pool.parallelFor(w.rows, kGrain, [&](int64_t begin, int64_t end) {
      floatRowsNeon(w, tokens, S, y, begin, end);
    });
    return;
  }
#endif
#if defined(__x86_64__)
  if (matmulHasAvx2() && w.group > 0 && w.group % 32 == 0) {
    if (w.format == PackedWeight::Format::Q4) {
      if (const q4tiles::Family *family = tileFamily(w, S))
        return tileProduct(*family, w, x, S, y, pool);
      return int8Product<Q4Activations>(w, x, S, y, pool);
    }
    if (w.format == PackedWeight::Format::Q8)
      return int8Product<Q8Activations>(w, x, S, y, pool);
  }
  if (matmulHasAvx2() && avx2Covers(w)) {
    if (S == 1) {
      pool.parallelFor(w.rows, kGrain, [&](int64_t begin, int64_t end) {
        gemvRowsAvx2(w, x, y, begin, end);
      });
    } else {
      std::vector<float> xT = transpose(x, w.cols, S);
      pool.parallelFor(w.rows, kGrain, [&](int64_t begin, int64_t end) {
        gemmRowsAvx2(w, xT.data(), S, y, begin, end);
      });
    }
    return;
  }
#endif
  pool.parallelFor(w.rows, kGrain, [&](int64_t begin, int64_t end) {
    matmulScalar(w, x, S, y, begin, end);
  });
}

} // namespace ane::runtime
