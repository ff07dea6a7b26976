//===- Engine.h - a model's kernels run layer by layer ----------*- C++ -*-===//
//
// Runs the six forward kernels of one shape bucket for a whole model: the
// host looks up the token embedding, builds the RoPE tables and the causal
// mask, keeps each layer's K/V caches, and binds layer L's weight segment
// before running its kernels. This first engine decodes one token per step
// (the S=1 bucket) on the cpu backend.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_ENGINE_H
#define ANE_LIB_RUNTIME_ENGINE_H

#include "lib/MIL/Program.h"
#include "lib/Model/Model.h"
#include "lib/Runtime/Cpu/Executor.h"
#include "lib/Support/Result.h"

#include <map>
#include <string>
#include <vector>

namespace ane::runtime {

/// The forward kernels of a layer, in the order they run, and the head.
inline constexpr const char *kLayerKernels[] = {
    "attn_qkv", "attn_core", "attn_out", "ffn_up", "ffn_down"};
inline constexpr const char *kHeadKernel = "lm_head";

/// Everything the engine runs: the compiled kernels and packed weights.
struct CompiledModel {
  model::Config config;
  int64_t context = 0;                             // the KV cache bucket
  mil::DType dtype = mil::DType::FP16;             // the kernels' compute type
  std::map<std::string, mil::Program> kernels;     // by kernel name
  std::vector<std::vector<uint8_t>> layerSegments; // weight.bin per layer
  std::vector<uint8_t> globalSegment;
  std::vector<float> embedding; // [vocab, dim], looked up on the host
};

class Engine {
public:
  /// Binds every layer's segment to the kernels once (on the cpu backend,
  /// binding materialises the layer's constants, so this first engine holds
  /// every layer's weights; swapping them per layer is still to come).
  /// `model` must outlive the engine: executors read its segments.
  static Result<Engine> create(const CompiledModel &model);

  /// The logits of `token` at `pos`; positions come in order from 0.
  Result<std::vector<float>> decode(int32_t token, int64_t pos);

private:
  Result<std::vector<Tensor>> run(Executor &kernel,
                                  std::map<std::string, Tensor> inputs);

  const CompiledModel *model = nullptr;
  // executors[layer][kernel]; the lm_head one is bound to the global segment.
  std::vector<std::map<std::string, Executor>> layers;
  std::vector<Executor> head;
  std::vector<Tensor> keys, values; // [1, kvDim, 1, context] per layer
};

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_ENGINE_H
