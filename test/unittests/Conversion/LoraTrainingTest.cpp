//===- LoraTrainingTest.cpp - adapters through the whole model ------------===//
//
// A tiny synthetic model compiled with adapter inputs and the backward
// kernels: the engine's whole-model gradient of every adapter matrix
// against central differences of the loss it computes, and adapters at
// inference against the same adapter merged into the weights.
//
//===----------------------------------------------------------------------===//

#include "test/unittests/Conversion/CompiledKernels.h"

#include "lib/Compile.h"
#include "lib/Runtime/Engine.h"
#include "lib/Runtime/Finetune.h"
#include "lib/Runtime/Lora.h"
#include "lib/Runtime/ModelPacker.h"
#include "lib/Runtime/Reference.h"

#include <cmath>
#include <fstream>
#include <iterator>
#include <random>

#include <gtest/gtest.h>

namespace rt = ::ane::runtime;
namespace model = ::ane::model;

namespace {

constexpr int64_t kLength = 6; // tokens of a training sequence

rt::ModelImage compileTiny(const model::ModelSpec &spec, int64_t rank,
                           std::vector<std::string> targets,
                           const char *scheme = "f16") {
  ::ane::KernelSetOptions o;
  o.scheme = *::ane::abi::parseScheme(scheme);
  o.dtype = ::ane::abi::DType::FP32;
  o.seqBuckets = {1, kLength - 1};
  o.ctxBuckets = {8};
  o.backward = rank > 0;
  o.loraRank = rank;
  o.loraTargets = std::move(targets);
  return ::ane::test::compileImage(spec, o);
}

std::vector<std::string> allTargets() {
  return {std::begin(::ane::abi::kLoraRoles), std::end(::ane::abi::kLoraRoles)};
}

/// An adapter with every A and B drawn at random (B = 0, the training
/// start, would leave A's gradient zero).
std::shared_ptr<rt::KernelLora> randomLora(const ::ane::abi::KernelSet &set,
                                           unsigned seed) {
  auto lora =
      std::make_shared<rt::KernelLora>(rt::initialLora(set, 4.0f, seed));
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 0.2f);
  for (auto &layer : lora->layers)
    for (auto &[role, m] : layer)
      for (float &v : m.bt)
        v = d(rng);
  return lora;
}

class LoraTrainingTest : public ::testing::Test {
protected:
  void SetUp() override {
    auto m = model::openModel("synthetic:tiny?layers=2");
    ASSERT_TRUE(m.ok()) << m.message();
    spec = std::move(*m);
  }
  model::ModelSpec spec;
};

TEST_F(LoraTrainingTest, WholeModelGradientMatchesFiniteDifferences) {
  rt::ModelImage image = compileTiny(spec, 2, allTargets());
  auto engine = rt::Engine::create(image);
  ASSERT_TRUE(engine.ok()) << engine.message();
  ASSERT_EQ(engine->trainLength(), kLength);
  auto lora = randomLora(image.kernels, 7);
  ASSERT_TRUE(engine->setLora(lora).ok());
  std::vector<int32_t> tokens = {1, 57, 300, 12, 499, 3};
  rt::LoraLayers grads = rt::zerosLike(lora->layers);
  auto loss = engine->trainSequence(tokens, &grads);
  ASSERT_TRUE(loss.ok()) << loss.message();
  EXPECT_GT(*loss, 0.0);

  auto lossWith = [&](const rt::KernelLora &changed) {
    EXPECT_TRUE(
        engine->setLora(std::make_shared<rt::KernelLora>(changed)).ok());
    auto l = engine->trainSequence(tokens, nullptr);
    EXPECT_TRUE(l.ok()) << l.message();
    return l.ok() ? *l : 0.0;
  };
  int checked = 0;
  for (size_t layer = 0; layer < lora->layers.size(); ++layer)
    for (const std::string &role : allTargets())
      for (bool isB : {false, true}) {
        const auto &values = isB ? lora->layers[layer].at(role).bt
                                 : lora->layers[layer].at(role).at;
        const auto &grad =
            isB ? grads[layer].at(role).bt : grads[layer].at(role).at;
        double largest = 0;
        for (float g : grad)
          largest = std::max(largest, double(std::fabs(g)));
        EXPECT_GT(largest, 1e-6) << role << (isB ? " B" : " A");
        for (size_t k = 0; k < 3; ++k) {
          size_t at = (k * 7919 + layer * 31 + 5) % values.size();
          const double h = 1e-2;
          rt::KernelLora plus = *lora, minus = *lora;
          auto &p =
              isB ? plus.layers[layer][role].bt : plus.layers[layer][role].at;
          auto &m =
              isB ? minus.layers[layer][role].bt : minus.layers[layer][role].at;
          p[at] += float(h);
          m[at] -= float(h);
          double numeric = (lossWith(plus) - lossWith(minus)) / (2 * h);
          EXPECT_NEAR(grad[at], numeric, 1e-4 + 2e-2 * largest)
              << "layer " << layer << " " << role << (isB ? " B" : " A")
              << " element " << at;
          ++checked;
        }
      }
  EXPECT_EQ(checked, 2 * 7 * 2 * 3);
}

