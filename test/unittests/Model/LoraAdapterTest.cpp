//===- LoraAdapterTest.cpp - LoRA adapter files, combined and merged ------===//

#include "lib/Model/LoraAdapter.h"
#include "lib/Model/GGUFWriter.h"

#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <random>

#include <gtest/gtest.h>

using namespace ane::model;

namespace {

std::string tempFile(const std::string &name) {
  return ::testing::TempDir() + "/" + name;
}

Config tinyConfig() {
  Config c;
  c.dim = 16;
  c.nLayers = 2;
  c.nHeads = 2;
  c.nKvHeads = 1;
  c.headDim = 8;
  c.hiddenDim = 24;
  c.vocabSize = 32;
  c.maxSeqLen = 64;
  return c;
}

std::vector<float> numbers(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(rng);
  return v;
}

/// Rank 3 on attn_q of layer 0 and ffn_down of layer 1.
LoraAdapter smallAdapter() {
  Config c = tinyConfig();
  LoraAdapter a;
  a.rank = 3;
  a.alpha = 6;
  a.trainedSteps = 5;
  for (auto [role, layer] :
       {std::pair{Role::AttnQ, 0}, std::pair{Role::FfnDown, 1}}) {
    std::vector<int64_t> w = expectedShape(c, role);
    LoraPair p;
    p.layer = layer;
    p.role = role;
    p.a = numbers(size_t(3 * w[1]), unsigned(layer * 10 + 1));
    p.b = numbers(size_t(w[0] * 3), unsigned(layer * 10 + 2));
    a.pairs.push_back(p);
  }
  return a;
}

std::vector<uint8_t> floatBytes(const std::vector<float> &v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

/// An adapter file's keys for tinyConfig, with `changed` ones instead, then
/// what `edit` adds.
GGUFWriter adapterWriter(const std::map<std::string, std::string> &changed,
                         const std::function<void(GGUFWriter &)> &edit) {
  GGUFWriter w;
  for (auto [key, value] : {std::pair{"general.architecture", "llama"},
                            std::pair{"general.type", "adapter"},
                            std::pair{"adapter.type", "lora"}}) {
    auto it = changed.find(key);
    w.str(key, it == changed.end() ? value : it->second);
  }
  if (!changed.count("no alpha"))
    w.f32("adapter.lora.alpha", 4.0f);
  if (edit)
    edit(w);
  return w;
}

void addPair(GGUFWriter &w, const std::string &base, uint64_t in, uint64_t out,
             uint64_t rank) {
  w.tensor(base + ".lora_a", {in, rank}, 0, floatBytes(numbers(in * rank, 1)));
  w.tensor(base + ".lora_b", {rank, out}, 0,
           floatBytes(numbers(rank * out, 2)));
}

TEST(LoraAdapterTest, RoundTrip) {
  LoraAdapter a = smallAdapter();
  std::string path = tempFile("round-trip.gguf");
  ASSERT_TRUE(writeLoraAdapter(path, a).ok());
  auto back = readLoraAdapter(path, tinyConfig());
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->rank, 3);
  EXPECT_EQ(back->alpha, 6.0f);
  EXPECT_EQ(back->trainedSteps, 5);
  EXPECT_DOUBLE_EQ(back->scale(0.5), 0.5 * 6 / 3);
  ASSERT_EQ(back->pairs.size(), 2u);
  for (const LoraPair &p : a.pairs) {
    const LoraPair *q = back->find(p.role, p.layer);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->a, p.a);
    EXPECT_EQ(q->b, p.b);
  }
  // The names llama.cpp looks up: the base weight's, then .lora_a/.lora_b.
  auto g = GGUFFile::open(path);
  ASSERT_TRUE(g.ok());
  std::vector<std::string> names;
  for (const GGUFTensor &t : g->tensors)
    names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"blk.0.attn_q.weight.lora_a",
                                             "blk.0.attn_q.weight.lora_b",
                                             "blk.1.ffn_down.weight.lora_a",
                                             "blk.1.ffn_down.weight.lora_b"}));
  EXPECT_EQ(g->tensors[0].ne, (std::vector<uint64_t>{16, 3})); // [in, r]
  EXPECT_EQ(g->tensors[3].ne, (std::vector<uint64_t>{3, 16})); // [r, out]
}

