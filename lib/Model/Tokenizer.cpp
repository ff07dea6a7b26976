//===- Tokenizer.cpp - SentencePiece-style and byte-level BPE -------------===//

#include "lib/Model/Tokenizer.h"

#include "lib/Model/PairMerge.h"

#include <algorithm>
#include <queue>

#include <fmt/format.h>

namespace ane::model {
namespace {

/// SentencePiece's visible space, U+2581, in UTF-8.
constexpr std::string_view kSpaceMark = "\xE2\x96\x81";

std::string unmarkSpaces(const std::string &s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, kSpaceMark.size(), kSpaceMark) == 0) {
      out += ' ';
      i += kSpaceMark.size();
    } else {
      out += s[i++];
    }
  }
  return out;
}

/// The byte a piece such as "<0x0A>" stands for, if it is one.
std::optional<uint8_t> byteOf(const std::string &piece) {
  if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>')
    return std::nullopt;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    return -1;
  };
  int hi = hex(piece[3]), lo = hex(piece[4]);
  if (hi < 0 || lo < 0)
    return std::nullopt;
  return static_cast<uint8_t>(hi * 16 + lo);
}

} // namespace

Result<Tokenizer> Tokenizer::create(const TokenizerData &data) {
  bool bytePair = data.model == "gpt2";
  if (data.model != "llama" && !bytePair)
    return Result<Tokenizer>::error(fmt::format(
        "tokenizer model '{}' is not supported (llama and gpt2 are)",
        data.model));
  if (data.tokens.empty() ||
      (!bytePair && data.scores.size() != data.tokens.size()))
    return Result<Tokenizer>::error("the tokenizer needs tokens and scores");
  int64_t n = static_cast<int64_t>(data.tokens.size());
  if (data.bos < 0 || data.bos >= n || data.eos < 0 || data.eos >= n)
    return Result<Tokenizer>::error("BOS or EOS id is out of range");
  if (!data.types.empty() && int64_t(data.types.size()) != n)
    return Result<Tokenizer>::error("the token types do not match the tokens");
  Tokenizer t;
  t.bos_ = data.bos;
  t.eos_ = data.eos;
  t.addBos_ = data.addBos;
  t.addEos_ = data.addEos;
  t.types = data.types;
  for (int32_t id : data.endOfGeneration)
    if (id >= 0 && id < n)
      t.endOfGeneration.push_back(id);
  t.scores = data.scores;
  if (bytePair) {
    auto b = std::make_shared<BytePair>();
    auto patterns = data.prePatterns.empty()
                        ? bpe::preTokenizerPatterns(data.pre)
                        : Result<std::vector<std::string>>(data.prePatterns);
    if (!patterns.ok())
      return patterns.status();
    auto pre = bpe::PreTokenizer::create(*patterns);
    if (!pre.ok())
      return pre.status();
    b->pre = std::move(*pre);
    b->ignoreMerges = data.ignoreMerges;
    for (size_t r = 0; r < data.merges.size(); ++r)
      b->ranks.emplace(data.merges[r], int32_t(r));
    t.bpe_ = std::move(b);
  }
  for (int i = 0; i < 256; ++i)
    t.byteTokens[i] = -1;
  for (int32_t id = 0; id < n; ++id) {
    int32_t type = t.typeOf(id);
    if ((type == kTokenControl || type == kTokenUserDefined) &&
        !data.tokens[id].empty())
      t.specials.push_back({data.tokens[id], id});
    if (bytePair) {
      t.ids.emplace(data.tokens[id], id);
      t.pieces.push_back(data.tokens[id]);
      continue;
    }
    std::string piece = unmarkSpaces(data.tokens[id]);
    // Keep the first id of a duplicated piece, as a sorted lookup would
    // find some match; the vocabularies we read have none.
    t.ids.emplace(piece, id);
    if (auto b = byteOf(piece); b && t.byteTokens[*b] < 0)
      t.byteTokens[*b] = id;
    t.pieces.push_back(std::move(piece));
  }
  // Turn ends the files may not name (llama.cpp looks for them too).
  for (const char *name : {"<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>",
                           "<end_of_turn>", "<|endoftext|>"})
    if (auto it = t.ids.find(name); it != t.ids.end() &&
                                    t.typeOf(it->second) != kTokenNormal &&
                                    !t.endsGeneration(it->second))
      t.endOfGeneration.push_back(it->second);
  std::sort(t.specials.begin(), t.specials.end(),
            [](const auto &a, const auto &b) {
              return a.first.size() != b.first.size()
                         ? a.first.size() > b.first.size()
                         : a.second < b.second;
            });
  return t;
}

bool Tokenizer::endsGeneration(int32_t id) const {
  return id == eos_ || std::find(endOfGeneration.begin(), endOfGeneration.end(),
                                 id) != endOfGeneration.end();
}

int32_t Tokenizer::lookup(std::string_view s) const {
  auto it = ids.find(std::string(s));
  return it == ids.end() ? -1 : it->second;
}