/// A random adapter in the file form on `roles` of every layer.
model::LoraAdapter fileAdapter(const model::Config &c,
                               std::vector<model::Role> roles, int64_t rank,
                               unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 0.3f);
  model::LoraAdapter a;
  a.rank = rank;
  a.alpha = float(rank); // scale 1
  for (int l = 0; l < c.nLayers; ++l)
    for (model::Role r : roles) {
      std::vector<int64_t> w = model::expectedShape(c, r);
      model::LoraPair p{l, r, std::vector<float>(size_t(rank * w[1])),
                        std::vector<float>(size_t(w[0] * rank))};
      for (float &v : p.a)
        v = d(rng);
      for (float &v : p.b)
        v = d(rng);
      a.pairs.push_back(std::move(p));
    }
  return a;
}

/// The logits of every position of `tokens`, decoded one by one.
std::vector<float> allLogits(rt::Engine &e,
                             const std::vector<int32_t> &tokens) {
  std::vector<float> out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    auto l = e.decode(tokens[i], int64_t(i));
    EXPECT_TRUE(l.ok()) << l.message();
    if (l.ok())
      out.insert(out.end(), l->begin(), l->end());
  }
  return out;
}

/// The checkpoint pair (adapter + optimizer state) reads back exactly; a
/// state from another step, and damaged or cut state files, are refused
/// without a crash.
TEST_F(LoraTrainingTest, CheckpointsRoundTripAndDamagedStatesAreRefused) {
  rt::ModelImage image = compileTiny(spec, 2, {"attn_q", "ffn_up"});
  const ::ane::abi::KernelSet &ks = image.kernels;
  auto lora = randomLora(ks, 5);
  rt::OptimizerState state;
  state.step = 7;
  state.seed = 99;
  state.m = rt::zerosLike(lora->layers);
  state.v = rt::zerosLike(lora->layers);
  float x = 0.5f;
  for (rt::LoraLayers *moments : {&state.m, &state.v})
    for (auto &layer : *moments)
      for (auto &[role, m] : layer)
        for (std::vector<float> *v : {&m.at, &m.bt})
          for (float &e : *v)
            e = (x += 0.25f);
  std::string path = ::testing::TempDir() + "/checkpoint.gguf";
  ASSERT_TRUE(rt::writeCheckpoint(path, *lora, state, ks).ok());
  auto back = rt::readCheckpoint(path, ks);
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->second.step, 7);
  EXPECT_EQ(back->second.seed, 99u);
  for (size_t l = 0; l < lora->layers.size(); ++l)
    for (auto &[role, m] : lora->layers[l]) {
      EXPECT_EQ(back->first.layers[l].at(role).at, m.at) << role;
      EXPECT_EQ(back->first.layers[l].at(role).bt, m.bt) << role;
      EXPECT_EQ(back->second.m[l].at(role).bt, state.m[l].at(role).bt);
      EXPECT_EQ(back->second.v[l].at(role).at, state.v[l].at(role).at);
    }

  // The adapter of step 7 beside the state of step 8.
  std::string statePath = path + ".state";
  std::ifstream in(statePath, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  rt::OptimizerState later = state;
  later.step = 8;
  ASSERT_TRUE(rt::writeCheckpoint(path + ".later", *lora, later, ks).ok());
  std::ifstream laterIn(path + ".later.state", std::ios::binary);
  std::vector<char> laterBytes((std::istreambuf_iterator<char>(laterIn)),
                               std::istreambuf_iterator<char>());
  auto write = [&](const std::vector<char> &b) {
    std::ofstream(statePath, std::ios::binary | std::ios::trunc)
        .write(b.data(), std::streamsize(b.size()));
  };
  write(laterBytes);
  auto mixed = rt::readCheckpoint(path, ks);
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.message().find("is at step 7, its optimizer state"),
            std::string::npos)
      << mixed.message();

  std::mt19937 rng(11);
  int refused = 0;
  for (int i = 0; i < 300; ++i) {
    std::vector<char> b = bytes;
    if (i % 2)
      b.resize(rng() % b.size());
    for (int k = 0; k < 3; ++k)
      b[rng() % b.size()] ^= char(1 + rng() % 255);
    write(b);
    refused += !rt::readCheckpoint(path, ks).ok();
  }
  EXPECT_GT(refused, 150);
}

