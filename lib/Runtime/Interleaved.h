//===- Interleaved.h - the cpu backend's int4 weight layout ----*- C++ -*-===//
//
// A .anepak packed for the cpu backend holds its int4 matrices (q4 slots
// of 16-row blocks and 32-column groups) in this layout instead of Core
// ML's row-major one (abi::SlotLayout::Interleaved16):
//
//   codes: per block of 16 rows, per 32 columns, 256 bytes: four 64-byte
//          units; unit p holds row i's columns 4p .. 4p+3 at bytes 4i ..
//          4i+3, low nibbles, and its columns 16+4p .. 16+4p+3 in the high
//          nibbles of the same bytes, each code + 8 (0 .. 15).
//   scales: per block of 16 rows, per group, the 16 rows' fp16 scales.
//
// A 32-bit lane then holds four consecutive columns of one row, so one
// vpdpbusd (sdot) multiplies 16 (4) rows by four columns of one token
// broadcast to every lane, and a row block streams from one run of memory.
// Plain C++: the packer writes it, the kernels and their oracle read it.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_INTERLEAVED_H
#define ANE_LIB_RUNTIME_INTERLEAVED_H

#include <cstdint>

namespace ane::runtime::interleaved {

/// Rows per block, and columns per 256-byte run of a block.
constexpr int64_t kRows = 16;
constexpr int64_t kColumns = 32;

/// Whether an int4 [rows, cols] matrix in groups of `group` can take the
/// layout: whole blocks of rows, groups of whole 32-column runs.
bool fits(int64_t rows, int64_t cols, int64_t group);

/// The stored code of (r, c): the int4 value + 8.
int codeAt(const uint8_t *codes, int64_t cols, int64_t r, int64_t c);
/// The index of row r's scale of group g among the fp16 scales.
int64_t scaleIndex(int64_t cols, int64_t group, int64_t r, int64_t g);

/// Rewrites row blocks [firstBlock, endBlock) of a row-major int4 matrix
/// (two's complement nibbles, the first column of a byte in its low one)
/// and of its row-major fp16 scales into the layout, in place: a block
/// occupies the same bytes in both.
void interleaveBlocks(uint8_t *codes, uint16_t *scales, int64_t cols,
                      int64_t group, int64_t firstBlock, int64_t endBlock);

} // namespace ane::runtime::interleaved

#endif // ANE_LIB_RUNTIME_INTERLEAVED_H
