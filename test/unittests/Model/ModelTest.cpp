//===- ModelTest.cpp - real GGUF and llama2.c files, synthetic models ----===//

#include "lib/Model/Model.h"
#include "lib/Model/GGUF.h"

#include "test/unittests/SharedData.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>

#include <gtest/gtest.h>

using namespace ane::model;

namespace {

std::string modelPath(const std::string &file) {
  return ane::test::sharedPath("models/" + file);
}

ModelSpec open(const std::string &spec) {
  auto m = openModel(spec);
  EXPECT_TRUE(m.ok()) << m.message();
  return m.ok() ? std::move(*m) : ModelSpec();
}

std::vector<float> floats(const ModelSpec &m, const TensorInfo &t) {
  auto d = m.load(t);
  EXPECT_TRUE(d.ok()) << d.message();
  return d.ok() ? d->toFloat() : std::vector<float>{};
}

double relativeRms(const std::vector<float> &got,
                   const std::vector<float> &want) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    err += (got[i] - want[i]) * double(got[i] - want[i]);
    ref += want[i] * double(want[i]);
  }
  return std::sqrt(err / std::max(ref, 1e-30));
}

TEST(ModelTest, Stories260KCheckpoint) {
  ModelSpec m = open(modelPath("stories260K.bin"));
  const Config &c = m.config;
  EXPECT_EQ(m.format, "llama2c");
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.nLayers, 5);
  EXPECT_EQ(c.nHeads, 8);
  EXPECT_EQ(c.nKvHeads, 4);
  EXPECT_EQ(c.headDim, 8);
  EXPECT_EQ(c.hiddenDim, 172);
  EXPECT_EQ(c.vocabSize, 512);
  EXPECT_EQ(c.maxSeqLen, 512);
  EXPECT_TRUE(c.sharedClassifier);
  EXPECT_FALSE(m.tokenizer.has_value());
  // 1 embedding + 9 per layer + final norm; the classifier is the embedding.
  EXPECT_EQ(m.tensors.size(), 1u + 9u * 5u + 1u);
  EXPECT_EQ(m.find(Role::Output), m.find(Role::TokenEmbd));
  EXPECT_EQ(m.find(Role::AttnK, 4)->shape, (std::vector<int64_t>{32, 64}));
}

TEST(ModelTest, GgufStoriesMatchesTheCheckpoint) {
  ModelSpec bin = open(modelPath("stories260K.bin"));
  ModelSpec f32 = open(modelPath("stories260K-f32.gguf"));
  ModelSpec f16 = open(modelPath("stories260K-f16.gguf"));
  for (const ModelSpec *g : {&f32, &f16}) {
    EXPECT_EQ(g->format, "gguf");
    EXPECT_EQ(g->config.dim, 64);
    EXPECT_EQ(g->config.nKvHeads, 4);
    EXPECT_EQ(g->config.vocabSize, 512);
    EXPECT_EQ(g->config.maxSeqLen, 128); // what the converter writes
    ASSERT_TRUE(g->tokenizer.has_value());
    EXPECT_EQ(g->tokenizer->tokens.size(), 512u);
  }
  EXPECT_FALSE(f32.config.sharedClassifier); // output.weight is a copy
  for (const TensorInfo &t : bin.tensors) {
    std::vector<float> want = floats(bin, t);
    const TensorInfo *a = f32.find(t.role, t.layer);
    const TensorInfo *b = f16.find(t.role, t.layer);
    ASSERT_TRUE(a && b) << t.name;
    EXPECT_EQ(floats(f32, *a), want) << t.name;
    EXPECT_LT(relativeRms(floats(f16, *b), want), 1e-3) << t.name;
  }
}

TEST(ModelTest, QuantizedGgufTensorsAreCloseToF16) {
  ModelSpec ref = open(modelPath("tiny-random-gqa-f16.gguf"));
  EXPECT_EQ(ref.config.dim, 256);
  EXPECT_EQ(ref.config.hiddenDim, 768);
  EXPECT_EQ(ref.config.nLayers, 2);
  EXPECT_EQ(ref.config.nHeads, 8);
  EXPECT_EQ(ref.config.nKvHeads, 4);
  EXPECT_EQ(ref.config.vocabSize, 32000);
  EXPECT_EQ(ref.config.maxSeqLen, 512);
  // Expected error: uniform rounding over each format's step, with margin.
  auto bound = [](TensorType t) {
    switch (t) {
    case TensorType::Q8_0:
      return 0.01;
    case TensorType::Q6_K:
      return 0.03;
    case TensorType::Q4_K:
    case TensorType::Q4_0:
    case TensorType::Q4_1:
      return 0.12;
    default:
      return 1e-6;
    }
  };
  std::map<TensorType, int> seen;
  for (const char *file :
       {"tiny-random-gqa-q8_0.gguf", "tiny-random-gqa-q4_0.gguf",
        "tiny-random-gqa-q4_k_m.gguf"}) {
    ModelSpec q = open(modelPath(file));
    ASSERT_EQ(q.tensors.size(), ref.tensors.size()) << file;
    for (const TensorInfo &t : q.tensors) {
      const TensorInfo *r = ref.find(t.role, t.layer);
      ASSERT_NE(r, nullptr) << t.name;
      double err = relativeRms(floats(q, t), floats(ref, *r));
      EXPECT_LT(err, bound(t.type))
          << file << " " << t.name << " (" << tensorTypeName(t.type) << ")";
      ++seen[t.type];
    }
  }
  for (TensorType t :
       {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_K, TensorType::Q6_K})
    EXPECT_GT(seen[t], 0) << "no " << tensorTypeName(t) << " tensor was read";
}

