//===- Lora.h - adapters in the kernels' form -------------------*- C++ -*-===//
//
// A kernel set compiled with a LoRA rank takes each adapted projection's A
// and B as inputs (lib/Abi/Kernels.h): A^T [1, in, 1, r] and B^T [1, r, 1,
// out], B's columns in the order the slot stores the weight's rows
// (rotate-half per head for Q and K). This is that form for every layer,
// converted from and to the file form (model::LoraAdapter), and the
// AdamW state training keeps on it. Plain C++17, no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_LORA_H
#define ANE_LIB_RUNTIME_LORA_H

#include "lib/Abi/KernelSet.h"
#include "lib/Model/LoraAdapter.h"
#include "lib/Support/Result.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ane::runtime {

/// One adapted projection: A^T [in][r] and B^T [r][out], row-major.
struct LoraMatrices {
  int64_t in = 0, out = 0;
  std::vector<float> at, bt;
};

/// Per layer, by role name ("attn_q", ...).
using LoraLayers = std::vector<std::map<std::string, LoraMatrices>>;

struct KernelLora {
  int64_t rank = 0;  // the kernel set's: smaller adapters are zero-padded
  double scale = 1;  // B's factor: user scale x alpha / rank
  float alpha = 0;   // as the file states it
  LoraLayers layers; // every targeted role of every layer

  /// Elements of every A and B.
  int64_t parameterCount() const;
};

/// The [in, out] of a role's weight under `config`.
std::pair<int64_t, int64_t> loraDims(const model::Config &config,
                                     const std::string &role);

/// `adapter` for the kernels of `set`: refused when it adapts a role the set
/// was not compiled for or has a larger rank; roles it leaves out are
/// zeros.
Result<KernelLora> toKernelLora(const model::LoraAdapter &adapter,
                                double userScale, const abi::KernelSet &set);

/// The file form: A and B in the model's own row order.
model::LoraAdapter toLoraAdapter(const KernelLora &lora,
                                 const abi::KernelSet &set);

/// A new adapter to train: A uniform in +-1/sqrt(in), B zero (so training
/// starts at the base model), for every role and layer the set adapts.
KernelLora initialLora(const abi::KernelSet &set, float alpha, uint64_t seed);

/// Zeros shaped like `lora`, for gradients and optimizer moments.
LoraLayers zerosLike(const LoraLayers &lora);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_LORA_H
