//===- ExecutorFastPathTest.cpp - vector paths against the plain loops ---===//
//
// Fast mode (the cpu backend) runs views, float matmuls, softmax, silu and
// packed-weight convs on vector kernels; each must give what the plain
// loops (the oracle) give.
//
//===----------------------------------------------------------------------===//

#include "test/unittests/Runtime/ExecutorTestSupport.h"

#include "lib/Runtime/Cpu/PackedWeights.h"
#include "lib/Runtime/Interleaved.h"

#include <cmath>
#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>

using namespace ane;
using namespace ane::runtime;
using namespace ane::runtime::test;
using mil::DType;

namespace {

/// The start of a function over x and k: both reshaped to [1, 2, 4, 12],
/// then the two attention products qk = x k^T and av = qk k.
const std::string kAttentionHead = R"(program(1.3)
{
    func main<ios18>(tensor<fp16, [1, 8, 1, 12]> x, tensor<fp16, [1, 8, 1, 12]> k) {
            tensor<int32, [4]> s = const()[name = string("s"), val = tensor<int32, [4]>([1, 2, 4, 12])];
            tensor<fp16, [1, 2, 4, 12]> xr = reshape(shape = s, x = x)[name = string("xr")];
            tensor<fp16, [1, 2, 4, 12]> kr = reshape(shape = s, x = k)[name = string("kr")];
            bool t = const()[name = string("t"), val = bool(true)];
            tensor<fp16, [1, 2, 4, 4]> qk = matmul(transpose_y = t, x = xr, y = kr)[name = string("qk")];
            tensor<fp16, [1, 2, 4, 12]> av = matmul(x = qk, y = kr)[name = string("av")];)";

/// Reshapes are views of their input, and fast mode runs float matmuls on
/// the vector kernels: every consumer of a view (softmax, a unary op,
/// identity, a function output) and both matmul forms must give what the
/// plain loops give, with outputs that own their values.
TEST_F(ExecutorTest, FastModeViewsAndMatmulMatchThePlainLoops) {
  std::string text = kAttentionHead + R"(
            int32 ax = const()[name = string("ax"), val = int32(-1)];
            tensor<fp16, [1, 2, 4, 12]> sm = softmax(axis = ax, x = xr)[name = string("sm")];
            tensor<fp16, [1, 2, 4, 12]> sg = sigmoid(x = xr)[name = string("sg")];
            tensor<fp16, [1, 2, 4, 12]> id = identity(x = xr)[name = string("id")];
            tensor<int32, [1]> f = const()[name = string("f"), val = tensor<int32, [1]>([96])];
            tensor<fp16, [96]> flat = reshape(shape = f, x = kr)[name = string("flat")];
            tensor<fp16, [1, 2, 4, 12]> sl = silu(x = xr)[name = string("sl")];
        } -> (qk, av, sm, sg, id, flat, sl);
})";
  auto program = mil::parseProgram(text);
  ASSERT_TRUE(program.ok()) << program.message();
  std::vector<Tensor> in = {Tensor::floats(DType::FP16, {1, 8, 1, 12},
                                           randomFloats(96, 11, DType::FP16)),
                            Tensor::floats(DType::FP16, {1, 8, 1, 12},
                                           randomFloats(96, 12, DType::FP16))};
  std::vector<Tensor> outs[2];
  for (int fast = 0; fast < 2; ++fast) {
    auto exec = Executor::create(*program, "main", weights);
    ASSERT_TRUE(exec.ok()) << exec.message();
    exec->useFastKernels(fast);
    auto r = exec->run(in);
    ASSERT_TRUE(r.ok()) << r.message();
    outs[fast] = std::move(*r);
  }
  ASSERT_EQ(outs[1].size(), 7u);
  for (size_t o = 0; o < outs[1].size(); ++o) {
    const Tensor &plain = outs[0][o], &fast = outs[1][o];
    EXPECT_EQ(fast.shape, plain.shape) << "output " << o;
    EXPECT_EQ(fast.view, nullptr) << "outputs own their values";
    ASSERT_EQ(fast.f.size(), plain.f.size()) << "output " << o;
    // The matmuls accumulate in float instead of double: one fp16 step.
    // softmax and silu take a polynomial exp: at most one fp16 rounding
    // apart.
    double tolerance = o < 2 ? 2e-3 : o == 2 || o == 6 ? 1.0 / 1024 : 0.0;
    for (size_t i = 0; i < fast.f.size(); ++i)
      EXPECT_NEAR(fast.f[i], plain.f[i],
                  tolerance * std::max(1.0f, std::fabs(plain.f[i])))
          << "output " << o << " element " << i;
  }
  EXPECT_EQ(outs[1][5].f, in[1].f) << "flat is k itself";
}

