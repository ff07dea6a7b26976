//===- QuantMatMulTest.cpp - vector matmul kernels against the scalar one -===//

#include "lib/Runtime/Cpu/QuantMatMul.h"
#include "lib/MIL/WeightFile.h"
#include "lib/Runtime/Cpu/CpuIsa.h"
#include "lib/Runtime/Interleaved.h"
#include "lib/Support/Float16.h"
#include "test/unittests/Runtime/HostFamilies.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

using namespace ane;
using namespace ane::runtime;

namespace {

/// A random weight of one format with the bytes it points into.
struct Weight {
  PackedWeight view;
  std::vector<uint8_t> data, scales, zeros;
};

Weight makeWeight(PackedWeight::Format format, int64_t rows, int64_t cols,
                  int64_t group, std::mt19937 &rng, bool zeroPoints = false) {
  std::uniform_real_distribution<float> u(-1, 1);
  Weight w;
  w.view.format = format;
  w.view.rows = rows;
  w.view.cols = cols;
  w.view.group = group;
  int64_t n = rows * cols;
  auto putHalf = [](std::vector<uint8_t> &out, float v) {
    uint16_t h = ane::floatToHalfBits(v);
    out.push_back(uint8_t(h));
    out.push_back(uint8_t(h >> 8));
  };
  switch (format) {
  case PackedWeight::Format::F32:
    w.data.resize(4 * n);
    for (int64_t i = 0; i < n; ++i) {
      float v = u(rng);
      std::memcpy(&w.data[4 * i], &v, 4);
    }
    break;
  case PackedWeight::Format::F16:
    for (int64_t i = 0; i < n; ++i)
      putHalf(w.data, u(rng));
    break;
  case PackedWeight::Format::Q8:
  case PackedWeight::Format::Q4:
  case PackedWeight::Format::Q4Interleaved: {
    bool q4 = format != PackedWeight::Format::Q8;
    std::vector<int64_t> codes(n);
    for (int64_t &c : codes)
      c = q4 ? int64_t(rng() % 16) - 8 : int64_t(rng() % 256) - 128;
    w.data = mil::packSubByte(codes, q4 ? 4 : 8);
    for (int64_t i = 0; i < rows * (cols / group); ++i)
      putHalf(w.scales, 0.01f + 0.05f * std::fabs(u(rng)));
    if (zeroPoints)
      for (int64_t r = 0; r < rows; ++r)
        w.zeros.push_back(uint8_t(int8_t(rng() % 21) - 10));
    if (format == PackedWeight::Format::Q4Interleaved)
      interleaved::interleaveBlocks(
          w.data.data(), reinterpret_cast<uint16_t *>(w.scales.data()), cols,
          group, 0, rows / interleaved::kRows);
    break;
  }
  case PackedWeight::Format::Lut4: {
    std::vector<int64_t> indices(n);
    for (int64_t &i : indices)
      i = int64_t(rng() % 16);
    w.data = mil::packSubByte(indices, 4);
    for (int64_t i = 0; i < rows * (cols / group) * 16; ++i)
      putHalf(w.scales, u(rng));
    break;
  }
  }
  w.view.data = w.data.data();
  w.view.scales = w.scales.empty() ? nullptr : w.scales.data();
  w.view.zeroPoints = w.zeros.empty() ? nullptr : w.zeros.data();
  return w;
}

struct Case {
  PackedWeight::Format format;
  int64_t rows, cols, group, seq;
  bool zeroPoints;
};

std::string caseName(const ::testing::TestParamInfo<Case> &info) {
  static const char *names[] = {"f32", "f16", "q8", "q4", "lut4", "q4i"};
  const Case &c = info.param;
  return std::string(names[int(c.format)]) + "_" + std::to_string(c.rows) +
         "x" + std::to_string(c.cols) + "_g" + std::to_string(c.group) + "_s" +
         std::to_string(c.seq);
}

class QuantMatMulTest : public ::testing::TestWithParam<Case> {};

using ::ane::test::forEachHostFamily;

/// Says which kernel families the tests below ran and which this CPU
/// lacks (those are not tested here).
TEST(KernelIsaTest, HostFamiliesAreListedAndSelectable) {
  std::vector<KernelIsa> host = hostKernelIsas();
  ASSERT_FALSE(host.empty());
  EXPECT_EQ(host.front(), KernelIsa::Scalar);
  EXPECT_EQ(kernelIsa(), host.back()) << "ANE_CPU_KERNELS set?";
  std::string ran, skipped;
  for (KernelIsa isa : allKernelIsas()) {
    bool has = std::count(host.begin(), host.end(), isa) > 0;
    (has ? ran : skipped) += std::string(" ") + kernelIsaName(isa);
    EXPECT_EQ(parseKernelIsa(kernelIsaName(isa)), isa);
    if (!has) {
      EXPECT_FALSE(setKernelIsa(isa));
    }
  }
  std::printf("kernel families tested:%s\n", ran.c_str());
  if (!skipped.empty())
    std::printf("kernel families skipped (this CPU lacks them):%s\n",
                skipped.c_str());
  EXPECT_FALSE(parseKernelIsa("avx1024"));
}

/// matmul with the selected family against its oracle: the scalar
/// integer dot products for int4 and int8 weights on the vector families
/// (they quantize each token's x to int8), matmulScalar otherwise.
void checkAgainstOracles(const Case &c, const Weight &w,
                         const std::vector<float> &x,
                         const std::vector<float> &exact) {
  std::vector<float> got(c.rows * c.seq, NAN);
  ThreadPool pool(3);
  matmul(w.view, x.data(), c.seq, got.data(), pool);
  std::vector<float> want = exact;
  bool int8 = matmulQuantizesActivations(w.view);
  if (int8) {
    std::vector<float> column(c.cols);
    for (int64_t s = 0; s < c.seq; ++s) {
      for (int64_t k = 0; k < c.cols; ++k)
        column[k] = x[k * c.seq + s];
      QuantizedActivations qx =
          quantizeActivations(column.data(), c.cols, activationBlock(c.group));
      for (int64_t r = 0; r < c.rows; ++r)
        want[r * c.seq + s] = c.format == PackedWeight::Format::Q8
                                  ? dotQ8Q8Scalar(w.view, r, qx)
                                  : dotQ4Q8Scalar(w.view, r, qx);
    }
  }
  double scale = 0;
  for (float v : exact)
    scale = std::max(scale, double(std::fabs(v)));
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], 1e-5 * scale + 1e-6) << "element " << i;
    // int8 activations stay within 1% of the float product.
    ASSERT_NEAR(got[i], exact[i], (int8 ? 1e-2 : 1e-5) * scale + 1e-6)
        << "element " << i;
  }
}

