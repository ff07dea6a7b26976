//===- LoraAdapter.h - LoRA adapters in llama.cpp's GGUF form ---*- C++ -*-===//
//
// An adapter adds scale * B A to a base weight W [out, in] of a projection,
// with A [r, in], B [out, r] and scale = user scale * alpha / r. The file
// is llama.cpp's: general.type = "adapter", adapter.type = "lora",
// adapter.lora.alpha, general.architecture, and per adapted weight the
// tensors `<base name>.lora_a` (ggml ne [in, r]) and `.lora_b` (ne [r,
// out]), which are A and B row-major. Plain C++17, no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_MODEL_LORAADAPTER_H
#define ANE_LIB_MODEL_LORAADAPTER_H

#include "lib/Model/Model.h"
#include "lib/Support/Result.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ane::model {

/// The roles an adapter may change: the seven projections of a layer.
bool isAdaptable(Role role);

struct LoraPair {
  int layer = 0;
  Role role = Role::AttnQ;
  std::vector<float> a; // [r, in], row-major
  std::vector<float> b; // [out, r], row-major
};

struct LoraAdapter {
  std::string source; // the file it came from, for messages
  std::string architecture = "llama";
  int64_t rank = 0;
  float alpha = 0;
  std::vector<LoraPair> pairs;
  /// Optimizer steps of the run that wrote it (`training.step`); -1 when
  /// the file does not say.
  int64_t trainedSteps = -1;

  /// alpha / rank times the user's scale; the user's scale alone when
  /// alpha is 0, as llama.cpp reads such files.
  double scale(double userScale = 1.0) const {
    return alpha != 0 && rank > 0 ? userScale * alpha / double(rank)
                                  : userScale;
  }
  const LoraPair *find(Role role, int layer) const;
};

/// Reads an adapter for a base model of `config`: every tensor must be the
/// lora_a or lora_b of a projection of a layer the model has, in pairs,
/// with the base weight's in and out and one rank; F32 or F16 data. Errors
/// name the file and the tensor.
Result<LoraAdapter> readLoraAdapter(const std::string &path,
                                    const Config &config);

/// Writes `adapter` (F32 tensors) whole or not at all.
Status writeLoraAdapter(const std::string &path, const LoraAdapter &adapter);

/// Several adapters, each with its user scale, as one: A stacked by rows,
/// each scale x B side by side, so B A is the sum of their products. Its
/// alpha is 0: its scale is the user's (1).
LoraAdapter
combineAdapters(const std::vector<std::pair<LoraAdapter, double>> &adapters);

/// `spec` with scale x B A added to every adapted weight, read as f32 when
/// the packer asks for it (the rest unchanged).
ModelSpec mergeAdapter(const ModelSpec &spec, const LoraAdapter &adapter,
                       double userScale = 1.0);

} // namespace ane::model

#endif // ANE_LIB_MODEL_LORAADAPTER_H