/// A conv whose weight is an iOS18 palettized constexpr over BLOBFILE
/// operands runs from the palettes in fast mode (never materialised) and
/// gives the plain loops' result.
TEST_F(ExecutorTest, Lut4ConvRunsFromThePackedIndices) {
  const int64_t cin = 64, cout = 6, seq = 3, group = 32;
  std::mt19937 rng(5);
  std::vector<int64_t> indices(cout * cin);
  for (int64_t &i : indices)
    i = int64_t(rng() % 16);
  std::vector<uint16_t> palettes;
  for (float v : randomFloats(cout * (cin / group) * 16, 6, DType::FP16))
    palettes.push_back(ane::floatToHalfBits(v));
  mil::WeightWriter writer;
  uint64_t idxOff = writer.appendValues(mil::BlobDType::UInt4, indices);
  uint64_t lutOff = writer.append(mil::BlobDType::Float16, palettes.data(),
                                  palettes.size() * 2);
  ASSERT_TRUE(bindWeightFile(writer.bytes()));
  std::string text =
      "program(1.3)\n{\n    func main<ios18>(tensor<fp16, [1, 64, 1, 3]> x) "
      "{\n"
      "            string pt = const()[name = string(\"pt\"), val = "
      "string(\"valid\")];\n"
      "            tensor<fp16, [6, 64, 1, 1]> W = constexpr_lut_to_dense("
      "indices = " +
      blobFile("tensor<uint4, [6, 64, 1, 1]>", idxOff) +
      ", lut = " + blobFile("tensor<fp16, [6, 2, 1, 1, 16, 1]>", lutOff) +
      ")[name = string(\"W\")];\n"
      "            tensor<fp16, [1, 6, 1, 3]> y = conv(pad_type = pt, weight "
      "= W, x = x)[name = string(\"y\")];\n        } -> (y);\n}";
  auto program = mil::parseProgram(text);
  ASSERT_TRUE(program.ok()) << program.message();
  auto found = findPackedWeights(program->functions[0]);
  ASSERT_EQ(found.count("W"), 1u);
  EXPECT_EQ(found["W"].format, PackedWeight::Format::Lut4);
  EXPECT_EQ(found["W"].group, group);

  Tensor x = Tensor::floats(DType::FP16, {1, cin, 1, seq},
                            randomFloats(cin * seq, 7, DType::FP16));
  std::vector<Tensor> outs[2];
  for (int fast = 0; fast < 2; ++fast) {
    auto exec = Executor::create(*program, "main", weights);
    ASSERT_TRUE(exec.ok()) << exec.message();
    exec->useFastKernels(fast);
    auto r = exec->run({x});
    ASSERT_TRUE(r.ok()) << r.message();
    outs[fast] = std::move(*r);
  }
  for (int64_t o = 0; o < cout; ++o)
    for (int64_t s = 0; s < seq; ++s) {
      double acc = 0;
      for (int64_t i = 0; i < cin; ++i)
        acc +=
            ane::halfBitsToFloat(palettes[(o * (cin / group) + i / group) * 16 +
                                          indices[o * cin + i]]) *
            x.f[i * seq + s];
      EXPECT_NEAR(outs[0][0].f[o * seq + s], acc, 1e-2) << o << " " << s;
      // Float instead of double sums: at most one fp16 step apart.
      EXPECT_NEAR(outs[1][0].f[o * seq + s], outs[0][0].f[o * seq + s],
                  2e-3 * std::max(1.0, std::fabs(acc)))
          << o << " " << s;
    }
}

/// A weight file holding a random int4 [rows, cols] matrix and its fp16
/// scales per 32 columns, and where the two blobs are.
struct Q4File {
  std::vector<uint8_t> bytes;
  uint64_t data = 0, scales = 0;
};

Q4File randomQ4File(int64_t rows, int64_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<int64_t> codes(rows * cols);
  for (int64_t &c : codes)
    c = int64_t(rng() % 16) - 8;
  std::vector<uint16_t> scales;
  for (float v : randomFloats(rows * cols / 32, seed + 1, DType::FP16))
    scales.push_back(ane::floatToHalfBits(v));
  mil::WeightWriter writer;
  Q4File f;
  f.data = writer.appendValues(mil::BlobDType::Int4, codes);
  f.scales =
      writer.append(mil::BlobDType::Float16, scales.data(), scales.size() * 2);
  f.bytes = writer.bytes();
  return f;
}

