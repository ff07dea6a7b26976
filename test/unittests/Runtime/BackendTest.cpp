//===- BackendTest.cpp - the backend interface and the cpu backend --------===//

#include "lib/Runtime/Backend.h"
#include "lib/MIL/WeightFile.h"

#include <gtest/gtest.h>

using namespace ane;
using namespace ane::runtime;

namespace {

/// y = x * w with w a 4-element fp32 BLOBFILE constant at offset 64.
const char *kScaleProgram =
    "program(1.3)\n{\n    func main<ios18>(tensor<fp32, [4]> x) {\n"
    "            tensor<fp32, [4]> w = const()[name = string(\"w\"), val = "
    "tensor<fp32, [4]>(BLOBFILE(path = "
    "string(\"@model_path/weights/weight.bin\"), offset = uint64(64)))];\n"
    "            tensor<fp32, [4]> y = mul(x = x, y = w)[name = "
    "string(\"y\")];\n        } -> (y);\n}";

std::vector<uint8_t> segment(float v) {
  mil::WeightWriter w;
  std::vector<float> values(4, v);
  w.append(mil::BlobDType::Float32, values.data(), 16);
  return w.bytes();
}

/// One compiled program serves two "layers": binding another segment
/// changes what the next run reads.
TEST(BackendTest, CpuProgramsRunWhateverSegmentIsBound) {
  auto backend = createBackend("cpu");
  ASSERT_TRUE(backend.ok()) << backend.message();
  EXPECT_EQ((*backend)->name(), "cpu");
  auto program = (*backend)->compile(kScaleProgram);
  ASSERT_TRUE(program.ok()) << program.message();
  ASSERT_EQ((*program)->params().size(), 1u);
  std::vector<uint8_t> layer0 = segment(2.0f), layer1 = segment(-3.0f);
  auto x = std::make_shared<const Tensor>(
      Tensor::floats(mil::DType::FP32, {4}, {1, 2, 3, 4}));
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(
        (*program)->bindWeights({layer0.data(), layer0.size()}, "l0").ok());
    auto y0 = (*program)->run({x});
    ASSERT_TRUE(y0.ok()) << y0.message();
    EXPECT_EQ((*y0)[0].f, (std::vector<float>{2, 4, 6, 8}));
    ASSERT_TRUE(
        (*program)->bindWeights({layer1.data(), layer1.size()}, "l1").ok());
    auto y1 = (*program)->run({x});
    ASSERT_TRUE(y1.ok()) << y1.message();
    EXPECT_EQ((*y1)[0].f, (std::vector<float>{-3, -6, -9, -12}));
  }
}

TEST(BackendTest, ErrorsNameTheProblem) {
  auto ane = createBackend("ane");
  ASSERT_FALSE(ane.ok());
  EXPECT_EQ(ane.message(), "the ane backend needs macOS; this build has cpu, "
                           "cpu-reference and ane-sim (the ANE simulator)");
  EXPECT_EQ(createBackend("gpu").message(),
            "unknown backend 'gpu' (this build has: cpu, cpu-reference, "
            "ane-sim)");
  auto cpu = createBackend("cpu");
  ASSERT_TRUE(cpu.ok());
  EXPECT_FALSE((*cpu)->compile("program(1.3)\n{\n").ok());
  auto program = (*cpu)->compile(kScaleProgram);
  ASSERT_TRUE(program.ok());
  // A segment too short for its header, and one without the blob.
  std::vector<uint8_t> shortSegment(10, 0);
  EXPECT_FALSE(
      (*program)
          ->bindWeights({shortSegment.data(), shortSegment.size()}, "s")
          .ok());
  mil::WeightWriter empty;
  std::vector<uint8_t> none = empty.bytes();
  ASSERT_TRUE((*program)->bindWeights({none.data(), none.size()}, "none").ok());
  auto run = (*program)->run({std::make_shared<const Tensor>(
      Tensor::floats(mil::DType::FP32, {4}, {1, 2, 3, 4}))});
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.message().find("none"), std::string::npos) << run.message();
}

} // namespace
