//===- AbiTest.cpp - the compiler-runtime contract ------------------------===//

#include "lib/Abi/KernelSet.h"
#include "lib/MIL/WeightFile.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include <unistd.h>

// Inside the namespace: a global `abi` (cxxabi.h's) would clash.
namespace ane::abi {
namespace {

TEST(AbiTest, EnumNamesRoundTrip) {
  for (abi::Scheme s : {abi::Scheme::F16, abi::Scheme::Q8, abi::Scheme::Q4,
                        abi::Scheme::Q3, abi::Scheme::Lut4})
    EXPECT_EQ(abi::parseScheme(abi::schemeName(s)), s);
  // Version 1 manifests spelled unquantized slots "dense".
  EXPECT_EQ(abi::parseScheme("dense"), abi::Scheme::F16);
  EXPECT_FALSE(abi::parseScheme("q5"));
  EXPECT_FALSE(abi::parseScheme(""));
  EXPECT_EQ(abi::parseDType("fp32"), abi::DType::FP32);
  EXPECT_FALSE(abi::parseDType("bf16"));
  EXPECT_EQ(abi::toMil(abi::DType::FP16), mil::DType::FP16);
  EXPECT_EQ(abi::fromMil(mil::DType::FP32), abi::DType::FP32);
  EXPECT_FALSE(abi::fromMil(mil::DType::Int8));
  EXPECT_EQ(abi::parseWeightBinding("input"), abi::WeightBinding::Input);
  EXPECT_FALSE(abi::parseWeightBinding("baked"));
  EXPECT_EQ(abi::parseSegment("global"), abi::Segment::Global);
  EXPECT_FALSE(abi::parseSegment("Layer"));
}

TEST(AbiTest, SchemeBitsAndDefaultGroups) {
  EXPECT_EQ(abi::schemeBits(abi::Scheme::Q3), 3);
  EXPECT_EQ(abi::schemeBits(abi::Scheme::Lut4), 4);
  EXPECT_EQ(abi::defaultGroup(abi::Scheme::Q4), 128);
  EXPECT_EQ(abi::defaultGroup(abi::Scheme::Q3), 64);
  EXPECT_EQ(abi::defaultGroup(abi::Scheme::Lut4), 16);
  EXPECT_EQ(abi::defaultGroup(abi::Scheme::Q8), 0);
  EXPECT_FALSE(abi::isQuantized(abi::Scheme::F16));
}

TEST(AbiTest, KernelTable) {
  int backward = 0;
  for (abi::Kernel k : abi::kAllKernels) {
    EXPECT_EQ(abi::parseKernel(abi::kernelName(k)), k);
    EXPECT_FALSE(abi::kernelInputs(k).empty()) << abi::kernelName(k);
    EXPECT_FALSE(abi::kernelOutputs(k).empty()) << abi::kernelName(k);
    backward += abi::isBackward(k);
    if (abi::isBackward(k))
      for (std::string_view out : abi::kernelOutputs(k))
        EXPECT_EQ(out.substr(0, 2), "d_");
  }
  EXPECT_EQ(backward, 5);
  EXPECT_FALSE(abi::parseKernel("attn"));
  EXPECT_EQ(abi::backwardOf(abi::Kernel::AttnCore), abi::Kernel::AttnCoreBwd);
  EXPECT_FALSE(abi::backwardOf(abi::Kernel::AttnOut));
  EXPECT_TRUE(abi::takesCtx(abi::Kernel::AttnCore));
  EXPECT_TRUE(abi::takesCtx(abi::Kernel::AttnCoreBwd));
  EXPECT_FALSE(abi::takesCtx(abi::Kernel::AttnQkv));
  // The engine's cache buffers are attn_core's second and third inputs.
  const auto &core = abi::kernelInputs(abi::Kernel::AttnCore);
  EXPECT_TRUE(abi::isCacheInput(core[1]));
  EXPECT_TRUE(abi::isCacheInput(core[2]));
  EXPECT_FALSE(abi::isCacheInput(core[0]));
}

abi::SlotSpec q4Slot(std::string role, int64_t rows, int64_t cols,
                     int64_t group) {
  abi::SlotSpec s;
  s.role = std::move(role);
  s.scheme = abi::Scheme::Q4;
  s.group = group;
  s.shape = {rows, cols};
  s.blobs = {{mil::DType::Int4, {rows, cols, 1, 1}, 0},
             {mil::DType::FP16, {rows, cols / group, 1, 1}, 0}};
  return s;
}

TEST(AbiTest, LoraNamesRoundTrip) {
  for (std::string_view role : abi::kLoraRoles) {
    EXPECT_EQ(abi::parseLoraName(abi::loraInputA(role)),
              std::make_pair(std::string(role), false));
    EXPECT_EQ(abi::parseLoraName("d_" + abi::loraInputB(role)),
              std::make_pair(std::string(role), true));
  }
  EXPECT_FALSE(abi::parseLoraName("lora_a_output"));
  EXPECT_FALSE(abi::parseLoraName("w_attn_q"));
  EXPECT_FALSE(abi::isLoraRole("attn_qkv"));
}

TEST(AbiTest, BlobSizesRoundUpToWholeBytes) {
  EXPECT_EQ(abi::blobDataBytes(mil::DType::Int4, {3, 1}), 2u);
  EXPECT_EQ(abi::blobDataBytes(mil::DType::UInt3, {3}), 2u);
  EXPECT_EQ(abi::blobDataBytes(mil::DType::FP16, {5, 7}), 70u);
  abi::BlobSpec b{mil::DType::FP32, {4}, 128};
  EXPECT_EQ(abi::blobEnd(b), 128u + 64 + 16);
}

// The layout rule must put every blob where weight.bin's writer puts it,
// or the packer's segments disagree with the compiled offsets.
TEST(AbiTest, LayoutMatchesTheWeightWriter) {
  std::vector<abi::SlotSpec> slots = {q4Slot("attn_q", 24, 40, 8),
                                      q4Slot("ffn_down", 7, 33, 11)};
  abi::SlotSpec norm;
  norm.role = "ffn_norm";
  norm.shape = {33};
  norm.blobs = {{mil::DType::FP16, {1, 33, 1, 1}, 0}};
  slots.push_back(norm);
  abi::layOutSegment(slots);
  mil::WeightWriter w;
  for (const abi::SlotSpec &s : slots)
    for (const abi::BlobSpec &b : s.blobs) {
      uint64_t bytes = abi::blobDataBytes(b.dtype, b.shape);
      std::vector<uint8_t> zeros(bytes);
      uint64_t at = w.append(mil::BlobDType::UInt8, zeros.data(), bytes);
      EXPECT_EQ(b.offset, at) << s.role;
      EXPECT_EQ(b.offset % 64, 0u);
    }
  EXPECT_EQ(abi::segmentEnd(slots), w.bytes().size());
}

abi::KernelSet smallSet() {
  abi::KernelSet ks;
  model::Config &c = ks.config;
  c.dim = 8;
  c.nLayers = 2;
  c.nHeads = 2;
  c.nKvHeads = 1;
  c.headDim = 4;
  c.hiddenDim = 16;
  c.vocabSize = 40;
  c.maxSeqLen = 32;
  ks.scheme = abi::Scheme::Q4;
  ks.weightBinding = abi::WeightBinding::Input;
  abi::SlotSpec q = q4Slot("attn_q", 8, 8, 4);
  q.ropeRows = 8;
  q.headDim = 4;
  abi::SlotSpec out = q4Slot("output", 40, 8, 8);
  out.segment = abi::Segment::Global;
  std::vector<abi::SlotSpec> layer = {q}, global = {out};
  abi::layOutSegment(layer);
  abi::layOutSegment(global);
  ks.layerSegmentBytes = abi::segmentEnd(layer);
  ks.globalSegmentBytes = abi::segmentEnd(global);
  ks.slots = {layer[0], global[0]};
  ks.programs = {"a", "b"};
  ks.programFiles = {"attn_core.mil", "lm_head.mil"};
  abi::KernelDesc core;
  core.kernel = abi::Kernel::AttnCore;
  core.seq = 4;
  core.ctx = 32;
  core.inputs = {{"q", mil::DType::FP16, {1, 8, 1, 4}}};
  core.outputs = {{"attn", mil::DType::FP16, {1, 8, 1, 4}}};
  core.paddedChannels = {{"q", 8}};
  core.packing = {{"q", 0, 4, {1, 8, 1, 4}}};
  abi::KernelDesc head;
  head.kernel = abi::Kernel::LmHead;
  head.program = 1;
  head.weights = {"output"};
  ks.kernels = {core, head};
  ks.loraRank = 8;
  ks.loraTargets = {"attn_q", "ffn_down"};
  return ks;
}

TEST(AbiTest, ManifestRoundTrip) {
  abi::KernelSet ks = smallSet();
  ASSERT_TRUE(ks.validate().ok()) << ks.validate().message();
  std::string text = abi::writeManifest(ks);
  auto back = abi::readManifest(text, "m");
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(abi::writeManifest(*back), text);
  EXPECT_EQ(back->scheme, abi::Scheme::Q4);
  EXPECT_EQ(back->weightBinding, abi::WeightBinding::Input);
  EXPECT_EQ(back->programFiles, ks.programFiles);
  ASSERT_EQ(back->kernels.size(), 2u);
  EXPECT_EQ(back->kernels[0].paddedChannels, ks.kernels[0].paddedChannels);
  ASSERT_EQ(back->kernels[0].packing.size(), 1u);
  EXPECT_EQ(back->kernels[0].packing[0].columns, 4);
  EXPECT_EQ(back->slots[0].ropeRows, 8);
  EXPECT_EQ(back->loraRank, 8);
  EXPECT_EQ(back->loraTargets, ks.loraTargets);
  EXPECT_EQ(back->find(abi::Kernel::AttnCore, 4, 32), &back->kernels[0]);
  EXPECT_EQ(back->find(abi::Kernel::AttnCore, 4, 64), nullptr);
}

TEST(AbiTest, ReadsVersionOneManifests) {
  abi::KernelSet ks = smallSet();
  ks.slots[0].scheme = abi::Scheme::F16;
  ks.slots[0].group = 0;
  ks.slots[0].blobs = {{mil::DType::FP16, {8, 8, 1, 1}, 64}};
  std::string text = abi::writeManifest(ks);
  for (auto [from, to] :
       {std::pair<std::string, std::string>{"\"version\":2", "\"version\":1"},
        {"\"scheme\":\"f16\"", "\"scheme\":\"dense\""}}) {
    size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
  }
  auto back = abi::readManifest(text, "m");
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->slots[0].scheme, abi::Scheme::F16);
}

TEST(AbiTest, ManifestRefusesWhatTheContractForbids) {
  std::string good = abi::writeManifest(smallSet());
  struct Case {
    std::string from, to, message;
  } cases[] = {
      {"\"name\":\"attn_core\"", "\"name\":\"attn_kore\"",
       "m.kernels[0].name: unknown kernel 'attn_kore'"},
      {"\"ctx\":32", "\"ctx\":0", "m: kernel 'attn_core': bad bucket"},
      {"\"weight_binding\":\"input\"", "\"weight_binding\":\"baked\"",
       "m.weight_binding: unknown weight binding 'baked'"},
      {"\"segment\":\"global\"", "\"segment\":\"shared\"",
       "m.slots[1].segment: unknown segment 'shared'"},
      {"\"padded_channels\":{\"q\":8}", "\"padded_channels\":{\"q\":0}",
       "m.kernels[0].padded_channels: 'q' must be a positive integer"},
      {"\"columns\":4", "\"columns\":0",
       "m.kernels[0].packing[0].columns: offset and columns must be in range"},
      {"\"program_files\":[\"attn_core.mil\",\"lm_head.mil\"]",
       "\"program_files\":[\"attn_core.mil\"]",
       "m: 1 program files for 2 programs"},
      {"\"rank\":8", "\"rank\":0", "m: lora: rank 0 with 2 targets"},
      {"\"targets\":[\"attn_q\"", "\"targets\":[\"output\"",
       "m: lora: 'output' is not a role adapters can target"},
  };
  for (const Case &c : cases) {
    std::string text = good;
    size_t at = text.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    text.replace(at, c.from.size(), c.to);
    auto bad = abi::readManifest(text, "m");
    ASSERT_FALSE(bad.ok()) << c.to;
    EXPECT_EQ(bad.message(), c.message);
  }
}

/// The cpu layout goes only to q4 matrices of 16-row blocks and whole
/// 32-column groups; the manifest names it per slot, and a reader refuses
/// it anywhere else, under the input binding, or by an unknown name.
TEST(AbiTest, TheCpuLayoutIsMarkedPerSlotAndChecked) {
  abi::KernelSet ks = smallSet();
  ks.weightBinding = abi::WeightBinding::Blob;
  ks.slots[1] = q4Slot("output", 48, 64, 32);
  ks.slots[1].segment = abi::Segment::Global;
  std::vector<abi::SlotSpec> global = {ks.slots[1]};
  abi::layOutSegment(global);
  ks.slots[1] = global[0];
  ks.globalSegmentBytes = abi::segmentEnd(global);
  ASSERT_TRUE(ks.validate().ok()) << ks.validate().message();
  EXPECT_FALSE(abi::canInterleave(ks.slots[0])); // 8 rows, groups of 4
  EXPECT_TRUE(abi::canInterleave(ks.slots[1]));
  abi::useCpuLayout(ks);
  EXPECT_EQ(ks.slots[0].layout, abi::SlotLayout::RowMajor);
  EXPECT_EQ(ks.slots[1].layout, abi::SlotLayout::Interleaved16);
  EXPECT_TRUE(ks.hasInterleavedSlots());
  std::string text = abi::writeManifest(ks);
  EXPECT_NE(text.find("\"layout\":\"interleaved16\""), std::string::npos);
  auto back = abi::readManifest(text, "m");
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->slots[1].layout, abi::SlotLayout::Interleaved16);
  EXPECT_EQ(abi::writeManifest(*back), text);