/// anemil-legalize-ane tiles a conv wider than the axis cap into row ranges
/// of one weight (slice_by_size, then conv). The ranges of a packable q4
/// weight are read in place, each from its own first row, never
/// materialising the weight, and give what the plain loops give.
TEST_F(ExecutorTest, RowRangesOfAPackedWeightRunInPlace) {
  const int64_t cin = 64, cout = 8, seq = 3;
  Q4File file = randomQ4File(cout, cin, 11);
  const uint64_t dataOff = file.data, scaleOff = file.scales;
  ASSERT_TRUE(bindWeightFile(file.bytes));
  auto range = [](const std::string &name, int64_t first) {
    std::string n = std::to_string(first);
    return "            tensor<int32, [4]> " + name +
           "_b = const()[name = string(\"" + name +
           "_b\"), val = tensor<int32, [4]>([" + n +
           ", 0, 0, 0])];\n            tensor<int32, [4]> " + name +
           "_s = const()[name = string(\"" + name +
           "_s\"), val = tensor<int32, [4]>([4, 64, 1, 1])];\n"
           "            tensor<fp16, [4, 64, 1, 1]> " +
           name + " = slice_by_size(begin = " + name + "_b, size = " + name +
           "_s, x = W)[name = string(\"" + name + "\")];\n";
  };
  std::string body =
      "            string pt = const()[name = string(\"pt\"), val = "
      "string(\"valid\")];\n"
      "            tensor<fp16, [8, 64, 1, 1]> W = "
      "constexpr_blockwise_shift_scale(data = " +
      blobFile("tensor<int4, [8, 64, 1, 1]>", dataOff) +
      ", scale = " + blobFile("tensor<fp16, [8, 2, 1, 1]>", scaleOff) +
      ")[name = string(\"W\")];\n" + range("W0", 0) + range("W1", 4) +
      "            tensor<fp16, [1, 4, 1, 3]> y0 = conv(pad_type = pt, weight "
      "= W0, x = x)[name = string(\"y0\")];\n"
      "            tensor<fp16, [1, 4, 1, 3]> y1 = conv(pad_type = pt, weight "
      "= W1, x = x)[name = string(\"y1\")];";
  auto program = mil::parseProgram(
      mainProgram("ios18", "tensor<fp16, [1, 64, 1, 3]> x", body, "y0, y1"));
  ASSERT_TRUE(program.ok()) << program.message();
  auto found = findPackedWeights(program->functions[0]);
  ASSERT_EQ(found.count("W1"), 1u);
  EXPECT_EQ(found.count("W"), 0u);
  EXPECT_EQ(found["W1"].viewOf, "W");
  EXPECT_EQ(found["W1"].rowOffset, 4);
  EXPECT_EQ(found["W1"].rows, 4);
  EXPECT_EQ(found["W0"].rowOffset, 0);

  Tensor x = Tensor::floats(DType::FP16, {1, cin, 1, seq},
                            randomFloats(cin * seq, 13, DType::FP16));
  auto runProgram = [&](const mil::Program &p, bool fast) {
    auto exec = Executor::create(p, "main", weights);
    EXPECT_TRUE(exec.ok()) << exec.message();
    exec->useFastKernels(fast);
    auto r = exec->run({x});
    EXPECT_TRUE(r.ok()) << r.message();
    return r.ok() ? *r : std::vector<Tensor>{};
  };
  // The same weight whole, in one conv: packed the usual way.
  auto whole = mil::parseProgram(mainProgram(
      "ios18", "tensor<fp16, [1, 64, 1, 3]> x",
      body.substr(0, body.find("            tensor<int32, [4]> W0_b")) +
          "            tensor<fp16, [1, 8, 1, 3]> y = conv(pad_type = pt, "
          "weight = W, x = x)[name = string(\"y\")];",
      "y"));
  ASSERT_TRUE(whole.ok()) << whole.message();
  std::vector<Tensor> ranges = runProgram(*program, true);
  std::vector<Tensor> full = runProgram(*whole, true);
  std::vector<Tensor> plain = runProgram(*program, false);
  ASSERT_EQ(ranges.size(), 2u);
  ASSERT_EQ(full.size(), 1u);
  // Each range gives exactly its rows of the whole product.
  const size_t half = size_t(4 * seq);
  EXPECT_EQ(ranges[0].f,
            std::vector<float>(full[0].f.begin(), full[0].f.begin() + half));
  EXPECT_EQ(ranges[1].f,
            std::vector<float>(full[0].f.begin() + half, full[0].f.end()));
  // And the plain loops agree up to the int8 activations of the q4 path.
  for (int k = 0; k < 2; ++k)
    for (size_t i = 0; i < half; ++i)
      EXPECT_NEAR(ranges[k].f[i], plain[k].f[i], 0.25) << k << " " << i;
}

