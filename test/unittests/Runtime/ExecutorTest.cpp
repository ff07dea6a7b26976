//===- ExecutorTest.cpp - reference MIL executor vs hand-written loops ----===//

#include "test/unittests/Runtime/ExecutorTestSupport.h"

#include "lib/MIL/Text.h"
#include "lib/Runtime/Cpu/Executor.h"
#include "lib/Runtime/Cpu/PackedWeights.h"
#include "lib/Support/Float16.h"

#include <cmath>
#include <functional>
#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>

using namespace ane;
using namespace ane::runtime;
using mil::DType;
using namespace ane::runtime::test;

namespace {

TEST_F(ExecutorTest, OneByOneConvFp16WithBlobWeights) {
  const int64_t cin = 16, cout = 8, seq = 5;
  std::vector<float> x = randomFloats(cin * seq, 1, DType::FP16);
  std::vector<float> w = randomFloats(cout * cin, 2, DType::FP16);
  std::vector<uint16_t> wHalf;
  for (float v : w)
    wHalf.push_back(ane::floatToHalfBits(v));
  mil::WeightWriter writer;
  uint64_t off =
      writer.append(mil::BlobDType::Float16, wHalf.data(), wHalf.size() * 2);
  weightBytes = writer.bytes();
  auto reader = mil::WeightReader::fromBuffer(
      weightBytes.data(), weightBytes.size(), "weight.bin", nullptr);
  ASSERT_TRUE(reader.ok());
  weights.emplace("@model_path/weights/weight.bin", *reader);

  std::string body =
      "            string pt = const()[name = string(\"pt\"), val = "
      "string(\"valid\")];\n"
      "            tensor<fp16, [8, 16, 1, 1]> W = const()[name = "
      "string(\"W\"), val = tensor<fp16, [8, 16, 1, 1]>(BLOBFILE(path = "
      "string(\"@model_path/weights/weight.bin\"), offset = uint64(" +
      std::to_string(off) +
      ")))];\n"
      "            tensor<fp16, [1, 8, 1, 5]> y = conv(pad_type = pt, weight "
      "= W, x = x)[name = string(\"y\")];";
  auto out = run("ios18", "tensor<fp16, [1, 16, 1, 5]> x", body, "y",
                 {Tensor::floats(DType::FP16, {1, cin, 1, seq}, x)});
  ASSERT_EQ(out.size(), 1u);
  for (int64_t o = 0; o < cout; ++o)
    for (int64_t s = 0; s < seq; ++s) {
      float acc = 0;
      for (int64_t i = 0; i < cin; ++i)
        acc += w[o * cin + i] * x[i * seq + s];
      EXPECT_EQ(out[0].f[o * seq + s], ane::roundToHalf(acc));
    }
}

TEST_F(ExecutorTest, MatmulSoftmaxAndRmsNormFp32) {
  // RMSNorm over channels of [1, C, 1, S]: x * rsqrt(mean(x^2) + eps) * g.
  const int64_t c = 6, s = 3;
  std::vector<float> x = randomFloats(c * s, 3, DType::FP32);
  std::vector<float> g = randomFloats(c, 4, DType::FP32);
  std::string gLit;
  for (int64_t i = 0; i < c; ++i)
    gLit += (i ? ", " : "") + mil::formatHexFloat(g[i]);
  std::string body =
      "            tensor<fp32, [1, 6, 1, 3]> sq = mul(x = x, y = x)[name = "
      "string(\"sq\")];\n"
      "            tensor<int32, [1]> ax = const()[name = string(\"ax\"), val "
      "= tensor<int32, [1]>([1])];\n"
      "            bool kd = const()[name = string(\"kd\"), val = "
      "bool(true)];\n"
      "            tensor<fp32, [1, 1, 1, 3]> ms = reduce_mean(axes = ax, "
      "keep_dims = kd, x = sq)[name = string(\"ms\")];\n"
      "            fp32 eps = const()[name = string(\"eps\"), val = "
      "fp32(0x1.4f8b58p-17)];\n"
      "            tensor<fp32, [1, 1, 1, 3]> r = rsqrt(epsilon = eps, x = "
      "ms)[name = string(\"r\")];\n"
      "            tensor<fp32, [1, 6, 1, 3]> n = mul(x = x, y = r)[name = "
      "string(\"n\")];\n"
      "            tensor<fp32, [1, 6, 1, 1]> g = const()[name = "
      "string(\"g\"), "
      "val = tensor<fp32, [1, 6, 1, 1]>([" +
      gLit +
      "])];\n"
      "            tensor<fp32, [1, 6, 1, 3]> y = mul(x = n, y = g)[name = "
      "string(\"y\")];\n"
      "            tensor<fp32, [6, 3]> x2 = reshape(shape = sh, x = x)[name = "
      "string(\"x2\")];\n"
      "            bool t = const()[name = string(\"t\"), val = bool(true)];\n"
      "            tensor<fp32, [3, 3]> mm = matmul(transpose_x = t, x = x2, y "
      "= x2)[name = string(\"mm\")];\n"
      "            tensor<fp32, [3, 3]> p = softmax(axis = m1, x = mm)[name = "
      "string(\"p\")];";
  body = "            tensor<int32, [2]> sh = const()[name = string(\"sh\"), "
         "val = tensor<int32, [2]>([6, 3])];\n"
         "            int32 m1 = const()[name = string(\"m1\"), val = "
         "int32(-1)];\n" +
         body;
  auto out = run("ios18", "tensor<fp32, [1, 6, 1, 3]> x", body, "y, mm, p",
                 {Tensor::floats(DType::FP32, {1, c, 1, s}, x)});
  ASSERT_EQ(out.size(), 3u);
  float eps = 1e-5f;
  for (int64_t j = 0; j < s; ++j) {
    double ms = 0;
    for (int64_t i = 0; i < c; ++i)
      ms += double(x[i * s + j]) * x[i * s + j];
    float r = 1.0f / std::sqrt(float(ms / c) + eps);
    for (int64_t i = 0; i < c; ++i)
      EXPECT_NEAR(out[0].f[i * s + j], x[i * s + j] * r * g[i], 1e-5);
  }
  // mm = x2^T x2, p = softmax(mm, -1).
  for (int64_t a = 0; a < s; ++a) {
    double rowMax = -INFINITY;
    std::vector<double> row(s);
    for (int64_t b = 0; b < s; ++b) {
      double acc = 0;
      for (int64_t i = 0; i < c; ++i)
        acc += double(x[i * s + a]) * x[i * s + b];
      EXPECT_NEAR(out[1].f[a * s + b], acc, 1e-6);
      row[b] = acc;
      rowMax = std::max(rowMax, acc);
    }
    double sum = 0;
    for (double v : row)
      sum += std::exp(v - rowMax);
    for (int64_t b = 0; b < s; ++b)
      EXPECT_NEAR(out[2].f[a * s + b], std::exp(row[b] - rowMax) / sum, 1e-6);
  }
}

TEST_F(ExecutorTest, BroadcastSliceConcatSplitTranspose) {
  std::vector<float> x = {0, 1, 2, 3, 4, 5}; // [2, 3]
  std::string body =
      "            tensor<fp32, [3]> b = const()[name = string(\"b\"), val = "
      "tensor<fp32, [3]>([0x1p+0, 0x1p+1, 0x1p+2])];\n"
      "            tensor<fp32, [2, 3]> s = add(x = x, y = b)[name = "
      "string(\"s\")];\n"
      "            tensor<int32, [2]> bg = const()[name = string(\"bg\"), val "
      "= tensor<int32, [2]>([0, 1])];\n"
      "            tensor<int32, [2]> sz = const()[name = string(\"sz\"), val "
      "= tensor<int32, [2]>([2, -1])];\n"
      "            tensor<fp32, [2, 2]> sl = slice_by_size(begin = bg, size = "
      "sz, x = s)[name = string(\"sl\")];\n"
      "            int32 one = const()[name = string(\"one\"), val = "
      "int32(1)];\n"
      "            bool f = const()[name = string(\"f\"), val = bool(false)];\n"
      "            tensor<fp32, [2, 5]> c = concat(axis = one, interleave = f, "
      "values = (sl, x))[name = string(\"c\")];\n"
      "            tensor<int32, [2]> ss = const()[name = string(\"ss\"), val "
      "= tensor<int32, [2]>([4, 1])];\n"
      "            tensor<fp32, [2, 4]> p0, tensor<fp32, [2, 1]> p1 = "
      "split(axis = one, split_sizes = ss, x = c)[name = string(\"sp\")];\n"
      "            tensor<int32, [2]> pm = const()[name = string(\"pm\"), val "
      "= tensor<int32, [2]>([1, 0])];\n"
      "            tensor<fp32, [4, 2]> t = transpose(perm = pm, x = p0)[name "
      "= string(\"t\")];";
  auto out = run("ios18", "tensor<fp32, [2, 3]> x", body, "s, c, p1, t",
                 {Tensor::floats(DType::FP32, {2, 3}, x)});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].f, (std::vector<float>{1, 3, 6, 4, 6, 9}));
  EXPECT_EQ(out[1].f, (std::vector<float>{3, 6, 0, 1, 2, 6, 9, 3, 4, 5}));
  EXPECT_EQ(out[2].f, (std::vector<float>{2, 5}));
  EXPECT_EQ(out[3].f, (std::vector<float>{3, 6, 6, 9, 0, 3, 1, 4}));
}

