//===- RobustnessTest.cpp - damaged MIL text and weight.bin ---------------===//
//
// Truncated and byte-flipped variants of every corpus file and of weight.bin
// files (fixed seeds, well over 10,000 inputs in all) must each give a clean
// error or a valid result. CI also runs this under ASan and UBSan, which turn
// any out-of-bounds read or undefined behaviour into a failure.
//
//===----------------------------------------------------------------------===//

#include "lib/MIL/Text.h"
#include "lib/MIL/WeightFile.h"
#include "lib/Runtime/Cpu/Executor.h"

#include "test/unittests/SharedData.h"

#include <algorithm>
#include <filesystem>
#include <random>

#include <gtest/gtest.h>

using namespace ane::mil;

namespace {

constexpr int kVariantsPerCorpusFile = 800;
constexpr int kWeightFileVariants = 2500;

/// A valid parse must print to text that parses to the same text again.
void checkParse(const std::string &text, const std::string &what) {
  auto program = parseProgram(text, what);
  if (!program.ok()) {
    EXPECT_FALSE(program.message().empty()) << what;
    return;
  }
  std::string printed = printProgram(*program);
  auto again = parseProgram(printed, what);
  ASSERT_TRUE(again.ok()) << what << ": printed text does not parse: "
                          << again.message();
  EXPECT_EQ(printProgram(*again), printed) << what;
}

TEST(RobustnessTest, DamagedCorpusFilesParseOrFailCleanly) {
  std::vector<std::string> files = ane::test::sharedFiles("mil/corpus", ".mil");
  ASSERT_EQ(files.size(), 12u);
  std::mt19937_64 rng(20261126);
  int inputs = 0;
  for (const std::string &path : files) {
    std::string text = ane::test::readFile(path);
    ASSERT_FALSE(text.empty());
    for (int v = 0; v < kVariantsPerCorpusFile; ++v) {
      std::string damaged = text;
      if (v % 2 == 0) {
        damaged.resize(rng() % text.size());
      } else {
        int flips = 1 + static_cast<int>(rng() % 4);
        for (int f = 0; f < flips; ++f)
          damaged[rng() % damaged.size()] = static_cast<char>(rng() & 0xff);
      }
      checkParse(damaged, path);
      ++inputs;
    }
  }
  EXPECT_GE(inputs, 9600);
}

std::vector<uint8_t> sampleWeightFile() {
  WeightWriter w;
  std::vector<uint16_t> half(40, 0x3c00);
  w.append(BlobDType::Float16, half.data(), half.size() * 2);
  w.appendValues(BlobDType::Int4, std::vector<int64_t>(31, -2));
  w.appendValues(BlobDType::UInt3, std::vector<int64_t>(17, 5));
  std::vector<float> f(9, 1.5f);
  w.append(BlobDType::Float32, f.data(), f.size() * 4);
  w.appendValues(BlobDType::UInt8, std::vector<int64_t>(70, 200));
  return w.bytes();
}

TEST(RobustnessTest, DamagedWeightFilesReadOrFailCleanly) {
  std::vector<uint8_t> original = sampleWeightFile();
  std::mt19937_64 rng(1126);
  int valid = 0;
  for (int v = 0; v < kWeightFileVariants; ++v) {
    std::vector<uint8_t> bytes = original;
    if (v % 3 == 0) {
      bytes.resize(rng() % bytes.size());
    } else {
      int flips = 1 + static_cast<int>(rng() % 6);
      for (int f = 0; f < flips; ++f)
        bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
    }
    // Copy into an exactly sized heap block so ASan sees any overrun.
    std::unique_ptr<uint8_t[]> exact(new uint8_t[bytes.size() + 1]);
    std::copy(bytes.begin(), bytes.end(), exact.get());
    auto reader =
        WeightReader::fromBuffer(exact.get(), bytes.size(), "w.bin", nullptr);
    if (!reader.ok())
      continue;
    auto blobs = reader->blobs();
    if (!blobs.ok())
      continue;
    ++valid;
    for (const BlobView &b : *blobs) {
      ASSERT_LE(b.dataOffset + b.size, bytes.size());
      // Touch every payload byte and unpack sub-byte data.
      uint64_t sum = 0;
      for (uint64_t k = 0; k < b.size; ++k)
        sum += b.data[k];
      int bits = blobBits(b.dtype);
      if (bits < 8)
        unpackSubByte(b.data, b.elementCount(), bits, false);
      (void)sum;
    }
    // Random offsets must be rejected or resolved within bounds.
    for (int k = 0; k < 4; ++k) {
      auto blob = reader->blob(rng() % (bytes.size() + 200));
      if (blob.ok()) {
        ASSERT_LE(blob->dataOffset + blob->size, bytes.size());
      }
    }
  }
  EXPECT_GT(valid, 0);
}

/// The executor on damaged programs: parse, then load constants and run with
/// zero inputs of the declared shapes; every failure must be an error.
TEST(RobustnessTest, DamagedProgramsExecuteOrFailCleanly) {
  const std::string text =
      "program(1.3)\n{\n    func main<ios18>(tensor<fp16, [1, 4, 1, 3]> x) "
      "{\n"
      "            tensor<int32, [1]> ax = const()[name = string(\"ax\"), val "
      "= tensor<int32, [1]>([1])];\n"
      "            bool kd = const()[name = string(\"kd\"), val = "
      "bool(true)];\n"
      "            tensor<fp16, [1, 1, 1, 3]> m = reduce_mean(axes = ax, "
      "keep_dims = kd, x = x)[name = string(\"m\")];\n"
      "            tensor<fp16, [4, 4, 1, 1]> w = const()[name = "
      "string(\"w\"), "
      "val = tensor<fp16, [4, 4, 1, 1]>([[[[0x1p+0]], [[0x1p+0]], [[0x1p+0]], "
      "[[0x1p+0]]], [[[0x1p+0]], [[0x1p+0]], [[0x1p+0]], [[0x1p+0]]], "
      "[[[0x1p+0]], [[0x1p+0]], [[0x1p+0]], [[0x1p+0]]], [[[0x1p+0]], "
      "[[0x1p+0]], [[0x1p+0]], [[0x1p+0]]]])];\n"
      "            tensor<fp16, [1, 4, 1, 3]> y = conv(weight = w, x = x)[name "
      "= string(\"y\")];\n"
      "            tensor<int32, [2]> sh = const()[name = string(\"sh\"), val "
      "= tensor<int32, [2]>([4, 3])];\n"
      "            tensor<fp16, [4, 3]> r = reshape(shape = sh, x = y)[name = "
      "string(\"r\")];\n"
      "            tensor<int32, [2]> pm = const()[name = string(\"pm\"), val "
      "= tensor<int32, [2]>([1, 0])];\n"
      "            tensor<fp16, [3, 4]> t = transpose(perm = pm, x = r)[name = "
      "string(\"t\")];\n"
      "            int32 one = const()[name = string(\"one\"), val = "
      "int32(1)];\n"
      "            tensor<fp16, [3, 4]> s = softmax(axis = one, x = t)[name = "
      "string(\"s\")];\n"
      "        } -> (m, s);\n}";
  std::mt19937_64 rng(42);
  ane::runtime::WeightFiles none;
  int ran = 0;
  for (int v = 0; v < 1500; ++v) {
    std::string damaged = text;
    int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) {
      // Mostly flip digits, so shapes and values change but still parse.
      size_t pos = rng() % damaged.size();
      damaged[pos] = "0123456789-?,[]()"[rng() % 17];
    }
    auto program = parseProgram(damaged);
    if (!program.ok() || program->functions.empty())
      continue;
    auto exec = ane::runtime::Executor::create(
        *program, program->functions[0].name, none);
    if (!exec.ok())
      continue;
    std::vector<ane::runtime::Tensor> inputs;
    bool concrete = true;
    for (const Param &p : program->functions[0].params) {
      if (!p.type.isTensor() || p.type.numElements() < 0 ||
          p.type.numElements() > 4096) {
        concrete = false;
        break;
      }
      inputs.push_back(ane::runtime::Tensor::zeros(p.type.dtype, p.type.dims));
    }
    if (!concrete)
      continue;
    auto result = exec->run(inputs);
    if (!result.ok()) {
      // A failure names the statement it stopped at.
      EXPECT_NE(result.message().find("line "), std::string::npos)
          << result.message() << "\n"
          << damaged;
      continue;
    }
    ++ran;
    // A success returns what the function declares, each tensor whole.
    const Function &fn = program->functions[0];
    ASSERT_EQ(result->size(), fn.outputs.size()) << damaged;
    for (size_t i = 0; i < fn.outputs.size(); ++i) {
      const Type *declared = nullptr;
      for (const Statement &st : fn.body)
        for (const Statement::Output &o : st.outputs)
          if (o.name == fn.outputs[i])
            declared = &o.type;
      ASSERT_NE(declared, nullptr) << fn.outputs[i];
      const ane::runtime::Tensor &t = (*result)[i];
      EXPECT_EQ(t.shape, declared->dims) << fn.outputs[i] << "\n" << damaged;
      EXPECT_EQ(t.dtype, declared->dtype) << fn.outputs[i];
      EXPECT_EQ(t.storedElements(), t.numElements()) << fn.outputs[i];
    }
  }
  EXPECT_GT(ran, 0);
}

} // namespace
