//===- Reference.h - plain fp32 Llama forward pass --------------*- C++ -*-===//
//
// The ground truth the compiled kernels are measured against: llama2.c's
// forward pass in fp32 over a ModelSpec's tensors, one token at a time with
// a KV cache. Straightforward loops on purpose; speed is not its job.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_REFERENCE_H
#define ANE_LIB_RUNTIME_REFERENCE_H

#include "lib/Model/Model.h"
#include "lib/Support/Result.h"

#include <string>
#include <vector>

namespace ane::runtime {

class ReferenceModel {
public:
  /// Dequantizes every tensor to fp32 (a small model's worth of memory),
  /// or with `streaming` only the embedding and the head, reading each
  /// layer's weights again on every step (a 7B model in about 2 GB; `spec`
  /// must then outlive the model). `context` sizes the KV cache; 0 means
  /// the model's own max_seq_len (which a GGUF may set below what its RoPE
  /// handles).
  static Result<ReferenceModel> load(const model::ModelSpec &spec,
                                     int64_t context = 0,
                                     bool streaming = false);

  /// The logits of `token` at position `pos`; positions must come in order
  /// from 0, as the KV cache is filled one position per call.
  Result<std::vector<float>> forward(int32_t token, int64_t pos);

  const model::Config &config() const { return config_; }

private:
  struct Layer {
    std::vector<float> attnNorm, wq, wk, wv, wo, ffnNorm, gate, up, down;
    std::vector<float> bq, bk, bv;   // empty without Config::qkvBias
    std::vector<float> keys, values; // [context, kvDim]
  };

  Status loadWeights(int layer, Layer &into) const;

  model::Config config_;
  const model::ModelSpec *spec = nullptr;
  bool streaming = false;
  Layer scratch; // the current layer's weights when streaming
  int64_t context = 0;
  std::vector<float> embedding, outputNorm, output;
  std::vector<Layer> layers;
};

/// The index of the largest logit (the greedy token).
int32_t argmax(const std::vector<float> &logits);

/// max |got - want| relative to max |want|: how the compiled logits are
/// compared with the reference's. Infinite when the sizes differ.
double relativeError(const std::vector<float> &got,
                     const std::vector<float> &want);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_REFERENCE_H