TEST_F(ExecutorTest, PadWithZerosOnTheLastAxes) {
  std::string body =
      "            tensor<int32, [2]> pd = const()[name = string(\"pd\"), val "
      "= tensor<int32, [2]>([1, 2])];\n"
      "            tensor<fp32, [2, 5]> p = pad(pad = pd, x = x)[name = "
      "string(\"p\")];";
  auto out = run("ios18", "tensor<fp32, [2, 2]> x", body, "p",
                 {Tensor::floats(DType::FP32, {2, 2}, {1, 2, 3, 4})});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape, (mil::Shape{2, 5}));
  EXPECT_EQ(out[0].f, (std::vector<float>{0, 1, 2, 0, 0, 0, 3, 4, 0, 0}));
}

TEST_F(ExecutorTest, GatherBandPartSelectCompare) {
  std::string body =
      "            tensor<fp32, [3, 2]> tbl = const()[name = string(\"tbl\"), "
      "val = tensor<fp32, [3, 2]>([[0x1p+0, 0x1p+1], [0x1.8p+1, 0x1p+2], "
      "[0x1.4p+2, 0x1.8p+2]])];\n"
      "            int32 z = const()[name = string(\"z\"), val = int32(0)];\n"
      "            tensor<fp32, [4, 2]> e = gather(axis = z, indices = ids, x "
      "= tbl)[name = string(\"e\")];\n"
      "            tensor<fp32, [3, 3]> ones = const()[name = "
      "string(\"ones\"), val = tensor<fp32, [3, 3]>([[0x1p+0, 0x1p+0, "
      "0x1p+0], [0x1p+0, 0x1p+0, 0x1p+0], [0x1p+0, 0x1p+0, 0x1p+0]])];\n"
      "            int32 lo = const()[name = string(\"lo\"), val = "
      "int32(-1)];\n"
      "            tensor<fp32, [3, 3]> tri = band_part(lower = lo, upper = z, "
      "x = ones)[name = string(\"tri\")];\n"
      "            fp32 half = const()[name = string(\"half\"), val = "
      "fp32(0x1p-1)];\n"
      "            tensor<bool, [3, 3]> m = greater_equal(x = tri, y = "
      "half)[name = string(\"m\")];\n"
      "            fp32 ninf = const()[name = string(\"ninf\"), val = "
      "fp32(-inf)];\n"
      "            fp32 zero = const()[name = string(\"zero\"), val = "
      "fp32(0x0p+0)];\n"
      "            tensor<fp32, [3, 3]> mask = select(a = zero, b = ninf, cond "
      "= m)[name = string(\"mask\")];";
  Tensor ids = Tensor::ints(DType::Int32, {4}, {2, 0, 1, -1});
  auto out = run("ios18", "tensor<int32, [4]> ids", body, "e, mask", {ids});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].f, (std::vector<float>{5, 6, 1, 2, 3, 4, 5, 6}));
  float ni = -INFINITY;
  EXPECT_EQ(out[1].f, (std::vector<float>{0, ni, ni, 0, 0, ni, 0, 0, 0}));
}

