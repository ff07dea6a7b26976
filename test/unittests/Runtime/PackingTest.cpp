//===- PackingTest.cpp - slot assembly of the weight packer ---------------===//

#include "lib/Runtime/Packing.h"
#include "lib/MIL/WeightFile.h"
#include "lib/Runtime/Cpu/QuantMatMul.h"
#include "lib/Runtime/Interleaved.h"
#include "lib/Support/Float16.h"
#include "lib/Support/MappedFile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <random>

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

/// A [rows, cols] tensor of `type` stored in `bytes`.
model::TensorData storedTensor(model::TensorType type, int64_t rows,
                               int64_t cols,
                               std::shared_ptr<std::vector<uint8_t>> bytes) {
  model::TensorData t;
  t.type = type;
  t.shape = {rows, cols};
  t.data = bytes->data();
  t.size = bytes->size();
  t.owner = std::move(bytes);
  return t;
}

/// A random GGUF Q4_0 or Q8_0 tensor of [rows, cols] (its own storage),
/// with scales of both signs and every code.
model::TensorData blockTensor(model::TensorType type, int64_t rows,
                              int64_t cols, std::mt19937 &rng) {
  bool q4 = type == model::TensorType::Q4_0;
  auto bytes = std::make_shared<std::vector<uint8_t>>();
  for (int64_t b = 0; b < rows * cols / 32; ++b) {
    float scale = float(int(rng() % 200) - 100) / 1000.0f;
    uint16_t h = ane::floatToHalfBits(scale);
    bytes->push_back(uint8_t(h));
    bytes->push_back(uint8_t(h >> 8));
    for (int i = 0; i < (q4 ? 16 : 32); ++i)
      bytes->push_back(uint8_t(rng()));
  }
  return storedTensor(type, rows, cols, std::move(bytes));
}

::ane::abi::SlotSpec quantSlot(::ane::abi::Scheme scheme, int64_t rows,
                               int64_t cols) {
  ::ane::abi::SlotSpec s;
  s.role = "attn_qkv";
  s.scheme = scheme;
  s.group = 32;
  s.shape = {rows, cols};
  s.blobs = {
      {scheme == ::ane::abi::Scheme::Q4 ? mil::DType::Int4 : mil::DType::Int8,
       {rows, cols}},
      {mil::DType::FP16, {rows, cols / 32}}};
  return s;
}

/// A carried slot's blobs.
struct Carried {
  std::vector<uint8_t> codes;
  std::vector<uint16_t> scales;
};

Result<Carried> carry(const ::ane::abi::SlotSpec &s,
                      const std::vector<model::TensorData> &sources,
                      int threads) {
  Carried c;
  bool q4 = s.scheme == ::ane::abi::Scheme::Q4;
  c.codes.resize(s.shape[0] * s.shape[1] / (q4 ? 2 : 1));
  c.scales.resize(s.shape[0] * s.shape[1] / 32);
  Status st = carryBlocks(s, sources, c.codes.data(), c.scales.data(), threads);
  if (!st.ok())
    return st;
  return c;
}

/// The values a carried slot's kernels compute with.
std::vector<float> dequantize(const ::ane::abi::SlotSpec &s, const Carried &b) {
  int64_t n = s.shape[0] * s.shape[1];
  std::vector<int64_t> codes = mil::unpackSubByte(
      b.codes.data(), n, s.scheme == ::ane::abi::Scheme::Q4 ? 4 : 8, true);
  std::vector<float> out(n);
  for (int64_t i = 0; i < n; ++i)
    out[i] = ane::halfBitsToFloat(b.scales[i / 32]) * float(codes[i]);
  return out;
}

