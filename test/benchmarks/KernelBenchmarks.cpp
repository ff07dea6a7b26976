//===- KernelBenchmarks.cpp - Google Benchmark for the cpu kernels --------===//
//
// Each matmul reports the GB/s of weights it streams next to a plain
// parallel read of a buffer just as large, measured in the same run
// (ReadBandwidth): the ratio is how close a kernel is to the memory bound.
// The int4 products also report GMAC/s and their share of the int8 peak
// (the widest int8 dot-product instruction of the selected kernel family,
// back to back on every thread), which bounds prefill: measured around
// each product, and once on its own as Int8Peak.
// Run: build/test/benchmarks/ane-kernel-benchmarks [--benchmark_filter=...]
// with ANE_CPU_KERNELS=avx2|avx512|avx512-vnni to pick a family.
//
//===----------------------------------------------------------------------===//

#include "lib/MIL/WeightFile.h"
#include "lib/Runtime/Cpu/Bandwidth.h"
#include "lib/Runtime/Cpu/CpuIsa.h"
#include "lib/Runtime/Cpu/QuantMatMul.h"
#include "lib/Runtime/Interleaved.h"
#include "lib/Support/Float16.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

using namespace ane;
using namespace ane::runtime;

namespace {

/// A copy of `bytes` in fresh memory on transparent huge pages where the
/// kernel has them, as the engine holds a model's weights
/// (MappedFile::readIntoHugePages): on 4 KiB pages a product's first pass
/// over each row tile also waits on TLB misses. (Heap memory that was
/// touched before keeps its 4 KiB pages whatever the advice.)
class HugeCopy {
public:
  explicit HugeCopy(const std::vector<uint8_t> &bytes) {
#if defined(__linux__)
    constexpr size_t kHuge = size_t(2) << 20;
    size = (bytes.size() + kHuge - 1) / kHuge * kHuge;
    void *p = ::mmap(nullptr, size + kHuge, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
      mapping = static_cast<uint8_t *>(p);
      data = mapping + (-reinterpret_cast<uintptr_t>(mapping) & (kHuge - 1));
      ::madvise(data, size, MADV_HUGEPAGE);
      std::copy(bytes.begin(), bytes.end(), data);
      return;
    }
#endif
    fallback = bytes;
    data = fallback.data();
  }
  ~HugeCopy() {
#if defined(__linux__)
    if (mapping)
      ::munmap(mapping, size + (size_t(2) << 20));
#endif
  }
  HugeCopy(const HugeCopy &) = delete;
  HugeCopy &operator=(const HugeCopy &) = delete;

  uint8_t *data = nullptr;

private:
  uint8_t *mapping = nullptr;
  size_t size = 0;
  std::vector<uint8_t> fallback;
};

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
      bool q4 = format != PackedWeight::Format::Q8;
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
      if (format == PackedWeight::Format::Q4Interleaved)
        interleaved::interleaveBlocks(
            data.data(), reinterpret_cast<uint16_t *>(scales.data()), cols,
            group, 0, rows / interleaved::kRows);
    }
    onHugePages = std::make_unique<HugeCopy>(data);
    view.data = onHugePages->data;
  }

  uint64_t bytes() const { return data.size() + scales.size(); }
  std::unique_ptr<HugeCopy> onHugePages;
};

#if defined(__x86_64__)
#include <immintrin.h>

/// `rounds` of 12 independent int8 dot products of the family's widest
/// instruction (INSN: vpdpbusd), written in assembly; returns MACs done. A
/// loop of intrinsics had GCC copy every accumulator to another register
/// after each dot product (605-800 GMAC/s on a Zen 5 against 900 here).
#define ANE_VNNI_PEAK(TARGET, NAME, TYPE, ZERO, SPLAT, MACS, INSN)             \
  __attribute__((target(TARGET), noinline)) uint64_t NAME(long rounds) {       \
    TYPE a0 = ZERO, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,      \
         a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;                        \
    TYPE u = SPLAT(3), s = SPLAT(5);                                           \
    for (long k = 0; k < rounds; ++k)                                          \
      __asm__ volatile(INSN " %13, %12, %0\n\t" INSN " %13, %12, %1\n\t" INSN  \
                            " %13, %12, %2\n\t" INSN " %13, %12, %3\n\t" INSN  \
                            " %13, %12, %4\n\t" INSN " %13, %12, %5\n\t" INSN  \
                            " %13, %12, %6\n\t" INSN " %13, %12, %7\n\t" INSN  \
                            " %13, %12, %8\n\t" INSN " %13, %12, %9\n\t" INSN  \
                            " %13, %12, %10\n\t" INSN " %13, %12, %11"         \
                       : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4),     \
                         "+x"(a5), "+x"(a6), "+x"(a7), "+x"(a8), "+x"(a9),     \
                         "+x"(a10), "+x"(a11)                                  \
                       : "x"(u), "x"(s));                                      \
    for (TYPE a : {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11})          \
      benchmark::DoNotOptimize(a);                                             \
    return uint64_t(rounds) * 12 * MACS;                                       \
  }
