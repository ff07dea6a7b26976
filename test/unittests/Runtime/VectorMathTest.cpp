//===- VectorMathTest.cpp - vector exp, softmax and SiLU vs std::exp ------===//
//
// Each check runs with every kernel family the host has: the AVX2 lanes on
// x86, the NEON lanes on ARM64 (qemu-aarch64 in CI), std::exp for scalar.
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Cpu/VectorMath.h"
#include "test/unittests/Runtime/HostFamilies.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

using namespace ane::runtime;
using ::ane::test::forEachHostFamily;

namespace {

/// How many floats lie between a and b (both finite, same sign or zero).
int64_t ulpDistance(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  return std::abs(int64_t(ia) - int64_t(ib));
}

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(VectorMathTest, ExpIsWithinTwoUlpOfStdExp) {
  forEachHostFamily([&] {
    // Every 1/1024 from -110 to 100 (not a multiple of 8 in all: the last
    // values go through the tail), then the edges of the range.
    std::vector<float> x;
    for (int i = -110 * 1024; i <= 100 * 1024; ++i)
      x.push_back(float(i) / 1024);
    for (float v : {-87.3365448f, -87.3365f, -87.34f, 88.7228f, 88.7229f,
                    88.72f, 88.4f, 1e-30f, -1e-30f, 0.0f, -0.0f})
      x.push_back(v);
    std::vector<float> y(x.size());
    expRow(x.data(), y.data(), int64_t(x.size()));
    for (size_t i = 0; i < x.size(); ++i) {
      float want = std::exp(x[i]);
      if (want >= std::numeric_limits<float>::min() && std::isfinite(want)) {
        ASSERT_LE(ulpDistance(y[i], want), 2) << "exp(" << x[i] << ")";
      } else if (std::isinf(want)) {
        ASSERT_EQ(y[i], kInf) << "exp(" << x[i] << ")";
      } else {
        ASSERT_GE(y[i], 0.0f) << "exp(" << x[i] << ")";
        ASSERT_LT(y[i], std::numeric_limits<float>::min())
            << "exp(" << x[i] << ")";
      }
    }
  });
}

TEST(VectorMathTest, ExpOfInfinitiesAndNaN) {
  forEachHostFamily([&] {
    float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> x = {-kInf, kInf, nan, 1.0f, -kInf, kInf,
                            nan,   0.5f, nan, -200, 200};
    std::vector<float> y(x.size());
    expRow(x.data(), y.data(), int64_t(x.size()));
    std::vector<size_t> nans = {2, 6, 8};
    for (size_t i : nans)
      EXPECT_TRUE(std::isnan(y[i])) << i;
    EXPECT_EQ(y[0], 0.0f);
    EXPECT_EQ(y[4], 0.0f);
    EXPECT_EQ(y[9], 0.0f);
    EXPECT_EQ(y[1], kInf);
    EXPECT_EQ(y[5], kInf);
    EXPECT_EQ(y[10], kInf);
    EXPECT_EQ(y[3], std::exp(1.0f));
  });
}

/// softmax in doubles, -inf entries at 0.
std::vector<double> softmaxDouble(const std::vector<float> &v) {
  double mx = -INFINITY, sum = 0;
  for (float x : v)
    mx = std::max(mx, double(x));
  std::vector<double> out;
  for (float x : v) {
    out.push_back(std::exp(double(x) - mx));
    sum += out.back();
  }
  for (double &o : out)
    o /= sum;
  return out;
}

TEST(VectorMathTest, SoftmaxRowsOfEveryLengthMatchDoubles) {
  forEachHostFamily([&] {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> d(-30.0f, 30.0f);
    for (int64_t n = 1; n <= 70; ++n) {
      std::vector<float> v(n);
      for (int64_t i = 0; i < n; ++i)
        v[i] = i % 5 == 3 ? -kInf : d(rng); // masked positions
      std::vector<double> want = softmaxDouble(v);
      softmaxRow(v.data(), n);
      for (int64_t i = 0; i < n; ++i)
        // x - max rounds in floats: up to 60 x 2^-24 = 3.6e-6 relative.
        ASSERT_NEAR(v[i], want[i], 4e-6 * want[i] + 1e-30)
            << "n = " << n << ", i = " << i;
    }
  });
}

TEST(VectorMathTest, SoftmaxOfAFullyMaskedRowIsNaNLikeTheOracle) {
  forEachHostFamily([&] {
    std::vector<float> v(11, -kInf);
    softmaxRow(v.data(), int64_t(v.size()));
    for (float x : v)
      EXPECT_TRUE(std::isnan(x));
  });
}

TEST(VectorMathTest, SiluMatchesTheFormulaInDoubles) {
  forEachHostFamily([&] {
    std::vector<float> v;
    for (int i = -4000; i <= 4003; ++i)
      v.push_back(float(i) / 100);
    for (float x : {-100.0f, -88.0f, -87.5f, 87.5f, 88.0f, 100.0f, 1e-20f})
      v.push_back(x);
    std::vector<float> y = v;
    siluRow(y.data(), int64_t(y.size()));
    for (size_t i = 0; i < v.size(); ++i) {
      double want = double(v[i]) / (1.0 + std::exp(-double(v[i])));
      ASSERT_NEAR(y[i], want, 1e-6 * std::abs(want) + 1e-37)
          << "silu(" << v[i] << ")";
    }
  });
}

} // namespace
