//===- GGUFTest.cpp - GGUF round trips, dequantizers, corrupt files -------===//

#include "lib/Model/GGUF.h"
#include "lib/Model/Quant.h"
#include "lib/Support/Float16.h"

#include "lib/Model/GGUFWriter.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <random>

#include <gtest/gtest.h>

using namespace ane::model;
using ane::model::GGUFWriter;

namespace {

std::string tempFile(const std::string &name) {
  return ::testing::TempDir() + "/" + name;
}

ane::Result<GGUFFile> parseBytes(const std::vector<uint8_t> &bytes,
                                 const std::string &name = "test.gguf") {
  std::string path = tempFile(name);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
  return GGUFFile::open(path);
}

float half(const uint8_t *p) {
  return ane::halfBitsToFloat(static_cast<uint16_t>(p[0] | p[1] << 8));
}

/// Element i of a tensor of `type`, computed from the format's definition
/// one element at a time (independent of the block decoders under test).
float referenceElement(TensorType type, const uint8_t *raw, int64_t i) {
  switch (type) {
  case TensorType::F32: {
    float f;
    std::memcpy(&f, raw + 4 * i, 4);
    return f;
  }
  case TensorType::F16:
    return half(raw + 2 * i);
  case TensorType::BF16: {
    uint32_t bits = uint32_t(raw[2 * i] | raw[2 * i + 1] << 8) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  case TensorType::Q8_0: {
    const uint8_t *b = raw + (i / 32) * 34;
    return half(b) * static_cast<int8_t>(b[2 + i % 32]);
  }
  case TensorType::Q4_0:
  case TensorType::Q4_1: {
    bool hasMin = type == TensorType::Q4_1;
    const uint8_t *b = raw + (i / 32) * (hasMin ? 20 : 18);
    int j = static_cast<int>(i % 32);
    uint8_t byte = b[(hasMin ? 4 : 2) + j % 16];
    int nib = j < 16 ? byte & 0xF : byte >> 4;
    return hasMin ? half(b) * nib + half(b + 2) : half(b) * (nib - 8);
  }
  case TensorType::Q4_K: {
    const uint8_t *b = raw + (i / 256) * 144;
    int r = static_cast<int>(i % 256), g = r / 64, w = r % 64;
    int sub = 2 * g + (w >= 32);
    const uint8_t *s = b + 4;
    int sc =
        sub < 4 ? s[sub] & 63 : (s[sub + 4] & 0xF) | ((s[sub - 4] >> 6) << 4);
    int m =
        sub < 4 ? s[sub + 4] & 63 : (s[sub + 4] >> 4) | ((s[sub] >> 6) << 4);
    uint8_t byte = b[16 + 32 * g + w % 32];
    int nib = w < 32 ? byte & 0xF : byte >> 4;
    return half(b) * sc * nib - half(b + 2) * m;
  }
  case TensorType::Q6_K: {
    const uint8_t *b = raw + (i / 256) * 210;
    int r = static_cast<int>(i % 256), h = r / 128, l = r % 128;
    int quadrant = l / 32, ll = l % 32;
    uint8_t lowByte = b[64 * h + ll + (quadrant % 2 ? 32 : 0)];
    int low = quadrant < 2 ? lowByte & 0xF : lowByte >> 4;
    int high = (b[128 + 32 * h + ll] >> (2 * quadrant)) & 3;
    int scale = static_cast<int8_t>(b[192 + 8 * h + ll / 16 + 2 * quadrant]);
    return half(b + 208) * scale * ((low | high << 4) - 32);
  }
  }
  return 0;
}

/// Random raw blocks whose fp16 scale fields hold small finite values.
std::vector<uint8_t> randomRaw(TensorType type, int64_t count,
                               std::mt19937 &rng) {
  std::vector<uint8_t> raw(*tensorBytes(type, count));
  for (uint8_t &b : raw)
    b = static_cast<uint8_t>(rng());
  auto setHalf = [&](size_t at) {
    float v = 0.001f + 0.05f * (rng() % 1000) / 1000.0f;
    uint16_t h = ane::floatToHalfBits(v);
    raw[at] = h & 0xff;
    raw[at + 1] = h >> 8;
  };
  int64_t nb = count / blockElements(type), bb = blockBytes(type);
  for (int64_t k = 0; k < nb; ++k) {
    size_t base = k * bb;
    switch (type) {
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::F32:
      break;
    case TensorType::Q8_0:
    case TensorType::Q4_0:
      setHalf(base);
      break;
    case TensorType::Q4_1:
    case TensorType::Q4_K:
      setHalf(base);
      setHalf(base + 2);
      break;
    case TensorType::Q6_K:
      setHalf(base + 208);
      break;
    }
  }
  if (type == TensorType::F32 || type == TensorType::F16 ||
      type == TensorType::BF16) {
    // Finite values only.
    std::uniform_real_distribution<float> d(-1, 1);
    for (int64_t k = 0; k < count; ++k) {
      float v = d(rng);
      if (type == TensorType::F32) {
        std::memcpy(&raw[4 * k], &v, 4);
      } else {
        uint16_t bits = type == TensorType::F16 ? ane::floatToHalfBits(v)
                                                : static_cast<uint16_t>([&] {
                                                    uint32_t u;
                                                    std::memcpy(&u, &v, 4);
                                                    return u >> 16;
                                                  }());
        raw[2 * k] = bits & 0xff;
        raw[2 * k + 1] = bits >> 8;
      }
    }
  }
  return raw;
}

const TensorType kAllTypes[] = {
    TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q8_0,
    TensorType::Q4_0, TensorType::Q4_1, TensorType::Q4_K, TensorType::Q6_K};

TEST(GGUFTest, EveryTensorTypeRoundTripsAndDequantizesByDefinition) {
  std::mt19937 rng(5);
  GGUFWriter w;
  w.str("general.architecture", "test");
  std::vector<std::vector<uint8_t>> raws;
  for (TensorType t : kAllTypes) {
    // Two rows of 512 elements: whole blocks for every type.
    raws.push_back(randomRaw(t, 1024, rng));
    w.tensor(std::string("t_") + std::string(tensorTypeName(t)), {512, 2},
             ggmlCodeFor(t), raws.back());
  }
  auto g = parseBytes(w.bytes());
  ASSERT_TRUE(g.ok()) << g.message();
  ASSERT_EQ(g->tensors.size(), std::size(kAllTypes));
  for (size_t k = 0; k < std::size(kAllTypes); ++k) {
    TensorType type = kAllTypes[k];
    const GGUFTensor &t = g->tensors[k];
    EXPECT_EQ(t.ne, (std::vector<uint64_t>{512, 2}));
    EXPECT_EQ(tensorTypeForGgml(t.ggmlType), type);
    const uint8_t *data = g->file->data() + g->dataOffset + t.offset;
    ASSERT_EQ(std::memcmp(data, raws[k].data(), raws[k].size()), 0)
        << tensorTypeName(type);
    std::vector<float> got(1024);
    dequantize(type, data, got.data(), 1024);
    for (int64_t i = 0; i < 1024; ++i)
      ASSERT_EQ(got[i], referenceElement(type, data, i))
          << tensorTypeName(type) << " element " << i;
  }
}

TEST(GGUFTest, EveryMetadataTypeRoundTrips) {
  for (uint32_t version : {2u, 3u}) {
    GGUFWriter w(version, 64);
    w.u32("general.alignment", 64);
    w.u8("a.u8", 200);
    w.i8("a.i8", -100);
    w.u16("a.u16", 60000);
    w.i16("a.i16", -30000);
    w.u32("a.u32", 4000000000u);
    w.i32("a.i32", -2000000000);
    w.f32("a.f32", 1.5f);
    w.boolean("a.bool", true);
    w.str("a.str", "h\xC3\xA9llo");
    w.u64("a.u64", 1ull << 60);
    w.i64("a.i64", -(1ll << 60));
    w.f64("a.f64", -0.25);
    w.array<int32_t>("a.arr", 5, {1, -2, 3});
    w.strings("a.strs", {"x", "", "yz"});
    w.tensor("t", {32}, 0, std::vector<uint8_t>(128, 0));
    auto g = parseBytes(w.bytes());
    ASSERT_TRUE(g.ok()) << g.message();
    EXPECT_EQ(g->version, version);
    EXPECT_EQ(g->alignment, 64u);
    EXPECT_EQ(g->dataOffset % 64, 0u);
    EXPECT_EQ(g->get("a.u8")->asInt(), 200);
    EXPECT_EQ(g->get("a.i8")->asInt(), -100);
    EXPECT_EQ(g->get("a.u16")->asInt(), 60000);
    EXPECT_EQ(g->get("a.i16")->asInt(), -30000);
    EXPECT_EQ(g->get("a.u32")->asInt(), 4000000000ll);
    EXPECT_EQ(g->get("a.i32")->asInt(), -2000000000);
    EXPECT_EQ(g->get("a.f32")->asFloat(), 1.5);
    EXPECT_EQ(g->get("a.bool")->u, 1u);
    EXPECT_EQ(g->get("a.str")->s, "h\xC3\xA9llo");
    EXPECT_EQ(g->get("a.u64")->asInt(), int64_t(1) << 60);
    EXPECT_EQ(g->get("a.i64")->asInt(), -(int64_t(1) << 60));
    EXPECT_EQ(g->get("a.f64")->asFloat(), -0.25);
    const GGUFValue *arr = g->get("a.arr");
    ASSERT_EQ(arr->items.size(), 3u);
    EXPECT_EQ(arr->elementType, GGUFType::Int32);
    EXPECT_EQ(arr->items[1].asInt(), -2);
    EXPECT_EQ(g->get("a.strs")->items[2].s, "yz");
  }
}

/// An f32 tensor of GGUF dims `ne` (innermost first) whose elements are
/// their row numbers.
void addRowNumbered(GGUFWriter &w, const std::string &name,
                    std::vector<uint64_t> ne) {
  uint64_t cols = ne.size() > 1 ? ne[0] : 1, rows = ne.back();
  std::vector<float> v(rows * cols);
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = float(i / cols);
  std::vector<uint8_t> bytes(v.size() * 4);
  std::memcpy(bytes.data(), v.data(), bytes.size());
  w.tensor(name, ne, 0, bytes);
}

/// A small valid Llama (or `arch`) file: every tensor present, f32, each
/// element its row number.
GGUFWriter llamaWriter(std::function<void(GGUFWriter &)> extra = nullptr,
                       const std::string &arch = "llama") {
  GGUFWriter w;
  w.str("general.architecture", arch);
  std::string p = arch + ".";
  w.u32(p + "embedding_length", 32);
  w.u32(p + "block_count", 1);
  w.u32(p + "attention.head_count", 4);
  w.u32(p + "attention.head_count_kv", 2);
  w.u32(p + "feed_forward_length", 64);
  w.u32(p + "context_length", 16);
  w.f32(p + "rope.freq_base", 10000.0f);
  w.f32(p + "attention.layer_norm_rms_epsilon", 1e-5f);
  if (extra)
    extra(w);
  auto t = [&](const std::string &name, std::vector<uint64_t> ne) {
    addRowNumbered(w, name, std::move(ne));
  };
  t("token_embd.weight", {32, 40});
  t("blk.0.attn_norm.weight", {32});
  t("blk.0.attn_q.weight", {32, 32});
  t("blk.0.attn_k.weight", {32, 16});
  t("blk.0.attn_v.weight", {32, 16});
  t("blk.0.attn_output.weight", {32, 32});
  t("blk.0.ffn_norm.weight", {32});
  t("blk.0.ffn_gate.weight", {32, 64});
  t("blk.0.ffn_up.weight", {32, 64});
  t("blk.0.ffn_down.weight", {64, 32});
  t("output_norm.weight", {32});
  return w;
}

TEST(GGUFTest, SmallLlamaFileBuildsAModel) {
  std::string path = tempFile("small-llama.gguf");
  ASSERT_TRUE(llamaWriter().write(path).ok());
  auto m = openModel(path);
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_EQ(m->config.dim, 32);
  EXPECT_EQ(m->config.nKvHeads, 2);
  EXPECT_EQ(m->config.vocabSize, 40);
  EXPECT_TRUE(m->config.sharedClassifier); // no output.weight
  EXPECT_EQ(m->find(Role::AttnK, 0)->shape, (std::vector<int64_t>{16, 32}));
}

/// Row (element) r of each head of `hd` in a rotate-half tensor comes from
/// rotate-half row r/2 + (r%2) * hd/2.
float pairedFrom(int64_t r, int64_t hd) {
  int64_t k = r % hd;
  return float(r - k + (k % 2) * (hd / 2) + k / 2);
}

TEST(GGUFTest, Qwen2HasBiasesAndRotateHalfRowsReadAsPairs) {
  auto biases = [](GGUFWriter &w) {
    addRowNumbered(w, "blk.0.attn_q.bias", {32});
    addRowNumbered(w, "blk.0.attn_k.bias", {16});
    addRowNumbered(w, "blk.0.attn_v.bias", {16});
  };
  std::string path = tempFile("qwen2.gguf");
  ASSERT_TRUE(llamaWriter(biases, "qwen2").write(path).ok());
  auto m = openModel(path);
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_TRUE(m->config.qkvBias);
  const int64_t hd = 8;
  for (Role role : {Role::AttnQ, Role::AttnK, Role::AttnV, Role::AttnQBias,
                    Role::AttnKBias, Role::AttnVBias}) {
    const TensorInfo *t = m->find(role, 0);
    ASSERT_NE(t, nullptr) << roleName(role);
    auto d = m->load(*t);
    ASSERT_TRUE(d.ok()) << d.message();
    std::vector<float> v = d->toFloat();
    int64_t cols = t->shape.size() > 1 ? t->shape[1] : 1;
    bool paired = role != Role::AttnV && role != Role::AttnVBias;
    for (int64_t r = 0; r < t->shape[0]; ++r)
      EXPECT_EQ(v[r * cols], paired ? pairedFrom(r, hd) : float(r))
          << roleName(role) << " row " << r;
  }
  // The same tensors in a llama file keep their order.
  ASSERT_TRUE(llamaWriter(biases).write(path).ok());
  auto llama = openModel(path);
  ASSERT_TRUE(llama.ok()) << llama.message();
  EXPECT_TRUE(llama->config.qkvBias);
  auto q = llama->load(*llama->find(Role::AttnQBias, 0));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->toFloat()[1], 1.0f);
  // A bias missing from a layer that others have is named.
  ASSERT_TRUE(llamaWriter(
                  [](GGUFWriter &w) {
                    w.tensor("blk.0.attn_q.bias", {32}, 0,
                             std::vector<uint8_t>(128, 0));
                  },
                  "qwen2")
                  .write(path)
                  .ok());
  auto partial = openModel(path);
  ASSERT_FALSE(partial.ok());
  EXPECT_NE(partial.message().find("missing tensor 'blk.0.attn_k.bias'"),
            std::string::npos)
      << partial.message();
}

TEST(GGUFTest, RopeFreqsTensorScalesTheFrequencies) {
  auto withFactors = [](std::vector<float> f, uint32_t type) {
    return llamaWriter([f, type](GGUFWriter &w) {
      std::vector<uint8_t> bytes(f.size() * 4);
      std::memcpy(bytes.data(), f.data(), bytes.size());
      if (type == 1) // f16: half the bytes
        bytes.resize(f.size() * 2);
      w.tensor("rope_freqs.weight", {f.size()}, type, bytes);
    });
  };
  std::string path = tempFile("rope-freqs.gguf");
  ASSERT_TRUE(withFactors({1, 2, 4, 8}, 0).write(path).ok());
  auto m = openModel(path);
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_EQ(m->config.ropeFreqFactors, (std::vector<float>{1, 2, 4, 8}));
  EXPECT_DOUBLE_EQ(m->config.ropeFrequency(3),
                   std::pow(10000.0, -6.0 / 8.0) / 8.0);
  EXPECT_DOUBLE_EQ(m->config.ropeFrequency(0), 1.0);

  ASSERT_TRUE(withFactors({1, 2, 4}, 0).write(path).ok());
  auto three = openModel(path);
  ASSERT_FALSE(three.ok());
  EXPECT_NE(three.message().find("3 RoPE frequency factors for head_dim 8"),
            std::string::npos)
      << three.message();
  ASSERT_TRUE(withFactors({1, 2, 4, 8}, 1).write(path).ok());
  auto half = openModel(path);
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.message().find("rope_freqs.weight must be a 1-D f32"),
            std::string::npos)
      << half.message();
}

