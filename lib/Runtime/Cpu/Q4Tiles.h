//===- Q4Tiles.h - int4 x int8 products, one file per ISA ------*- C++ -*-===//
//
// The int4 weight times int8 activation products behind prefill and
// batched decode, as register tiles of rows x tokens so that every weight
// chunk unpacked from memory meets several tokens. Q4Tiles.inc holds the
// kernels once; each Q4Tiles<Family>.cpp defines the vector operations of
// one instruction set and includes it, compiled with that set's flags.
// Those files therefore declare nothing inline that another file also
// defines (no std templates): the linker keeps one copy of an inline
// function, and an AVX-512 copy must never be the one a baseline caller
// gets.
//
// A token is laid out per chunk of 2 * vectorBytes columns: the codes of
// its even columns, then of its odd ones (a weight byte holds an even
// column in its low nibble and the next odd column in its high one), then
// per int32 lane (8 columns) -8 * sum(codes), which takes the +8 that
// turns a signed nibble into the unsigned operand of vpdpbusd back out,
// and the lane's activation scale.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_CPU_Q4TILES_H
#define ANE_LIB_RUNTIME_CPU_Q4TILES_H

#include <cstdint>

namespace ane::runtime::q4tiles {

/// One product y[rows, S] = W[rows, cols] x[cols, S].
struct Args {
  const uint8_t *weights = nullptr; // rows * cols / 2 bytes, LSB first
  const uint8_t *scales = nullptr;  // fp16, rows * (cols / group)
  int64_t rows = 0, cols = 0, group = 0, S = 0;
  const uint8_t *tokens = nullptr; // S laid-out tokens, tokenBytes apart
  int64_t tokenBytes = 0;
  float *y = nullptr; // [rows, S]
};

/// One instruction set's kernels.
struct Family {
  int vectorBytes;
  /// Lays out one token's int8 codes (cols of them, a multiple of 32) and
  /// per-`block` scales into `out` (tokenBytes(cols) bytes).
  void (*layout)(const int8_t *codes, const float *scales, int64_t block,
                 int64_t cols, uint8_t *out);
  /// Rows [begin, end) of the product against all S tokens.
  void (*rows)(const Args &args, int64_t begin, int64_t end);
};

/// Bytes of one laid-out token for a family of `vectorBytes`.
int64_t tokenBytes(int vectorBytes, int64_t cols);

/// Whether the kernels of a family of `vectorBytes` take this grouping:
/// groups of whole 32-column blocks that either hold whole chunks or
/// divide one.
bool covers(int vectorBytes, int64_t cols, int64_t group);

extern const Family kAvx512, kAvx512Vnni;

} // namespace ane::runtime::q4tiles

#endif // ANE_LIB_RUNTIME_CPU_Q4TILES_H