TEST_F(ExecutorTest, QuantizationAndCompressedConstants) {
  std::string body =
      "            tensor<fp16, [2, 4]> w = constexpr_blockwise_shift_scale("
      "data = tensor<int8, [2, 4]>([[1, -2, 3, -4], [5, 6, 7, 8]]), offset = "
      "tensor<int8, [2, 2]>([[0, 1], [0, 0]]), scale = tensor<fp16, [2, "
      "2]>([[0x1p-1, 0x1p+0], [0x1p+1, 0x1p-2]]))[name = string(\"w\")];\n"
      "            tensor<fp16, [2, 4]> l = constexpr_lut_to_dense(indices = "
      "tensor<uint2, [2, 4]>([[0, 1, 2, 3], [3, 2, 1, 0]]), lut = "
      "tensor<fp16, [1, 1, 4, 1]>([[[[0x0p+0], [0x1p+0], [0x1p+1], "
      "[0x1p+2]]]]))[name = string(\"l\")];\n"
      "            fp16 sc = const()[name = string(\"sc\"), val = "
      "fp16(0x1p-1)];\n"
      "            string dt = const()[name = string(\"dt\"), val = "
      "string(\"int8\")];\n"
      "            tensor<int8, [4]> q = quantize(input = x, output_dtype = "
      "dt, "
      "scale = sc)[name = string(\"q\")];\n"
      "            tensor<fp16, [4]> dq = dequantize(input = q, scale = "
      "sc)[name = string(\"dq\")];";
  std::vector<float> x = {0.25f, 0.75f, -100.0f, 1.2f};
  auto out = run("ios18", "tensor<fp16, [4]> x", body, "w, l, q, dq",
                 {Tensor::floats(DType::FP16, {4}, x)});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].f,
            (std::vector<float>{0.5f, -1.0f, 2.0f, -5.0f, 10, 12, 1.75f, 2}));
  EXPECT_EQ(out[1].f, (std::vector<float>{0, 1, 2, 4, 4, 2, 1, 0}));
  // round-half-even(x / 0.5): 0.5 -> 0, 1.5 -> 2, -200 -> -128, 2.4 -> 2.
  EXPECT_EQ(out[2].i, (std::vector<int64_t>{0, 2, -128, 2}));
  EXPECT_EQ(out[3].f, (std::vector<float>{0, 1, -64, 1}));
}