TEST(GGUFTest, Llama3RopeFactorsFollowTheWavelengthBands) {
  // head_dim 8, theta 10000: wavelengths 2*pi*{1, 10, 100, 1000}; with an
  // original context of 64 and factors 1 and 4 the bands are 16 and 64.
  std::vector<float> f = llama3RopeFactors(10000, 8, 8, 1, 4, 64);
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0], 1.0f); // 6.3 < 16: kept
  double smooth = (64 / (2 * M_PI * 10) - 1) / 3;
  EXPECT_NEAR(f[1], 1 / ((1 - smooth) / 8 + smooth), 1e-5);
  EXPECT_EQ(f[2], 8.0f); // 628 > 64: divided by the factor
  EXPECT_EQ(f[3], 8.0f);
}

struct Damage {
  const char *what;
  std::function<void(std::vector<uint8_t> &)> apply;
  const char *error;
};

void put64(std::vector<uint8_t> &b, size_t at, uint64_t v) {
  std::memcpy(&b[at], &v, 8);
}

TEST(GGUFTest, CorruptFilesGiveErrorsNamingFieldAndOffset) {
  std::vector<uint8_t> good = llamaWriter().bytes();
  ASSERT_TRUE(parseBytes(good).ok());
  const Damage cases[] = {
      {"bad magic", [](auto &b) { b[0] = 'X'; },
       "magic at offset 0: not a GGUF file"},
      {"version 1", [](auto &b) { b[4] = 1; },
       "version at offset 4: unsupported GGUF version 1"},
      {"absurd tensor count", [](auto &b) { put64(b, 8, 1ull << 40); },
       "tensor count at offset 8: 1099511627776 tensors cannot fit"},
      {"absurd metadata count", [](auto &b) { put64(b, 16, ~0ull); },
       "metadata count at offset 16"},
      {"absurd key length", [](auto &b) { put64(b, 24, 1ull << 62); },
       "metadata key #0 at offset 24: string length 4611686018427387904 "
       "exceeds"},
      {"unknown value type", [](auto &b) { b[24 + 8 + 20] = 42; },
       "type of 'general.architecture' at offset 52: unknown value type 42"},
  };
  for (const Damage &d : cases) {
    std::vector<uint8_t> bytes = good;
    d.apply(bytes);
    auto g = parseBytes(bytes);
    ASSERT_FALSE(g.ok()) << d.what;
    EXPECT_NE(g.message().find(d.error), std::string::npos)
        << d.what << ": " << g.message();
    EXPECT_NE(g.message().find("test.gguf"), std::string::npos) << d.what;
  }
}

