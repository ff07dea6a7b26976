//===- ThreadPool.cpp - persistent workers for the cpu kernels ------------===//

#include "lib/Runtime/Cpu/ThreadPool.h"

#include <algorithm>
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

} // namespace

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < resolve(threads); ++i)
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

void ThreadPool::work(int index) {
  uint64_t seen = 0;
  while (true) {
    const std::function<void(int64_t, int64_t)> *fn;
    int64_t n, grain;
    {
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait(lock, [&] { return stopping || generation != seen; });
      if (stopping)
        return;
      seen = generation;
      fn = job;
      n = jobSize;
      grain = jobGrain;
    }
    auto [begin, end] = share(n, grain, index, size());
    if (begin < end)
      (*fn)(begin, end);
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (--pending == 0)
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
    pending = int(workers.size());
    ++generation;
  }
  wake.notify_all();
  auto [begin, end] = share(n, grain, 0, size());
  if (begin < end)
    fn(begin, end);
  std::unique_lock<std::mutex> lock(mutex);
  done.wait(lock, [&] { return pending == 0; });
}

ThreadPool &ThreadPool::global() {
  static ThreadPool pool(defaultThreads);
  return pool;
}

void ThreadPool::setDefaultThreads(int threads) { defaultThreads = threads; }

} // namespace ane::runtime