ANE_VNNI_PEAK("avx512f,avx512bw,avx512vnni", peakVnni512, __m512i,
              _mm512_setzero_si512(), _mm512_set1_epi8, 64, "vpdpbusd")
/// Without VNNI, an int8 dot product is maddubs, madd and add: 6 of them a
/// round, each with a temporary of its own. (In intrinsics GCC hoisted the
/// loop-invariant maddubs and madd and timed the adds alone.)
#define ANE_MADD_PEAK(TARGET, NAME, TYPE, ZERO, SPLAT, SPLAT16, MACS)          \
  __attribute__((target(TARGET), noinline)) uint64_t NAME(long rounds) {       \
    TYPE a0 = ZERO, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;               \
    TYPE t0, t1, t2, t3, t4, t5;                                               \
    TYPE u = SPLAT(3), s = SPLAT(5), ones = SPLAT16(1);                        \
    for (long k = 0; k < rounds; ++k)                                          \
      __asm__ volatile(                                                        \
          "vpmaddubsw %13, %12, %6\n\tvpmaddwd %14, %6, %6\n\t"                \
          "vpaddd %6, %0, %0\n\t"                                              \
          "vpmaddubsw %13, %12, %7\n\tvpmaddwd %14, %7, %7\n\t"                \
          "vpaddd %7, %1, %1\n\t"                                              \
          "vpmaddubsw %13, %12, %8\n\tvpmaddwd %14, %8, %8\n\t"                \
          "vpaddd %8, %2, %2\n\t"                                              \
          "vpmaddubsw %13, %12, %9\n\tvpmaddwd %14, %9, %9\n\t"                \
          "vpaddd %9, %3, %3\n\t"                                              \
          "vpmaddubsw %13, %12, %10\n\tvpmaddwd %14, %10, %10\n\t"             \
          "vpaddd %10, %4, %4\n\t"                                             \
          "vpmaddubsw %13, %12, %11\n\tvpmaddwd %14, %11, %11\n\t"             \
          "vpaddd %11, %5, %5"                                                 \
          : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5),        \
            "=&x"(t0), "=&x"(t1), "=&x"(t2), "=&x"(t3), "=&x"(t4), "=&x"(t5)   \
          : "x"(u), "x"(s), "x"(ones));                                        \
    for (TYPE a : {a0, a1, a2, a3, a4, a5})                                    \
      benchmark::DoNotOptimize(a);                                             \
    return uint64_t(rounds) * 6 * MACS;                                        \
  }
ANE_MADD_PEAK("avx512f,avx512bw", peakWide512, __m512i, _mm512_setzero_si512(),
              _mm512_set1_epi8, _mm512_set1_epi16, 64)
ANE_MADD_PEAK("avx2", peakWide256, __m256i, _mm256_setzero_si256(),
              _mm256_set1_epi8, _mm256_set1_epi16, 32)
// {vex}: AVX-VNNI's encoding, which CPUs without AVX-512 decode.
ANE_VNNI_PEAK("avx2,avxvnni", peakVnni256, __m256i, _mm256_setzero_si256(),
              _mm256_set1_epi8, 32, "%{vex%} vpdpbusd")

uint64_t peakRounds(long rounds) {
  switch (kernelIsa()) {
  case KernelIsa::Avx512Vnni:
    return peakVnni512(rounds);
  case KernelIsa::Avx512:
    return peakWide512(rounds);
  case KernelIsa::Avx2:
    return peakWide256(rounds);
  case KernelIsa::AvxVnni:
    return peakVnni256(rounds);
  default:
    break;
  }
  return 0;
}
#else
uint64_t peakRounds(long) { return 0; }
#endif

