//===- TokenizerTest.cpp - llama2.c goldens for both vocabularies ---------===//

#include "lib/Model/Tokenizer.h"
#include "lib/Model/Llama2c.h"
#include "lib/Model/Synthetic.h"

#include "test/unittests/SharedData.h"

#include <chrono>
#include <map>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

using namespace ane::model;

namespace {

struct Golden {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<Golden> readGolden(const std::string &name) {
  std::string content =
      ane::test::readFile(ane::test::sharedPath("golden/" + name));
  std::vector<Golden> out;
  std::istringstream lines(content);
  std::string line;
  while (std::getline(lines, line)) {
    size_t tab = line.rfind('\t');
    EXPECT_NE(tab, std::string::npos) << line;
    if (tab == std::string::npos)
      continue;
    Golden g{line.substr(0, tab), {}};
    std::istringstream ids(line.substr(tab + 1));
    int32_t id;
    while (ids >> id)
      g.ids.push_back(id);
    out.push_back(std::move(g));
  }
  EXPECT_FALSE(out.empty()) << name;
  return out;
}

Tokenizer fromBin(const std::string &file) {
  auto data = readLlama2cTokenizer(ane::test::sharedPath("models/" + file));
  EXPECT_TRUE(data.ok()) << data.message();
  auto t = Tokenizer::create(data.ok() ? *data : TokenizerData());
  EXPECT_TRUE(t.ok()) << t.message();
  return std::move(*t);
}

Tokenizer fromGguf(const std::string &file) {
  auto m = openModel(ane::test::sharedPath("models/" + file));
  EXPECT_TRUE(m.ok()) << m.message();
  auto t = Tokenizer::create(*m->tokenizer);
  EXPECT_TRUE(t.ok()) << t.message();
  return std::move(*t);
}

void checkGolden(const Tokenizer &t, const std::string &golden) {
  for (const Golden &g : readGolden(golden)) {
    EXPECT_EQ(t.encode(g.text, /*bos=*/true, /*eos=*/false), g.ids)
        << golden << ": '" << g.text << "'";
    EXPECT_EQ(t.decode(g.ids), g.text) << golden;
  }
}

TEST(TokenizerTest, Tok512MatchesLlama2c) {
  checkGolden(fromBin("tok512.bin"), "tokenize_tok512.tsv");
}

TEST(TokenizerTest, Llama2VocabularyMatchesLlama2c) {
  checkGolden(fromBin("tokenizer.bin"), "tokenize_llama2_32k.tsv");
}

TEST(TokenizerTest, GgufVocabulariesGiveTheSameIds) {
  checkGolden(fromGguf("stories260K-f32.gguf"), "tokenize_tok512.tsv");
  checkGolden(fromGguf("tiny-random-gqa-f16.gguf"), "tokenize_llama2_32k.tsv");
}

TEST(TokenizerTest, ByteFallbackAndDecodeRules) {
  Tokenizer t = fromBin("tok512.bin");
  // A character outside the 512-token vocabulary falls back to its bytes.
  std::vector<int32_t> ids = t.encode("\xE2\x98\x83", false, true); // snowman
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(ids.back(), t.eos());
  EXPECT_EQ(t.decode(ids), " \xE2\x98\x83");
  // After BOS a leading space is dropped, as llama2.c prints.
  std::vector<int32_t> once = t.encode("Once", true, false);
  EXPECT_EQ(t.decode(once[0], once[1]).front(), 'O');
}

TEST(TokenizerTest, SyntheticVocabularyRoundTrips) {
  auto t = Tokenizer::create(syntheticTokenizer(32000));
  ASSERT_TRUE(t.ok()) << t.message();
  std::string text = "the quick brown fox, 42 \xC3\xA9t\xC3\xA9!";
  std::vector<int32_t> ids = t->encode(text, true, false);
  EXPECT_LT(ids.size(), text.size()); // merges happened
  // decode drops the space the encoder added after BOS, as llama2.c prints.
  EXPECT_EQ(t->decode(ids), text);
  EXPECT_EQ(t->size(), 32000);
}

TEST(TokenizerTest, CorruptTokenizerFiles) {
  std::string dir = ::testing::TempDir();
  auto write = [&](const std::string &name, const std::string &bytes) {
    std::string p = dir + "/" + name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  };
  std::string header("\x10\x00\x00\x00", 4);
  auto r = readLlama2cTokenizer(write("t1.bin", header + std::string(2, '\0')));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("token #0 at offset 4 is truncated"),
            std::string::npos)
      << r.message();
  std::string entry("\x00\x00\x80\x3f\xff\x00\x00\x00", 8); // len 255 > 16
  r = readLlama2cTokenizer(write("t2.bin", header + entry + "abc"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("token #0 at offset 8 has length 255"),
            std::string::npos)
      << r.message();
  r = readLlama2cTokenizer(write("t3.bin", std::string("\x00\x00\x00\x80", 4)));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("max_token_length at offset 0"),
            std::string::npos);
}

} // namespace