/// Blobs marked as the cpu layout are read by the interleaved kernels: a
/// conv over the whole weight, or over row ranges of whole 16-row blocks,
/// gives what the row-major blobs give. A range that splits a block, and
/// any read that is not a packed conv weight, fail naming the weight or
/// the op.
TEST_F(ExecutorTest, InterleavedBlobsRunTheInterleavedKernels) {
  const int64_t cin = 64, cout = 32, seq = 5, group = 32;
  Q4File file = randomQ4File(cout, cin, 17);
  const uint64_t dataOff = file.data, scaleOff = file.scales;
  std::vector<uint8_t> rowMajor = file.bytes, cpu = rowMajor;
  interleaved::interleaveBlocks(
      cpu.data() + dataOff + 64,
      reinterpret_cast<uint16_t *>(cpu.data() + scaleOff + 64), cin, group, 0,
      cout / interleaved::kRows);
  const std::string head =
      "            string pt = const()[name = string(\"pt\"), val = "
      "string(\"valid\")];\n"
      "            tensor<fp16, [32, 64, 1, 1]> W = "
      "constexpr_blockwise_shift_scale(data = " +
      blobFile("tensor<int4, [32, 64, 1, 1]>", dataOff) +
      ", scale = " + blobFile("tensor<fp16, [32, 2, 1, 1]>", scaleOff) +
      ")[name = string(\"W\")];\n";
  auto range = [](const std::string &name, int64_t first, int64_t rows) {
    return fmt::format(
        "            tensor<int32, [4]> {0}_b = const()[name = "
        "string(\"{0}_b\"), val = tensor<int32, [4]>([{1}, 0, 0, 0])];\n"
        "            tensor<int32, [4]> {0}_s = const()[name = "
        "string(\"{0}_s\"), val = tensor<int32, [4]>([{2}, 64, 1, 1])];\n"
        "            tensor<fp16, [{2}, 64, 1, 1]> {0} = slice_by_size(begin "
        "= {0}_b, size = {0}_s, x = W)[name = string(\"{0}\")];\n"
        "            tensor<fp16, [1, {2}, 1, 5]> y{0} = conv(pad_type = pt, "
        "weight = {0}, x = x)[name = string(\"y{0}\")];\n",
        name, first, rows);
  };
  const std::string conv = "            tensor<fp16, [1, 32, 1, 5]> y = "
                           "conv(pad_type = pt, weight = "
                           "W, x = x)[name = string(\"y\")];\n";
  Tensor x = Tensor::floats(DType::FP16, {1, cin, 1, seq},
                            randomFloats(cin * seq, 19, DType::FP16));
  auto run = [&](const std::string &body, const std::string &outputs,
                 bool interleavedFile) -> Result<std::vector<Tensor>> {
    auto program = mil::parseProgram(mainProgram(
        "ios18", "tensor<fp16, [1, 64, 1, 5]> x", head + body, outputs));
    if (!program.ok())
      return program.status();
    const std::vector<uint8_t> &bytes = interleavedFile ? cpu : rowMajor;
    auto reader = mil::WeightReader::fromBuffer(bytes.data(), bytes.size(),
                                                "weight.bin", nullptr);
    if (!reader.ok())
      return reader.status();
    WeightFiles files;
    files.emplace(mil::kModelWeightPath, std::move(*reader));
    auto exec = Executor::createUnbound(*program, "main");
    if (!exec.ok())
      return exec.status();
    exec->useFastKernels(true);
    exec->bindWeights(std::move(files));
    if (interleavedFile)
      exec->setInterleavedBlobs({dataOff, scaleOff});
    return exec->run({x});
  };
  auto want = run(conv, "y", false);
  auto whole = run(conv, "y", true);
  auto ranges = run(range("A", 0, 16) + range("B", 16, 16), "yA, yB", true);
  ASSERT_TRUE(want.ok()) << want.message();
  ASSERT_TRUE(whole.ok()) << whole.message();
  ASSERT_TRUE(ranges.ok()) << ranges.message();
  const std::vector<float> &y = (*want)[0].f;
  for (size_t i = 0; i < y.size(); ++i) {
    // The same integer products, summed in another order: one fp16 step.
    float tolerance = std::max(1.0f, std::fabs(y[i])) / 1024;
    EXPECT_NEAR((*whole)[0].f[i], y[i], tolerance) << i;
    const Tensor &part = (*ranges)[i < y.size() / 2 ? 0 : 1];
    EXPECT_EQ(part.f[i % (y.size() / 2)], (*whole)[0].f[i]) << i;
  }
  auto split = run(range("A", 8, 16), "yA", true);
  ASSERT_FALSE(split.ok());
  EXPECT_NE(split.message().find("weight 'A': the blobs at offsets"),
            std::string::npos)
      << split.message();
  auto other = run(conv, "y, W", true);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.message().find(fmt::format(
                "the blob at offset {} holds the cpu backend's interleaved "
                "layout, which only a 1x1 conv weight can read",
                dataOff)),
            std::string::npos)
      << other.message();
}

