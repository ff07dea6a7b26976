//===- Interleaved.cpp - the cpu backend's int4 weight layout -------------===//

#include "lib/Runtime/Interleaved.h"

#include <cstring>
#include <vector>

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

void interleaveBlocks(uint8_t *codes, uint16_t *scales, int64_t cols,
                      int64_t group, int64_t firstBlock, int64_t endBlock) {
  const int64_t blockBytes = cols * kRows / 2, groups = cols / group;
  std::vector<uint8_t> rowMajor(static_cast<size_t>(blockBytes));
  std::vector<uint16_t> rowScales(static_cast<size_t>(groups * kRows));
  for (int64_t b = firstBlock; b < endBlock; ++b) {
    uint8_t *block = codes + b * blockBytes;
    std::memcpy(rowMajor.data(), block, size_t(blockBytes));
    for (int64_t k = 0; k < cols / kColumns; ++k) {
      uint8_t *run = block + k * (kRows * kColumns / 2);
      std::memset(run, 0, kRows * kColumns / 2);
      for (int64_t i = 0; i < kRows; ++i)
        for (int64_t j = 0; j < kColumns; ++j) {
          int64_t c = k * kColumns + j;
          int v = (rowMajor[size_t((i * cols + c) / 2)] >> (4 * (c % 2))) & 0xF;
          run[runByte(i, j)] |= uint8_t(((v ^ 8) & 0xF) << runShift(j));
        }
    }
    uint16_t *blockScales = scales + b * groups * kRows;
    std::memcpy(rowScales.data(), blockScales, rowScales.size() * 2);
    for (int64_t i = 0; i < kRows; ++i)
      for (int64_t g = 0; g < groups; ++g)
        blockScales[g * kRows + i] = rowScales[size_t(i * groups + g)];
  }
}

} // namespace ane::runtime::interleaved
