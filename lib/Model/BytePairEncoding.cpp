//===- BytePairEncoding.cpp - byte-level BPE ------------------------------===//

#include "lib/Model/BytePairEncoding.h"

#include "lib/Model/PairMerge.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <fmt/format.h>

#include <array>

namespace ane::model::bpe {
namespace {

void appendUtf8(std::string &out, uint32_t c) {
  if (c < 0x80) {
    out += char(c);
  } else if (c < 0x800) {
    out += char(0xC0 | (c >> 6));
    out += char(0x80 | (c & 0x3F));
  } else {
    out += char(0xE0 | (c >> 12));
    out += char(0x80 | ((c >> 6) & 0x3F));
    out += char(0x80 | (c & 0x3F));
  }
}

/// GPT-2's table: printable Latin-1 bytes stand for themselves, the others
/// (controls, space, 0x7F-0xA0, 0xAD) for U+0100 onwards in byte order.
struct ByteTable {
  std::array<std::string, 256> chars;
  std::unordered_map<uint32_t, uint8_t> bytes; // code point -> byte
  ByteTable() {
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                       (b >= 0xAE && b <= 0xFF);
      uint32_t c = printable ? b : next++;
      appendUtf8(chars[b], c);
      bytes[c] = uint8_t(b);
    }
  }
};

const ByteTable &byteTable() {
  static const ByteTable table;
  return table;
}

} // namespace

size_t utf8CharLength(std::string_view s, size_t i) {
  unsigned char c = s[i];
  size_t n = c < 0x80         ? 1
             : (c >> 5) == 6  ? 2
             : (c >> 4) == 14 ? 3
             : (c >> 3) == 30 ? 4
                              : 1;
  if (i + n > s.size())
    return 1;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80)
      return 1;
  return n;
}

std::string toByteLevel(std::string_view bytes) {
  const ByteTable &t = byteTable();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes)
    out += t.chars[b];
  return out;
}

std::string fromByteLevel(std::string_view text) {
  const ByteTable &t = byteTable();
  std::string out;
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8CharLength(text, i);
    uint32_t c = static_cast<unsigned char>(text[i]);
    if (n == 2)
      c = (c & 0x1F) << 6 | (static_cast<unsigned char>(text[i + 1]) & 0x3F);
    auto it = n <= 2 ? t.bytes.find(c) : t.bytes.end();
    if (it != t.bytes.end())
      out += char(it->second);
    else
      out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

Result<std::vector<std::string>> preTokenizerPatterns(std::string_view pre) {
  // llama.cpp's forms of the tokenizer.json regexes: the case-insensitive
  // contractions spelled out, so that Unicode case folding adds nothing.
  static const char *kLlama3 =
      "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|"
      "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
      "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  static const char *kQwen2 =
      "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|"
      "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
      "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  static const char *kGpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| "
                             "?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
  if (pre == "llama3" || pre == "llama-bpe" || pre == "smaug-bpe" ||
      pre == "dbrx")
    return std::vector<std::string>{kLlama3};
  if (pre == "qwen2" || pre == "deepseek-r1-qwen")
    return std::vector<std::string>{kQwen2};
  if (pre == "gpt-2")
    return std::vector<std::string>{kGpt2};
  if (pre == "default" || pre.empty())
    return std::vector<std::string>{"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2,
                                    "\\p{N}+", "[0-9][0-9][0-9]"};
  return Status::error(fmt::format(
      "pre-tokenizer '{}' is not supported (llama3, llama-bpe, smaug-bpe, "
      "dbrx, qwen2, gpt-2 and default are)",
      pre));
}

struct PreTokenizer::Compiled {
  pcre2_code *code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

Result<PreTokenizer>
PreTokenizer::create(const std::vector<std::string> &patterns) {
  PreTokenizer p;
  for (const std::string &pattern : patterns) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    auto c = std::make_shared<Compiled>();
    c->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()),
                            pattern.size(), PCRE2_UTF | PCRE2_UCP, &error,
                            &offset, nullptr);
    if (!c->code) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof(message));
      return Status::error(
          fmt::format("pre-tokenizer regex at offset {}: {}", offset,
                      reinterpret_cast<const char *>(message)));
    }
    p.regexes.push_back(std::move(c));
  }
  return p;
}

namespace {

/// Matches of `code` in `piece` and the gaps between them, in order.
void splitOne(const pcre2_code *code, std::string_view piece,
              std::vector<std::string> &out) {
  std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data *)> match(
      pcre2_match_data_create_from_pattern(code, nullptr),
      pcre2_match_data_free);
  size_t at = 0, gap = 0;
  while (at < piece.size()) {
    int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(piece.data()),
                         piece.size(), at, 0, match.get(), nullptr);
    if (rc < 0)
      break;
    PCRE2_SIZE *v = pcre2_get_ovector_pointer(match.get());
    size_t begin = v[0], end = v[1];
    if (end == begin) { // an empty match: step over one character
      at = begin + utf8CharLength(piece, begin);
      continue;
    }
    if (begin > gap)
      out.emplace_back(piece.substr(gap, begin - gap));
    out.emplace_back(piece.substr(begin, end - begin));
    at = gap = end;
  }
  if (gap < piece.size())
    out.emplace_back(piece.substr(gap));
}

/// `text` cut where its UTF-8 breaks: PCRE2 in UTF mode refuses invalid
/// input, so each invalid byte becomes a piece of its own.
std::vector<std::string_view> validRuns(std::string_view text) {
  std::vector<std::string_view> runs;
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8CharLength(text, i);
    bool broken = n == 1 && static_cast<unsigned char>(text[i]) >= 0x80;
    if (broken) {
      if (i > start)
        runs.push_back(text.substr(start, i - start));
      runs.push_back(text.substr(i, 1));
      start = i + 1;
    }
    i += n;
  }
  if (start < text.size())
    runs.push_back(text.substr(start));
  return runs;
}

} // namespace

std::vector<std::string> PreTokenizer::split(std::string_view text) const {
  std::vector<std::string> pieces;
  for (std::string_view run : validRuns(text)) {
    bool valid =
        !(run.size() == 1 && static_cast<unsigned char>(run[0]) >= 0x80);
    if (valid && !regexes.empty())
      splitOne(regexes[0]->code, run, pieces);
    else
      pieces.emplace_back(run);
  }
  for (size_t r = 1; r < regexes.size(); ++r) {
    std::vector<std::string> next;
    for (const std::string &p : pieces)
      splitOne(regexes[r]->code, p, next);
    pieces = std::move(next);
  }
  return pieces;
}

std::vector<std::string> mergeWord(std::string_view word,
                                   const MergeRanks &ranks) {
  std::vector<std::string> symbols;
  for (size_t i = 0; i < word.size();) {
    size_t n = utf8CharLength(word, i);
    symbols.emplace_back(word.substr(i, n));
    i += n;
  }
  mergeAdjacentPairs(
      symbols,
      [&](const std::string &a, const std::string &b) -> std::optional<double> {
        auto it = ranks.find(a + " " + b);
        if (it == ranks.end())
          return std::nullopt;
        return -double(it->second); // the lowest rank first
      },
      [](std::string &a, const std::string &b) { a += b; });
  return symbols;
}

} // namespace ane::model::bpe