TEST(GGUFTest, InvalidTensorTablesAreRejected) {
  struct Case {
    const char *what;
    std::function<void(GGUFWriter &)> build;
    const char *error;
  };
  std::vector<uint8_t> f32x32(128, 0);
  const Case cases[] = {
      {"duplicate tensor",
       [&](GGUFWriter &w) {
         w.tensor("a", {32}, 0, f32x32);
         w.tensor("a", {32}, 0, f32x32);
       },
       "tensor 'a' at offset"},
      {"zero dim", [&](GGUFWriter &w) { w.tensor("a", {0}, 0, {}); },
       "tensor 'a' dim 0 at offset"},
      {"five dims",
       [&](GGUFWriter &w) {
         w.tensor("a", {1, 1, 1, 1, 32}, 0, f32x32);
       },
       "5 dimensions (1 to 4 allowed)"},
      {"unsupported type",
       [&](GGUFWriter &w) { w.tensor("a", {32}, 6, f32x32); },
       "type q5_0 is not supported"},
      {"unknown type", [&](GGUFWriter &w) { w.tensor("a", {32}, 99, f32x32); },
       ": type code 99 is not supported"},
      {"partial block", [&](GGUFWriter &w) { w.tensor("a", {16}, 8, f32x32); },
       "row of 16 elements is not a whole number of q8_0 blocks"},
      {"data past the end",
       [&](GGUFWriter &w) { w.tensor("a", {64}, 0, f32x32); },
       "data [0, +256) lies outside the 128 bytes of the data section"},
      {"duplicate key",
       [&](GGUFWriter &w) {
         w.u32("k", 1);
         w.u32("k", 2);
       },
       "metadata key 'k' at offset"},
      {"bad alignment", [&](GGUFWriter &w) { w.u32("general.alignment", 48); },
       "general.alignment must be a power of two"},
  };
  for (const Case &c : cases) {
    GGUFWriter w;
    c.build(w);
    auto g = parseBytes(w.bytes());
    ASSERT_FALSE(g.ok()) << c.what;
    EXPECT_NE(g.message().find(c.error), std::string::npos)
        << c.what << ": " << g.message();
  }
  // Overflowing offset, patched into the tensor info.
  GGUFWriter w;
  w.tensor("a", {32}, 0, f32x32);
  std::vector<uint8_t> b = w.bytes();
  put64(b, 24 + 8 + 1 + 4 + 8 + 4, ~0ull - 31);
  auto g = parseBytes(b);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.message().find("lies outside"), std::string::npos) << g.message();
}

