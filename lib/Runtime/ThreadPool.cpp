//===- ThreadPool.cpp - persistent workers --------------------------------===//

#include "lib/Runtime/ThreadPool.h"

#include <algorithm>
#include <chrono>
#include <memory>

namespace ane::runtime {
namespace {

int defaultThreads = 0;

int resolve(int threads) {
  if (threads > 0)
    return threads;
  return std::max(1, int(std::thread::hardware_concurrency()));
}

void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/// Long enough to bridge the gaps between a token's kernel calls, short
/// enough that an idle pool soon stops using the cores.
constexpr auto kSpinBudget = std::chrono::milliseconds(2);

} // namespace

ThreadPool::ThreadPool(int threads) {
  int n = resolve(threads);
  spin = n <= int(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < n; ++i)
    workers.emplace_back([this] { work(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
  }
  wake.notify_all();
  for (std::thread &t : workers)
    t.join();
}

template <typename Ready> bool ThreadPool::spinUntil(Ready ready) const {
  if (!spin)
    return ready();
  auto deadline = std::chrono::steady_clock::now() + kSpinBudget;
  while (true) {
    for (int i = 0; i < 256; ++i) {
      if (ready())
        return true;
      cpuRelax();
    }
    if (std::chrono::steady_clock::now() > deadline)
      return ready();
  }
}

void ThreadPool::work() {
  uint64_t seen = 0;
  auto ready = [&] {
    return stopping.load(std::memory_order_acquire) ||
           generation.load(std::memory_order_acquire) != seen;
  };
  while (true) {
    if (!spinUntil(ready)) {
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait(lock, ready);
    }
    if (stopping.load(std::memory_order_acquire))
      return;
    seen = generation.load(std::memory_order_acquire);
    runChunks();
    if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // Under the mutex, so a caller between its check and its wait
      // cannot miss this.
      std::lock_guard<std::mutex> lock(mutex);
      done.notify_one();
    }
  }
}

void ThreadPool::runChunks() {
  const int64_t grains = (jobSize + jobGrain - 1) / jobGrain;
  int64_t g = nextGrain.load(std::memory_order_relaxed);
  while (true) {
    // Chunks shrink to one grain as the job runs out (guided scheduling):
    // the threads then finish within about a grain of each other, where
    // whole chunks left one waiting for up to a chunk.
    int64_t take;
    do {
      if (g >= grains)
        return;
      take = std::clamp<int64_t>((grains - g) / (2 * size()), 1, jobChunk);
    } while (!nextGrain.compare_exchange_weak(g, g + take,
                                              std::memory_order_relaxed));
    (*job)(g * jobGrain, std::min(jobSize, (g + take) * jobGrain));
    g = nextGrain.load(std::memory_order_relaxed);
  }
}

void ThreadPool::parallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t)> &fn) {
  grain = std::max<int64_t>(grain, 1);
  if (workers.empty() || n <= grain) {
    if (n > 0)
      fn(0, n);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    job = &fn;
    jobSize = n;
    jobGrain = grain;
    // About eight chunks per thread: a thread the host slows down takes
    // fewer of them instead of holding the others up.
    jobChunk = std::max<int64_t>(1, (n + grain - 1) / grain / (8 * size()));
    nextGrain.store(0, std::memory_order_relaxed);
    pending.store(int(workers.size()), std::memory_order_relaxed);
    generation.fetch_add(1, std::memory_order_release);
  }
  wake.notify_all();
  runChunks();
  auto finished = [&] { return pending.load(std::memory_order_acquire) == 0; };
  if (!spinUntil(finished)) {
    std::unique_lock<std::mutex> lock(mutex);
    done.wait(lock, finished);
  }
}

ThreadPool &ThreadPool::global() {
  static ThreadPool pool(defaultThreads);
  return pool;
}

void ThreadPool::setDefaultThreads(int threads) { defaultThreads = threads; }

} // namespace ane::runtime
