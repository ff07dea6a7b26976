//===- PlanTest.cpp - memory budget and ANE bounds ------------------------===//

#include "lib/Runtime/Plan.h"

#include <gtest/gtest.h>

#include <algorithm>

using namespace ane;
using namespace ane::runtime;

namespace {

::ane::abi::TensorDesc tensor(std::string name, std::vector<int64_t> shape) {
  return ::ane::abi::TensorDesc{std::move(name), mil::DType::FP16,
                                std::move(shape)};
}

/// Two layers of one q4 projection [192, 64] (group 32), a q4 classifier
/// [100, 64], an attention kernel for a 256-position cache, a prefill
/// bucket of 8 and an unread global slot (the embedding).
::ane::abi::KernelSet smallKernelSet() {
  ::ane::abi::KernelSet ks;
  ks.config.dim = 64;
  ks.config.nLayers = 2;
  ks.config.nHeads = 4;
  ks.config.nKvHeads = 4;
  ks.config.headDim = 16;
  ks.config.hiddenDim = 128;
  ks.config.vocabSize = 100;
  ks.config.maxSeqLen = 256;
  ks.scheme = ::ane::abi::Scheme::Q4;
  auto slot = [](std::string role, std::string segment, int64_t rows) {
    ::ane::abi::SlotSpec s;
    s.role = std::move(role);
    s.segment = *::ane::abi::parseSegment(segment);
    s.scheme = ::ane::abi::Scheme::Q4;
    s.group = 32;
    s.shape = {rows, 64};
    s.blobs = {
        {mil::DType::Int4, {rows, 64, 1, 1}, uint64_t(64)},
        {mil::DType::FP16, {rows, 2, 1, 1}, uint64_t(64 + 64 + rows * 32)}};
    return s;
  };
  ks.slots = {slot("attn_qkv", "layer", 192), slot("token_embd", "global", 100),
              slot("output", "global", 100)};
  ks.programs = {"", "", "", "", ""};
  for (int64_t seq : {1, 8}) {
    ks.kernels.push_back({::ane::abi::Kernel::AttnQkv,
                          seq,
                          0,
                          0,
                          {tensor("x", {1, 64, 1, seq})},
                          {tensor("qkv", {1, 192, 1, seq})},
                          {"attn_qkv"}});
    ks.kernels.push_back(
        {::ane::abi::Kernel::AttnCore,
         seq,
         256,
         1,
         {tensor("q", {1, 64, 1, seq}), tensor("k_cache", {1, 64, 1, 256}),
          tensor("v_cache", {1, 64, 1, 256})},
         {tensor("attn", {1, 64, 1, seq})},
         {}});
  }
  ks.kernels.push_back({::ane::abi::Kernel::LmHead,
                        1,
                        0,
                        4,
                        {tensor("x", {1, 64, 1, 1})},
                        {tensor("logits", {1, 100, 1, 1})},
                        {"output"}});
  return ks;
}

TEST(PlanTest, CountsWhatADecodedTokenReads) {
  ::ane::abi::KernelSet ks = smallKernelSet();
  // Per q4 slot: rows * 64 / 2 code bytes and rows * 2 fp16 scales, each
  // blob behind a 64-byte header. The embedding slot is never streamed.
  uint64_t layer = (192 * 32 + 64) + (192 * 2 * 2 + 64);
  uint64_t head = (100 * 32 + 64) + (100 * 2 * 2 + 64);
  EXPECT_EQ(ks.decodeBytesPerToken(), 2 * layer + head);

  auto chip = findChip("m2");
  ASSERT_TRUE(chip.ok());
  auto p = planKernelSet(ks, *chip, 200, uint64_t(24) << 30);
  ASSERT_TRUE(p.ok()) << p.message();
  EXPECT_EQ(p->prefillSeq, 8);
  EXPECT_EQ(p->parameters, 2u * 192 * 64 + 100 * 64);
  ASSERT_EQ(p->strategies.size(), 3u);
  const StrategyPlan &blob = p->strategies[0];
  EXPECT_EQ(blob.strategy, "blob");
  EXPECT_EQ(blob.weightBytes, 2 * layer + head);
  // K and V, fp16, 2 layers x 64 channels x 200 positions.
  EXPECT_EQ(blob.kvCacheBytes, 2u * 2 * 64 * 200 * 2);
  EXPECT_EQ(blob.embeddingBytes, 100u * 64 * 2);
  // Every kernel's inputs and outputs at the 256 bucket, caches excepted.
  uint64_t scratch =
      2 * ((64 + 192) + (64 + 64) + (8 * 64 + 8 * 192) + (8 * 64 + 8 * 64)) +
      2 * (64 + 100);
  EXPECT_EQ(blob.scratchBytes, scratch);
  EXPECT_EQ(blob.totalBytes, blob.weightBytes + blob.embeddingBytes +
                                 blob.kvCacheBytes + blob.scratchBytes);
  EXPECT_EQ(blob.callsPerToken, 2 * 2 + 1);

  // The roofline by hand: stream, flops and 5 calls of dispatch.
  double flops = 2.0 * double(p->parameters) + 4.0 * 2 * 4 * 16 * 200;
  double best =
      1.0 /
      (std::max(double(blob.weightBytes) / 60e9, flops / 15.8e12) + 5 * 0.1e-3);
  EXPECT_NEAR(blob.decodeTokS[0], best, best * 1e-9);
  EXPECT_LT(blob.decodeTokS[1], blob.decodeTokS[0]);
  EXPECT_GT(blob.prefillTokS[0], blob.decodeTokS[0]);

  // input: the ANE's inputs are fp16 surfaces, so int4 travels as fp16.
  const StrategyPlan &input = p->strategies[1];
  EXPECT_EQ(input.weightBytes, 2u * (2 * 192 * 64) + 2 * 100 * 64);
  EXPECT_NE(input.note.find("fp16 surfaces"), std::string::npos);
  // baked: one program per layer for kernels with layer weights.
  const StrategyPlan &baked = p->strategies[2];
  EXPECT_EQ(baked.programs, 2 * 2 + 2 + 1);
  EXPECT_TRUE(baked.note.empty());
}

TEST(PlanTest, RejectsUnknownChipsAndContextsBeyondTheBuckets) {
  auto chip = findChip("m9");
  ASSERT_FALSE(chip.ok());
  EXPECT_NE(chip.message().find("m4-max"), std::string::npos);
  auto p = planKernelSet(smallKernelSet(), *findChip("m1"), 300, 1 << 30);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.message().find("256"), std::string::npos) << p.message();
  EXPECT_FALSE(planKernelSet(smallKernelSet(), *findChip("m1"), 0, 1).ok());
}

TEST(PlanTest, FasterChipsRaiseOnlyTheirBound) {
  ::ane::abi::KernelSet ks = smallKernelSet();
  auto m3 = planKernelSet(ks, *findChip("m3"), 256, 1 << 30);
  auto m3max = planKernelSet(ks, *findChip("m3-max"), 256, 1 << 30);
  ASSERT_TRUE(m3.ok() && m3max.ok());
  EXPECT_EQ(m3->strategies[0].totalBytes, m3max->strategies[0].totalBytes);
  EXPECT_GT(m3max->strategies[0].decodeTokS[0],
            m3->strategies[0].decodeTokS[0]);
}

} // namespace
