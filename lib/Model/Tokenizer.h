//===- Tokenizer.h - SentencePiece-style BPE --------------------*- C++ -*-===//
//
// The LLaMA 1/2 tokenizer as llama2.c runs it: a leading space is added,
// text is split into UTF-8 characters (bytes missing from the vocabulary
// fall back to <0xNN> tokens), then the adjacent pair whose merge has the
// highest score is merged until no merge exists. GGUF vocabularies spell
// spaces as U+2581; they are read as spaces.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_MODEL_TOKENIZER_H
#define ANE_LIB_MODEL_TOKENIZER_H

#include "lib/Model/Model.h"

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ane::model {

class Tokenizer {
public:
  static Result<Tokenizer> create(const TokenizerData &data);

  std::vector<int32_t> encode(std::string_view text, bool bos, bool eos) const;
  /// The text of `token` following `prev`, as llama2.c prints it: a space
  /// right after BOS is dropped and <0xNN> tokens become their byte.
  std::string decode(int32_t prev, int32_t token) const;
  /// Decodes a whole sequence (BOS/EOS produce no text).
  std::string decode(const std::vector<int32_t> &ids) const;

  /// The id of the token spelled `piece` exactly (e.g. "<|im_end|>").
  std::optional<int32_t> tokenOf(std::string_view piece) const {
    int32_t id = lookup(piece);
    return id < 0 ? std::nullopt : std::optional<int32_t>(id);
  }
  int32_t bos() const { return bos_; }
  int32_t eos() const { return eos_; }
  int64_t size() const { return static_cast<int64_t>(pieces.size()); }
  const std::string &piece(int32_t id) const { return pieces[id]; }

private:
  int32_t lookup(std::string_view s) const;
  /// Merges adjacent tokens by score, as llama2.c does, in O(n log n).
  void mergePairs(std::vector<int32_t> &tokens) const;

  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::unordered_map<std::string, int32_t> ids;
  int32_t byteTokens[256];
  int32_t bos_ = 1, eos_ = 2;
};

} // namespace ane::model

#endif // ANE_LIB_MODEL_TOKENIZER_H