TEST(ModelTest, SyntheticPresetsAndOverrides) {
  ModelSpec tiny = open("synthetic:tiny");
  EXPECT_EQ(tiny.config.dim, 64);
  EXPECT_EQ(tiny.config.nLayers, 2);
  EXPECT_EQ(tiny.config.nHeads, 4);
  EXPECT_EQ(tiny.config.nKvHeads, 2);
  ModelSpec b7 = open("synthetic:7b");
  EXPECT_EQ(b7.config.dim, 4096);
  EXPECT_EQ(b7.config.nLayers, 32);
  EXPECT_EQ(b7.config.hiddenDim, 11008);
  EXPECT_EQ(b7.config.vocabSize, 32000);
  EXPECT_EQ(b7.tensors.size(), 3u + 9u * 32u);
  ModelSpec b13 = open("synthetic:13b");
  EXPECT_EQ(b13.config.dim, 5120);
  EXPECT_EQ(b13.config.nLayers, 40);
  EXPECT_EQ(b13.config.hiddenDim, 13824);
  ModelSpec l3 = open("synthetic:llama3-8b");
  EXPECT_EQ(l3.config.nKvHeads, 8);
  EXPECT_EQ(l3.config.hiddenDim, 14336);
  ModelSpec small = open("synthetic:7b?layers=2&seed=9");
  EXPECT_EQ(small.config.nLayers, 2);

  // Deterministic by seed and name; norms are 1.
  ModelSpec again = open("synthetic:tiny");
  ModelSpec other = open("synthetic:tiny?seed=2");
  const TensorInfo *q = tiny.find(Role::AttnQ, 1);
  std::vector<float> a = floats(tiny, *q);
  EXPECT_EQ(a, floats(again, *again.find(Role::AttnQ, 1)));
  EXPECT_NE(a, floats(other, *other.find(Role::AttnQ, 1)));
  EXPECT_NE(a, floats(tiny, *tiny.find(Role::AttnK, 1)));
  double sq = 0;
  for (float v : a)
    sq += v * double(v);
  EXPECT_NEAR(std::sqrt(sq / a.size()), 0.02, 0.002);
  for (float v : floats(tiny, *tiny.find(Role::FfnNorm, 0)))
    EXPECT_EQ(v, 1.0f);

  for (const char *bad : {"synthetic:70b", "synthetic:7b?layers=0",
                          "synthetic:7b?depth=3", "synthetic:7b?layers"}) {
    auto m = openModel(bad);
    EXPECT_FALSE(m.ok()) << bad;
  }
}

} // namespace

namespace {

TEST(ModelTest, CorruptCheckpointsNameTheFieldOrTensor) {
  std::string good = ane::test::readFile(modelPath("stories260K.bin"));
  ASSERT_GT(good.size(), 28u);
  struct Case {
    const char *what;
    std::function<void(std::string &)> damage;
    const char *error;
  };
  auto setI32 = [](std::string &b, size_t at, int32_t v) {
    std::memcpy(&b[at], &v, 4);
  };
  const Case cases[] = {
      {"short header", [](std::string &b) { b.resize(20); },
       "20 bytes cannot hold the 28-byte llama2.c header"},
      {"zero dim", [&](std::string &b) { setI32(b, 0, 0); },
       "header field dim at offset 0 is 0"},
      {"negative layers", [&](std::string &b) { setI32(b, 8, -3); },
       "header field n_layers at offset 8 is -3"},
      {"absurd seq_len", [&](std::string &b) { setI32(b, 24, 1 << 30); },
       "header field seq_len at offset 24 is 1073741824"},
      {"the most negative vocab_size",
       [&](std::string &b) {
         setI32(b, 20, std::numeric_limits<int32_t>::min());
       },
       "header field vocab_size at offset 20 is -2147483648"},
      {"heads do not divide dim", [&](std::string &b) { setI32(b, 12, 7); },
       "n_heads 7 does not divide dim 64"},
      {"truncated weights", [](std::string &b) { b.resize(b.size() / 2); },
       "needs bytes ["},
      {"versioned export", [](std::string &b) { b.replace(0, 4, "24ka"); },
       "versioned llama2.c exports (magic 'ak42') are not supported"},
  };
  for (const Case &c : cases) {
    std::string bytes = good;
    c.damage(bytes);
    std::string path = ::testing::TempDir() + "/damaged.bin";
    std::ofstream(path, std::ios::binary) << bytes;
    auto m = openModel(path);
    ASSERT_FALSE(m.ok()) << c.what;
    EXPECT_NE(m.message().find(c.error), std::string::npos)
        << c.what << ": " << m.message();
    EXPECT_NE(m.message().find("damaged.bin"), std::string::npos) << c.what;
  }
}

} // namespace