TEST_F(LoraTrainingTest, KernelFormRoundTripsAndRefusesWhatTheKernelsLack) {
  rt::ModelImage image = compileTiny(spec, 4, {"attn_q", "attn_k", "ffn_down"});
  const ::ane::abi::KernelSet &ks = image.kernels;
  model::LoraAdapter a =
      fileAdapter(spec.config, {model::Role::AttnQ, model::Role::AttnK}, 4, 3);
  auto k = rt::toKernelLora(a, 1.0, ks);
  ASSERT_TRUE(k.ok()) << k.message();
  // Q's B^T columns follow the slot's rotate-half rows: row 1 (the odd
  // member of pair 0) sits at column hd/2.
  int64_t hd = spec.config.headDim;
  EXPECT_EQ(k->layers[0].at("attn_q").bt[size_t(hd / 2)], a.pairs[0].b[4]);
  model::LoraAdapter back = rt::toLoraAdapter(*k, ks);
  for (const model::LoraPair &p : a.pairs) {
    const model::LoraPair *q = back.find(p.role, p.layer);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->a, p.a);
    EXPECT_EQ(q->b, p.b);
  }
  // ffn_down is taken but not in the file: zeros.
  for (float v : back.find(model::Role::FfnDown, 1)->b)
    ASSERT_EQ(v, 0.0f);
  auto up = rt::toKernelLora(
      fileAdapter(spec.config, {model::Role::FfnUp}, 2, 4), 1.0, ks);
  ASSERT_FALSE(up.ok());
  EXPECT_NE(up.message().find("adapts ffn_up, which the kernels take no "
                              "adapter for (they take attn_q, attn_k, "
                              "ffn_down)"),
            std::string::npos)
      << up.message();
  auto wide = rt::toKernelLora(
      fileAdapter(spec.config, {model::Role::AttnQ}, 8, 4), 1.0, ks);
  ASSERT_FALSE(wide.ok());
  EXPECT_NE(wide.message().find("rank 8 is above the 4 the kernels take"),
            std::string::npos)
      << wide.message();
}

TEST_F(LoraTrainingTest, KernelAdaptersMatchMergedWeights) {
  std::vector<int32_t> tokens = {1, 40, 7, 300, 12, 5, 99};
  std::vector<model::Role> all = {model::Role::AttnQ,   model::Role::AttnK,
                                  model::Role::AttnV,   model::Role::AttnOut,
                                  model::Role::FfnGate, model::Role::FfnUp,
                                  model::Role::FfnDown};
  model::LoraAdapter a = fileAdapter(spec.config, all, 3, 9);
  // Unmerged: the kernels take the adapter as inputs.
  rt::ModelImage withInputs = compileTiny(spec, 3, allTargets());
  auto e1 = rt::Engine::create(withInputs);
  ASSERT_TRUE(e1.ok()) << e1.message();
  std::vector<float> base = allLogits(*e1, tokens);
  auto k = rt::toKernelLora(a, 1.0, withInputs.kernels);
  ASSERT_TRUE(k.ok()) << k.message();
  ASSERT_TRUE(e1->setLora(std::make_shared<rt::KernelLora>(*k)).ok());
  std::vector<float> unmerged = allLogits(*e1, tokens);
  // Merged: the plain kernels on W + B A.
  rt::ModelImage mergedImage = compileTiny(model::mergeAdapter(spec, a), 0, {});
  auto e2 = rt::Engine::create(mergedImage);
  ASSERT_TRUE(e2.ok()) << e2.message();
  std::vector<float> merged = allLogits(*e2, tokens);
  // Both store f16 weights: W + B A rounded once against W rounded plus
  // the exact B A.
  EXPECT_LT(rt::relativeError(unmerged, merged), 1e-4);
  EXPECT_GT(rt::relativeError(unmerged, base), 0.5); // the adapter matters

  // Scale 0: exactly the kernels' output without an adapter.
  auto zero = rt::toKernelLora(a, 0.0, withInputs.kernels);
  ASSERT_TRUE(zero.ok());
  ASSERT_TRUE(e1->setLora(std::make_shared<rt::KernelLora>(*zero)).ok());
  EXPECT_EQ(allLogits(*e1, tokens), base);
}

} // namespace
