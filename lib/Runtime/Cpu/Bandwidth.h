//===- Bandwidth.h - the read bandwidth the cores can stream ----*- C++ -*-===//
//
// Decode is memory-bound: tok/s cannot exceed the bandwidth the cores can
// stream divided by the bytes read per token. This measures that bandwidth
// the way the kernels read weights (all threads, sequential, read-only), so
// benchmarks can report their figures as a fraction of it.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_CPU_BANDWIDTH_H
#define ANE_LIB_RUNTIME_CPU_BANDWIDTH_H

#include "lib/Runtime/ThreadPool.h"

#include <cstdint>

namespace ane::runtime {

/// Bytes per second of the best of `repeats` parallel reads of a `bytes`
/// buffer (much larger than the caches).
double measureReadBandwidth(ThreadPool &pool,
                            uint64_t bytes = uint64_t(1) << 30,
                            int repeats = 3);

/// Sums a buffer's 64-bit words: the read loop of the measurement.
uint64_t sumWords(const uint64_t *words, uint64_t count);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_CPU_BANDWIDTH_H