/// An fp16 input held as fp16 bits (the engine's K/V caches) gives what
/// the same values as floats give: through views and the fast matmul (both
/// operand layouts), through ops that widen it first, and as an output.
TEST_F(ExecutorTest, HalfStoredInputsMatchFloatOnes) {
  std::string text = kAttentionHead + R"(
            tensor<fp16, [1, 8, 1, 12]> sg = sigmoid(x = k)[name = string("sg")];
            tensor<fp16, [1, 2, 4, 4]> kt = matmul(transpose_y = t, x = kr, y = xr)[name = string("kt")];
        } -> (qk, av, sg, kt, kr);
})";
  auto program = mil::parseProgram(text);
  ASSERT_TRUE(program.ok()) << program.message();
  std::vector<float> kv = randomFloats(96, 12, DType::FP16);
  Tensor x = Tensor::floats(DType::FP16, {1, 8, 1, 12},
                            randomFloats(96, 11, DType::FP16));
  Tensor halfK = Tensor::halfZeros({1, 8, 1, 12});
  for (size_t i = 0; i < kv.size(); ++i)
    halfK.h[i] = ane::floatToHalfBits(kv[i]);
  std::vector<Tensor> want;
  for (int fast = 0; fast < 2; ++fast) {
    auto exec = Executor::create(*program, "main", weights);
    ASSERT_TRUE(exec.ok()) << exec.message();
    exec->useFastKernels(fast);
    if (!fast) {
      auto r = exec->run({x, Tensor::floats(DType::FP16, {1, 8, 1, 12}, kv)});
      ASSERT_TRUE(r.ok()) << r.message();
      want = std::move(*r);
    }
    auto got = exec->run({x, halfK});
    ASSERT_TRUE(got.ok()) << got.message();
    ASSERT_EQ(got->size(), want.size());
    for (size_t o = 0; o < want.size(); ++o) {
      const Tensor &g = (*got)[o];
      EXPECT_FALSE(g.halfStored) << "outputs are widened";
      ASSERT_EQ(g.f.size(), want[o].f.size()) << "output " << o;
      for (size_t i = 0; i < g.f.size(); ++i)
        EXPECT_NEAR(g.f[i], want[o].f[i],
                    2e-3 * std::max(1.0f, std::fabs(want[o].f[i])))
            << "fast " << fast << " output " << o << " element " << i;
    }
    EXPECT_EQ((*got)[4].f, kv) << "kr is k, widened exactly";
  }

  // Too few bits for the shape are refused.
  auto exec = Executor::create(*program, "main", weights);
  ASSERT_TRUE(exec.ok()) << exec.message();
  Tensor shortK = halfK;
  shortK.h.pop_back();
  auto r = exec->run({x, shortK});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("input 'k' holds the wrong number"),
            std::string::npos)
      << r.message();
}

