//===- HfTokenizer.h - Hugging Face tokenizer.json --------------*- C++ -*-===//
//
// Reads a byte-level BPE tokenizer.json (Llama 3, Qwen2, GPT-2 style): the
// model's vocab and merges, added_tokens (special ones become control
// tokens, the others user-defined), the pre-tokenizer's Split regex, and
// from tokenizer_config.json beside it the BOS/EOS tokens and whether BOS
// is added. SentencePiece-style tokenizer.json files (Metaspace, byte
// fallback) are refused with a message: their GGUF or tokenizer.model
// carries the same vocabulary.
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