/// Carried blocks hold exactly the values the float path assembles from
/// the same tensors (fused by rows, RoPE rows reordered), for Q4_0 and
/// Q8_0, with two threads splitting the rows (the AVX2 carry takes two
/// blocks at a time: rows of three end in the scalar one).
TEST(PackingTest, CarriedBlocksEqualTheAssembledTensor) {
  std::mt19937 rng(5);
  for (auto type : {model::TensorType::Q4_0, model::TensorType::Q8_0}) {
    bool q4 = type == model::TensorType::Q4_0;
    ::ane::abi::SlotSpec s =
        quantSlot(q4 ? ::ane::abi::Scheme::Q4 : ::ane::abi::Scheme::Q8, 14, 96);
    s.fusedFrom = {"attn_q", "attn_k", "attn_v"};
    s.ropeRows = 12;
    s.headDim = 4;
    std::map<std::string, model::TensorData> parts = {
        {"attn_q", blockTensor(type, 8, 96, rng)},
        {"attn_k", blockTensor(type, 4, 96, rng)},
        {"attn_v", blockTensor(type, 2, 96, rng)}};
    std::vector<model::TensorData> sources = {parts["attn_q"], parts["attn_k"],
                                              parts["attn_v"]};
    ASSERT_TRUE(canCarryBlocks(s, sources));
    auto blocks = carry(s, sources, 2);
    ASSERT_TRUE(blocks.ok()) << blocks.message();
    ASSERT_EQ(blocks->codes.size(), size_t(q4 ? 14 * 48 : 14 * 96));
    ASSERT_EQ(blocks->scales.size(), size_t(14 * 3));
    auto want = assembleSlotTensor(s, [&](const std::string &role) {
      return Result<std::vector<float>>(parts.at(role).toFloat());
    });
    ASSERT_TRUE(want.ok()) << want.message();
    EXPECT_EQ(dequantize(s, *blocks), *want) << (q4 ? "q4_0" : "q8_0");
  }
}

/// Sources in a mapped file are read a span of rows at a time (with
/// read(2), MappedFile::copy): a slot of three spans, whole RoPE heads and
/// three sources, one ending inside a span, carries the tensors' values,
/// the same bytes as from memory, and in the cpu layout what rewriting the
/// row-major blocks gives.
TEST(PackingTest, MappedSourcesAreCarriedSpanBySpan) {
  using ::ane::abi::Scheme;
  std::mt19937 rng(31);
  const int64_t cols = 64;
  std::vector<model::TensorData> memory = {
      blockTensor(model::TensorType::Q4_0, 384, cols, rng),
      blockTensor(model::TensorType::Q4_0, 128, cols, rng),
      blockTensor(model::TensorType::Q4_0, 96, cols, rng)};
  std::string path = ::testing::TempDir() + "ane-carried-sources.bin";
  FILE *f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  for (const model::TensorData &t : memory)
    ASSERT_EQ(std::fwrite(t.data, 1, t.size, f), t.size);
  std::fclose(f);
  auto file = MappedFile::open(path);
  ASSERT_TRUE(file.ok()) << file.message();
  std::vector<model::TensorData> mapped = memory;
  uint64_t at = 0;
  for (model::TensorData &t : mapped) {
    t.data = (*file)->data() + at;
    t.file = *file;
    at += t.size;
  }
  ::ane::abi::SlotSpec s = quantSlot(Scheme::Q4, 608, cols);
  s.fusedFrom = {"attn_q", "attn_k", "attn_v"};
  s.ropeRows = 512;
  s.headDim = 64;
  auto fromMemory = carry(s, memory, 2), fromFile = carry(s, mapped, 2);
  ASSERT_TRUE(fromMemory.ok() && fromFile.ok())
      << fromMemory.message() << fromFile.message();
  std::map<std::string, const model::TensorData *> parts = {
      {"attn_q", &memory[0]}, {"attn_k", &memory[1]}, {"attn_v", &memory[2]}};
  auto want = assembleSlotTensor(s, [&](const std::string &role) {
    return Result<std::vector<float>>(parts.at(role)->toFloat());
  });
  ASSERT_TRUE(want.ok()) << want.message();
  EXPECT_EQ(dequantize(s, *fromFile), *want);
  EXPECT_EQ(fromFile->codes, fromMemory->codes);
  EXPECT_EQ(fromFile->scales, fromMemory->scales);

  s.layout = ::ane::abi::SlotLayout::Interleaved16;
  auto laidOut = carry(s, mapped, 2);
  ASSERT_TRUE(laidOut.ok()) << laidOut.message();
  Carried rewritten = *fromFile;
  interleaved::interleaveBlocks(rewritten.codes.data(), rewritten.scales.data(),
                                cols, 32, 0, 608 / interleaved::kRows);
  EXPECT_EQ(laidOut->codes, rewritten.codes);
  EXPECT_EQ(laidOut->scales, rewritten.scales);
  std::remove(path.c_str());
}

