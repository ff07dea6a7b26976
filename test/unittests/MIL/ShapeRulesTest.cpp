//===- ShapeRulesTest.cpp - MIL shape rules -------------------------------===//

#include "lib/MIL/ShapeRules.h"

#include <gtest/gtest.h>

using namespace ane::mil;

namespace {

Shape ok(const ShapeOrError &r) {
  EXPECT_TRUE(r.ok()) << r.error;
  return r.shape;
}

TEST(ShapeRulesTest, BroadcastFollowsNumPy) {
  EXPECT_EQ(ok(broadcastShapes({1, 64, 1, 8}, {64, 1, 1})),
            (Shape{1, 64, 1, 8}));
  EXPECT_EQ(ok(broadcastShapes({4, 1, 8}, {3, 1})), (Shape{4, 3, 8}));
  EXPECT_EQ(ok(broadcastShapes({}, {3, 2})), (Shape{3, 2}));
  EXPECT_EQ(ok(broadcastShapes({kDynamic, 4}, {3, 1})), (Shape{3, 4}));
  ShapeOrError bad = broadcastShapes({3, 2}, {4, 2});
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.error.find("[3, 2]"), std::string::npos);
}

TEST(ShapeRulesTest, ConvOutputSize) {
  ConvParams p;
  EXPECT_EQ(ok(convShape({1, 64, 1, 8}, {128, 64, 1, 1}, p)),
            (Shape{1, 128, 1, 8}));
  p.strides = {2, 2};
  p.padType = PadType::Custom;
  p.pad = {1, 1, 1, 1};
  // floor((9 + 2 - 3) / 2) + 1 = 5
  EXPECT_EQ(ok(convShape({2, 3, 9, 9}, {8, 3, 3, 3}, p)), (Shape{2, 8, 5, 5}));
  p = {};
  p.padType = PadType::Same;
  p.strides = {2};
  EXPECT_EQ(ok(convShape({1, 4, 7}, {4, 4, 3}, p)), (Shape{1, 4, 4}));
  p = {};
  p.groups = 4;
  EXPECT_EQ(ok(convShape({1, 8, 5}, {8, 2, 1}, p)), (Shape{1, 8, 5}));
  EXPECT_FALSE(convShape({1, 8, 5}, {8, 4, 1}, p).ok());
  EXPECT_FALSE(convShape({1, 8, 2}, {8, 2, 3}, p).ok()); // kernel too big
}

TEST(ShapeRulesTest, MatmulBroadcastsBatchAndPromotesVectors) {
  EXPECT_EQ(ok(matmulShape({2, 1, 3, 4}, {5, 4, 6}, false, false)),
            (Shape{2, 5, 3, 6}));
  EXPECT_EQ(ok(matmulShape({1, 4, 8, 16}, {1, 4, 32, 16}, false, true)),
            (Shape{1, 4, 8, 32}));
  EXPECT_EQ(ok(matmulShape({4}, {4, 6}, false, false)), (Shape{6}));
  EXPECT_EQ(ok(matmulShape({3, 4}, {4}, false, false)), (Shape{3}));
  EXPECT_FALSE(matmulShape({3, 4}, {5, 6}, false, false).ok());
}

TEST(ShapeRulesTest, ReshapeInfersAndCopies) {
  EXPECT_EQ(ok(reshapeShape({1, 64, 1, 8}, {1, 4, 16, -1})),
            (Shape{1, 4, 16, 8}));
  EXPECT_EQ(ok(reshapeShape({2, 3, 4}, {0, -1, 2})), (Shape{2, 6, 2}));
  EXPECT_FALSE(reshapeShape({2, 3}, {4, 2}).ok());
  EXPECT_FALSE(reshapeShape({2, 3}, {-1, -1}).ok());
  EXPECT_FALSE(reshapeShape({2, 3}, {5, -1}).ok());
}

TEST(ShapeRulesTest, Reductions) {
  EXPECT_EQ(ok(reduceShape({2, 3, 4}, std::vector<int64_t>{-1}, false)),
            (Shape{2, 3}));
  EXPECT_EQ(ok(reduceShape({2, 3, 4}, std::vector<int64_t>{1}, true)),
            (Shape{2, 1, 4}));
  EXPECT_EQ(ok(reduceShape({2, 3, 4}, std::nullopt, false)), (Shape{}));
  EXPECT_FALSE(reduceShape({2, 3}, std::vector<int64_t>{2}, false).ok());
  EXPECT_FALSE(reduceShape({2, 3}, std::vector<int64_t>{1, -1}, false).ok());
}