/// Odd row counts (tails of the row grains), column counts that leave
/// vector tails, per-row and grouped scales, S = 1 (GEMV) and S > 1. The
/// int4 cases cover rows of fewer and more than eight activation blocks
/// (with a remainder), tiles of 8 tokens and the tokens left after them,
/// and groups of several activation blocks; the int4 tile kernels' rows
/// and tokens left after whole tiles and chunks of 32, 64 and 96 columns
/// after whole 128s. Each case runs on every kernel family the CPU has.
TEST_P(QuantMatMulTest, MatchesTheScalarKernel) {
  const Case &c = GetParam();
  std::mt19937 rng(42);
  Weight w = makeWeight(c.format, c.rows, c.cols, c.group, rng, c.zeroPoints);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> x(c.cols * c.seq);
  for (float &v : x)
    v = u(rng);
  std::vector<float> exact(c.rows * c.seq);
  matmulScalar(w.view, x.data(), c.seq, exact.data(), 0, c.rows);
  forEachHostFamily([&] { checkAgainstOracles(c, w, x, exact); });
}

INSTANTIATE_TEST_SUITE_P(
    Formats, QuantMatMulTest,
    ::testing::Values(
        Case{PackedWeight::Format::Q4, 37, 256, 128, 1, false},
        Case{PackedWeight::Format::Q4, 37, 256, 128, 7, false},
        Case{PackedWeight::Format::Q4, 11, 384, 192, 6, false},
        Case{PackedWeight::Format::Q4, 13, 192, 64, 3, false},
        Case{PackedWeight::Format::Q4, 9, 256, 128, 13, false},
        Case{PackedWeight::Format::Q4, 6, 1280, 128, 1, false},
        Case{PackedWeight::Format::Q4, 9, 1280, 128, 8, false},
        Case{PackedWeight::Format::Q4, 6, 640, 64, 1, false},
        Case{PackedWeight::Format::Q4, 7, 1152, 192, 9, false},
        Case{PackedWeight::Format::Q4, 5, 2048, 256, 17, false},
        Case{PackedWeight::Format::Q4, 5, 96, 32, 9, false},
        Case{PackedWeight::Format::Q4, 7, 544, 32, 1, false},
        Case{PackedWeight::Format::Q4, 5, 512, 32, 9, false},
        Case{PackedWeight::Format::Q4, 5, 576, 96, 1, false},
        Case{PackedWeight::Format::Q4, 37, 96, 32, 5, false},
        Case{PackedWeight::Format::Q4, 9, 160, 32, 4, false},
        Case{PackedWeight::Format::Q4, 21, 96, 32, 1, false},
        Case{PackedWeight::Format::Q4, 5, 172, 172, 1, false},
        Case{PackedWeight::Format::Q4, 7, 224, 32, 2, false},
        Case{PackedWeight::Format::Q4, 6, 320, 64, 5, false},
        Case{PackedWeight::Format::Q4, 10, 416, 32, 4, false},
        Case{PackedWeight::Format::Q4, 3, 768, 256, 2, false},
        // The cpu layout: decode tiles of 4 blocks and 1,
        // prefill tiles of 3 blocks (AVX-512) or 1 x 4 tokens
        // and what is left of both; groups of 1, 2 and 3
        // activation blocks; 8 and 16 tokens transposed 8 x 8
        // at a time before they are quantized.
        Case{PackedWeight::Format::Q4Interleaved, 16, 256, 128, 1, false},
        Case{PackedWeight::Format::Q4Interleaved, 80, 192, 64, 1, false},
        Case{PackedWeight::Format::Q4Interleaved, 48, 256, 128, 7, false},
        Case{PackedWeight::Format::Q4Interleaved, 32, 384, 192, 6, false},
        Case{PackedWeight::Format::Q4Interleaved, 80, 192, 64, 3, false},
        Case{PackedWeight::Format::Q4Interleaved, 16, 96, 32, 9, false},
        Case{PackedWeight::Format::Q4Interleaved, 64, 544, 32, 1, false},
        Case{PackedWeight::Format::Q4Interleaved, 48, 2048, 256, 17, false},
        Case{PackedWeight::Format::Q4Interleaved, 96, 1280, 128, 13, false},
        Case{PackedWeight::Format::Q4Interleaved, 48, 256, 128, 8, false},
        Case{PackedWeight::Format::Q4Interleaved, 64, 160, 32, 16, false},
        Case{PackedWeight::Format::Q8, 33, 200, 200, 1, true},
        Case{PackedWeight::Format::Q8, 33, 128, 32, 3, false},
        Case{PackedWeight::Format::Q8, 17, 256, 256, 1, true},
        Case{PackedWeight::Format::Q8, 9, 192, 64, 11, true},
        Case{PackedWeight::Format::Q8, 9, 96, 32, 9, false},
        Case{PackedWeight::Format::Q8, 7, 13, 13, 2, true},
        Case{PackedWeight::Format::Lut4, 37, 256, 128, 1, false},
        Case{PackedWeight::Format::Lut4, 13, 96, 32, 5, false},
        Case{PackedWeight::Format::Lut4, 9, 160, 16, 1, false},
        Case{PackedWeight::Format::Lut4, 7, 40, 8, 3, false},
        Case{PackedWeight::Format::F16, 19, 70, 0, 1, false},
        Case{PackedWeight::Format::F16, 7, 205, 0, 1, false},
        Case{PackedWeight::Format::F16, 19, 64, 0, 4, false},
        Case{PackedWeight::Format::F32, 9, 45, 0, 1, false},
        Case{PackedWeight::Format::F32, 9, 45, 0, 7, false}),
    caseName);

