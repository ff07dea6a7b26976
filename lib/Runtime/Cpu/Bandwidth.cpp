//===- Bandwidth.cpp - the read bandwidth the cores can stream ------------===//

#include "lib/Runtime/Cpu/Bandwidth.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>

namespace ane::runtime {

uint64_t sumWords(const uint64_t *words, uint64_t count) {
  // Four independent sums keep several loads in flight per cycle.
  uint64_t a = 0, b = 0, c = 0, d = 0, i = 0;
  for (; i + 4 <= count; i += 4) {
    a += words[i];
    b += words[i + 1];
    c += words[i + 2];
    d += words[i + 3];
  }
  for (; i < count; ++i)
    a += words[i];
  return a + b + c + d;
}

double measureReadBandwidth(ThreadPool &pool, uint64_t bytes, int repeats) {
  uint64_t count = std::max<uint64_t>(bytes / 8, 1);
  std::vector<uint64_t> buffer(count);
  for (uint64_t i = 0; i < count; ++i)
    buffer[i] = i; // every page is touched before timing
  std::atomic<uint64_t> sink{0};
  double best = 0;
  for (int r = 0; r < std::max(repeats, 1); ++r) {
    auto start = std::chrono::steady_clock::now();
    pool.parallelFor(int64_t(count), 1 << 16, [&](int64_t b, int64_t e) {
      sink += sumWords(buffer.data() + b, uint64_t(e - b));
    });
    double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    best = std::max(best, double(count * 8) / s);
  }
  // The sum keeps the reads from being optimised away.
  return sink.load() == 1 ? best + 0 : best;
}

} // namespace ane::runtime
