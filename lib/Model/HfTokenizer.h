//===- HfTokenizer.h - Hugging Face tokenizer.json --------------*- C++ -*-===//
//
// Reads a BPE tokenizer.json: byte-level (Llama 3, Qwen2, GPT-2 style: the
// vocab, merges by rank, the pre-tokenizer's Split regex) or
// SentencePiece-style (Llama 2, Mistral, TinyLlama: "▁" for spaces, byte
// fallback; the merges' order becomes the merged pieces' scores, which is
// how the SentencePiece tokenizer picks merges). added_tokens become control
// tokens (special) or user-defined ones; tokenizer_config.json beside it
// gives the BOS/EOS tokens and whether BOS is added.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_MODEL_HFTOKENIZER_H
#define ANE_LIB_MODEL_HFTOKENIZER_H

#include "lib/Model/Model.h"

#include <string>

namespace ane::model {

/// `path` is tokenizer.json; tokenizer_config.json is read from the same
/// folder when it is there. Errors name the file and the JSON field.
Result<TokenizerData> readHfTokenizer(const std::string &path);

} // namespace ane::model

#endif // ANE_LIB_MODEL_HFTOKENIZER_H
