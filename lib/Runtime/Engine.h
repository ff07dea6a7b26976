//===- Engine.h - a model's kernels run layer by layer ----------*- C++ -*-===//
//
// Runs a ModelImage: the host looks up token embeddings, builds the RoPE
// tables and the causal mask, and keeps each layer's K/V caches; every layer
// runs through the same compiled kernels with its weight segment swapped in
// (DESIGN.md section 4). Prompts go through the prefill bucket in whole
// chunks and one token at a time after that; the KV caches live in the
// smallest context bucket that holds the sequence so far.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_ENGINE_H
#define ANE_LIB_RUNTIME_ENGINE_H

#include "lib/Runtime/Backend.h"
#include "lib/Runtime/Lora.h"
#include "lib/Runtime/ModelImage.h"
#include "lib/Support/Result.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace ane::runtime {

struct EngineStats {
  int64_t swaps = 0;       // layer weight bindings
  double swapSeconds = 0;  // spent binding them
  int64_t kernelCalls = 0; // program runs
  // Input binding: the bytes every weight takes as the kernels' inputs,
  // the layers converted to them and the time spent on it.
  uint64_t inputWeightBytes = 0;
  uint64_t inputStoredBytes = 0; // the same weights as the image stores them
  int64_t inputConversions = 0;
  double inputConversionSeconds = 0;
  bool inputWeightsResident = true; // converted once, not per use
  // A mapped image's weights read into huge pages, the time it took, and
  // why some stayed mapped from the file (empty: none did).
  uint64_t hugePageBytes = 0;
  double hugePageSeconds = 0;
  std::string hugePageNote;
  // Wall time in each kernel's program runs, by kernel name.
  std::map<std::string, double> kernelSeconds;
};

/// One sequence's keys and values: per layer a [1, kvDim, 1, columns]
/// tensor, in the smallest context bucket that holds the sequence so far.
/// The engine keeps one for forward(tokens, pos); a server keeps one per
/// slot (Engine::forward(cache, ...), decodeBatch).
class KvCache {
public:
  /// The context bucket it holds (0 before its first use).
  int64_t columns() const { return columns_; }
  /// The bytes its tensors hold.
  uint64_t bytes() const;
  /// Forgets the sequence and returns the memory.
  void clear();

private:
  friend class Engine;
  int64_t columns_ = 0;
  // Shared with attn_core's calls and written in place between them.
  std::vector<std::shared_ptr<Tensor>> keys, values;
};

class Engine {
public:
  /// Input binding keeps every layer's converted weights up to this many
  /// bytes; beyond, it converts a layer each time it runs.
  static constexpr uint64_t kResidentInputBytes = uint64_t(4) << 30;

  /// Checks the image against its kernel set and has `backend` (see
  /// createBackend) compile each kernel once per bucket. With `input` binding
  /// a layer's weights are converted to the kernels' input form when first
  /// used, and kept if every layer's fit in `residentInputBytes`.
  /// `image` must outlive the engine.
  static Result<Engine>
  create(const ModelImage &image, std::string_view backend = "cpu",
         const BackendOptions &options = {},
         uint64_t residentInputBytes = kResidentInputBytes);

  /// Runs `tokens` at positions pos, pos + 1, ... and returns the logits of
  /// the last one. Positions continue the sequence so far (or restart it
  /// at 0).
  Result<std::vector<float>> forward(const std::vector<int32_t> &tokens,
                                     int64_t pos);
  Result<std::vector<float>> decode(int32_t token, int64_t pos) {
    return forward({token}, pos);
  }
  /// The same on `cache`'s sequence instead of the engine's own.
  Result<std::vector<float>>
  forward(KvCache &cache, const std::vector<int32_t> &tokens, int64_t pos);
  /// forward without the logits: a prompt's part before its last chunk.
  Status fill(KvCache &cache, const std::vector<int32_t> &tokens, int64_t pos);
  /// forward on `cache`, returning the logits of every token, in order
  /// (perplexity, logits for other tools). The prefill chunks' columns go
  /// through lm_head in their own bucket where the kernel set has one.
  Result<std::vector<std::vector<float>>>
  forwardAll(KvCache &cache, const std::vector<int32_t> &tokens, int64_t pos);

  /// One decode step of several sequences, each `token` at `pos` of its own
  /// `cache`. The position-wise kernels (attn_qkv, attn_out, ffn_up,
  /// ffn_down, lm_head) take the steps as the columns of one call in the
  /// smallest seq bucket that holds them, so each layer's weights are read
  /// once for all of them; attention runs per sequence on its own cache.
  /// Returns each step's logits, in order.
  struct BatchStep {
    KvCache *cache = nullptr;
    int32_t token = 0;
    int64_t pos = 0;
  };
  Result<std::vector<std::vector<float>>>
  decodeBatch(const std::vector<BatchStep> &steps);

  /// The bytes of keys and values a sequence of `positions` holds (its
  /// context bucket), for admission control.
  uint64_t cacheBytes(int64_t positions) const;
  /// The context bucket that holds `positions` (0: none does).
  int64_t cacheColumnsFor(int64_t positions) const;

  /// The longest sequence the context buckets hold.
  int64_t maxContext() const { return ctxBuckets.back(); }
  /// The largest seq bucket (1 when there is no prefill bucket).
  int64_t prefillChunk() const { return seqBuckets.back(); }
  const EngineStats &stats() const { return stats_; }
  /// Where the kernels run.
  const Backend &backendInUse() const { return *backend; }
  /// Has every kernel add its op times to `profile`, and the engine its
  /// K/V cache writes, under "(engine)" (nullptr: stop).
  void profileInto(OpProfile *profile);