void Tokenizer::mergePairs(std::vector<int32_t> &tokens) const {
  // llama2.c merges the best-scoring adjacent pair (the leftmost of equal
  // ones) until none merges; it starts its search at -1e10, so pairs
  // scoring that low never merge.
  mergeAdjacentPairs(
      tokens,
      [&](int32_t a, int32_t b) -> std::optional<double> {
        int32_t id = lookup(pieces[a] + pieces[b]);
        if (id >= 0 && scores[id] > -1e10f)
          return scores[id];
        return std::nullopt;
      },
      [&](int32_t &a, int32_t b) { a = lookup(pieces[a] + pieces[b]); });
}

void Tokenizer::forEachFragment(
    std::string_view text,
    const std::function<void(std::string_view, int32_t)> &f) const {
  size_t plain = 0;
  for (size_t i = 0; i < text.size();) {
    int32_t found = -1;
    size_t length = 0;
    for (const auto &[s, id] : specials)
      if (text.compare(i, s.size(), s) == 0) {
        found = id;
        length = s.size();
        break; // longest first
      }
    if (found < 0) {
      ++i;
      continue;
    }
    if (i > plain)
      f(text.substr(plain, i - plain), -1);
    f({}, found);
    i += length;
    plain = i;
  }
  if (plain < text.size())
    f(text.substr(plain), -1);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool bos,
                                       bool eos, bool special) const {
  std::vector<int32_t> tokens;
  if (bos && addBos_)
    tokens.push_back(bos_);
  auto plain = [&](std::string_view part) {
    if (bpe_)
      encodeBytePair(part, tokens);
    else
      encodeSentencePiece(part, tokens);
  };
  if (special) {
    // Text after a special token starts afresh: SentencePiece's space
    // prefix goes before every text fragment (as llama.cpp and Hugging
    // Face's legacy Llama tokenizer do).
    forEachFragment(text, [&](std::string_view part, int32_t id) {
      if (id >= 0)
        tokens.push_back(id);
      else
        plain(part);
    });
  } else {
    plain(text);
  }
  if (eos || (bos && addEos_))
    tokens.push_back(eos_);
  return tokens;
}

void Tokenizer::encodeBytePair(std::string_view text,
                               std::vector<int32_t> &out) const {
  for (const std::string &word : bpe_->pre.split(text)) {
    std::string mapped = bpe::toByteLevel(word);
    if (bpe_->ignoreMerges)
      if (int32_t id = lookup(mapped); id >= 0) {
        out.push_back(id);
        continue;
      }
    for (const std::string &symbol : bpe::mergeWord(mapped, bpe_->ranks)) {
      int32_t id = lookup(symbol);
      if (id >= 0) {
        out.push_back(id);
        continue;
      }
      // Not in the vocabulary (a vocabulary without every byte): its
      // characters one by one, unknown ones dropped.
      for (size_t i = 0; i < symbol.size();) {
        size_t n = bpe::utf8CharLength(symbol, i);
        if (int32_t c = lookup(symbol.substr(i, n)); c >= 0)
          out.push_back(c);
        i += n;
      }
    }
  }
}

void Tokenizer::encodeSentencePiece(std::string_view text,
                                    std::vector<int32_t> &out) const {
  std::vector<int32_t> tokens;
  if (!text.empty())
    if (int32_t space = lookup(" "); space >= 0)
      tokens.push_back(space);
  // Split into UTF-8 characters; a character missing from the vocabulary
  // falls back to its bytes.
  std::string buf;
  auto flush = [&] {
    int32_t id = lookup(buf);
    if (id >= 0) {
      tokens.push_back(id);
    } else {
      for (unsigned char c : buf)
        tokens.push_back(byteTokens[c] >= 0 ? byteTokens[c] : 0);
    }
    buf.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) != 0x80)
      buf.clear();
    buf += static_cast<char>(c);
    bool nextIsContinuation =
        i + 1 < text.size() &&
        (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80;
    if (nextIsContinuation && buf.size() < 4)
      continue;
    flush();
  }
  mergePairs(tokens);
  out.insert(out.end(), tokens.begin(), tokens.end());
}

std::string Tokenizer::decode(int32_t prev, int32_t token) const {
  if (token < 0 || token >= size())
    return {};
  const std::string &piece = pieces[token];
  if (bpe_) {
    int32_t type = typeOf(token);
    if (type == kTokenControl || token == bos_ || token == eos_)
      return {};
    return type == kTokenUserDefined ? piece : bpe::fromByteLevel(piece);
  }
  if (auto b = byteOf(piece))
    return std::string(1, static_cast<char>(*b));
  if (prev == bos_ && !piece.empty() && piece[0] == ' ')
    return piece.substr(1);
  return piece;
}

std::string Tokenizer::decode(const std::vector<int32_t> &ids) const {
  std::string out;
  int32_t prev = -1;
  for (int32_t id : ids) {
    if (id != bos_ && id != eos_)
      out += decode(prev, id);
    prev = id;
  }
  return out;
}

} // namespace ane::model