/// The cpu layout keeps every code and scale where codeAt and scaleIndex
/// look, and puts them where Interleaved.h says: row 1's column 17 is the
/// high nibble of byte 4 * 1 + 1 of the first unit, column 6 the low
/// nibble of byte 4 * 1 + 2 of the second.
TEST(InterleavedLayoutTest, KeepsEveryCodeAndScale) {
  std::mt19937 rng(3);
  const int64_t rows = 48, cols = 192, group = 64, groups = cols / group;
  Weight w = makeWeight(PackedWeight::Format::Q4, rows, cols, group, rng);
  std::vector<uint8_t> codes = w.data, scales = w.scales;
  auto *halves = reinterpret_cast<uint16_t *>(scales.data());
  interleaved::interleaveBlocks(codes.data(), halves, cols, group, 0, 3);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c)
      ASSERT_EQ(interleaved::codeAt(codes.data(), cols, r, c) - 8,
                w.view.int4At(r, c))
          << r << ", " << c;
    for (int64_t g = 0; g < groups; ++g) {
      uint16_t want;
      std::memcpy(&want, &w.scales[2 * (r * groups + g)], 2);
      ASSERT_EQ(halves[interleaved::scaleIndex(cols, group, r, g)], want);
    }
  }
  EXPECT_EQ(codes[4 * 1 + 1] >> 4, w.view.int4At(1, 17) + 8);
  EXPECT_EQ(codes[64 + 4 * 1 + 2] & 0xF, w.view.int4At(1, 6) + 8);
  EXPECT_TRUE(interleaved::fits(32, 96, 32));
  EXPECT_FALSE(interleaved::fits(40, 96, 32)); // not whole blocks of rows
  EXPECT_FALSE(interleaved::fits(32, 96, 48)); // groups of part runs
  EXPECT_FALSE(interleaved::fits(32, 96, 64)); // part groups
}

