//===- InterleavedTiles.h - int4 products on the cpu layout ----*- C++ -*-===//
//
// The int4 x int8 products over weights in the cpu backend's interleaved
// layout (lib/Runtime/Interleaved.h): per 32 columns, 8 dot-product
// instructions multiply a whole block of 16 rows by one token, whose four
// codes each instruction broadcasts; the int32 lanes become floats once per
// activation block. InterleavedTiles.inc holds the x86 kernels once; each
// InterleavedTiles<Family>.cpp defines one instruction set's vector
// operations, compiled with its flags (so, as Q4Tiles.h says, nothing
// inline is shared with other files); NeonDot.inc has the ARM64 ones.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_CPU_INTERLEAVEDTILES_H
#define ANE_LIB_RUNTIME_CPU_INTERLEAVEDTILES_H

#include <cstdint>
#include <cstring>

namespace ane::runtime::itiles {

/// One token's x, quantized to int8 per activation block.
struct Token {
  const int8_t *codes = nullptr;    // cols
  const int32_t *negSums = nullptr; // per block: -8 * sum(codes)
  const float *scales = nullptr;    // per block
};

/// One product y[rows, S] = W[rows, cols] x[cols, S].
struct Args {
  const uint8_t *weights = nullptr; // the interleaved codes
  const uint8_t *scales = nullptr;  // the interleaved fp16 scales
  int64_t rows = 0, cols = 0, group = 0;
  int64_t block = 32; // columns per activation scale: divides group
  int64_t S = 0;
  const Token *tokens = nullptr; // S of them
  float *y = nullptr;            // [rows, S]
};

/// Row blocks (16 rows each) [begin, end) against all S tokens.
using RowsFn = void (*)(const Args &args, int64_t begin, int64_t end);

extern const RowsFn kAvx2, kAvxVnni, kAvx512, kAvx512Vnni;

} // namespace ane::runtime::itiles

#endif // ANE_LIB_RUNTIME_CPU_INTERLEAVEDTILES_H