namespace {

/// llama2.c's merge loop, written out as it is there: rescan every pair,
/// merge the best (leftmost of equal scores), until none merges. The
/// oracle for the heap-based merge.
std::vector<int32_t> quadraticMerge(const TokenizerData &d,
                                    std::vector<int32_t> tokens) {
  std::map<std::string, int32_t> ids;
  for (size_t i = 0; i < d.tokens.size(); ++i)
    ids.emplace(d.tokens[i], int32_t(i));
  while (true) {
    float best = -1e10f;
    int32_t bestId = -1;
    size_t bestAt = 0;
    for (size_t i = 0; i + 1 < tokens.size(); ++i) {
      auto it = ids.find(d.tokens[tokens[i]] + d.tokens[tokens[i + 1]]);
      if (it != ids.end() && d.scores[it->second] > best) {
        best = d.scores[it->second];
        bestId = it->second;
        bestAt = i;
      }
    }
    if (bestId < 0)
      return tokens;
    tokens[bestAt] = bestId;
    tokens.erase(tokens.begin() + bestAt + 1);
  }
}

// Random texts over letters that merge a lot (and ties in score, which
// tok512 has): the heap gives llama2.c's merges exactly.
TEST(TokenizerTest, MergesMatchLlama2cLoop) {
  auto data = readLlama2cTokenizer(ane::test::sharedPath("models/tok512.bin"));
  ASSERT_TRUE(data.ok()) << data.message();
  auto t = Tokenizer::create(*data);
  ASSERT_TRUE(t.ok());
  std::map<std::string, int32_t> ids;
  for (size_t i = 0; i < data->tokens.size(); ++i)
    ids.emplace(data->tokens[i], int32_t(i));
  std::mt19937 rng(5);
  const std::string alphabet = "aeinost hlr.";
  for (int round = 0; round < 300; ++round) {
    std::string text;
    for (size_t n = rng() % 80 + 1; n > 0; --n)
      text += alphabet[rng() % alphabet.size()];
    // What encode starts from: BOS, the leading space, one token a char.
    std::vector<int32_t> start = {t->bos(), ids.at(" ")};
    for (char c : text)
      start.push_back(ids.at(std::string(1, c)));
    EXPECT_EQ(t->encode(text, true, false), quadraticMerge(*data, start))
        << "'" << text << "'";
  }
}

// A megabyte of mergeable text encodes in well under the bound; the
// rescanning loop took 108 s for 90 KB.
TEST(TokenizerTest, LongPromptsEncodeInLinearithmicTime) {
  Tokenizer t = fromBin("tok512.bin");
  std::string text;
  while (text.size() < (1 << 20))
    text += "ab ab Once upon a time ";
  auto start = std::chrono::steady_clock::now();
  std::vector<int32_t> ids = t.encode(text, true, false);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  EXPECT_LT(seconds, 30.0);
  EXPECT_EQ(t.decode(ids), text);
}

} // namespace