/// Constants that read no weight file are built once; those that do, also
/// through another constant, are rebuilt for every binding.
TEST_F(ExecutorTest, RebindingRebuildsTheConstantsThatReadWeights) {
  std::vector<std::vector<uint8_t>> files;
  uint64_t offset = 0;
  for (std::vector<int8_t> codes :
       {std::vector<int8_t>{1, 2, 3, 4}, std::vector<int8_t>{10, 20, 30, 40}}) {
    mil::WeightWriter writer;
    offset = writer.append(mil::BlobDType::Int8, codes.data(), codes.size());
    files.push_back(writer.bytes());
  }
  auto bind = [&](const std::vector<uint8_t> &bytes) {
    auto reader = mil::WeightReader::fromBuffer(bytes.data(), bytes.size(),
                                                "weight.bin", nullptr);
    EXPECT_TRUE(reader.ok());
    WeightFiles files;
    files.emplace("@model_path/weights/weight.bin", *reader);
    return files;
  };
  std::string body = R"(
            tensor<int8, [4]> d = const()[name = string("d"), val = tensor<int8, [4]>(BLOBFILE(path = string("@model_path/weights/weight.bin"), offset = uint64()" +
                     std::to_string(offset) + R"()))];
            tensor<fp16, [4]> w = constexpr_blockwise_shift_scale(data = d, scale = tensor<fp16, [1]>([0x1p-1]))[name = string("w")];
            tensor<fp16, [4]> k = const()[name = string("k"), val = tensor<fp16, [4]>([0x1p+0, 0x1p+1, 0x1p+2, 0x1p+3])];
            tensor<fp16, [4]> s = add(x = w, y = k)[name = string("s")];
            tensor<fp16, [4]> y = add(x = s, y = x)[name = string("y")];)";
  auto program =
      mil::parseProgram(mainProgram("ios18", "tensor<fp16, [4]> x", body, "y"));
  ASSERT_TRUE(program.ok()) << program.message();
  auto exec = Executor::create(*program, "main", bind(files[0]));
  ASSERT_TRUE(exec.ok()) << exec.message();
  Tensor x = Tensor::floats(DType::FP16, {4}, {0, 0, 0, 0});
  auto first = exec->run({x});
  ASSERT_TRUE(first.ok()) << first.message();
  EXPECT_EQ((*first)[0].f, (std::vector<float>{1.5f, 3, 5.5f, 10}));
  exec->bindWeights(bind(files[1]));
  auto second = exec->run({x});
  ASSERT_TRUE(second.ok()) << second.message();
  EXPECT_EQ((*second)[0].f, (std::vector<float>{6, 12, 19, 28}));
}

TEST_F(ExecutorTest, StatesPersistAcrossRuns) {
  std::string text =
      "program(1.3)\n{\n    func main<ios18>(state<tensor<fp16, [2]>> s, "
      "tensor<fp16, [2]> x) {\n"
      "            tensor<fp16, [2]> old = read_state(input = s)[name = "
      "string(\"old\")];\n"
      "            tensor<fp16, [2]> y = add(x = old, y = x)[name = "
      "string(\"y\")];\n"
      "            write_state(data = y, input = s)[name = string(\"w\")];\n"
      "        } -> (y);\n}";
  auto program = mil::parseProgram(text);
  ASSERT_TRUE(program.ok()) << program.message();
  auto exec = Executor::create(*program, "main", weights);
  ASSERT_TRUE(exec.ok()) << exec.message();
  ASSERT_TRUE(
      exec->setState("s", Tensor::floats(DType::FP16, {2}, {1, 2})).ok());
  Tensor x = Tensor::floats(DType::FP16, {2}, {10, 20});
  ASSERT_TRUE(exec->run({x}).ok());
  auto second = exec->run({x});
  ASSERT_TRUE(second.ok()) << second.message();
  EXPECT_EQ((*second)[0].f, (std::vector<float>{21, 42}));
  EXPECT_EQ(exec->state("s")->f, (std::vector<float>{21, 42}));
}

TEST_F(ExecutorTest, ProfileCountsEveryStatementPerRun) {
  std::string body = R"(
            fp32 two = const()[name = string("two"), val = fp32(2)];
            tensor<fp32, [2]> m = mul(x = x, y = two)[name = string("m")];
            tensor<fp32, [2]> a = add(x = m, y = x)[name = string("a")];
            tensor<fp32, [2]> y = add(x = a, y = two)[name = string("y")];)";
  auto program =
      mil::parseProgram(mainProgram("ios18", "tensor<fp32, [2]> x", body, "y"));
  ASSERT_TRUE(program.ok()) << program.message();
  auto exec = Executor::create(*program, "main", weights);
  ASSERT_TRUE(exec.ok()) << exec.message();
  OpProfile profile;
  exec->profileInto(&profile, "k");
  Tensor x = Tensor::floats(DType::FP32, {2}, {1, 2});
  ASSERT_TRUE(exec->run({x}).ok());
  ASSERT_TRUE(exec->run({x}).ok());
  // A new binding rebuilds the constants once, on the next run.
  exec->bindWeights({});
  ASSERT_TRUE(exec->run({x}).ok());
  exec->profileInto(nullptr, "");
  ASSERT_TRUE(exec->run({x}).ok());

  std::map<std::string, int64_t> calls;
  double sum = 0;
  for (const OpProfile::Entry &e : profile.entries()) {
    EXPECT_EQ(e.kernel, "k");
    EXPECT_GE(e.seconds, 0);
    calls[e.op] = e.calls;
    sum += e.seconds;
  }
  EXPECT_EQ(calls, (std::map<std::string, int64_t>{
                       {"(constants)", 1}, {"add", 6}, {"mul", 3}}));
  EXPECT_DOUBLE_EQ(profile.totalSeconds(), sum);
  std::vector<OpProfile::Entry> entries = profile.entries();
  for (size_t i = 1; i < entries.size(); ++i)
    EXPECT_GE(entries[i - 1].seconds, entries[i].seconds);
  profile.clear();
  EXPECT_TRUE(profile.entries().empty());
}

TEST_F(ExecutorTest, ClearErrorsForBadPrograms) {
  Tensor x = Tensor::floats(DType::FP32, {4}, {1, 2, 3, 4});
  EXPECT_NE(runError("            tensor<fp32, [4]> y = lstm(x = x)[name = "
                     "string(\"y\")];",
                     {x})
                .find("line 4: op 'lstm': the executor does not implement it"),
            std::string::npos);
  EXPECT_NE(runError("            tensor<fp32, [5]> y = exp(x = x)[name = "
                     "string(\"y\")];",
                     {x})
                .find("result 'y' is fp32 [4], the text declares "
                      "tensor<fp32, [5]>"),
            std::string::npos);
  EXPECT_NE(runError("            tensor<fp32, [4]> y = exp(x = nope)[name = "
                     "string(\"y\")];",
                     {x})
                .find("names 'nope', which is not defined before it"),
            std::string::npos);
  Tensor ids = Tensor::ints(DType::Int32, {1}, {7});
  EXPECT_NE(runError("            int32 z = const()[name = string(\"z\"), val "
                     "= int32(0)];\n"
                     "            tensor<fp32, [1]> y = gather(axis = z, "
                     "indices = i, x = x)[name = string(\"y\")];",
                     {x, ids}, "tensor<fp32, [4]> x, tensor<int32, [1]> i")
                .find("index 7 is out of range for axis 0 of size 4"),
            std::string::npos);
  EXPECT_NE(runError("            tensor<fp32, [4]> y = exp(x = x)[name = "
                     "string(\"y\")];",
                     {Tensor::floats(DType::FP16, {4}, {1, 2, 3, 4})})
                .find("input 'x' is fp16 [4], the function takes"),
            std::string::npos);
  EXPECT_NE(runError("            tensor<fp16, [4]> w = const()[name = "
                     "string(\"w\"), val = tensor<fp16, [4]>(BLOBFILE(path = "
                     "string(\"@model_path/weights/weight.bin\"), offset = "
                     "uint64(64)))];\n"
                     "            tensor<fp32, [4]> y = exp(x = x)[name = "
                     "string(\"y\")];",
                     {x})
                .find("no weight file given for BLOBFILE path"),
            std::string::npos);
}

} // namespace