/// Broadcasts, transposes, slices and reductions walk merged strides (size-1
/// dims dropped, contiguous dims fused); these shapes mix both so a wrong
/// merge moves elements. Expected values come from plain index loops.
TEST_F(ExecutorTest, StridedWalksMatchIndexLoops) {
  std::string body = R"(
            tensor<fp32, [2, 5, 3, 1, 4]> z = mul(x = x, y = y)[name = string("z")];
            tensor<int32, [5]> pm = const()[name = string("pm"), val = tensor<int32, [5]>([4, 2, 0, 3, 1])];
            tensor<fp32, [4, 3, 2, 1, 5]> t = transpose(perm = pm, x = z)[name = string("t")];
            tensor<int32, [5]> bg = const()[name = string("bg"), val = tensor<int32, [5]>([0, 1, 1, 0, 1])];
            tensor<int32, [5]> sz = const()[name = string("sz"), val = tensor<int32, [5]>([2, 3, 2, 1, 2])];
            tensor<fp32, [2, 3, 2, 1, 2]> sl = slice_by_size(begin = bg, size = sz, x = z)[name = string("sl")];
            tensor<int32, [1]> a1 = const()[name = string("a1"), val = tensor<int32, [1]>([1])];
            bool kd = const()[name = string("kd"), val = bool(true)];
            tensor<fp32, [2, 1, 3, 1, 4]> rs = reduce_sum(axes = a1, keep_dims = kd, x = z)[name = string("rs")];
            tensor<int32, [2]> a02 = const()[name = string("a02"), val = tensor<int32, [2]>([0, 2])];
            tensor<fp32, [1, 5, 1, 1, 4]> rm = reduce_max(axes = a02, keep_dims = kd, x = z)[name = string("rm")];
            tensor<int32, [1]> a4 = const()[name = string("a4"), val = tensor<int32, [1]>([-1])];
            tensor<fp32, [2, 5, 3, 1, 1]> rl = reduce_mean(axes = a4, keep_dims = kd, x = z)[name = string("rl")];
            tensor<fp32, [2, 5, 3, 1, 1]> rx = reduce_max(axes = a4, keep_dims = kd, x = z)[name = string("rx")];)";
  std::vector<float> xv = randomFloats(24, 21, DType::FP32);
  std::vector<float> yv = randomFloats(15, 22, DType::FP32);
  auto out =
      run("ios18",
          "tensor<fp32, [2, 1, 3, 1, 4]> x, tensor<fp32, [1, 5, 3, 1, 1]> y",
          body, "z, t, sl, rs, rm, rl, rx",
          {Tensor::floats(DType::FP32, {2, 1, 3, 1, 4}, xv),
           Tensor::floats(DType::FP32, {1, 5, 3, 1, 1}, yv)});
  ASSERT_EQ(out.size(), 7u);
  // z[a][b][c][0][d] = x[a][0][c][0][d] * y[0][b][c][0][0]
  auto z = [&](int a, int b, int c, int d) {
    return xv[(a * 3 + c) * 4 + d] * yv[b * 3 + c];
  };
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 5; ++b)
      for (int c = 0; c < 3; ++c)
        for (int d = 0; d < 4; ++d) {
          EXPECT_EQ(out[0].f[((a * 5 + b) * 3 + c) * 4 + d], z(a, b, c, d));
          // t = z transposed to [d][c][a][0][b]
          EXPECT_EQ(out[1].f[((d * 3 + c) * 2 + a) * 5 + b], z(a, b, c, d));
        }
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 2; ++c)
        for (int d = 0; d < 2; ++d)
          EXPECT_EQ(out[2].f[((a * 3 + b) * 2 + c) * 2 + d],
                    z(a, b + 1, c + 1, d + 1));
  for (int a = 0; a < 2; ++a)
    for (int c = 0; c < 3; ++c)
      for (int d = 0; d < 4; ++d) {
        double sum = 0;
        for (int b = 0; b < 5; ++b)
          sum += z(a, b, c, d);
        EXPECT_EQ(out[3].f[(a * 3 + c) * 4 + d], float(sum));
      }
  for (int b = 0; b < 5; ++b)
    for (int d = 0; d < 4; ++d) {
      float mx = -INFINITY;
      for (int a = 0; a < 2; ++a)
        for (int c = 0; c < 3; ++c)
          mx = std::max(mx, z(a, b, c, d));
      EXPECT_EQ(out[4].f[b * 4 + d], mx);
    }
  // Along the last axis each line is contiguous.
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 5; ++b)
      for (int c = 0; c < 3; ++c) {
        double sum = 0;
        float mx = -INFINITY;
        for (int d = 0; d < 4; ++d) {
          sum += z(a, b, c, d);
          mx = std::max(mx, z(a, b, c, d));
        }
        EXPECT_EQ(out[5].f[(a * 5 + b) * 3 + c], float(sum / 4));
        EXPECT_EQ(out[6].f[(a * 5 + b) * 3 + c], mx);
      }
}

