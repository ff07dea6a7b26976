//===- GenerateTest.cpp - the sampler -------------------------------------===//

#include "lib/Runtime/Generate.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace ane::runtime;

namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, 2.9f, -1.0f, 0.5f};

TEST(SamplerTest, TemperatureZeroIsArgmax) {
  Sampler s({});
  EXPECT_EQ(s.sample(kLogits, {}), 1);
}

TEST(SamplerTest, TopKOneAndTinyTopPAreArgmaxAtAnyTemperature) {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    SamplerOptions k;
    k.temperature = 5.0f;
    k.topK = 1;
    k.seed = seed;
    Sampler byK(k);
    EXPECT_EQ(byK.sample(kLogits, {}), 1);
    SamplerOptions p;
    p.temperature = 5.0f;
    p.topP = 1e-6f;
    p.seed = seed;
    Sampler byP(p);
    EXPECT_EQ(byP.sample(kLogits, {}), 1);
  }
}

TEST(SamplerTest, TopKNeverPicksOutsideTheK) {
  SamplerOptions o;
  o.temperature = 10.0f;
  o.topK = 2;
  Sampler s(o);
  for (int i = 0; i < 2000; ++i) {
    int32_t t = s.sample(kLogits, {});
    EXPECT_TRUE(t == 1 || t == 2) << t;
  }
}

TEST(SamplerTest, TheSameSeedRepeatsTheSameTokens) {
  SamplerOptions o;
  o.temperature = 1.0f;
  o.seed = 42;
  Sampler a(o), b(o);
  o.seed = 43;
  Sampler c(o);
  int differ = 0;
  for (int i = 0; i < 200; ++i) {
    int32_t x = a.sample(kLogits, {});
    EXPECT_EQ(x, b.sample(kLogits, {}));
    differ += x != c.sample(kLogits, {});
  }
  EXPECT_GT(differ, 20) << "another seed gives another stream";
}

/// At temperature 1 the frequencies follow softmax(logits): within five
/// standard errors over 40000 draws.
TEST(SamplerTest, FrequenciesFollowTheSoftmax) {
  SamplerOptions o;
  o.temperature = 1.0f;
  o.seed = 7;
  Sampler s(o);
  const int n = 40000;
  std::vector<int> count(kLogits.size());
  for (int i = 0; i < n; ++i)
    ++count[s.sample(kLogits, {})];
  double z = 0;
  for (float l : kLogits)
    z += std::exp(l);
  for (size_t t = 0; t < kLogits.size(); ++t) {
    double p = std::exp(kLogits[t]) / z;
    double se = std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(double(count[t]) / n, p, 5 * se) << "token " << t;
  }
}

TEST(SamplerTest, RepetitionPenaltyPushesRecentTokensDown) {
  SamplerOptions o;
  o.repeatPenalty = 1.1f;
  Sampler s(o);
  // 3.0 / 1.1 < 2.9: the recent token 1 loses to token 2.
  EXPECT_EQ(s.sample(kLogits, {1}), 2);
  // Out of the look-back window, no penalty.
  o.repeatLastN = 1;
  Sampler window(o);
  EXPECT_EQ(window.sample(kLogits, {1, 4}), 1);
}

} // namespace
