//===- Synthetic.h - deterministic random models of any size ----*- C++ -*-===//
//
// `synthetic:NAME[?key=value&...]`: a Llama-shaped model whose weights come
// from a seed, generated tensor by tensor when read, so a 7B model needs no
// file and no 26 GB of memory. Presets: tiny, 7b (Llama-2-7B), 13b,
// llama3-8b. Keys: layers, seed, ctx, vocab, hidden, qkv_bias=1 (Qwen2's
// q/k/v biases).
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_MODEL_SYNTHETIC_H
#define ANE_LIB_MODEL_SYNTHETIC_H

#include "lib/Model/Model.h"

namespace ane::model {

/// `spec` is what follows "synthetic:".
Result<ModelSpec> syntheticModel(const std::string &spec);

/// A byte-fallback vocabulary of `size` tokens for synthetic models.
TokenizerData syntheticTokenizer(int64_t size);

} // namespace ane::model

#endif // ANE_LIB_MODEL_SYNTHETIC_H
