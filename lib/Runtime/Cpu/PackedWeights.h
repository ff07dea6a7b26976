//===- PackedWeights.h - conv weights read in place -------------*- C++ -*-===//
//
// Finds the conv weights of a MIL function that the fast matmul kernels can
// read straight from weight.bin: a BLOBFILE `const` of fp16/fp32, or a
// `constexpr_blockwise_shift_scale` (int4/int8 data, fp16 scales per block
// of a row) or a per-channel `constexpr_affine_dequantize` (int8, fp16
// scale, int8 zero point) or an iOS18 `constexpr_lut_to_dense` (uint4
// indices, an fp16 palette of 16 per group of a row) over BLOBFILE
// operands, used only as conv weights. Such a weight is never materialised.
// Nor is one tiled by anemil-legalize-ane: a packable weight used only by
// `slice_by_size` row ranges ([r0, 0, 0, 0] + [n, cols, 1, 1]) that are
// themselves used only as conv weights; each range is read in place.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_CPU_PACKEDWEIGHTS_H
#define ANE_LIB_RUNTIME_CPU_PACKEDWEIGHTS_H

#include "lib/MIL/Program.h"
#include "lib/MIL/WeightFile.h"
#include "lib/Runtime/Cpu/QuantMatMul.h"
#include "lib/Support/Result.h"

#include <map>
#include <set>
#include <string>

namespace ane::runtime {

/// Where one packable weight's bytes are, before a weight file is bound.
struct PackedWeightSource {
  PackedWeight::Format format = PackedWeight::Format::F32;
  int64_t rows = 0, cols = 0, group = 0;
  const mil::Value *data = nullptr;       // typed BLOBFILE values
  const mil::Value *scales = nullptr;     // (null for F16/F32)
  const mil::Value *zeroPoints = nullptr; // (Q8 per channel only)
  /// A row range of another value: its name, and the first row.
  std::string viewOf;
  int64_t rowOffset = 0;
};

/// The packable conv weights of `fn`, by value name.
std::map<std::string, PackedWeightSource>
findPackedWeights(const mil::Function &fn);

/// Resolves a source against the bound weight files, checking every blob's
/// type and size against the text. An int4 weight whose blobs are among
/// `interleaved` (metadata offsets) is read in the cpu backend's layout
/// (Q4Interleaved), whole 16-row blocks only.
Result<PackedWeight>
bindPackedWeight(const PackedWeightSource &source,
                 const std::map<std::string, mil::WeightReader> &files,
                 const std::set<uint64_t> &interleaved = {});

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_CPU_PACKEDWEIGHTS_H