TEST(LoraAdapterTest, RefusesWhatDoesNotFitTheModel) {
  auto pairQ = [](GGUFWriter &w) {
    addPair(w, "blk.0.attn_q.weight", 16, 16, 2);
  };
  struct Case {
    const char *what;
    std::function<void(GGUFWriter &)> edit;
    const char *error;
    std::map<std::string, std::string> keys = {};
  } cases[] = {
      {"another architecture",
       pairQ,
       "the adapter is for architecture 'gpt2'",
       {{"general.architecture", "gpt2"}}},
      {"not an adapter",
       pairQ,
       "general.type is 'model', not 'adapter'",
       {{"general.type", "model"}}},
      {"another kind of adapter",
       pairQ,
       "adapter.type is 'ia3', not 'lora'",
       {{"adapter.type", "ia3"}}},
      {"no alpha", pairQ, "adapter.lora.alpha is missing", {{"no alpha", ""}}},
      {"no tensors", [](GGUFWriter &) {}, "the adapter has no tensors"},
      {"a norm",
       [](GGUFWriter &w) { addPair(w, "blk.0.attn_norm.weight", 16, 1, 2); },
       "tensor 'blk.0.attn_norm.weight.lora_a' is not the lora_a or lora_b "
       "of a projection of this model"},
      {"a layer the model lacks",
       [](GGUFWriter &w) { addPair(w, "blk.7.attn_q.weight", 16, 16, 2); },
       "tensor 'blk.7.attn_q.weight.lora_a' is not"},
      {"an unknown suffix",
       [](GGUFWriter &w) {
         w.tensor("blk.0.attn_q.weight.lora_c", {16, 2}, 0,
                  floatBytes(numbers(32, 1)));
       },
       "tensor 'blk.0.attn_q.weight.lora_c' is not"},
      {"wrong in-features",
       [](GGUFWriter &w) { addPair(w, "blk.0.ffn_down.weight", 16, 16, 2); },
       "tensor 'blk.0.ffn_down.weight.lora_a' has 16 input features; the "
       "base weight has 24"},
      {"wrong out-features",
       [](GGUFWriter &w) {
         w.tensor("blk.0.attn_k.weight.lora_b", {2, 16}, 0,
                  floatBytes(numbers(32, 1)));
       },
       "tensor 'blk.0.attn_k.weight.lora_b' has 16 output features; the base "
       "weight has 8"},
      {"two ranks",
       [](GGUFWriter &w) {
         addPair(w, "blk.0.attn_q.weight", 16, 16, 2);
         addPair(w, "blk.1.attn_q.weight", 16, 16, 4);
       },
       "tensor 'blk.1.attn_q.weight.lora_a' has rank 4, the others 2"},
      {"half a pair",
       [](GGUFWriter &w) {
         w.tensor("blk.0.attn_v.weight.lora_a", {16, 2}, 0,
                  floatBytes(numbers(32, 1)));
       },
       "tensor 'blk.0.attn_v.weight.lora_b' is missing"},
      {"quantized",
       [](GGUFWriter &w) {
         w.tensor("blk.0.attn_q.weight.lora_a", {32, 2}, 8,
                  std::vector<uint8_t>(2 * 34, 0));
       },
       "tensor 'blk.0.attn_q.weight.lora_a' is q8_0; adapters are f32, f16 "
       "or bf16"},
  };
  for (const Case &c : cases) {
    std::string path = tempFile("bad-adapter.gguf");
    ASSERT_TRUE(adapterWriter(c.keys, c.edit).write(path).ok());
    auto a = readLoraAdapter(path, tinyConfig());
    ASSERT_FALSE(a.ok()) << c.what;
    EXPECT_NE(a.message().find(c.error), std::string::npos)
        << c.what << ": " << a.message();
    EXPECT_EQ(a.message().rfind(path, 0), 0u) << a.message();
  }
}

