//===- MILExportTest.cpp - emitted kernels run in the executor ------------===//
//
// The kernels of test/Dialect/AneMil/Export/emit-kernels.mlir, emitted with
// their weight.bin, parsed back and executed; results are compared with
// hand-written loops.
//
//===----------------------------------------------------------------------===//

#include "lib/Dialect/AneMil/Export/MILTranslation.h"
#include "lib/Dialect/AneMil/IR/AneMilOps.h"
#include "lib/Support/Float16.h"
#include "lib/MIL/Text.h"
#include "lib/Runtime/Cpu/Executor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Parser/Parser.h"

#include <cmath>
#include <filesystem>
#include <random>

#include <unistd.h>

#include <gtest/gtest.h>

using namespace mlir;
using ane::mil::DType;
using ane::runtime::Tensor;

namespace {

const char *kKernels = R"mlir(
func.func @proj(%x: tensor<1x16x1x4xf16>) -> tensor<1x8x1x4xf16> attributes {anemil.opset = #anemil.opset<ios18>} {
  %w = anemil.const dense<[[[[0.5]], [[-0.25]], [[1.0]], [[0.125]], [[2.0]], [[-1.0]], [[0.75]], [[0.5]], [[0.25]], [[-0.5]], [[1.5]], [[0.0]], [[-2.0]], [[0.375]], [[1.25]], [[-0.75]]],
                            [[[1.0]], [[1.0]], [[1.0]], [[1.0]], [[1.0]], [[1.0]], [[1.0]], [[1.0]], [[1.0]], [[1.0]], [[1.0]], [[1.0]], [[1.0]], [[1.0]], [[1.0]], [[1.0]]],
                            [[[0.5]], [[0.5]], [[0.5]], [[0.5]], [[0.5]], [[0.5]], [[0.5]], [[0.5]], [[0.5]], [[0.5]], [[0.5]], [[0.5]], [[0.5]], [[0.5]], [[0.5]], [[0.5]]],
                            [[[-1.0]], [[0.0]], [[1.0]], [[0.0]], [[-1.0]], [[0.0]], [[1.0]], [[0.0]], [[-1.0]], [[0.0]], [[1.0]], [[0.0]], [[-1.0]], [[0.0]], [[1.0]], [[0.0]]],
                            [[[0.1]], [[0.2]], [[0.3]], [[0.4]], [[0.5]], [[0.6]], [[0.7]], [[0.8]], [[0.9]], [[1.0]], [[1.1]], [[1.2]], [[1.3]], [[1.4]], [[1.5]], [[1.6]]],
                            [[[2.0]], [[2.0]], [[2.0]], [[2.0]], [[2.0]], [[2.0]], [[2.0]], [[2.0]], [[2.0]], [[2.0]], [[2.0]], [[2.0]], [[2.0]], [[2.0]], [[2.0]], [[2.0]]],
                            [[[0.0]], [[0.0]], [[0.0]], [[0.0]], [[0.0]], [[0.0]], [[0.0]], [[0.0]], [[0.0]], [[0.0]], [[0.0]], [[0.0]], [[0.0]], [[0.0]], [[0.0]], [[3.0]]],
                            [[[-0.5]], [[-0.5]], [[-0.5]], [[-0.5]], [[-0.5]], [[-0.5]], [[-0.5]], [[-0.5]], [[-0.5]], [[-0.5]], [[-0.5]], [[-0.5]], [[-0.5]], [[-0.5]], [[-0.5]], [[-0.5]]]]> : tensor<8x16x1x1xf16>
  %y = anemil.conv %x, %w {pad_type = #anemil.pad_type<valid>} : (tensor<1x16x1x4xf16>, tensor<8x16x1x1xf16>) -> tensor<1x8x1x4xf16>
  return %y : tensor<1x8x1x4xf16>
}
func.func @scores(%q: tensor<1x2x4x8xf16>, %k: tensor<1x2x6x8xf16>) -> tensor<1x2x4x6xf16> attributes {anemil.opset = #anemil.opset<ios18>} {
  %s = anemil.matmul %q, %k {transpose_y = true} : (tensor<1x2x4x8xf16>, tensor<1x2x6x8xf16>) -> tensor<1x2x4x6xf16>
  %p = anemil.softmax %s {axis = -1 : i64} : tensor<1x2x4x6xf16>
  return %p : tensor<1x2x4x6xf16>
}
func.func @rms_norm(%x: tensor<1x16x1x4xf16>) -> tensor<1x16x1x4xf16> attributes {anemil.opset = #anemil.opset<ios18>} {
  %sq = anemil.mul %x, %x : (tensor<1x16x1x4xf16>, tensor<1x16x1x4xf16>) -> tensor<1x16x1x4xf16>
  %ms = anemil.reduce_mean %sq {axes = array<i64: 1>, keep_dims = true} : (tensor<1x16x1x4xf16>) -> tensor<1x1x1x4xf16>
  %r = anemil.rsqrt %ms {epsilon = 1.0e-05 : f32} : tensor<1x1x1x4xf16>
  %n = anemil.mul %x, %r : (tensor<1x16x1x4xf16>, tensor<1x1x1x4xf16>) -> tensor<1x16x1x4xf16>
  %g = anemil.const dense<[[[[1.0]], [[0.5]], [[2.0]], [[1.5]], [[1.0]], [[0.25]], [[1.0]], [[3.0]], [[1.0]], [[0.5]], [[1.0]], [[1.0]], [[0.75]], [[1.0]], [[1.25]], [[1.0]]]]> : tensor<1x16x1x1xf16>
  %y = anemil.mul %n, %g : (tensor<1x16x1x4xf16>, tensor<1x16x1x1xf16>) -> tensor<1x16x1x4xf16>
  return %y : tensor<1x16x1x4xf16>
}
)mlir";

class MILExportTest : public ::testing::Test {
protected:
  void SetUp() override {
    ctx.loadDialect<anemil::AneMilDialect, func::FuncDialect>();
    module = parseSourceString<ModuleOp>(kKernels, &ctx);
    ASSERT_TRUE(module);
    dir = std::filesystem::temp_directory_path() /
          ("ane-export-test-" + std::to_string(::getpid()));
    anemil::MILExportOptions options;
    options.weightsDir = dir.string();
    auto program = anemil::exportMIL(*module, options);
    ASSERT_TRUE(succeeded(program));
    // Through text, as the runtime would receive it.
    auto parsed = ane::mil::parseProgram(ane::mil::printProgram(*program));
    ASSERT_TRUE(parsed.ok()) << parsed.message();
    text = std::move(*parsed);
    auto reader = ane::mil::WeightReader::open((dir / "weight.bin").string());
    ASSERT_TRUE(reader.ok()) << reader.message();
    weights.emplace("@model_path/weights/weight.bin", *reader);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  std::vector<Tensor> run(const std::string &fn, std::vector<Tensor> inputs) {
    auto exec = ane::runtime::Executor::create(text, fn, weights);
    EXPECT_TRUE(exec.ok()) << exec.message();
    if (!exec.ok())
      return {};
    auto out = exec->run(inputs);
    EXPECT_TRUE(out.ok()) << out.message();
    return out.ok() ? *out : std::vector<Tensor>{};
  }

  /// The fp16 values of a dense constant of `fn`, flattened.
  std::vector<float> constValues(StringRef fn, int index) {
    std::vector<float> v;
    int seen = 0;
    module->walk([&](anemil::ConstOp op) {
      if (op->getParentOfType<func::FuncOp>().getSymName() != fn ||
          seen++ != index)
        return;
      for (APFloat f :
           cast<DenseElementsAttr>(op.getVal()).getValues<APFloat>())
        v.push_back(f.convertToFloat());
    });
    return v;
  }

  static std::vector<float> randomHalf(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(-2.0f, 2.0f);
    std::vector<float> v(n);
    for (float &x : v)
      x = ane::roundToHalf(d(rng));
    return v;
  }

  MLIRContext ctx;
  OwningOpRef<ModuleOp> module;
  std::filesystem::path dir;
  ane::mil::Program text;
  ane::runtime::WeightFiles weights;
};

TEST_F(MILExportTest, ConvMatchesLoops) {
  std::vector<float> x = randomHalf(16 * 4, 1);
  std::vector<float> w = constValues("proj", 0);
  ASSERT_EQ(w.size(), 8u * 16u);
  auto out = run("proj", {Tensor::floats(DType::FP16, {1, 16, 1, 4}, x)});
  ASSERT_EQ(out.size(), 1u);
  for (int o = 0; o < 8; ++o)
    for (int s = 0; s < 4; ++s) {
      double acc = 0;
      for (int i = 0; i < 16; ++i)
        acc += double(w[o * 16 + i]) * x[i * 4 + s];
      EXPECT_EQ(out[0].f[o * 4 + s], ane::roundToHalf(float(acc)))
          << "channel " << o << " position " << s;
    }
}

TEST_F(MILExportTest, ScoresMatchLoops) {
  std::vector<float> q = randomHalf(2 * 4 * 8, 2), k = randomHalf(2 * 6 * 8, 3);
  auto out = run("scores", {Tensor::floats(DType::FP16, {1, 2, 4, 8}, q),
                            Tensor::floats(DType::FP16, {1, 2, 6, 8}, k)});
  ASSERT_EQ(out.size(), 1u);
  for (int h = 0; h < 2; ++h)
    for (int i = 0; i < 4; ++i) {
      // fp16 storage between ops: the scores are rounded before softmax.
      float s[6], mx = -INFINITY, sum = 0;
      for (int j = 0; j < 6; ++j) {
        float acc = 0;
        for (int e = 0; e < 8; ++e)
          acc += q[(h * 4 + i) * 8 + e] * k[(h * 6 + j) * 8 + e];
        s[j] = ane::roundToHalf(acc);
        mx = std::max(mx, s[j]);
      }
      for (float v : s)
        sum += std::exp(v - mx);
      for (int j = 0; j < 6; ++j)
        EXPECT_NEAR(out[0].f[(h * 4 + i) * 6 + j], std::exp(s[j] - mx) / sum,
                    1e-3);
    }
}

TEST_F(MILExportTest, RmsNormMatchesLoops) {
  std::vector<float> x = randomHalf(16 * 4, 4);
  std::vector<float> g = constValues("rms_norm", 0);
  ASSERT_EQ(g.size(), 16u);
  auto out = run("rms_norm", {Tensor::floats(DType::FP16, {1, 16, 1, 4}, x)});
  ASSERT_EQ(out.size(), 1u);
  for (int s = 0; s < 4; ++s) {
    float ms = 0;
    for (int c = 0; c < 16; ++c)
      ms += x[c * 4 + s] * x[c * 4 + s];
    float r = 1.0f / std::sqrt(ms / 16 + 1e-5f);
    for (int c = 0; c < 16; ++c) {
      float want = x[c * 4 + s] * r * g[c];
      EXPECT_NEAR(out[0].f[c * 4 + s], want,
                  1e-2 * std::max(1.0f, std::fabs(want)))
          << "channel " << c << " position " << s;
    }
  }
}

} // namespace
