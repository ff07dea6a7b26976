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

} // namespace