  auto refused = [&](std::string from, std::string to) {
    std::string t = text;
    size_t at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    t.replace(at, from.size(), to);
    auto bad = abi::readManifest(t, "m");
    return bad.ok() ? std::string("read") : bad.message();
  };
  EXPECT_EQ(refused("\"layout\":\"interleaved16\"", "\"layout\":\"tiled\""),
            "m.slots[1].layout: unknown slot layout 'tiled'");
  EXPECT_EQ(
      refused("\"weight_binding\":\"blob\"", "\"weight_binding\":\"input\""),
      "m: interleaved16 slots are read in place: the input binding reads "
      "row-major blobs");
  EXPECT_EQ(refused("\"group\":32", "\"group\":16"),
            "m: weight slot 'output': the interleaved16 layout needs a q4 "
            "matrix of 16-row blocks in groups of whole 32 columns, int4 codes "
            "and fp16 scales");
}

// Damaged manifests of every kind are refused or read, never a crash.
TEST(AbiTest, DamagedManifestsNeverCrash) {
  std::string good = abi::writeManifest(smallSet());
  std::mt19937 rng(7);
  int refused = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = good;
    switch (i % 3) {
    case 0:
      text.resize(rng() % text.size());
      break;
    case 1:
      text[rng() % text.size()] = char(rng() % 256);
      break;
    default:
      text.insert(rng() % text.size(), std::to_string(int64_t(rng()) << 20));
      break;
    }
    auto r = abi::readManifest(text, "m");
    refused += !r.ok();
    if (!r.ok())
      EXPECT_EQ(r.message().rfind("m", 0), 0u) << r.message();
  }
  EXPECT_GT(refused, 2000);
}

class KernelDirTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() /
          ("ane-kernel-dir-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    set = smallSet();
    write("manifest.json", abi::writeManifest(set));
    write("attn_core.mil", "core text");
    write("lm_head.mil", "head text");
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  void write(const std::string &name, const std::string &text) {
    std::ofstream(dir / name, std::ios::binary) << text;
  }

  std::filesystem::path dir;
  abi::KernelSet set;
};

TEST_F(KernelDirTest, ReadsProgramsBesideTheManifest) {
  auto ks = abi::readKernelDir(dir.string());
  ASSERT_TRUE(ks.ok()) << ks.message();
  EXPECT_EQ(ks->programs, (std::vector<std::string>{"core text", "head text"}));
}

TEST_F(KernelDirTest, RefusesMissingAndOddFiles) {
  std::filesystem::remove(dir / "lm_head.mil");
  auto missing = abi::readKernelDir(dir.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.message(),
            (dir / "lm_head.mil").string() + ": no such file");
  std::filesystem::create_directory(dir / "lm_head.mil");
  auto folder = abi::readKernelDir(dir.string());
  ASSERT_FALSE(folder.ok());
  EXPECT_EQ(folder.message(),
            (dir / "lm_head.mil").string() + ": not a regular file");
  auto none = abi::readKernelDir((dir / "nowhere").string());
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.message().find("manifest.json: no such file"),
            std::string::npos);
}

TEST_F(KernelDirTest, RefusesNamesOutsideTheFolder) {
  for (std::string name : {"../lm_head.mil", "/etc/passwd", "", ".."}) {
    abi::KernelSet ks = set;
    ks.programFiles[1] = name;
    write("manifest.json", abi::writeManifest(ks));
    auto r = abi::readKernelDir(dir.string());
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_NE(r.message().find("is not a file name beside the manifest"),
              std::string::npos)
        << r.message();
  }
  abi::KernelSet ks = set;
  ks.programFiles.clear();
  write("manifest.json", abi::writeManifest(ks));
  auto r = abi::readKernelDir(dir.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("program_files must name the 2 programs"),
            std::string::npos);
}

} // namespace
} // namespace ane::abi