  // -- adapters and training (kernel sets compiled with a LoRA rank) --------

  /// The adapter every later call runs with (kept by the engine); without
  /// one the adapter inputs are zeros: the base model.
  Status setLora(std::shared_ptr<const KernelLora> lora);
  const KernelLora *lora() const { return lora_.get(); }

  /// One training sequence: the logits at tokens[0..n-1) predict
  /// tokens[1..n). Runs the forward kernels keeping what the backward ones
  /// read, the cross-entropy on the host, then the backward kernels layer
  /// by layer in reverse; returns the mean loss and adds the gradient of
  /// the adapter's A^T and (unscaled) B^T to `grads` (shaped like the
  /// adapter). Without `grads`, the loss alone: no backward kernel runs.
  /// Needs a seq bucket of n - 1 and the backward kernels.
  Result<double> trainSequence(const std::vector<int32_t> &tokens,
                               LoraLayers *grads);
  /// The sequence length trainSequence takes: the largest seq bucket + 1.
  int64_t trainLength() const { return seqBuckets.back() + 1; }

private:
  using Key = std::tuple<abi::Kernel, int64_t, int64_t>; // kernel, seq, ctx
  static constexpr int64_t kUnbound = -2; // -1 is the global segment
  struct LoadedKernel {
    const abi::KernelDesc *desc = nullptr;
    std::unique_ptr<BackendProgram> program;
    int64_t boundLayer = kUnbound; // whose weights it holds
  };

  Result<LoadedKernel *> kernel(abi::Kernel kernel, int64_t seq, int64_t ctx);
  /// Each weight-file kernel with the segments bindLayer will give it.
  std::vector<PlannedBinding> plannedBindings() const;
  /// Presents layer `layer`'s weights (-1: the global ones) to `k`.
  Status bindLayer(LoadedKernel &k, int64_t layer);
  /// Runs `k` on its activations, in the order of abi::kernelInputs, then
  /// the layer's weights when they travel as inputs.
  Result<std::vector<Tensor>> run(LoadedKernel &k, int64_t layer,
                                  std::vector<TensorRef> activations);
  using Named = std::map<std::string, TensorRef>;
  /// Runs `k` on layer `layer`'s weights (-1: the global ones), bound
  /// first if another layer's are, with its inputs by name (adapter inputs
  /// are the engine's); its outputs by name.
  Result<std::map<std::string, Tensor>> runNamed(LoadedKernel &k, int64_t layer,
                                                 const Named &inputs);
  /// The adapter input `name` of layer `layer`.
  Result<TensorRef> loraInput(int64_t layer, const std::string &name);
  /// What the backward kernels read of one layer's forward run.
  struct Saved {
    TensorRef x, q, mid, h; // layer input, attn_qkv's q, attn_out's, ffn_up's
  };
  using InputWeights = std::map<std::string, TensorRef>; // by role
  /// Input binding: layer `layer`'s weights (-1: the global ones) as the
  /// kernels take them.
  Result<const InputWeights *> inputWeightsOf(int64_t layer);
  /// Runs `tokens` from `pos` in whole chunks of the largest seq bucket
  /// that fits, then single tokens, handing `each` every chunk's last-layer
  /// output ([1, dim, 1, seq]) and its seq.
  Status runChunks(KvCache &cache, const std::vector<int32_t> &tokens,
                   int64_t pos,
                   const std::function<Status(Tensor &x, int64_t seq)> &each);
  Result<Tensor> runChunk(KvCache &cache, const std::vector<int32_t> &tokens,
                          size_t first, int64_t seq, int64_t pos,
                          std::vector<Saved> *saved = nullptr);
  /// decodeBatch for at most the largest seq bucket of steps.
  Status decodeColumns(const BatchStep *steps, int64_t n,
                       std::vector<std::vector<float>> &logits);
  /// The logits of each column of the last layer's output `x` (of `seq`
  /// columns, the first `n` used), by lm_head in seq bucket `seq`.
  Status headLogits(const Tensor &x, int64_t seq, int64_t n,
                    std::vector<std::vector<float>> &logits);
  Status checkTokens(const std::vector<int32_t> &tokens) const;
  /// Runs the kernel `which` of a layer, naming both in errors.
  Result<std::vector<Tensor>> runLayerKernel(LoadedKernel &k, int64_t layer,
                                             std::vector<TensorRef> in);
  Status growCaches(KvCache &cache, int64_t needed);

  const ModelImage *image = nullptr;
  std::unique_ptr<Backend> backend;
  std::vector<int64_t> seqBuckets, ctxBuckets;
  std::map<Key, LoadedKernel> kernels;
  // With input binding, by layer (-1: global); all of them, or the last
  // used when they do not all fit (stats_.inputWeightsResident).
  std::map<int64_t, InputWeights> inputWeights;
  // The slots a kernel reads, which input binding converts.
  std::vector<abi::SlotSpec> inputLayerSlots, inputGlobalSlots;
  KvCache ownCache; // forward(tokens, pos)'s and training's
  std::shared_ptr<const KernelLora> lora_;
  // Adapter inputs by layer and name, in the compute type (B^T scaled).
  std::vector<std::map<std::string, TensorRef>> loraInputs;
  EngineStats stats_;
  OpProfile *profile_ = nullptr; // also takes the engine's own K/V writes
};

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_ENGINE_H
