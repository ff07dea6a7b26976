//===- ExecutorTestSupport.h - the executor tests' fixture ------*- C++ -*-===//

#ifndef ANE_TEST_UNITTESTS_RUNTIME_EXECUTORTESTSUPPORT_H
#define ANE_TEST_UNITTESTS_RUNTIME_EXECUTORTESTSUPPORT_H

#include "lib/MIL/Text.h"
#include "lib/Runtime/Cpu/Executor.h"
#include "lib/Support/Float16.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ane::runtime::test {

using mil::DType;

inline std::vector<float> randomFloats(size_t n, unsigned seed, DType dtype) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = storeAs(dtype, d(rng));
  return v;
}

/// A program whose `main<opset>(params)` has `body` and returns `outs`.
inline std::string mainProgram(const std::string &opset,
                               const std::string &params,
                               const std::string &body,
                               const std::string &outs) {
  return "program(1.3)\n{\n    func main<" + opset + ">(" + params + ") {\n" +
         body + "\n        } -> (" + outs + ");\n}";
}

/// `type(BLOBFILE(...))` at `offset` of the model's weight.bin.
inline std::string blobFile(const std::string &type, uint64_t offset) {
  return type +
         "(BLOBFILE(path = string(\"@model_path/weights/weight.bin\"), "
         "offset = uint64(" +
         std::to_string(offset) + ")))";
}

/// Parses `body` as the statements of `main<opset>(params)` and runs it.
class ExecutorTest : public ::testing::Test {
protected:
  std::vector<Tensor> run(const std::string &opset, const std::string &params,
                          const std::string &body, const std::string &outs,
                          const std::vector<Tensor> &inputs) {
    auto program = mil::parseProgram(mainProgram(opset, params, body, outs));
    EXPECT_TRUE(program.ok()) << program.message();
    if (!program.ok())
      return {};
    auto exec = Executor::create(*program, "main", weights);
    EXPECT_TRUE(exec.ok()) << exec.message();
    if (!exec.ok())
      return {};
    auto result = exec->run(inputs);
    EXPECT_TRUE(result.ok()) << result.message();
    return result.ok() ? *result : std::vector<Tensor>{};
  }

  std::string runError(const std::string &body, const std::vector<Tensor> &in,
                       const std::string &params = "tensor<fp32, [4]> x") {
    std::string text = "program(1.3)\n{\n    func main<ios18>(" + params +
                       ") {\n" + body + "\n        } -> (y);\n}";
    auto program = mil::parseProgram(text);
    if (!program.ok())
      return program.message();
    auto exec = Executor::create(*program, "main", weights);
    if (!exec.ok())
      return exec.message();
    auto result = exec->run(in);
    return result.ok() ? "" : result.message();
  }

  /// Runs `text` (x [1, 2, m, k] times y) in fast mode, with y as floats
  /// and as fp16 bits, against a double-precision loop.
  void checkFastMatmul(const std::string &text, int64_t m, int64_t k, int64_t n,
                       bool transposed);

  /// Makes `bytes` the programs' weight.bin.
  bool bindWeightFile(std::vector<uint8_t> bytes) {
    weightBytes = std::move(bytes);
    auto reader = mil::WeightReader::fromBuffer(
        weightBytes.data(), weightBytes.size(), "weight.bin", nullptr);
    if (!reader.ok())
      return false;
    weights.emplace("@model_path/weights/weight.bin", *reader);
    return true;
  }

  WeightFiles weights;
  std::vector<uint8_t> weightBytes;
};

} // namespace ane::runtime::test

#endif // ANE_TEST_UNITTESTS_RUNTIME_EXECUTORTESTSUPPORT_H