TEST(GGUFTest, TruncationAtEveryOffsetIsAnError) {
  std::vector<uint8_t> good = llamaWriter().bytes();
  for (size_t n = 0; n < good.size(); n += (n < 600 ? 1 : 97)) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + n);
    auto g = parseBytes(cut, "cut.gguf");
    if (g.ok()) {
      // Only cuts inside the last tensor's data can parse; the model check
      // then reports the tensor lies outside.
      auto m = modelFromGGUF(*g);
      EXPECT_FALSE(m.ok()) << "cut at " << n;
      continue;
    }
    EXPECT_NE(g.message().find("cut.gguf"), std::string::npos) << n;
    EXPECT_NE(g.message().find("offset"), std::string::npos)
        << n << ": " << g.message();
  }
}

TEST(GGUFTest, InconsistentLlamaMetadata) {
  struct Case {
    const char *what;
    std::function<void(GGUFWriter &)> extra;
    const char *error;
  };
  // Extra keys are appended after the standard ones; a repeated key is a
  // duplicate, so conflicts use keys the writer does not set.
  const Case cases[] = {
      {"tokenizer size",
       [](GGUFWriter &w) {
         w.strings("tokenizer.ggml.tokens", {"a", "b"});
       },
       "the tokenizer has 2 tokens, token_embd.weight has 40 rows"},
      {"bos range",
       [](GGUFWriter &w) {
         std::vector<std::string> toks(40, "x");
         w.strings("tokenizer.ggml.tokens", toks);
         w.u32("tokenizer.ggml.bos_token_id", 99);
       },
       "tokenizer.ggml.bos_token_id is out of range"},
      {"chat template of the wrong type",
       [](GGUFWriter &w) {
         std::vector<std::string> toks(40, "x");
         w.strings("tokenizer.ggml.tokens", toks);
         w.u32("tokenizer.chat_template", 1);
       },
       "tokenizer.chat_template must be a string"},
      {"rope over no dims",
       [](GGUFWriter &w) { w.u32("llama.rope.dimension_count", 0); },
       "llama.rope.dimension_count is 0; RoPE must rotate whole heads "
       "(head_dim 8)"},
      {"rope over an odd part",
       [](GGUFWriter &w) { w.u32("llama.rope.dimension_count", 7); },
       "llama.rope.dimension_count is 7"},
  };
  for (const Case &c : cases) {
    std::string path = tempFile("bad-llama.gguf");
    ASSERT_TRUE(llamaWriter(c.extra).write(path).ok());
    auto m = openModel(path);
    ASSERT_FALSE(m.ok()) << c.what;
    EXPECT_NE(m.message().find(c.error), std::string::npos)
        << c.what << ": " << m.message();
  }
  // Rotating whole heads, as every supported file does, loads.
  std::string whole = tempFile("rope-whole.gguf");
  ASSERT_TRUE(
      llamaWriter([](GGUFWriter &w) { w.u32("llama.rope.dimension_count", 8); })
          .write(whole)
          .ok());
  auto ok = openModel(whole);
  EXPECT_TRUE(ok.ok()) << ok.message();
  GGUFWriter w;
  w.str("general.architecture", "gpt2");
  std::string path = tempFile("gpt2.gguf");
  ASSERT_TRUE(w.write(path).ok());
  auto m = openModel(path);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.message().find("architecture 'gpt2' is not supported"),
            std::string::npos);
}

} // namespace
