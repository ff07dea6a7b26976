//===- tokenizer-fuzzer.cpp - libFuzzer target for the tokenizer ----------===//
//
// The first byte picks what the rest is:
//   0 mod 4: text for tok512.bin (../shared, else the synthetic
//         byte-fallback vocabulary). Encoding must give ids in range, and
//         decoding them must give back the text, byte for byte.
//   2 mod 4: text for a byte-level BPE vocabulary (Llama 3's regex
//         pre-tokenizer on PCRE2): the same round trip, and with special
//         tokens parsed, ids in range.
//   odd:  a llama2.c tokenizer.bin. It must load or fail with a message;
//         a loaded one must encode and decode any text without crashing.
//
//===----------------------------------------------------------------------===//

#include "lib/Model/BytePairEncoding.h"
#include "lib/Model/Llama2c.h"
#include "lib/Model/Synthetic.h"
#include "lib/Model/Tokenizer.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <unistd.h>

using namespace ane::model;

namespace {

const Tokenizer &referenceTokenizer() {
  static const Tokenizer tokenizer = [] {
    auto data = readLlama2cTokenizer(ANE_SHARED_DIR "/models/tok512.bin");
    auto t = Tokenizer::create(data.ok() ? *data : syntheticTokenizer(512));
    if (!t.ok())
      std::abort();
    return std::move(*t);
  }();
  return tokenizer;
}

void roundTrip(std::string_view text) {
  const Tokenizer &t = referenceTokenizer();
  std::vector<int32_t> ids = t.encode(text, true, false);
  for (int32_t id : ids)
    if (id < 0 || id >= t.size())
      std::abort();
  // decode drops the dummy-prefix space after BOS, as llama2.c prints.
  if (t.decode(ids) != text)
    std::abort();
}

/// The 256 byte stand-ins, a few merges and a control token.
const Tokenizer &bytePairTokenizer() {
  static const Tokenizer tokenizer = [] {
    TokenizerData d;
    d.model = "gpt2";
    d.pre = "llama3";
    for (int b = 0; b < 256; ++b)
      d.tokens.push_back(bpe::toByteLevel(std::string(1, char(b))));
    for (const char *s : {"he", "ll", "hell", "\xC4\xA0t", "\xC4\xA0th"})
      d.tokens.push_back(s);
    d.merges = {"h e", "l l", "he ll", "\xC4\xA0 t", "\xC4\xA0t h"};
    d.tokens.push_back("<|eot_id|>");
    d.types.assign(d.tokens.size(), kTokenNormal);
    d.types.back() = kTokenControl;
    d.bos = d.eos = int32_t(d.tokens.size()) - 1;
    auto t = Tokenizer::create(d);
    if (!t.ok())
      std::abort();
    return std::move(*t);
  }();
  return tokenizer;
}

void bytePairRoundTrip(std::string_view text) {
  const Tokenizer &t = bytePairTokenizer();
  for (bool special : {false, true}) {
    std::vector<int32_t> ids = t.encode(text, false, false, special);
    for (int32_t id : ids)
      if (id < 0 || id >= t.size())
        std::abort();
    if (!special && t.decode(ids) != text)
      std::abort();
  }
}

void loadTokenizerFile(const uint8_t *data, size_t size) {
  static const std::string path =
      "/tmp/tokenizer-fuzz-" + std::to_string(::getpid()) + ".bin";
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  auto loaded = readLlama2cTokenizer(path);
  if (!loaded.ok()) {
    if (loaded.message().empty())
      std::abort();
    return;
  }
  auto t = Tokenizer::create(*loaded);
  if (!t.ok())
    return;
  std::vector<int32_t> ids =
      t->encode("Once upon a time, \xf0\x9f\x99\x82 \xff", true, true);
  for (int32_t id : ids)
    if (id < 0 || id >= t->size())
      std::abort();
  (void)t->decode(ids);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  std::string_view rest(reinterpret_cast<const char *>(data + 1), size - 1);
  if (data[0] & 1)
    loadTokenizerFile(data + 1, size - 1);
  else if (data[0] & 2)
    bytePairRoundTrip(rest);
  else
    roundTrip(rest);
  return 0;
}