/// MACs per second of peakRounds on every thread of the pool.
double measureInt8Peak() {
  ThreadPool &pool = ThreadPool::global();
  double best = 0;
  for (int repeat = 0; repeat < 3; ++repeat) {
    std::atomic<uint64_t> macs{0};
    auto start = std::chrono::steady_clock::now();
    pool.parallelFor(pool.size(), 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        macs += peakRounds(4000000);
    });
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    best = std::max(best, double(macs.load()) / seconds);
  }
  return best;
}

/// The peak, measured once per run.
double int8Peak() {
  static const double peak = measureInt8Peak();
  return peak;
}

void Int8Peak(benchmark::State &state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(int8Peak());
  state.SetLabel(kernelIsaName(kernelIsa()));
  state.counters["GMAC/s"] = int8Peak() / 1e9;
}
BENCHMARK(Int8Peak)->Iterations(1);

/// The Llama-2-7B FFN up projection (11008 x 4096) for S = range(0)
/// tokens; range(1) = 1024 rows instead fit in cache, which shows whether a
/// kernel is bound by compute or by memory, and 44032 rows (90 MB) are out
/// of every cache.
void benchMatmul(benchmark::State &state, PackedWeight::Format format,
                 int64_t group = 128) {
  int64_t S = state.range(0), rows = state.range(1);
  Weight w(format, rows, 4096, group);
  std::vector<float> x(4096 * S, 0.5f), y(rows * S);
  ThreadPool &pool = ThreadPool::global();
  const bool int4 = format == PackedWeight::Format::Q4 ||
                    format == PackedWeight::Format::Q4Interleaved;
  // A shared host's speed moves by 10-20% from one minute to the next, so a
  // product is held against the peak measured around it (the better of
  // just before and just after), not once per run.
  double peak = int4 ? measureInt8Peak() : 0;
  for (auto _ : state) {
    matmul(w.view, x.data(), S, y.data(), pool);
    benchmark::DoNotOptimize(y.data());
  }
  if (int4)
    peak = std::max(peak, measureInt8Peak());
  state.counters["GB/s"] = benchmark::Counter(
      double(w.bytes()), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["tok/s"] = benchmark::Counter(
      double(S), benchmark::Counter::kIsIterationInvariantRate);
  if (int4 && peak > 0) {
    double macs = double(rows) * 4096 * double(S);
    state.counters["GMAC/s"] = benchmark::Counter(
        macs / 1e9, benchmark::Counter::kIsIterationInvariantRate);
    // MACs / peak per iteration, as a rate: the share of the peak.
    state.counters["of_peak"] = benchmark::Counter(
        macs / peak, benchmark::Counter::kIsIterationInvariantRate);
  }
  state.SetLabel(kernelIsaName(kernelIsa()));
}

void Q4(benchmark::State &s) { benchMatmul(s, PackedWeight::Format::Q4); }
/// GGUF Q4_0's grouping: a scale per 32 columns.
void Q4G32(benchmark::State &s) {
  benchMatmul(s, PackedWeight::Format::Q4, 32);
}
/// The same in the cpu backend's layout (lib/Runtime/Interleaved.h).
void Q4I(benchmark::State &s) {
  benchMatmul(s, PackedWeight::Format::Q4Interleaved);
}
void Q4IG32(benchmark::State &s) {
  benchMatmul(s, PackedWeight::Format::Q4Interleaved, 32);
}
void Q8(benchmark::State &s) { benchMatmul(s, PackedWeight::Format::Q8); }
void F16(benchmark::State &s) { benchMatmul(s, PackedWeight::Format::F16); }
/// Tokens x rows of the int4 products: decode, the prefill chunks of 16
/// and 64, in cache and out of every cache.
void int4Shapes(benchmark::internal::Benchmark *b) {
  b->Args({1, 11008})
      ->Args({16, 11008})
      ->Args({64, 11008})
      ->Args({1, 1024})
      ->Args({4, 11008})
      ->Args({16, 44032})
      ->Args({1, 44032})
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}
void groupOf32Shapes(benchmark::internal::Benchmark *b) {
  b->Args({1, 11008})
      ->Args({16, 11008})
      ->Args({64, 11008})
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}
BENCHMARK(Q4)->Apply(int4Shapes);
BENCHMARK(Q4G32)->Apply(groupOf32Shapes);
BENCHMARK(Q4I)->Apply(int4Shapes);
BENCHMARK(Q4IG32)->Apply(groupOf32Shapes);
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