/// The largest products the int4 kernels add: every code +7 (15 once
/// unsigned) against activations that quantize to +-127. The kernels
/// without VNNI add a run of 32 columns in int16 lanes (8 x 2 x 15 x 127 =
/// 30480); a longer run would wrap and miss the oracle by 65536 x scale.
TEST(Int4ProductTest, LargestProductsDoNotWrap) {
  const int64_t rows = 48, cols = 512, group = 128;
  for (auto format :
       {PackedWeight::Format::Q4, PackedWeight::Format::Q4Interleaved}) {
    Weight w;
    w.data = mil::packSubByte(std::vector<int64_t>(rows * cols, 7), 4);
    for (int64_t i = 0; i < rows * (cols / group); ++i) {
      uint16_t h = ane::floatToHalfBits(1.0f);
      w.scales.push_back(uint8_t(h));
      w.scales.push_back(uint8_t(h >> 8));
    }
    if (format == PackedWeight::Format::Q4Interleaved)
      interleaved::interleaveBlocks(
          w.data.data(), reinterpret_cast<uint16_t *>(w.scales.data()), cols,
          group, 0, rows / interleaved::kRows);
    w.view = {};
    w.view.format = format;
    w.view.rows = rows;
    w.view.cols = cols;
    w.view.group = group;
    w.view.data = w.data.data();
    w.view.scales = w.scales.data();
    for (int64_t seq : {1, 5}) {
      // Token s is all +1 or all -1: every code +-127.
      std::vector<float> x(cols * seq);
      for (int64_t k = 0; k < cols; ++k)
        for (int64_t s = 0; s < seq; ++s)
          x[k * seq + s] = s % 2 ? -1.0f : 1.0f;
      std::vector<float> exact(rows * seq);
      matmulScalar(w.view, x.data(), seq, exact.data(), 0, rows);
      ASSERT_FLOAT_EQ(exact[0], 7.0f * cols);
      Case c{format, rows, cols, group, seq, false};
      forEachHostFamily([&] { checkAgainstOracles(c, w, x, exact); });
    }
  }
}

/// The vector quantizer (blocks of whole 32s) against the definition:
/// scale = max|x| / 127 and code = x * (127 / max|x|) rounded to nearest
/// even, with ties, an all-zero block and a short last block.
TEST(QuantizeActivationsTest, MatchesTheDefinition) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-3, 3);
  for (int64_t block : {32, 64, 128}) {
    int64_t n = 4 * block + 24; // a last block of 24: the scalar loop
    std::vector<float> x(n);
    for (float &v : x)
      v = u(rng);
    std::fill_n(x.begin() + block, block, 0.0f); // block 1 is all zeros
    // Block 2: max 127, so x * 1 lands on ties .5 that round to even.
    for (int64_t i = 0; i < block; ++i)
      x[2 * block + i] = i == 0 ? 127.0f : float(i % 9) - 4.5f;
    QuantizedActivations q = quantizeActivations(x.data(), n, block);
    ASSERT_EQ(int64_t(q.codes.size()), n);
    ASSERT_EQ(int64_t(q.scales.size()), 5);
    for (int64_t b = 0; b * block < n; ++b) {
      int64_t end = std::min(n, (b + 1) * block);
      float amax = 0;
      for (int64_t i = b * block; i < end; ++i)
        amax = std::max(amax, std::fabs(x[i]));
      ASSERT_EQ(q.scales[b], amax / 127.0f) << "block " << b;
      float inv = amax > 0 ? 127.0f / amax : 0.0f;
      for (int64_t i = b * block; i < end; ++i)
        ASSERT_EQ(q.codes[i], int8_t(std::nearbyint(x[i] * inv)))
            << "block " << block << " element " << i;
    }
    EXPECT_EQ(q.codes[2 * block + 1], -4); // -3.5 rounds to even
    EXPECT_EQ(q.codes[2 * block + 2], -2); // -2.5
  }
}