TEST(ShapeRulesTest, TransposeExpandSqueeze) {
  EXPECT_EQ(ok(transposeShape({1, 2, 3}, {2, 0, 1})), (Shape{3, 1, 2}));
  EXPECT_FALSE(transposeShape({1, 2, 3}, {0, 0, 1}).ok());
  EXPECT_EQ(ok(expandDimsShape({64, 8}, {0, 2})), (Shape{1, 64, 1, 8}));
  EXPECT_EQ(ok(expandDimsShape({64}, {-1})), (Shape{64, 1}));
  EXPECT_EQ(ok(squeezeShape({1, 64, 1, 8}, std::nullopt)), (Shape{64, 8}));
  // A listed non-1 dim is kept, as in PyTorch.
  EXPECT_EQ(ok(squeezeShape({1, 64, 1}, std::vector<int64_t>{0, 1})),
            (Shape{64, 1}));
}

TEST(ShapeRulesTest, SliceByIndexMasksAndStrides) {
  SliceByIndexParams p;
  p.begin = {0, 1};
  p.end = {4, -1};
  EXPECT_EQ(ok(sliceByIndexShape({4, 10}, p)), (Shape{4, 8}));
  p.stride = {2, 3};
  EXPECT_EQ(ok(sliceByIndexShape({4, 10}, p)), (Shape{2, 3}));
  p.stride = {-1, 1};
  p.beginMask = {true, false};
  p.endMask = {true, false};
  EXPECT_EQ(ok(sliceByIndexShape({4, 10}, p)), (Shape{4, 8}));
  p = {};
  p.begin = {2, 0};
  p.end = {3, 10};
  p.squeezeMask = {true, false};
  EXPECT_EQ(ok(sliceByIndexShape({4, 10}, p)), (Shape{10}));
  p.squeezeMask = {};
  p.begin = {3, 0};
  p.end = {2, 10};
  EXPECT_FALSE(sliceByIndexShape({4, 10}, p).ok()); // empty
}

TEST(ShapeRulesTest, SliceBySize) {
  EXPECT_EQ(ok(sliceBySizeShape({1, 64, 1, 8}, {0, 32, 0, 0}, {1, 32, 1, -1})),
            (Shape{1, 32, 1, 8}));
  EXPECT_FALSE(sliceBySizeShape({4}, {2}, {3}).ok());
  EXPECT_FALSE(sliceBySizeShape({4}, {4}, {-1}).ok());
}

TEST(ShapeRulesTest, ConcatAndSplit) {
  EXPECT_EQ(ok(concatShape({{1, 32, 8}, {1, 16, 8}}, 1, false)),
            (Shape{1, 48, 8}));
  EXPECT_EQ(ok(concatShape({{2, 3}, {2, 3}}, -1, true)), (Shape{2, 6}));
  EXPECT_FALSE(concatShape({{1, 32, 8}, {1, 16, 4}}, 1, false).ok());
  EXPECT_FALSE(concatShape({{1, 32, 8}, {1, 16}}, 1, false).ok());

  ShapesOrError s = splitShapes({1, 64, 8}, 1, 4, std::nullopt);
  ASSERT_TRUE(s.ok()) << s.error;
  EXPECT_EQ(s.shapes, (std::vector<Shape>(4, Shape{1, 16, 8})));
  s = splitShapes({1, 64, 8}, 1, std::nullopt, std::vector<int64_t>{48, 16});
  ASSERT_TRUE(s.ok()) << s.error;
  EXPECT_EQ(s.shapes[1], (Shape{1, 16, 8}));
  EXPECT_FALSE(splitShapes({1, 64}, 1, 3, std::nullopt).ok());
  EXPECT_FALSE(
      splitShapes({1, 64}, 1, std::nullopt, std::vector<int64_t>{32, 16}).ok());
}

TEST(ShapeRulesTest, GatherAndAttention) {
  EXPECT_EQ(ok(gatherShape({512, 64}, {8}, 0, 0)), (Shape{8, 64}));
  EXPECT_EQ(ok(gatherShape({2, 5, 7}, {2, 3}, 1, 1)), (Shape{2, 3, 7}));
  EXPECT_FALSE(gatherShape({512, 64}, {8}, 2, 0).ok());
  EXPECT_EQ(ok(sdpaShape({1, 4, 8, 16}, {1, 4, 32, 16}, {1, 4, 32, 24},
                         Shape{1, 1, 8, 32})),
            (Shape{1, 4, 8, 24}));
  EXPECT_FALSE(
      sdpaShape({1, 4, 8, 16}, {1, 4, 32, 8}, {1, 4, 32, 16}, std::nullopt)
          .ok());
  EXPECT_FALSE(sdpaShape({1, 4, 8, 16}, {1, 4, 32, 16}, {1, 4, 32, 16},
                         Shape{1, 1, 8, 31})
                   .ok());
}

} // namespace
