//===- Tokenizer.h - SentencePiece-style and byte-level BPE -----*- C++ -*-===//
//
// Two vocabularies. SentencePiece (GGUF's "llama"), the LLaMA 1/2 tokenizer
// as llama2.c runs it: a leading space is added, text is split into UTF-8
// characters (bytes missing from the vocabulary fall back to <0xNN>
// tokens), then the adjacent pair whose merge has the highest score is
// merged until no merge exists; GGUF vocabularies spell spaces as U+2581,
// read as spaces. Byte-level BPE (GGUF's "gpt2": Llama 3, Qwen2, GPT-2):
// a regex pre-tokenizer cuts the text, each piece's bytes become GPT-2's
// stand-in characters and are merged by rank (lib/Model/BytePairEncoding).
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_MODEL_TOKENIZER_H
#define ANE_LIB_MODEL_TOKENIZER_H

#include "lib/Model/BytePairEncoding.h"
#include "lib/Model/Model.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ane::model {

class Tokenizer {
public:
  static Result<Tokenizer> create(const TokenizerData &data);

  /// The ids of `text`: BOS first when `bos` and the vocabulary adds one
  /// (tokenizer.ggml.add_bos_token), EOS last when `eos` (or when `bos`
  /// and it adds one). With `special`, control and user-defined tokens
  /// spelled in the text ("<|eot_id|>", "<s>") are those tokens; without,
  /// they are plain text.
  std::vector<int32_t> encode(std::string_view text, bool bos, bool eos,
                              bool special = false) const;
  /// The text of `token` following `prev`, as llama2.c prints it: a space
  /// right after BOS is dropped and <0xNN> tokens become their byte. A
  /// byte-level token gives its bytes (maybe part of a UTF-8 character); a
  /// control token gives none.
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
  /// EOS, or another token that ends a turn (EOT, <|im_end|>, ...).
  bool endsGeneration(int32_t id) const;
  bool isBytePair() const { return bpe_ != nullptr; }
  int64_t size() const { return static_cast<int64_t>(pieces.size()); }
  const std::string &piece(int32_t id) const { return pieces[id]; }

private:
  int32_t lookup(std::string_view s) const;
  /// Merges adjacent tokens by score, as llama2.c does, in O(n log n).
  void mergePairs(std::vector<int32_t> &tokens) const;
  void encodeSentencePiece(std::string_view text,
                           std::vector<int32_t> &out) const;
  void encodeBytePair(std::string_view text, std::vector<int32_t> &out) const;
  /// `text` cut into plain text and the special tokens spelled in it.
  void forEachFragment(std::string_view text,
                       const std::function<void(std::string_view text,
                                                int32_t special)> &f) const;
  int32_t typeOf(int32_t id) const {
    return size_t(id) < types.size() ? types[id] : kTokenNormal;
  }

  /// What byte-level BPE needs beyond the vocabulary; shared by copies.
  struct BytePair {
    bpe::MergeRanks ranks;
    bpe::PreTokenizer pre;
    bool ignoreMerges = false;
  };
  std::shared_ptr<const BytePair> bpe_; // null: SentencePiece
  std::vector<int32_t> types;
  std::vector<int32_t> endOfGeneration;
  // Control and user-defined tokens by text, longest first.
  std::vector<std::pair<std::string, int32_t>> specials;
  bool addBos_ = true, addEos_ = false;

  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::unordered_map<std::string, int32_t> ids;
  int32_t byteTokens[256];
  int32_t bos_ = 1, eos_ = 2;
};

} // namespace ane::model

#endif // ANE_LIB_MODEL_TOKENIZER_H
