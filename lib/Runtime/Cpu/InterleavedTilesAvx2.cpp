//===- InterleavedTilesAvx2.cpp - cpu-layout int4 tiles, AVX2 -------------===//
//
// Compiled with -mavx2 -mfma -mf16c (lib/Runtime/CMakeLists.txt) and called
// only on CPUs that have them; see Q4Tiles.h for why it shares no inline
// code with other files.
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Cpu/InterleavedTiles.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace ane::runtime::itiles {
namespace {

/// 256-bit vectors: a block of 16 rows is two of them. 16 registers hold
/// one block x 2 tokens (4 + 4 accumulators, 4 unpacked vectors, 2 scales).
struct V {
  using I = __m256i;
  using F = __m256;
  static constexpr int W = 32;
  static constexpr int kRows = 1, kTokens = 2, kDecodeRows = 1;

  static I load(const uint8_t *p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
  }
  static I low(I v) { return _mm256_and_si256(v, _mm256_set1_epi8(0x0F)); }
  static I high(I v) {
    return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0F));
  }
  static I set1(int32_t v) { return _mm256_set1_epi32(v); }
  static I broadcast4(const int8_t *p) {
    int32_t v;
    __builtin_memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
  }
  static I dotAt(I acc, I w, const int8_t *x) {
    return dot(acc, w, broadcast4(x));
  }
  static I dot(I acc, I w, I x) {
    // Codes are 0..15: a pair is at most 2 * 15 * 128, no saturation.
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(w, x),
                                                   _mm256_set1_epi16(1)));
  }
  static F cvt(I v) { return _mm256_cvtepi32_ps(v); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F zero() { return _mm256_setzero_ps(); }
  static F set1f(float v) { return _mm256_set1_ps(v); }
  static F scales(const uint8_t *p) {
    return _mm256_cvtph_ps(
        _mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
  }
  static void store(float *p, F v) { _mm256_storeu_ps(p, v); }
};

} // namespace

#define ANE_ITILES_FAMILY kAvx2
#include "lib/Runtime/Cpu/InterleavedTiles.inc"

} // namespace ane::runtime::itiles
#endif // __x86_64__
