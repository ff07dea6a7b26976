//===- ThreadPool.h - persistent workers ------------------------*- C++ -*-===//
//
// Decode runs a few hundred kernel calls per token; creating threads per
// call would cost more than the small ones take. The pool starts its
// workers once; each parallelFor hands out contiguous chunks of grains to
// the threads, the caller included, as they become free. Between calls the
// threads spin for a while before they sleep: a call that had to wake a
// sleeping thread took 20-40 us on a VM, against 1 us spinning.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_THREADPOOL_H
#define ANE_LIB_RUNTIME_THREADPOOL_H

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ane::runtime {

class ThreadPool {
public:
  /// `threads` in all, the caller counted (0: every core).
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int size() const { return int(workers.size()) + 1; }

  /// Calls fn(begin, end) on disjoint ranges covering [0, n), in parallel,
  /// and returns when all are done. Ranges start on multiples of `grain`
  /// and are whole grains except the last. Not reentrant.
  void parallelFor(int64_t n, int64_t grain,
                   const std::function<void(int64_t, int64_t)> &fn);

  /// A process-wide pool sized by setDefaultThreads (default: every core).
  static ThreadPool &global();
  static void setDefaultThreads(int threads);

private:
  void work();
  /// Takes chunks of the current job until none is left.
  void runChunks();
  /// Polls `ready` for up to the spin budget; false if it never held.
  template <typename Ready> bool spinUntil(Ready ready) const;

  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable wake, done;
  // Written by parallelFor before it bumps `generation`.
  const std::function<void(int64_t, int64_t)> *job = nullptr;
  int64_t jobSize = 0, jobGrain = 1, jobChunk = 1; // largest chunk, in grains
  std::atomic<int64_t> nextGrain{0};
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};
  std::atomic<bool> stopping{false};
  bool spin = true; // false with more threads than cores
};

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_THREADPOOL_H
