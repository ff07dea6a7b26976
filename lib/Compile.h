//===- Compile.h - a model to a runtime kernel set --------------*- C++ -*-===//
//
// What `ane-exec compile` and `run` do before the runtime takes over: import
// a ModelSpec, run ane-compile once per shape bucket, export every kernel as
// MIL text, and describe the weight slots for the packer. The weights never
// enter the IR; packing them is the runtime's ModelPacker. The header is
// free of MLIR so that plain C++ tools (ane-exec) can include it.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_COMPILE_H
#define ANE_LIB_COMPILE_H

#include "lib/Abi/KernelSet.h"
#include "lib/Model/Model.h"
#include "lib/Support/Result.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ane {

struct KernelSetOptions {
  abi::Scheme scheme = abi::Scheme::F16;
  int64_t group = 0; // 0: the scheme's default
  abi::DType dtype = abi::DType::FP16;
  abi::WeightBinding weightBinding = abi::WeightBinding::Blob;
  bool fuse = true;
  std::vector<int64_t> seqBuckets = {1}; // must include 1 (decode)
  std::vector<int64_t> ctxBuckets = {256};
  /// An ANE family (m1-m4) to legalize and verify for; empty: none.
  std::string family;
  /// The backward kernels too (training).
  bool backward = false;
  /// Adapter inputs (lib/Abi/Kernels.h): rank 0 for none.
  int64_t loraRank = 0;
  std::vector<std::string> loraTargets;
  /// Lay the q4 slots out for the cpu backend's kernels (abi::useCpuLayout)
  /// instead of Core ML's row-major layout. Ignored with the input binding,
  /// the backward kernels or an ANE family, which read row-major blobs.
  bool cpuLayout = false;
};

/// The storage that keeps a model's own quantization: q4 for Q4 GGUFs, q8
/// for Q8/Q6, f16 otherwise. For Q4_0 and Q8_0 sources also their block of
/// 32 as the group and no norm folding (a folded norm rescales columns),
/// so that the packer carries their blocks over unchanged instead of
/// requantizing them.
KernelSetOptions sourceOptions(const model::ModelSpec &spec);

/// Compiles `spec` for every (seq, ctx) bucket pair. Diagnostics become the
/// error message.
Result<abi::KernelSet> compileKernelSet(const model::ModelSpec &spec,
                                        const KernelSetOptions &options);

} // namespace ane

#endif // ANE_LIB_COMPILE_H