/// The fast matmul's axpy path takes rows of y four at a time, and its dot
/// path (transpose_y) sums 32 columns at a time in four sums: inner sizes
/// that leave a remainder of rows, of columns and of 32-column steps, float
/// and fp16 bits.
TEST_F(ExecutorTest, FastMatmulRowBlocksAndTails) {
  for (bool transposed : {false, true}) {
    const int64_t m = 3, k = transposed ? 77 : 7, n = 13;
    std::string yShape = transposed ? "[1, 2, 13, 77]" : "[1, 2, 7, 13]";
    std::string text = fmt::format(R"(program(1.3)
{{
    func main<ios18>(tensor<fp16, [1, 2, 3, {}]> x, tensor<fp16, {}> y) {{
            bool f = const()[name = string("f"), val = bool(false)];
            bool t = const()[name = string("t"), val = bool({})];
            tensor<fp16, [1, 2, 3, 13]> r = matmul(transpose_x = f, transpose_y = t, x = x, y = y)[name = string("r")];
        }} -> (r);
}})",
                                   k, yShape, transposed ? "true" : "false");
    checkFastMatmul(text, m, k, n, transposed);
  }
}

/// A weight a backward kernel both convolves with (the recomputed forward)
/// and transposes (W^T g) is materialised, not packed; its conv runs on
/// the float path and gives the plain loops' result.
TEST_F(ExecutorTest, ConvOnAMaterialisedWeightMatchesThePlainLoops) {
  const int64_t cout = 70, cin = 40, seq = 3;
  std::vector<float> w = randomFloats(cout * cin, 11, DType::FP32);
  mil::WeightWriter writer;
  uint64_t off = writer.append(mil::BlobDType::Float32, w.data(), w.size() * 4);
  ASSERT_TRUE(bindWeightFile(writer.bytes()));
  std::string text = fmt::format(R"(program(1.3)
{{
    func main<ios18>(tensor<fp32, [1, {1}, 1, {2}]> x, tensor<fp32, [{0}, {2}]> g) {{
            string pt = const()[name = string("pt"), val = string("valid")];
            tensor<fp32, [{0}, {1}, 1, 1]> W = const()[name = string("W"), val = {3}];
            tensor<fp32, [1, {0}, 1, {2}]> y = conv(pad_type = pt, weight = W, x = x)[name = string("y")];
            tensor<int32, [2]> s = const()[name = string("s"), val = tensor<int32, [2]>([{0}, {1}])];
            tensor<fp32, [{0}, {1}]> Wm = reshape(shape = s, x = W)[name = string("Wm")];
            bool t = const()[name = string("t"), val = bool(true)];
            bool f = const()[name = string("f"), val = bool(false)];
            tensor<fp32, [{1}, {2}]> d = matmul(transpose_x = t, transpose_y = f, x = Wm, y = g)[name = string("d")];
        }} -> (y, d);
}})",
                                 cout, cin, seq,
                                 blobFile(fmt::format("tensor<fp32, [{}, {}, "
                                                      "1, 1]>",
                                                      cout, cin),
                                          off));
  auto program = mil::parseProgram(text);
  ASSERT_TRUE(program.ok()) << program.message();
  EXPECT_EQ(findPackedWeights(program->functions[0]).count("W"), 0u);
  Tensor x = Tensor::floats(DType::FP32, {1, cin, 1, seq},
                            randomFloats(cin * seq, 12, DType::FP32));
  Tensor g = Tensor::floats(DType::FP32, {cout, seq},
                            randomFloats(cout * seq, 13, DType::FP32));
  std::vector<Tensor> outs[2];
  for (int fast = 0; fast < 2; ++fast) {
    auto exec = Executor::create(*program, "main", weights);
    ASSERT_TRUE(exec.ok()) << exec.message();
    exec->useFastKernels(fast);
    auto r = exec->run({x, g});
    ASSERT_TRUE(r.ok()) << r.message();
    outs[fast] = std::move(*r);
  }
  for (int k = 0; k < 2; ++k) {
    ASSERT_EQ(outs[0][k].f.size(), outs[1][k].f.size());
    for (size_t i = 0; i < outs[0][k].f.size(); ++i)
      EXPECT_NEAR(outs[1][k].f[i], outs[0][k].f[i],
                  1e-5 * std::max(1.0f, std::fabs(outs[0][k].f[i])))
          << (k ? "W^T g" : "conv") << " element " << i;
  }
}