namespace {

/// One statement applied to `x` (fp32 [2, 3] = 0.5, -1, 2, 0.25, 3, -0.75),
/// compared element by element with `expected`.
struct UnaryCase {
  const char *statement;
  const char *resultType;
  std::function<double(double)> expected;
};

TEST_F(ExecutorTest, ElementwiseOpsMatchFormulas) {
  std::vector<float> x = {0.5f, -1.0f, 2.0f, 0.25f, 3.0f, -0.75f};
  const double pi = 3.14159265358979;
  const UnaryCase cases[] = {
      {"sqrt(x = ax)", "fp32, [2, 3]",
       [](double v) { return std::sqrt(std::fabs(v)); }},
      {"exp(x = x)", "fp32, [2, 3]", [](double v) { return std::exp(v); }},
      {"sigmoid(x = x)", "fp32, [2, 3]",
       [](double v) { return 1 / (1 + std::exp(-v)); }},
      {"silu(x = x)", "fp32, [2, 3]",
       [](double v) { return v / (1 + std::exp(-v)); }},
      {"gelu(x = x)", "fp32, [2, 3]",
       [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }},
      {"gelu(mode = tanh, x = x)", "fp32, [2, 3]",
       [pi](double v) {
         return 0.5 * v *
                (1 + std::tanh(std::sqrt(2 / pi) * (v + 0.044715 * v * v * v)));
       }},
      {"gelu(mode = sig, x = x)", "fp32, [2, 3]",
       [](double v) { return v / (1 + std::exp(-1.702 * v)); }},
      {"pow(x = ax, y = two)", "fp32, [2, 3]", [](double v) { return v * v; }},
      {"real_div(x = x, y = two)", "fp32, [2, 3]",
       [](double v) { return v / 2; }},
      {"maximum(x = x, y = zero)", "fp32, [2, 3]",
       [](double v) { return std::max(v, 0.0); }},
      {"minimum(x = x, y = zero)", "fp32, [2, 3]",
       [](double v) { return std::min(v, 0.0); }},
      {"sub(x = x, y = two)", "fp32, [2, 3]", [](double v) { return v - 2; }},
      {"rsqrt(x = ax)", "fp32, [2, 3]",
       [](double v) { return 1 / std::sqrt(std::fabs(v) + 1e-12); }},
      {"less(x = x, y = zero)", "bool, [2, 3]",
       [](double v) { return v < 0 ? 1.0 : 0.0; }},
      {"cast(dtype = i32, x = x)", "int32, [2, 3]",
       [](double v) { return std::trunc(v); }},
  };
  const std::string prelude =
      "            tensor<fp32, [2, 3]> ax = maximum(x = x, y = negx)[name = "
      "string(\"ax\")];\n"
      "            fp32 two = const()[name = string(\"two\"), val = "
      "fp32(0x1p+1)];\n"
      "            fp32 zero = const()[name = string(\"zero\"), val = "
      "fp32(0x0p+0)];\n"
      "            string tanh = const()[name = string(\"tanh\"), val = "
      "string(\"TANH_APPROXIMATION\")];\n"
      "            string sig = const()[name = string(\"sig\"), val = "
      "string(\"SIGMOID_APPROXIMATION\")];\n"
      "            string i32 = const()[name = string(\"i32\"), val = "
      "string(\"int32\")];\n";
  std::vector<float> negx;
  for (float v : x)
    negx.push_back(-v);
  for (const UnaryCase &c : cases) {
    std::string body = prelude + "            tensor<" + c.resultType +
                       "> y = " + c.statement + "[name = string(\"y\")];";
    auto out = run("ios18", "tensor<fp32, [2, 3]> x, tensor<fp32, [2, 3]> negx",
                   body, "y",
                   {Tensor::floats(DType::FP32, {2, 3}, x),
                    Tensor::floats(DType::FP32, {2, 3}, negx)});
    ASSERT_EQ(out.size(), 1u) << c.statement;
    for (size_t k = 0; k < x.size(); ++k)
      EXPECT_NEAR(out[0].at(k), c.expected(x[k]), 1e-5) << c.statement;
  }
}

TEST_F(ExecutorTest, LayerNormAttentionAndReductions) {
  std::vector<float> x = randomFloats(2 * 4, 11, DType::FP32);
  std::string body =
      "            tensor<int32, [1]> last = const()[name = string(\"last\"), "
      "val = tensor<int32, [1]>([-1])];\n"
      "            fp32 eps = const()[name = string(\"eps\"), val = "
      "fp32(0x1p-10)];\n"
      "            tensor<fp32, [4]> g = const()[name = string(\"g\"), val = "
      "tensor<fp32, [4]>([0x1p+0, 0x1p+1, 0x1p-1, 0x1p+0])];\n"
      "            tensor<fp32, [2, 4]> ln = layer_norm(axes = last, epsilon = "
      "eps, gamma = g, x = x)[name = string(\"ln\")];\n"
      "            tensor<fp32, [2]> rs = reduce_sum(axes = last, x = x)[name "
      "= "
      "string(\"rs\")];\n"
      "            tensor<fp32, []> rm = reduce_max(x = x)[name = "
      "string(\"rm\")];\n"
      "            tensor<int32, [1]> a0 = const()[name = string(\"a0\"), val "
      "= "
      "tensor<int32, [1]>([0])];\n"
      "            tensor<fp32, [1, 2, 4]> q = expand_dims(axes = a0, x = "
      "x)[name = string(\"q\")];\n"
      "            tensor<fp32, [2, 2]> m = const()[name = string(\"m\"), val "
      "= "
      "tensor<fp32, [2, 2]>([[0x0p+0, -inf], [0x0p+0, 0x0p+0]])];\n"
      "            tensor<fp32, [1, 2, 4]> at = scaled_dot_product_attention("
      "attn_mask = m, key = q, query = q, value = q)[name = string(\"at\")];\n"
      "            tensor<fp32, [2, 4]> sq = squeeze(axes = a0, x = at)[name = "
      "string(\"sq\")];";
  auto out = run("ios18", "tensor<fp32, [2, 4]> x", body, "ln, rs, rm, sq",
                 {Tensor::floats(DType::FP32, {2, 4}, x)});
  ASSERT_EQ(out.size(), 4u);
  const float g[4] = {1, 2, 0.5f, 1};
  double mx = -INFINITY;
  for (int r = 0; r < 2; ++r) {
    double mean = 0, var = 0, sum = 0;
    for (int c = 0; c < 4; ++c) {
      mean += x[r * 4 + c] / 4.0;
      sum += x[r * 4 + c];
      mx = std::max(mx, double(x[r * 4 + c]));
    }
    for (int c = 0; c < 4; ++c)
      var += (x[r * 4 + c] - mean) * (x[r * 4 + c] - mean) / 4.0;
    for (int c = 0; c < 4; ++c)
      EXPECT_NEAR(out[0].f[r * 4 + c],
                  (x[r * 4 + c] - mean) / std::sqrt(var + 1.0 / 1024) * g[c],
                  1e-5);
    EXPECT_NEAR(out[1].f[r], sum, 1e-5);
  }
  EXPECT_FLOAT_EQ(out[2].f[0], float(mx));
  // Row 0 attends only to itself (mask -inf); row 1 to both rows.
  for (int c = 0; c < 4; ++c)
    EXPECT_NEAR(out[3].f[c], x[c], 1e-6);
  double s0 = 0, s1 = 0;
  for (int c = 0; c < 4; ++c) {
    s0 += x[4 + c] * x[c] / 2.0;
    s1 += x[4 + c] * x[4 + c] / 2.0;
  }
  double p0 = std::exp(s0) / (std::exp(s0) + std::exp(s1));
  for (int c = 0; c < 4; ++c)
    EXPECT_NEAR(out[3].f[4 + c], p0 * x[c] + (1 - p0) * x[4 + c], 1e-5);
}

TEST_F(ExecutorTest, ConvGroupsStridesPaddingAndLinear) {
  // 1-D conv: 4 input channels in 2 groups, kernel 3, stride 2, custom pad.
  std::vector<float> x = randomFloats(4 * 7, 21, DType::FP32);
  std::vector<float> w = randomFloats(2 * 2 * 3, 22, DType::FP32);
  std::vector<float> lw = randomFloats(3 * 7, 23, DType::FP32);
  auto lit = [](const std::vector<float> &v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i)
      s += (i ? ", " : "") + ane::mil::formatHexFloat(v[i]);
    return s;
  };
  std::string body =
      "            tensor<fp32, [2, 2, 3]> w = const()[name = string(\"w\"), "
      "val = tensor<fp32, [2, 2, 3]>([" +
      lit(w) +
      "])];\n"
      "            int32 grp = const()[name = string(\"grp\"), val = "
      "int32(2)];\n"
      "            tensor<int32, [1]> st = const()[name = string(\"st\"), val "
      "= "
      "tensor<int32, [1]>([2])];\n"
      "            tensor<int32, [2]> pd = const()[name = string(\"pd\"), val "
      "= "
      "tensor<int32, [2]>([1, 1])];\n"
      "            string cu = const()[name = string(\"cu\"), val = "
      "string(\"custom\")];\n"
      "            tensor<fp32, [1, 2, 4]> y = conv(groups = grp, pad = pd, "
      "pad_type = cu, strides = st, weight = w, x = x)[name = string(\"y\")];\n"
      "            tensor<fp32, [3, 7]> lw = const()[name = string(\"lw\"), "
      "val = tensor<fp32, [3, 7]>([" +
      lit(lw) +
      "])];\n"
      "            tensor<fp32, [3]> lb = const()[name = string(\"lb\"), val = "
      "tensor<fp32, [3]>([0x1p+0, 0x1p+1, 0x1p+2])];\n"
      "            tensor<fp32, [4, 7]> x2 = reshape(shape = s47, x = x)[name "
      "= "
      "string(\"x2\")];\n"
      "            tensor<fp32, [4, 3]> l = linear(bias = lb, weight = lw, x = "
      "x2)[name = string(\"l\")];";
  body = "            tensor<int32, [2]> s47 = const()[name = string(\"s47\"), "
         "val = tensor<int32, [2]>([4, 7])];\n" +
         body;
  auto out = run("ios18", "tensor<fp32, [1, 4, 7]> x", body, "y, l",
                 {Tensor::floats(DType::FP32, {1, 4, 7}, x)});
  ASSERT_EQ(out.size(), 2u);
  // out[oc, t] = sum_{ic in group, k} w[oc, ic, k] * xpad[g*2+ic, 2t + k - 1]
  for (int oc = 0; oc < 2; ++oc)
    for (int t = 0; t < 4; ++t) {
      double acc = 0;
      for (int ic = 0; ic < 2; ++ic)
        for (int k = 0; k < 3; ++k) {
          int pos = 2 * t + k - 1;
          if (pos < 0 || pos >= 7)
            continue;
          acc += w[(oc * 2 + ic) * 3 + k] * x[(oc * 2 + ic) * 7 + pos];
        }
      EXPECT_NEAR(out[0].f[oc * 4 + t], acc, 1e-5);
    }
  for (int r = 0; r < 4; ++r)
    for (int o = 0; o < 3; ++o) {
      double acc = o == 0 ? 1 : o == 1 ? 2 : 4;
      for (int i = 0; i < 7; ++i)
        acc += lw[o * 7 + i] * x[r * 7 + i];
      EXPECT_NEAR(out[1].f[r * 3 + o], acc, 1e-5);
    }
}

