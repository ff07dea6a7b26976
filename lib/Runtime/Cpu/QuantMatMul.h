//===- QuantMatMul.h - conv/matmul straight from packed weights -*- C++ -*-===//
//
// The projections of every kernel are 1x1 convs whose weight is a BLOBFILE
// constant, often behind a constexpr dequantization. These kernels read the
// blob bytes in place (fp32, fp16, int8 + scale, int4 + scale) and never
// build the dequantized weight, which is what makes decode memory-bound
// instead of dequantization-bound. A scalar version of every kernel is the
// oracle the vector ones are tested against.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_CPU_QUANTMATMUL_H
#define ANE_LIB_RUNTIME_CPU_QUANTMATMUL_H

#include "lib/Runtime/HalfFloat.h"
#include "lib/Runtime/ThreadPool.h"

#include <cstdint>
#include <vector>

namespace ane::runtime {

/// A [rows, cols] weight as weight.bin stores it.
struct PackedWeight {
  /// Lut4: 4-bit indices into a palette of 16 fp16 values per group.
  /// Q4Interleaved: int4 codes and fp16 scales in the cpu backend's layout
  /// (lib/Runtime/Interleaved.h), rows in blocks of 16.
  enum class Format { F32, F16, Q8, Q4, Lut4, Q4Interleaved };
  Format format = Format::F32;
  int64_t rows = 0, cols = 0;
  int64_t group = 0;             // columns per scale or palette
  const uint8_t *data = nullptr; // values, int8 codes or LSB-first nibbles
  /// fp16 per group, rows * (cols / group) of them: a scale (Q8, Q4) or
  /// 16 palette entries (Lut4).
  const uint8_t *scales = nullptr;
  const uint8_t *zeroPoints = nullptr; // int8 per row (Q8) or null

  /// Element (r, c) as the kernels use it: scale * (code - zero point), or
  /// the palette entry the index picks.
  float at(int64_t r, int64_t c) const;
  /// The int4 code of (r, c), -8 .. 7 (Q4 and Q4Interleaved).
  int int4At(int64_t r, int64_t c) const;
  /// Row r's scale of group g (Q8, Q4 and Q4Interleaved).
  float scaleAt(int64_t r, int64_t g) const;
};

/// y[r * S + s] = sum_c W[r, c] * x[c * S + s] over rows [begin, end): the
/// [1, C, 1, S] layout of the kernels. Double accumulation, no vectors.
void matmulScalar(const PackedWeight &w, const float *x, int64_t S, float *y,
                  int64_t begin, int64_t end);

/// x quantized to int8 per block of `block` values: codes and one scale
/// per block (max |x| / 127), as the int4 x int8 dot products read them.
struct QuantizedActivations {
  int64_t block = 32;
  std::vector<int8_t> codes;
  std::vector<float> scales;
};
QuantizedActivations quantizeActivations(const float *x, int64_t n,
                                         int64_t block);

/// The activation block the int4 kernels use for a weight group (a
/// multiple of 32): 128, 64 or 32, the largest that divides it. Larger
/// blocks let the products of several chunks add up before one float
/// multiply; 128 matches the default group.
int64_t activationBlock(int64_t group);

/// One int4 row (Q4 or Q4Interleaved) against int8 activations, in plain
/// C++: the oracle of the vector versions (cols and the group are
/// multiples of x.block).
float dotQ4Q8Scalar(const PackedWeight &w, int64_t r,
                    const QuantizedActivations &x);

/// One int8 row (with its zero point) against int8 activations: the oracle
/// of the vector version (the group is a multiple of x.block).
float dotQ8Q8Scalar(const PackedWeight &w, int64_t r,
                    const QuantizedActivations &x);

/// The same product on `pool`, on the kernel family kernelIsa() selects
/// (CpuIsa.h): AVX2 + FMA + F16C, and for int4 weights against several
/// tokens the AVX-512 register tiles of Q4Tiles.h. Float accumulation: it
/// differs from matmulScalar by rounding, and for int4 and int8 weights in
/// groups of whole 32-blocks by quantizing each token's x to int8 per
/// activationBlock(group) (about 0.4% per element), which lets the dot products
/// run on 8-bit multiplies: dotQ4Q8Scalar and dotQ8Q8Scalar are their oracles.
void matmul(const PackedWeight &w, const float *x, int64_t S, float *y,
            ThreadPool &pool);

/// out[m, n] = x[m, k] * y[k, n] (y[n, k] with transposeY) for float
/// matrices, float accumulation: the attention products over the KV cache.
void matmulFloat(const float *x, const float *y, float *out, int64_t m,
                 int64_t k, int64_t n, bool transposeY);

/// matmulFloat with y held as fp16 bits: the attention over an fp16 K/V
/// cache, which reads half the bytes.
void matmulHalfY(const float *x, const uint16_t *y, float *out, int64_t m,
                 int64_t k, int64_t n, bool transposeY);

/// Rows [rowBegin, rowEnd) of out[m, n] = x^T y for x [k, m], y [k, n]:
/// the backward kernels' W^T g, with W as it is stored.
void matmulFloatTx(const float *x, const float *y, float *out, int64_t m,
                   int64_t k, int64_t n, int64_t rowBegin, int64_t rowEnd);

/// Whether matmul uses vector kernels (AVX2 or better) on this CPU.
/// Whether the selected family is an x86 one (AVX2 and up).
bool matmulHasAvx2();
/// Whether matmul quantizes x to int8 per block for `w` with the selected
/// family (int4 and int8 weights in groups of whole 32s on a vector
/// family): the scalar dot products dotQ4Q8Scalar/dotQ8Q8Scalar are then
/// its oracle.
bool matmulQuantizesActivations(const PackedWeight &w);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_CPU_QUANTMATMUL_H