/// x^T y (the backward kernels' W^T g): rows in blocks of 64 with a tail,
/// one product and a batch of two, fp32 and fp16.
TEST_F(ExecutorTest, FastMatmulTransposedX) {
  const int64_t m = 130, k = 37, n = 13;
  for (const char *type : {"fp32", "fp16"})
    for (int64_t batch : {1, 2}) {
      std::string text = fmt::format(R"(program(1.3)
{{
    func main<ios18>(tensor<{0}, [{1}, {2}, {3}]> x, tensor<{0}, [{1}, {2}, {4}]> y) {{
            bool f = const()[name = string("f"), val = bool(false)];
            bool t = const()[name = string("t"), val = bool(true)];
            tensor<{0}, [{1}, {3}, {4}]> r = matmul(transpose_x = t, transpose_y = f, x = x, y = y)[name = string("r")];
        }} -> (r);
}})",
                                     type, batch, k, m, n);
      auto program = mil::parseProgram(text);
      ASSERT_TRUE(program.ok()) << program.message();
      DType dt = std::string(type) == "fp32" ? DType::FP32 : DType::FP16;
      std::vector<float> xv = randomFloats(batch * k * m, 41, dt);
      std::vector<float> yv = randomFloats(batch * k * n, 42, dt);
      auto exec = Executor::create(*program, "main", weights);
      ASSERT_TRUE(exec.ok()) << exec.message();
      exec->useFastKernels(true);
      auto r = exec->run({Tensor::floats(dt, {batch, k, m}, xv),
                          Tensor::floats(dt, {batch, k, n}, yv)});
      ASSERT_TRUE(r.ok()) << r.message();
      const std::vector<float> &got = (*r)[0].f;
      ASSERT_EQ(got.size(), size_t(batch * m * n));
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double want = 0;
            for (int64_t p = 0; p < k; ++p)
              want += double(xv[(b * k + p) * m + i]) * yv[(b * k + p) * n + j];
            EXPECT_NEAR(got[(b * m + i) * n + j], want,
                        (dt == DType::FP32 ? 1e-5 : 2e-3) *
                            std::max(1.0, std::fabs(want)))
                << type << " batch " << b << " at " << i << ", " << j;
          }
    }
}

} // namespace

namespace ane::runtime::test {

void ExecutorTest::checkFastMatmul(const std::string &text, int64_t m,
                                   int64_t k, int64_t n, bool transposed) {
  auto program = mil::parseProgram(text);
  ASSERT_TRUE(program.ok()) << program.message();
  std::vector<float> xv = randomFloats(2 * m * k, 31, DType::FP16);
  std::vector<float> yv = randomFloats(2 * k * n, 32, DType::FP16);
  mil::Shape yShape =
      transposed ? mil::Shape{1, 2, n, k} : mil::Shape{1, 2, k, n};
  Tensor halfY = Tensor::halfZeros(yShape);
  for (size_t i = 0; i < yv.size(); ++i)
    halfY.h[i] = ane::floatToHalfBits(yv[i]);
  Tensor x = Tensor::floats(DType::FP16, {1, 2, m, k}, xv);
  for (const Tensor &y : {Tensor::floats(DType::FP16, yShape, yv), halfY}) {
    auto exec = Executor::create(*program, "main", weights);
    ASSERT_TRUE(exec.ok()) << exec.message();
    exec->useFastKernels(true);
    auto r = exec->run({x, y});
    ASSERT_TRUE(r.ok()) << r.message();
    const std::vector<float> &got = (*r)[0].f;
    ASSERT_EQ(got.size(), size_t(2 * m * n));
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double want = 0;
          for (int64_t p = 0; p < k; ++p)
            want += double(xv[(b * m + i) * k + p]) *
                    yv[transposed ? (b * n + j) * k + p : (b * k + p) * n + j];
          EXPECT_NEAR(got[(b * m + i) * n + j], want,
                      2e-3 * std::max(1.0, std::fabs(want)))
              << "transposed " << transposed << " half " << y.halfStored
              << " batch " << b << " at " << i << ", " << j;
        }
  }
}

} // namespace ane::runtime::test
