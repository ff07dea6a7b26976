//===- Interleaved.cpp - the cpu backend's int4 weight layout -------------===//

#include "lib/Runtime/Interleaved.h"

#include <cstring>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ane::runtime::interleaved {

bool fits(int64_t rows, int64_t cols, int64_t group) {
  return rows > 0 && rows % kRows == 0 && cols > 0 && group > 0 &&
         group % kColumns == 0 && cols % group == 0;
}

namespace {

/// Where (i, j) of a block's 32-column run is: byte and nibble shift.
inline int64_t runByte(int64_t i, int64_t j) {
  return (j % 16) / 4 * 64 + 4 * i + j % 4;
}
inline int runShift(int64_t j) { return j < 16 ? 0 : 4; }

} // namespace

int codeAt(const uint8_t *codes, int64_t cols, int64_t r, int64_t c) {
  const uint8_t *run = codes + (r / kRows) * (cols * kRows / 2) +
                       (c / kColumns) * (kRows * kColumns / 2);
  int64_t j = c % kColumns;
  return (run[runByte(r % kRows, j)] >> runShift(j)) & 0xF;
}

int64_t scaleIndex(int64_t cols, int64_t group, int64_t r, int64_t g) {
  return ((r / kRows) * (cols / group) + g) * kRows + r % kRows;
}

namespace {

#if defined(__SSE2__)
/// Four rows' 32 columns (16 bytes each, row-major nibbles, `stride`
/// bytes apart) into their lanes of a run's four units. A row's bytes
/// become its 32 codes + 8 one a byte, columns j and 16 + j pair up into
/// byte j, and a 4 x 4 transpose of dwords sends dword p of each row to
/// unit p.
void fourRows(const uint8_t *in, int64_t stride, uint8_t *run) {
  const __m128i nibble = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(0x08);
  __m128i rows[4];
  for (int i = 0; i < 4; ++i) {
    __m128i v =
        _mm_loadu_si128(reinterpret_cast<const __m128i *>(in + i * stride));
    __m128i even = _mm_and_si128(v, nibble);
    __m128i odd = _mm_and_si128(_mm_srli_epi16(v, 4), nibble);
    __m128i first = _mm_unpacklo_epi8(even, odd);  // columns 0 .. 15
    __m128i second = _mm_unpackhi_epi8(even, odd); // columns 16 .. 31
    // Codes are below 16: a 16-bit shift moves nothing across bytes.
    rows[i] = _mm_or_si128(_mm_xor_si128(first, eight),
                           _mm_slli_epi16(_mm_xor_si128(second, eight), 4));
  }
  __m128i ab0 = _mm_unpacklo_epi32(rows[0], rows[1]);
  __m128i cd0 = _mm_unpacklo_epi32(rows[2], rows[3]);
  __m128i ab2 = _mm_unpackhi_epi32(rows[0], rows[1]);
  __m128i cd2 = _mm_unpackhi_epi32(rows[2], rows[3]);
  __m128i units[4] = {
      _mm_unpacklo_epi64(ab0, cd0), _mm_unpackhi_epi64(ab0, cd0),
      _mm_unpacklo_epi64(ab2, cd2), _mm_unpackhi_epi64(ab2, cd2)};
  for (int p = 0; p < 4; ++p)
    _mm_storeu_si128(reinterpret_cast<__m128i *>(run + 64 * p), units[p]);
}
#else
void fourRows(const uint8_t *in, int64_t stride, uint8_t *run) {
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < kColumns; ++j) {
      int v = (in[i * stride + j / 2] >> (4 * (j % 2))) & 0xF;
      uint8_t &out = run[runByte(i, j)];
      out = uint8_t((out & (0xF0 >> runShift(j))) |
                    (((v ^ 8) & 0xF) << runShift(j)));
    }
}
#endif

} // namespace

void interleaveBlocks(uint8_t *codes, uint16_t *scales, int64_t cols,
                      int64_t group, int64_t firstBlock, int64_t endBlock) {
  const int64_t blockBytes = cols * kRows / 2, groups = cols / group;
  const int64_t rowBytes = cols / 2, runBytes = kRows * kColumns / 2;
  std::vector<uint8_t> rowMajor(static_cast<size_t>(blockBytes));
  std::vector<uint16_t> rowScales(static_cast<size_t>(groups * kRows));
  for (int64_t b = firstBlock; b < endBlock; ++b) {
    uint8_t *block = codes + b * blockBytes;
    std::memcpy(rowMajor.data(), block, size_t(blockBytes));
    for (int64_t k = 0; k < cols / kColumns; ++k)
      for (int64_t i = 0; i < kRows; i += 4)
        fourRows(rowMajor.data() + i * rowBytes + k * kColumns / 2, rowBytes,
                 block + k * runBytes + 4 * i);
    uint16_t *blockScales = scales + b * groups * kRows;
    std::memcpy(rowScales.data(), blockScales, rowScales.size() * 2);
    for (int64_t i = 0; i < kRows; ++i)
      for (int64_t g = 0; g < groups; ++g)
        blockScales[g * kRows + i] = rowScales[size_t(i * groups + g)];
  }
}

} // namespace ane::runtime::interleaved
