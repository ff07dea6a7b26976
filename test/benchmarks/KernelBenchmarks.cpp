//===- KernelBenchmarks.cpp - Google Benchmark for the cpu kernels --------===//
//
// Each matmul reports the GB/s of weights it streams next to a plain
// parallel read of a buffer just as large, measured in the same run
// (ReadBandwidth): the ratio is how close a kernel is to the memory bound.
// Run: build/test/benchmarks/ane-kernel-benchmarks [--benchmark_filter=...]
//
//===----------------------------------------------------------------------===//

#include "lib/MIL/WeightFile.h"
#include "lib/Runtime/Cpu/Bandwidth.h"
#include "lib/Runtime/Cpu/QuantMatMul.h"
#include "lib/Support/Float16.h"

#include <benchmark/benchmark.h>

#include <atomic>
#include <random>
#include <vector>

using namespace ane;
using namespace ane::runtime;

namespace {

/// A random [rows, cols] weight of `format`, scales per `group` columns.
struct Weight {
  PackedWeight view;
  std::vector<uint8_t> data, scales;

  Weight(PackedWeight::Format format, int64_t rows, int64_t cols,
         int64_t group = 128) {
    std::mt19937 rng(1);
    view.format = format;
    view.rows = rows;
    view.cols = cols;
    view.group = group;
    int64_t n = rows * cols;
    if (format == PackedWeight::Format::F16) {
      data.resize(2 * n);
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h = ane::floatToHalfBits(float(int(rng() % 200) - 100) / 1e3f);
        data[2 * i] = uint8_t(h);
        data[2 * i + 1] = uint8_t(h >> 8);
      }
    } else {
      bool q4 = format == PackedWeight::Format::Q4;
      std::vector<int64_t> codes(n);
      for (int64_t &c : codes)
        c = q4 ? int64_t(rng() % 16) - 8 : int64_t(rng() % 256) - 128;
      data = mil::packSubByte(codes, q4 ? 4 : 8);
      for (int64_t i = 0; i < rows * (cols / group); ++i) {
        uint16_t h = ane::floatToHalfBits(0.01f);
        scales.push_back(uint8_t(h));
        scales.push_back(uint8_t(h >> 8));
      }
      view.scales = scales.data();
    }
    view.data = data.data();
  }

  uint64_t bytes() const { return data.size() + scales.size(); }
};

/// The Llama-2-7B FFN up projection (11008 x 4096) for S = range(0)
/// tokens; range(1) = 1024 rows instead fit in cache, which shows whether a
/// kernel is bound by compute or by memory.
void benchMatmul(benchmark::State &state, PackedWeight::Format format,
                 int64_t group = 128) {
  int64_t S = state.range(0), rows = state.range(1);
  Weight w(format, rows, 4096, group);
  std::vector<float> x(4096 * S, 0.5f), y(rows * S);
  ThreadPool &pool = ThreadPool::global();
  for (auto _ : state) {
    matmul(w.view, x.data(), S, y.data(), pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] = benchmark::Counter(
      double(w.bytes()), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["tok/s"] = benchmark::Counter(
      double(S), benchmark::Counter::kIsIterationInvariantRate);
}

void Q4(benchmark::State &s) { benchMatmul(s, PackedWeight::Format::Q4); }
/// GGUF Q4_0's grouping: a scale per 32 columns.
void Q4G32(benchmark::State &s) {
  benchMatmul(s, PackedWeight::Format::Q4, 32);
}
void Q8(benchmark::State &s) { benchMatmul(s, PackedWeight::Format::Q8); }
void F16(benchmark::State &s) { benchMatmul(s, PackedWeight::Format::F16); }
BENCHMARK(Q4)
    ->Args({1, 11008})
    ->Args({16, 11008})
    ->Args({1, 1024})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(Q4G32)
    ->Args({1, 11008})
    ->Args({16, 11008})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(Q8)
    ->Args({1, 11008})
    ->Args({1, 1024})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(F16)
    ->Args({1, 11008})
    ->Args({1, 1024})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

/// The baseline: a parallel read of as many bytes as the q4 weight holds.
void ReadBandwidth(benchmark::State &state) {
  Weight w(PackedWeight::Format::Q4, 11008, 4096);
  std::vector<uint64_t> buffer(w.bytes() / 8, 1);
  ThreadPool &pool = ThreadPool::global();
  for (auto _ : state) {
    std::atomic<uint64_t> sum{0};
    pool.parallelFor(int64_t(buffer.size()), 1 << 16,
                     [&](int64_t b, int64_t e) {
                       sum += sumWords(buffer.data() + b, uint64_t(e - b));
                     });
    benchmark::DoNotOptimize(sum.load());
  }
  state.counters["GB/s"] = benchmark::Counter(
      double(buffer.size() * 8), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(ReadBandwidth)->UseRealTime()->Unit(benchmark::kMillisecond);

} // namespace

BENCHMARK_MAIN();
