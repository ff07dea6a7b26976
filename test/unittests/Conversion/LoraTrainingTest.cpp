//===- LoraTrainingTest.cpp - adapters through the whole model ------------===//
//
// A tiny synthetic model compiled with adapter inputs and the backward
// kernels: the engine's whole-model gradient of every adapter matrix
// against central differences of the loss it computes, and adapters at
// inference against the same adapter merged into the weights.
//
//===----------------------------------------------------------------------===//

#include "lib/Compile.h"
#include "lib/Runtime/Engine.h"
#include "lib/Runtime/Lora.h"
#include "lib/Runtime/ModelPacker.h"

#include <cmath>
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
  auto kernels = ::ane::compileKernelSet(spec, o);
  EXPECT_TRUE(kernels.ok()) << kernels.message();
  if (!kernels.ok())
    return {};
  auto image = rt::packImage(spec, std::move(*kernels));
  EXPECT_TRUE(image.ok()) << image.message();
  return image.ok() ? std::move(*image) : rt::ModelImage();
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
  auto loss = engine->trainSequence(tokens, grads);
  ASSERT_TRUE(loss.ok()) << loss.message();
  EXPECT_GT(*loss, 0.0);

  auto lossWith = [&](const rt::KernelLora &changed) {
    EXPECT_TRUE(
        engine->setLora(std::make_shared<rt::KernelLora>(changed)).ok());
    rt::LoraLayers unused = rt::zerosLike(changed.layers);
    auto l = engine->trainSequence(tokens, unused);
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

} // namespace
