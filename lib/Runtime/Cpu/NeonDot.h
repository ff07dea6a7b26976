//===- NeonDot.h - int4/int8 x int8 products on ARM64 -----------*- C++ -*-===//
//
// The quantized products of matmul on ARM64 (the CPU of every Mac this
// project targets): each token's x quantized to int8 per block, as on x86,
// then per 32 columns an integer dot product (several tokens in tiles of 2
// rows x 4 tokens, each weight block unpacked once), by sdot where the CPU has
// ARMv8.2's dotprod (NeonDot.inc compiled twice: NeonDotBase.cpp and
// NeonDotSdot.cpp, the latter with +dotprod). Plain data in and out: the
// files are compiled with different flags, so nothing inline is shared
// (see Q4Tiles.h).
//
// Never run on ARM hardware here: the CI runs them under qemu-aarch64
// against the scalar oracle (build.sh arm64_tests).
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_CPU_NEONDOT_H
#define ANE_LIB_RUNTIME_CPU_NEONDOT_H

#include "lib/Runtime/Cpu/InterleavedTiles.h"

#include <cstdint>

namespace ane::runtime::neon {

/// y[r * S + s] for rows [begin, end) of W[rows, cols] times S tokens.
struct Args {
  const uint8_t *weights = nullptr;    // int4 LSB first, or int8
  const uint8_t *scales = nullptr;     // fp16, rows * (cols / group)
  const uint8_t *zeroPoints = nullptr; // int8 per row (int8 weights) or null
  bool int4 = true;
  int64_t rows = 0, cols = 0, group = 0; // group: a multiple of 32
  int64_t S = 0;
  const int8_t *const *codes = nullptr;      // per token, cols int8 codes
  const float *const *blockScales = nullptr; // per token, per `block`
  int64_t block = 32; // columns per activation scale, a multiple of 32
  float *y = nullptr;
};

using RowsFn = void (*)(const Args &args, int64_t begin, int64_t end);

extern const RowsFn kRowsBase; // smull + sadalp
extern const RowsFn kRowsSdot; // sdot: only on CPUs with dotprod

/// The int4 products over the cpu layout (InterleavedNeon.inc).
extern const itiles::RowsFn kInterleavedBase, kInterleavedSdot;

} // namespace ane::runtime::neon

#endif // ANE_LIB_RUNTIME_CPU_NEONDOT_H
