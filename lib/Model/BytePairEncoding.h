//===- BytePairEncoding.h - byte-level BPE (GPT-2, Llama 3, Qwen2) -*- C++ -*-//
//
// The pieces of byte-level BPE that do not depend on a vocabulary: GPT-2's
// printable stand-in character for each byte, the regex pre-tokenizers that
// GGUF names in tokenizer.ggml.pre (or tokenizer.json spells out), and the
// merge loop over one pre-token by merge rank.
//
// The regexes use \p{L} and \p{N}, which std::regex lacks, so they run on
// PCRE2 (Debian's libpcre2-dev) in UTF mode with Unicode properties.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_MODEL_BYTEPAIRENCODING_H
#define ANE_LIB_MODEL_BYTEPAIRENCODING_H

#include "lib/Support/Result.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ane::model::bpe {

/// The length of the UTF-8 character at s[i] (1 for a broken one).
size_t utf8CharLength(std::string_view s, size_t i);

/// Each byte written as its stand-in character (UTF-8): "Hi there" ->
/// "HiĠthere".
std::string toByteLevel(std::string_view bytes);
/// The bytes behind stand-in characters; other characters pass through.
std::string fromByteLevel(std::string_view text);

/// The regexes of a pre-tokenizer by its GGUF name (llama3, llama-bpe,
/// smaug-bpe, dbrx, qwen2, gpt-2, default); an error names unknown ones.
Result<std::vector<std::string>> preTokenizerPatterns(std::string_view pre);

/// Splits text into pre-tokens with one or more regexes, each applied to
/// the pieces the previous one left: matches and the gaps between them
/// both become pieces.
class PreTokenizer {
public:
  static Result<PreTokenizer> create(const std::vector<std::string> &patterns);
  /// Text that is not valid UTF-8 is split by bytes where it breaks.
  std::vector<std::string> split(std::string_view text) const;

private:
  struct Compiled;
  std::vector<std::shared_ptr<const Compiled>> regexes;
};

/// The merge rank of each pair, keyed "left right" as GGUF's
/// tokenizer.ggml.merges and tokenizer.json spell them.
using MergeRanks = std::unordered_map<std::string, int32_t>;

/// BPE of one byte-level pre-token: its characters merged, lowest rank
/// first (the leftmost of equal ones), until no adjacent pair has a rank.
/// Returns the merged symbols.
std::vector<std::string> mergeWord(std::string_view word,
                                   const MergeRanks &ranks);

} // namespace ane::model::bpe

#endif // ANE_LIB_MODEL_BYTEPAIRENCODING_H