TEST_F(ExecutorTest, StridedSliceFillAndIos16Constexprs) {
  std::string body =
      "            tensor<int32, [2]> b = const()[name = string(\"b\"), val = "
      "tensor<int32, [2]>([0, 5])];\n"
      "            tensor<int32, [2]> e = const()[name = string(\"e\"), val = "
      "tensor<int32, [2]>([0, 0])];\n"
      "            tensor<int32, [2]> s = const()[name = string(\"s\"), val = "
      "tensor<int32, [2]>([1, -2])];\n"
      "            tensor<bool, [2]> bm = const()[name = string(\"bm\"), val = "
      "tensor<bool, [2]>([true, false])];\n"
      "            tensor<bool, [2]> em = const()[name = string(\"em\"), val = "
      "tensor<bool, [2]>([true, true])];\n"
      "            tensor<fp16, [2, 3]> sl = slice_by_index(begin = b, "
      "begin_mask = bm, end = e, end_mask = em, stride = s, x = x)[name = "
      "string(\"sl\")];\n"
      "            tensor<int32, [2]> fs = const()[name = string(\"fs\"), val "
      "= tensor<int32, [2]>([2, 2])];\n"
      "            fp16 fv = const()[name = string(\"fv\"), val = "
      "fp16(0x1.8p+1)];\n"
      "            tensor<fp16, [2, 2]> f = fill(shape = fs, value = fv)[name "
      "= "
      "string(\"f\")];\n"
      "            tensor<fp16, [2, 2]> a = constexpr_affine_dequantize()[axis "
      "= tensor<int32, []>(0), name = tensor<string, []>(\"a\"), "
      "quantized_data = tensor<uint8, [2, 2]>([[10, 20], [30, 40]]), scale = "
      "tensor<fp16, [2]>([0x1p-1, 0x1p+1]), zero_point = tensor<uint8, "
      "[2]>([10, 0])];\n"
      "            tensor<fp16, [2, 3]> l = constexpr_lut_to_dense()[indices = "
      "tensor<uint8, [2]>([228, 1]), lut = tensor<fp16, [4]>([0x0p+0, 0x1p+0, "
      "0x1p+1, 0x1p+2]), name = tensor<string, []>(\"l\"), shape = "
      "tensor<uint32, [2]>([2, 3])];";
  std::vector<float> x = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  auto out = run("ios18", "tensor<fp16, [2, 6]> x", body, "sl, f, a, l",
                 {Tensor::floats(DType::FP16, {2, 6}, x)});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].f, (std::vector<float>{5, 3, 1, 11, 9, 7}));
  EXPECT_EQ(out[1].f, (std::vector<float>{3, 3, 3, 3}));
  EXPECT_EQ(out[2].f, (std::vector<float>{0, 5, 60, 80}));
  // 228 = 0b11100100 -> 2-bit indices 0, 1, 2, 3; then 1 -> 1, 0.
  EXPECT_EQ(out[3].f, (std::vector<float>{0, 1, 2, 4, 1, 0}));
}

} // namespace

// lib/MIL/Ops.def is the one op table: the executor has a kernel for each
// of its ops.
TEST(ExecutorOpTableTest, RunsEveryOpOfTheTable) {
  for (size_t k = 0; k < mil::kNumOpKinds; ++k) {
    auto kind = static_cast<mil::OpKind>(k);
    EXPECT_TRUE(Executor::runs(kind)) << mil::opName(kind);
  }
}
