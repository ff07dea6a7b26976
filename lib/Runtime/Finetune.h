//===- Finetune.h - LoRA fine-tuning on the engine --------------*- C++ -*-===//
//
// Trains an adapter on a token stream: each optimizer step averages the
// gradients of batch x grad-accum sequences (Engine::trainSequence), clips
// their global norm and applies AdamW (decoupled weight decay) to the fp32
// master A and B, with a linear warmup to the learning rate. The base
// weights stay frozen in whatever scheme they are stored. Which sequences a
// step reads depends only on the seed and the step number, so a run resumed
// from a checkpoint (adapter + optimizer state) follows the same loss curve
// as one that was never stopped. Plain C++17, no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_FINETUNE_H
#define ANE_LIB_RUNTIME_FINETUNE_H

#include "lib/Runtime/Engine.h"
#include "lib/Runtime/Lora.h"
#include "lib/Support/Result.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ane::runtime {

struct FinetuneOptions {
  int64_t steps = 100;
  int64_t batch = 1;     // sequences per micro-batch
  int64_t gradAccum = 1; // micro-batches per optimizer step
  double lr = 1e-3;
  int64_t warmup = 0; // steps of linear warmup
  double weightDecay = 0.01;
  double clip = 1.0; // global gradient norm; 0: none
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  uint64_t seed = 0;
};

/// What a checkpoint keeps besides the adapter: where the run is and the
/// AdamW moments (shaped like the adapter).
struct OptimizerState {
  int64_t step = 0; // optimizer steps done
  uint64_t seed = 0;
  LoraLayers m, v;
};

struct StepReport {
  int64_t step = 0;    // 1-based, after the update
  double loss = 0;     // mean over the step's sequences
  double gradNorm = 0; // before clipping
  double lr = 0;
  int64_t tokens = 0; // predicted tokens
  double seconds = 0;
};

class Finetuner {
public:
  /// `engine` must have `lora` set (Engine::setLora) and outlive this;
  /// `tokens` is the training text. `state` continues a checkpointed run.
  static Result<Finetuner> create(Engine &engine,
                                  std::shared_ptr<KernelLora> lora,
                                  std::vector<int32_t> tokens,
                                  const FinetuneOptions &options,
                                  OptimizerState state = {});

  /// One optimizer step.
  Result<StepReport> step();

  /// The mean loss over up to `windows` sequences spread evenly over the
  /// text, the same ones every time: how well the adapter fits the text.
  Result<double> textLoss(int64_t windows = 8);

  const KernelLora &lora() const { return *lora_; }
  const OptimizerState &state() const { return state_; }
  /// The learning rate at (1-based) step `step`.
  double learningRate(int64_t step) const;
  /// Where sequence `k` of step `step` starts in the text.
  int64_t sequenceStart(int64_t step, int64_t k) const;

private:
  Engine *engine = nullptr;
  std::shared_ptr<KernelLora> lora_;
  std::vector<int32_t> tokens;
  FinetuneOptions options;
  OptimizerState state_;
};

/// Checkpoints: the adapter (llama.cpp's LoRA GGUF) at `path` and the
/// optimizer state beside it (`path` + ".state"), each written whole.
Status writeCheckpoint(const std::string &path, const KernelLora &lora,
                       const OptimizerState &state, const abi::KernelSet &set);
/// Reads both back for `set`; the state's moments must match the adapter.
Result<std::pair<KernelLora, OptimizerState>>
readCheckpoint(const std::string &path, const abi::KernelSet &set);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_FINETUNE_H
