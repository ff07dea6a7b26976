//===- ThreadPool.cpp - persistent workers for the cpu kernels ------------===//

#include "lib/Runtime/Cpu/ThreadPool.h"

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

/// Thread t's share of [0, n) in whole grains.
std::pair<int64_t, int64_t> share(int64_t n, int64_t grain, int t,
                                  int threads) {
  int64_t grains = (n + grain - 1) / grain;
  int64_t begin = grains * t / threads * grain;
  int64_t end = grains * (t + 1) / threads * grain;
  return {std::min(begin, n), std::min(end, n)};
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
    workers.emplace_back([this, i] { work(i); });
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

void ThreadPool::work(int index) {
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
    auto [begin, end] = share(jobSize, jobGrain, index, size());
    if (begin < end)
      (*job)(begin, end);
    if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // Under the mutex, so a caller between its check and its wait
      // cannot miss this.
      std::lock_guard<std::mutex> lock(mutex);
      done.notify_one();
    }
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
    pending.store(int(workers.size()), std::memory_order_relaxed);
    generation.fetch_add(1, std::memory_order_release);
  }
  wake.notify_all();
  auto [begin, end] = share(n, grain, 0, size());
  if (begin < end)
    fn(begin, end);
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