/// Only whole 32-blocks of the slot's own format, with nothing that
/// rescales columns, are carried; anything else takes the float path.
TEST(PackingTest, BlocksAreCarriedOnlyWhenTheyFitTheSlot) {
  std::mt19937 rng(6);
  auto q4 = [&] {
    return std::vector<model::TensorData>{
        blockTensor(model::TensorType::Q4_0, 4, 64, rng)};
  };
  ::ane::abi::SlotSpec s = quantSlot(::ane::abi::Scheme::Q4, 4, 64);
  EXPECT_TRUE(canCarryBlocks(s, q4()));
  ::ane::abi::SlotSpec folded = s;
  folded.foldNorm = "attn_norm";
  EXPECT_FALSE(canCarryBlocks(folded, q4()));
  ::ane::abi::SlotSpec grouped = s;
  grouped.group = 64;
  EXPECT_FALSE(canCarryBlocks(grouped, q4()));
  EXPECT_FALSE(canCarryBlocks(quantSlot(::ane::abi::Scheme::Q8, 4, 64), q4()))
      << "Q4_0 blocks into a q8 slot";
  EXPECT_FALSE(canCarryBlocks(quantSlot(::ane::abi::Scheme::Q4, 5, 64), q4()))
      << "rows that do not add up";
  std::vector<model::TensorData> shortData = q4();
  shortData[0].size -= 1;
  EXPECT_FALSE(canCarryBlocks(s, shortData)) << "a size off by one";
  ::ane::abi::SlotSpec badRope = s;
  badRope.ropeRows = 3;
  badRope.headDim = 2;
  EXPECT_FALSE(canCarryBlocks(badRope, q4()));
  auto refused = carry(folded, q4(), 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("slot attn_qkv"), std::string::npos);
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

TEST(PackingTest, BiasElementsMoveWithTheirRopeRows) {
  // Qwen2's fused q/k/v bias: elements are rows of one column.
  ::ane::abi::SlotSpec s;
  s.role = "attn_qkv_bias";
  s.shape = {16};
  s.fusedFrom = {"attn_q_bias", "attn_k_bias", "attn_v_bias"};
  s.ropeRows = 12;
  s.headDim = 4;
  auto numbered = [](int64_t n) {
    std::vector<float> v(n);
    for (int64_t i = 0; i < n; ++i)
      v[i] = float(i);
    return v;
  };
  std::map<std::string, std::vector<float>> tensors = {
      {"attn_q_bias", numbered(8)},
      {"attn_k_bias", numbered(4)},
      {"attn_v_bias", numbered(4)}};
  auto b = assembleSlotTensor(s, [&](const std::string &role) {
    return Result<std::vector<float>>(tensors.at(role));
  });
  ASSERT_TRUE(b.ok()) << b.message();
  EXPECT_EQ(
      *b, (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7, 0, 2, 1, 3, 0, 1, 2, 3}));
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

/// A stored [rows, cols] tensor of `type` (F32 or F16) holding `w`.
model::TensorData floatTensor(model::TensorType type, int64_t rows,
                              int64_t cols, const std::vector<float> &w) {
  auto bytes = std::make_shared<std::vector<uint8_t>>();
  for (float v : w) {
    uint32_t bits = 0;
    int n = 4;
    if (type == model::TensorType::F16) {
      bits = ane::floatToHalfBits(v);
      n = 2;
    } else {
      std::memcpy(&bits, &v, 4);
    }
    for (int i = 0; i < n; ++i)
      bytes->push_back(uint8_t(bits >> (8 * i)));
  }
  return storedTensor(type, rows, cols, std::move(bytes));
}

/// A quantized slot of `scheme` with its two blobs laid out at the start
/// of a segment.
::ane::abi::SlotSpec laidOutSlot(::ane::abi::Scheme scheme, int64_t rows,
                                 int64_t cols, int64_t group,
                                 mil::DType scales) {
  ::ane::abi::SlotSpec s = quantSlot(scheme, rows, cols);
  s.role = "output";
  s.group = group;
  int64_t groups = cols / s.effectiveGroup();
  s.blobs[1] = {scales, {rows, groups}};
  bool q8 = scheme == ::ane::abi::Scheme::Q8;
  mil::BlobLayout layout;
  s.blobs[0].offset = layout.append(uint64_t(rows * cols / (q8 ? 1 : 2)));
  s.blobs[1].offset = layout.append(uint64_t(rows * groups) *
                                    (scales == mil::DType::FP16 ? 2 : 4));
  return s;
}

/// packSegment of one slot whose stored tensors are `stored` when
/// `streamed`, else with none (the whole tensor in floats); `floatPath`
/// tells whether the packer asked for the floats.
Result<std::vector<uint8_t>>
packOneSlot(const ::ane::abi::SlotSpec &s, const model::TensorData &source,
            bool streamed, bool *floatPath = nullptr,
            std::vector<model::TensorData> stored = {}) {
  if (stored.empty())
    stored = {source};
  SlotSources sources;
  if (streamed)
    sources = [&](const ::ane::abi::SlotSpec &) {
      return std::optional<std::vector<model::TensorData>>(stored);
    };
  if (floatPath)
    *floatPath = false;
  return packSegment(
      {s},
      [&](const ::ane::abi::SlotSpec &) {
        if (floatPath)
          *floatPath = true;
        return Result<std::vector<float>>(source.toFloat());
      },
      2, sources);
}

/// A slot whose one stored tensor needs requantizing (a GGUF's Q6_K
/// classifier in a q4 model) is quantized row by row from it: the same
/// bytes as quantizing the whole tensor in floats, for q4, q8 and q3,
/// groups of 32 and a whole row of 100 (groups with a tail), fp16 and fp32
/// scales.
TEST(PackingTest, RowsQuantizedFromTheSourceEqualTheFloatPath) {
  using ::ane::abi::Scheme;
  struct Case {
    Scheme scheme;
    int64_t group, cols;
    mil::DType scales;
    model::TensorType source;
  };
  const Case cases[] = {
      {Scheme::Q4, 32, 96, mil::DType::FP16, model::TensorType::F16},
      {Scheme::Q8, 32, 96, mil::DType::FP16, model::TensorType::F32},
      {Scheme::Q3, 32, 64, mil::DType::FP32, model::TensorType::F32},
      {Scheme::Q4, 0, 100, mil::DType::FP16, model::TensorType::F32}};
  const int64_t rows = 7;
  for (const Case &c : cases) {
    SCOPED_TRACE(::testing::Message()
                 << ::ane::abi::schemeName(c.scheme) << " group " << c.group
                 << " cols " << c.cols);
    ::ane::abi::SlotSpec s =
        laidOutSlot(c.scheme, rows, c.cols, c.group, c.scales);
    model::TensorData source =
        floatTensor(c.source, rows, c.cols, randomWeights(rows, c.cols, 9));
    auto floats = packOneSlot(s, source, false);
    ASSERT_TRUE(floats.ok()) << floats.message();
    auto streamed = packOneSlot(s, source, true);
    ASSERT_TRUE(streamed.ok()) << streamed.message();
    EXPECT_EQ(*streamed, *floats);
  }
}

/// A q4 slot in the cpu layout holds the values the row-major one holds,
/// whichever way the packer fills it: carried Q4_0 blocks, rows quantized
/// from a stored tensor, or floats. A slot that cannot take the layout is
/// an error.
TEST(PackingTest, InterleavedSlotsHoldTheRowMajorValues) {
  using ::ane::abi::Scheme;
  std::mt19937 rng(21);
  const int64_t rows = 32, cols = 96;
  ::ane::abi::SlotSpec s =
      laidOutSlot(Scheme::Q4, rows, cols, 32, mil::DType::FP16);
  ::ane::abi::SlotSpec cpu = s;
  cpu.layout = ::ane::abi::SlotLayout::Interleaved16;
  model::TensorData blocks =
      blockTensor(model::TensorType::Q4_0, rows, cols, rng);
  model::TensorData half = floatTensor(model::TensorType::F16, rows, cols,
                                       randomWeights(rows, cols, 22));
  auto view = [&](const std::vector<uint8_t> &segment, bool interleaved) {
    PackedWeight w;
    w.format = interleaved ? PackedWeight::Format::Q4Interleaved
                           : PackedWeight::Format::Q4;
    w.rows = rows;
    w.cols = cols;
    w.group = 32;
    w.data = segment.data() + s.blobs[0].offset + 64;
    w.scales = segment.data() + s.blobs[1].offset + 64;
    return w;
  };
  for (auto [source, streamed] :
       {std::pair{&blocks, true}, std::pair{&half, true},
        std::pair{&half, false}}) {
    auto plain = packOneSlot(s, *source, streamed);
    auto laidOut = packOneSlot(cpu, *source, streamed);
    ASSERT_TRUE(plain.ok() && laidOut.ok())
        << plain.message() << laidOut.message();
    EXPECT_NE(*laidOut, *plain);
    PackedWeight a = view(*plain, false), b = view(*laidOut, true);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        ASSERT_EQ(b.at(r, c), a.at(r, c)) << r << ", " << c;
  }
  ::ane::abi::SlotSpec odd =
      laidOutSlot(Scheme::Q4, 24, cols, 32, mil::DType::FP16);
  odd.layout = ::ane::abi::SlotLayout::Interleaved16;
  auto refused = packOneSlot(odd,
                             floatTensor(model::TensorType::F16, 24, cols,
                                         randomWeights(24, cols, 23)),
                             false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.message(),
            "slot output: its blobs cannot take the interleaved16 layout");
}

/// The error the scale search compares is the oracle's bits (a vector
/// version fused into multiply-adds picked other scales for a few of a 7B's
/// groups), for group sizes with and without a tail.
TEST(PackingTest, GroupErrorIsTheOraclesBits) {
  std::vector<float> w = randomWeights(1, 4096, 11);
  size_t at = 0;
  for (int64_t n : {8, 16, 32, 37, 100, 256})
    for (int64_t qmax : {3, 7, 127})
      for (float scale : {0.0007f, 0.003f, 0.0125f, -0.02f}) {
        SCOPED_TRACE(::testing::Message()
                     << "n " << n << " qmax " << qmax << " scale " << scale);
        std::vector<int8_t> codes(static_cast<size_t>(n)),
            want(static_cast<size_t>(n));
        const float *p = w.data() + at;
        double err = groupError(p, n, scale, qmax, codes.data());
        EXPECT_EQ(err, groupErrorScalar(p, n, scale, qmax, want.data()));
        EXPECT_EQ(err, groupError(p, n, scale, qmax));
        EXPECT_EQ(codes, want);
        at = (at + 131) % (w.size() - 256);
      }
}

/// Only a slot with one stored tensor and nothing to reorder or rescale is
/// quantized from its rows; the rest take the float path.
TEST(PackingTest, OnlyPlainSlotsAreQuantizedFromTheirRows) {
  ::ane::abi::SlotSpec s =
      laidOutSlot(::ane::abi::Scheme::Q4, 4, 64, 32, mil::DType::FP16);
  model::TensorData t =
      floatTensor(model::TensorType::F32, 4, 64, randomWeights(4, 64, 1));
  auto takesFloats = [&](const ::ane::abi::SlotSpec &slot,
                         std::vector<model::TensorData> stored = {}) {
    bool floats = false;
    EXPECT_TRUE(packOneSlot(slot, t, true, &floats, stored).ok());
    return floats;
  };
  EXPECT_FALSE(takesFloats(s));
  ::ane::abi::SlotSpec folded = s;
  folded.foldNorm = "attn_norm";
  EXPECT_TRUE(takesFloats(folded));
  ::ane::abi::SlotSpec rope = s;
  rope.ropeRows = 4;
  rope.headDim = 4;
  EXPECT_TRUE(takesFloats(rope));
  model::TensorData half =
      floatTensor(model::TensorType::F32, 2, 64, randomWeights(2, 64, 2));
  EXPECT_TRUE(takesFloats(s, {half, half})) << "two fused parts";
  EXPECT_TRUE(takesFloats(s, {half})) << "rows that do not add up";
}

} // namespace
