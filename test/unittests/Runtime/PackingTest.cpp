//===- PackingTest.cpp - slot assembly of the weight packer ---------------===//

#include "lib/Runtime/Packing.h"
#include "lib/Support/Float16.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

using namespace ane;
using namespace ane::runtime;

namespace {

/// Row r of a [rows, 2] matrix holds (r, -r), so a row order is visible.
std::vector<float> numberedRows(int64_t rows) {
  std::vector<float> w;
  for (int64_t r = 0; r < rows; ++r) {
    w.push_back(float(r));
    w.push_back(-float(r));
  }
  return w;
}

std::vector<float> firstColumn(const std::vector<float> &w) {
  std::vector<float> c;
  for (size_t i = 0; i < w.size(); i += 2)
    c.push_back(w[i]);
  return c;
}

::ane::abi::SlotSpec slot(std::string role, int64_t rows) {
  ::ane::abi::SlotSpec s;
  s.role = std::move(role);
  s.scheme = ::ane::abi::Scheme::F16;
  s.shape = {rows, 2};
  return s;
}

TEST(PackingTest, RopeRowsTakeRotateHalfOrderPerHead) {
  // Fused Q (2 heads of 4) and K (1 head of 4), then V: only Q and K move.
  ::ane::abi::SlotSpec s = slot("attn_qkv", 16);
  s.fusedFrom = {"attn_q", "attn_k", "attn_v"};
  s.ropeRows = 12;
  s.headDim = 4;
  std::map<std::string, std::vector<float>> tensors = {
      {"attn_q", numberedRows(8)},
      {"attn_k", numberedRows(4)},
      {"attn_v", numberedRows(4)}};
  auto w = assembleSlotTensor(s, [&](const std::string &role) {
    return Result<std::vector<float>>(tensors.at(role));
  });
  ASSERT_TRUE(w.ok()) << w.message();
  EXPECT_EQ(firstColumn(*w), (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7, 0, 2,
                                                 1, 3, 0, 1, 2, 3}));
  EXPECT_EQ((*w)[3], -2.0f) << "whole rows move";
}

TEST(PackingTest, RopeRowsThatAreNotWholeHeadsAreAnError) {
  ::ane::abi::SlotSpec s = slot("attn_q", 6);
  s.ropeRows = 6;
  s.headDim = 4;
  auto w = assembleSlotTensor(s, [](const std::string &) {
    return Result<std::vector<float>>(numberedRows(6));
  });
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.message().find("cannot reorder 6 rows of heads of 4"),
            std::string::npos)
      << w.message();
}

/// With 4 bits a lone outlier should not set the step: the chosen scales
/// reconstruct better than amax / 7, and every code stays in [-8, 7].
TEST(PackingTest, FourBitScalesBeatAmaxOverQmax) {
  std::vector<float> w;
  for (int i = 0; i < 64; ++i)
    w.push_back(0.01f * float((i * 37) % 23 - 11));
  w[5] = 0.9f; // the outlier
  QuantizedMatrix q = quantizeSymmetric(w.data(), 1, 64, 64, 4);
  ASSERT_EQ(q.scales.size(), 1u);
  double searched = 0, naive = 0;
  float naiveScale = ane::roundToHalf(0.9f / 7); // stored as fp16 too
  for (int i = 0; i < 64; ++i) {
    EXPECT_GE(q.values[i], -8);
    EXPECT_LE(q.values[i], 7);
    double d = w[i] - q.values[i] * q.scales[0];
    searched += d * d;
    double n = w[i] - std::clamp<long>(std::lround(w[i] / naiveScale), -8, 7) *
                          naiveScale;
    naive += n * n;
  }
  EXPECT_LT(searched, naive);
}

/// Random weights with a few outliers, row-major [rows, cols].
std::vector<float> randomWeights(int64_t rows, int64_t cols, unsigned seed) {
  std::vector<float> w(size_t(rows * cols));
  uint32_t x = seed;
  for (float &v : w) {
    x = x * 1664525u + 1013904223u;
    v = (float(x >> 8) / float(1 << 24) - 0.5f) * 0.2f;
  }
  for (size_t k = 7; k < w.size(); k += 97)
    w[k] *= 6; // outliers stretch some groups' ranges
  return w;
}

/// lut4 as specified, from the data alone: each group's 16 levels evenly
/// spaced from its min to its max, so every weight lies within half a step,
/// (max - min) / 30, of its reconstruction (plus the fp16 rounding of the
/// stored palette).
TEST(PackingTest, Lut4WeightsAreWithinHalfAStep) {
  const int64_t rows = 8, cols = 128, group = 32, groups = cols / group;
  std::vector<float> w = randomWeights(rows, cols, 3);
  PalettizedMatrix p = palettize(w.data(), rows, cols, group);
  ASSERT_EQ(p.palettes.size(), size_t(rows * groups * 16));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      const float *v = &w[size_t(r * cols + g * group)];
      float lo = *std::min_element(v, v + group);
      float hi = *std::max_element(v, v + group);
      double halfStep = (double(hi) - lo) / 15 / 2;
      double fp16 = std::max(std::fabs(lo), std::fabs(hi)) / 2048.0;
      for (int64_t i = 0; i < group; ++i) {
        int64_t index = p.indices[size_t(r * cols + g * group + i)];
        ASSERT_GE(index, 0);
        ASSERT_LT(index, 16);
        float rec = p.palettes[size_t((r * groups + g) * 16 + index)];
        EXPECT_LE(std::fabs(double(v[i]) - rec), halfStep + fp16)
            << "row " << r << " group " << g << " weight " << i;
      }
    }
}

/// q3 as specified: codes -4..3 times the group's scale, each weight the
/// nearest code (within half a scale) unless it lies past the end codes,
/// where it takes the end one; and the searched scale loses to the plain
/// amax / 3 nowhere by more than rounding.
TEST(PackingTest, Q3WeightsTakeTheNearestCode) {
  const int64_t rows = 8, cols = 128, group = 32, groups = cols / group;
  std::vector<float> w = randomWeights(rows, cols, 5);
  QuantizedMatrix q = quantizeSymmetric(w.data(), rows, cols, group, 3);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      float scale = q.scales[size_t(r * groups + g)];
      ASSERT_GT(scale, 0.0f);
      double err = 0, naiveErr = 0;
      float amax = 0;
      for (int64_t i = 0; i < group; ++i)
        amax = std::max(amax, std::fabs(w[size_t(r * cols + g * group + i)]));
      float naive = roundToHalf(amax / 3);
      for (int64_t i = 0; i < group; ++i) {
        size_t k = size_t(r * cols + g * group + i);
        int64_t code = q.values[k];
        ASSERT_GE(code, -4);
        ASSERT_LE(code, 3);
        double x = w[k] / scale;
        if (x < -4.5)
          EXPECT_EQ(code, -4) << k;
        else if (x > 3.5)
          EXPECT_EQ(code, 3) << k;
        else
          EXPECT_LE(std::fabs(x - double(code)), 0.5 + 1e-6) << k;
        err += std::pow(w[k] - code * scale, 2);
        double n = std::clamp(std::nearbyint(double(w[k]) / naive), -4.0, 3.0);
        naiveErr += std::pow(w[k] - n * naive, 2);
      }
      EXPECT_LE(err, naiveErr * (1 + 1e-6)) << "row " << r << " group " << g;
    }
}

} // namespace
