//===- Plan.h - memory budget and roofline bounds on the ANE ----*- C++ -*-===//
//
// What `ane-exec plan` prints: for a compiled kernel set, a chip and a
// context length, the memory each weight-binding strategy needs and the
// decode/prefill rates the ANE cannot exceed. A bound is a roofline: a call
// costs the larger of its weight stream (bytes / bandwidth) and its
// arithmetic (flops / peak), plus a fixed dispatch per program call.
// docs/performance.md gives the sources of the chip figures.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_PLAN_H
#define ANE_LIB_RUNTIME_PLAN_H

#include "lib/Runtime/ModelImage.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ane::runtime {

struct ChipSpec {
  std::string name;                  // "m1", ..., "m4-max"
  double streamGBs = 0;              // ANE weight-stream bandwidth, GB/s
  double fp16Tflops = 0;             // ANE peak fp16 throughput
  double dispatchMs[2] = {0.1, 0.2}; // per program call, best and worst
  int64_t axisCap = 16384;           // longest tensor axis (65536 on M4)
  double compileMs = 11;             // one small program, compiled
  double loadMs = 1.7;               // and loaded
  double unloadMs = 0.5;
};

/// The chips `plan` knows, in order.
const std::vector<ChipSpec> &chips();
/// The chip called `name`, or an error that lists the known ones.
Result<ChipSpec> findChip(std::string_view name);

struct StrategyPlan {
  std::string strategy; // "blob", "input" or "baked"
  /// What limits the strategy for this model, or empty.
  std::string note;
  uint64_t weightBytes = 0;    // resident weights as the strategy holds them
  uint64_t embeddingBytes = 0; // the host's token-embedding table
  uint64_t kvCacheBytes = 0;   // fp16 K and V for every layer at ctx
  uint64_t scratchBytes = 0;   // every kernel's activation inputs/outputs
  uint64_t totalBytes = 0;
  int64_t headroomBytes = 0;        // machine memory minus total (may be < 0)
  uint64_t streamBytesPerToken = 0; // weights one decode step streams
  int64_t callsPerToken = 0;        // program calls per decode step
  int64_t programs = 0;             // compiled programs the strategy needs
  double decodeTokS[2] = {0, 0};    // with the best and worst dispatch
  double prefillTokS[2] = {0, 0};
  /// LoRA training on sequences of prefillSeq tokens: the forward chunk,
  /// then the backward kernels stream the weights again and do twice its
  /// FLOPs (input gradients and recomputed activations); adapter products
  /// at small rank are left out.
  double trainTokS[2] = {0, 0};
};

struct Plan {
  ChipSpec chip;
  int64_t ctx = 0;
  int64_t prefillSeq = 1; // the largest seq bucket
  uint64_t machineBytes = 0;
  uint64_t parameters = 0;              // weights the per-token kernels read
  double flopsPerToken = 0;             // 2 * parameters + attention at ctx
  int64_t trainCallsPerSequence = 0;    // forward and backward kernels
  std::vector<StrategyPlan> strategies; // blob, input, baked
};

/// The plan of `kernels` on `chip` with a KV cache of `ctx` positions on a
/// machine of `machineBytes`.
Result<Plan> planKernelSet(const abi::KernelSet &kernels, const ChipSpec &chip,
                           int64_t ctx, uint64_t machineBytes);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_PLAN_H
