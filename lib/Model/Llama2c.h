//===- Llama2c.h - llama2.c checkpoints and tokenizer.bin -------*- C++ -*-===//
//
// A checkpoint is 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
// vocab_size, seq_len; a negative vocab_size means the classifier is stored
// separately) followed by fp32 weights: token embedding, attention norms, wq,
// wk, wv, wo, ffn norms, w1 (gate), w2 (down), w3 (up), final norm, the
// obsolete RoPE tables, and the classifier when it is not shared.
// tokenizer.bin is an int32 max token length, then per token a float score,
// an int32 length and the bytes.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_MODEL_LLAMA2C_H
#define ANE_LIB_MODEL_LLAMA2C_H

#include "lib/Model/Model.h"

namespace ane::model {

Result<ModelSpec> modelFromLlama2c(std::shared_ptr<MappedFile> file);

/// Reads a llama2.c tokenizer.bin: every entry up to the end of the file.
Result<TokenizerData> readLlama2cTokenizer(const std::string &path);

} // namespace ane::model

#endif // ANE_LIB_MODEL_LLAMA2C_H
