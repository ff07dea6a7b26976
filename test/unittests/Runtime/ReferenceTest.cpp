//===- ReferenceTest.cpp - the fp32 reference against llama2.c ------------===//

#include "lib/Runtime/Reference.h"
#include "lib/Model/Llama2c.h"
#include "lib/Runtime/Generate.h"
#include "test/unittests/SharedData.h"

#include <gtest/gtest.h>

using namespace ane;
using namespace ane::model;
using namespace ane::runtime;

namespace {

/// llama2.c `run stories260K.bin -z tok512.bin -t 0 -n 200 -i "Once upon a
/// time"`, greedy, byte for byte.
void expectGoldenStory(const std::string &modelFile,
                       const TokenizerData &vocab) {
  auto spec = openModel(test::sharedPath("models/" + modelFile));
  ASSERT_TRUE(spec.ok()) << spec.message();
  // The GGUF says 128 positions; llama2.c's checkpoint says 512.
  auto model = ReferenceModel::load(*spec, /*context=*/200);
  ASSERT_TRUE(model.ok()) << model.message();
  auto tokenizer = Tokenizer::create(vocab);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.message();
  auto text = generateGreedy(
      [&](int32_t token, int64_t pos) { return model->forward(token, pos); },
      *tokenizer, "Once upon a time", 200);
  ASSERT_TRUE(text.ok()) << text.message();
  EXPECT_EQ(*text, test::readFile(test::sharedPath(
                       "golden/stories260K_greedy_once_upon_a_time_n200.txt")))
      << modelFile;
}

TEST(ReferenceTest, Llama2cCheckpointMatchesLlama2c) {
  auto vocab = readLlama2cTokenizer(test::sharedPath("models/tok512.bin"));
  ASSERT_TRUE(vocab.ok()) << vocab.message();
  expectGoldenStory("stories260K.bin", *vocab);
}

TEST(ReferenceTest, GgufCheckpointMatchesLlama2c) {
  auto spec = openModel(test::sharedPath("models/stories260K-f32.gguf"));
  ASSERT_TRUE(spec.ok()) << spec.message();
  ASSERT_TRUE(spec->tokenizer.has_value());
  expectGoldenStory("stories260K-f32.gguf", *spec->tokenizer);
}

/// Reading each layer again on every step computes the same logits.
TEST(ReferenceTest, StreamingLayersGivesTheSameLogits) {
  auto spec = openModel(test::sharedPath("models/stories260K.bin"));
  ASSERT_TRUE(spec.ok()) << spec.message();
  auto whole = ReferenceModel::load(*spec, 16);
  auto streamed = ReferenceModel::load(*spec, 16, /*streaming=*/true);
  ASSERT_TRUE(whole.ok() && streamed.ok());
  for (int64_t pos = 0; pos < 16; ++pos) {
    int32_t token = int32_t(7 * pos + 1);
    auto a = whole->forward(token, pos);
    auto b = streamed->forward(token, pos);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*a, *b) << pos;
  }
}

TEST(ReferenceTest, OutOfRangeTokenOrPositionIsAnError) {
  auto spec = openModel("synthetic:tiny");
  ASSERT_TRUE(spec.ok()) << spec.message();
  auto model = ReferenceModel::load(*spec);
  ASSERT_TRUE(model.ok()) << model.message();
  EXPECT_FALSE(model->forward(-1, 0).ok());
  EXPECT_FALSE(model->forward(int32_t(spec->config.vocabSize), 0).ok());
  EXPECT_FALSE(model->forward(0, spec->config.maxSeqLen).ok());
  auto logits = model->forward(1, 0);
  ASSERT_TRUE(logits.ok()) << logits.message();
  EXPECT_EQ(int64_t(logits->size()), spec->config.vocabSize);
}

} // namespace