TEST(LoraAdapterTest, TruncatedAndDamagedFilesAreRefusedNotCrashed) {
  std::string good = tempFile("good-adapter.gguf");
  ASSERT_TRUE(writeLoraAdapter(good, smallAdapter()).ok());
  std::ifstream in(good, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  std::string path = tempFile("damaged-adapter.gguf");
  auto readBytes = [&](const std::vector<uint8_t> &b) {
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char *>(b.data()), b.size());
    return readLoraAdapter(path, tinyConfig());
  };
  // Cut inside the last tensor's data.
  auto cut = readBytes({bytes.begin(), bytes.end() - 7});
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.message().find("blk.1.ffn_down.weight.lora_b"),
            std::string::npos)
      << cut.message();
  std::mt19937 rng(3);
  int refused = 0;
  for (int i = 0; i < 400; ++i) {
    std::vector<uint8_t> b = bytes;
    if (i % 2)
      b.resize(rng() % b.size());
    for (int k = 0; k < 4; ++k)
      b[rng() % b.size()] ^= uint8_t(1 + rng() % 255);
    refused += !readBytes(b).ok();
  }
  EXPECT_GT(refused, 200);
}

TEST(LoraAdapterTest, CombinedAdaptersSumTheirScaledProducts) {
  LoraAdapter a = smallAdapter(), b = smallAdapter();
  b.alpha = 3;
  for (LoraPair &p : b.pairs)
    for (float &x : p.b)
      x = -2 * x + 1;
  LoraAdapter c = combineAdapters({{a, 0.5}, {b, 2.0}});
  EXPECT_EQ(c.rank, 6);
  EXPECT_DOUBLE_EQ(c.scale(), 1.0);
  for (const LoraPair &p : a.pairs) {
    const LoraPair *q = b.find(p.role, p.layer), *r = c.find(p.role, p.layer);
    ASSERT_TRUE(q && r);
    int64_t in = int64_t(p.a.size()) / 3, out = int64_t(p.b.size()) / 3;
    for (int64_t o = 0; o < out; o += 5)
      for (int64_t i = 0; i < in; i += 3) {
        double want = 0, got = 0;
        for (int64_t j = 0; j < 3; ++j)
          want += a.scale(0.5) * p.b[o * 3 + j] * p.a[j * in + i] +
                  b.scale(2.0) * q->b[o * 3 + j] * q->a[j * in + i];
        for (int64_t j = 0; j < 6; ++j)
          got += r->b[o * 6 + j] * r->a[j * in + i];
        EXPECT_NEAR(got, want, 1e-4 * (1 + std::fabs(want)));
      }
  }
}

TEST(LoraAdapterTest, MergingAddsScaledProductsToAdaptedWeightsOnly) {
  auto base = openModel("synthetic:tiny?layers=2");
  ASSERT_TRUE(base.ok()) << base.message();
  LoraAdapter a;
  a.rank = 1;
  a.alpha = 2; // scale 2 x user 0.25
  LoraPair p;
  p.layer = 1;
  p.role = Role::AttnV;
  std::vector<int64_t> w = expectedShape(base->config, Role::AttnV);
  p.a.assign(size_t(w[1]), 0.0f);
  p.b.assign(size_t(w[0]), 0.0f);
  p.a[5] = 3.0f; // one entry of B A: row 2, column 5
  p.b[2] = 4.0f;
  a.pairs.push_back(p);
  ModelSpec merged = mergeAdapter(*base, a, 0.25);
  for (const TensorInfo &t : base->tensors) {
    auto before = base->load(t)->toFloat();
    const TensorInfo *m = merged.find(t.role, t.layer);
    ASSERT_NE(m, nullptr);
    auto after = merged.load(*m)->toFloat();
    ASSERT_EQ(before.size(), after.size());
    for (size_t k = 0; k < before.size(); ++k) {
      bool hit =
          t.role == Role::AttnV && t.layer == 1 && k == size_t(2 * w[1] + 5);
      EXPECT_FLOAT_EQ(after[k], before[k] + (hit ? 0.5f * 12.0f : 0.0f))
          << t.name << " element " << k;
    }
  }
  // At scale 0 the model is the base one.
  ModelSpec zero = mergeAdapter(*base, a, 0.0);
  const TensorInfo *v = zero.find(Role::AttnV, 1);
  EXPECT_EQ(zero.load(*v)->toFloat(), base->load(*v)->toFloat());
}

} // namespace