/// The attention's float products (q x K^T, scores x V, over fp32 or fp16
/// caches) and the backward kernels' x^T y, on every host family, against
/// products in doubles: sizes that leave tails of every vector width.
TEST(FloatMatMulTest, AttentionProductsMatchDoubles) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1, 1);
  for (auto [m, k, n] : {std::array<int64_t, 3>{1, 64, 37},
                         {3, 13, 9},
                         {2, 7, 70},
                         {5, 67, 4}}) {
    std::vector<float> x(m * k), y(k * n), xt(k * m);
    for (float &v : x)
      v = u(rng);
    for (float &v : y) // fp16-exact, so a half Y holds the same values
      v = halfBitsToFloat(floatToHalfBits(u(rng)));
    for (float &v : xt)
      v = u(rng);
    std::vector<uint16_t> yHalf(y.size());
    for (size_t i = 0; i < y.size(); ++i)
      yHalf[i] = floatToHalfBits(y[i]);
    // y is [k, n], or [n, k] read by transposeY.
    auto want = [&](bool transposeY, int64_t i, int64_t j) {
      double acc = 0;
      for (int64_t p = 0; p < k; ++p)
        acc += double(x[i * k + p]) *
               double(transposeY ? y[j * k + p] : y[p * n + j]);
      return acc;
    };
    forEachHostFamily([&] {
      SCOPED_TRACE(::testing::Message() << m << "x" << k << "x" << n);
      for (bool transposeY : {false, true}) {
        std::vector<float> out(m * n, NAN), outHalf(m * n, NAN);
        matmulFloat(x.data(), y.data(), out.data(), m, k, n, transposeY);
        matmulHalfY(x.data(), yHalf.data(), outHalf.data(), m, k, n,
                    transposeY);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double w = want(transposeY, i, j);
            ASSERT_NEAR(out[i * n + j], w, 1e-5 * k) << transposeY;
            ASSERT_NEAR(outHalf[i * n + j], w, 1e-5 * k) << transposeY;
          }
      }
      // xt is [k, m]: rows [1, m) of xt^T y.
      std::vector<float> tx(m * n, NAN);
      matmulFloatTx(xt.data(), y.data(), tx.data(), m, k, n, 1, m);
      for (int64_t i = 1; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double w = 0;
          for (int64_t p = 0; p < k; ++p)
            w += double(xt[p * m + i]) * double(y[p * n + j]);
          ASSERT_NEAR(tx[i * n + j], w, 1e-5 * k);
        }
    });
  }
}

/// Every index once, in ranges that start on a grain and hold whole
/// grains but the last; with as many threads as cores (the workers spin
/// between calls) and with more (they sleep), over many calls in a row.
TEST(ThreadPoolTest, CoversEveryIndexOnce) {
  int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  for (int threads : {2, cores, cores + 2}) {
    ThreadPool pool(threads);
    for (int round = 0; round < 50; ++round)
      for (int64_t n : {0, 1, 15, 16, 17, 1000, 4099}) {
        std::vector<std::atomic<int>> hits(n);
        std::atomic<bool> aligned{true};
        pool.parallelFor(n, 16, [&](int64_t b, int64_t e) {
          if (b % 16 != 0 || (e != n && (e - b) % 16 != 0) || b >= e)
            aligned = false;
          for (int64_t i = b; i < e; ++i)
            ++hits[i];
        });
        ASSERT_TRUE(aligned) << threads << " threads, n " << n;
        for (int64_t i = 0; i < n; ++i)
          ASSERT_EQ(hits[i].load(), 1) << threads << " " << n << " " << i;
      }
  }
}

/// The chunks shrink as the job runs out: the ranges at the end are one
/// grain each, so no thread is left running a long chunk alone.
TEST(ThreadPoolTest, TheLastRangesAreOneGrain) {
  for (int threads : {2, 3}) {
    ThreadPool pool(threads);
    const int64_t n = 4096, grain = 4;
    std::mutex mutex;
    std::vector<std::pair<int64_t, int64_t>> ranges;
    pool.parallelFor(n, grain, [&](int64_t b, int64_t e) {
      std::lock_guard<std::mutex> lock(mutex);
      ranges.emplace_back(b, e);
    });
    std::sort(ranges.begin(), ranges.end());
    ASSERT_GT(ranges.size(), size_t(2 * threads));
    // The first ranges are longer than a grain; the last 2 * threads - 1
    // are one grain.
    EXPECT_GT(ranges.front().second - ranges.front().first, grain);
    for (size_t i = ranges.size() - (2 * threads - 1); i < ranges.size(); ++i)
      EXPECT_EQ(ranges[i].second - ranges[i].first, grain)
          << threads << " threads, range at " << ranges[i].first;
  }
}

} // namespace
