//===- Scheduler.h - slots, a queue and batched decode ----------*- C++ -*-===//
//
// One thread owns the engine. Requests wait in a bounded queue for one of N
// slots (each with its own K/V cache). A slot's prompt runs through the
// prefill bucket one chunk a step, between the decode steps of the others,
// so a long prompt does not stall their streams; then every busy slot's
// next token runs in one Engine::decodeBatch, so N streams read each
// layer's weights once a step. A memory guard admits a request only while the
// projected memory (the process's base plus each admitted request's K/V bucket)
// stays under the limit; a watchdog ends the requests of a step that runs past
// the step timeout.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_SERVE_SCHEDULER_H
#define ANE_LIB_SERVE_SCHEDULER_H

#include "lib/Model/Tokenizer.h"
#include "lib/Runtime/Engine.h"
#include "lib/Runtime/Generate.h"
#include "lib/Serve/TextStream.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace ane::serve {

/// An OpenAI-style error: HTTP status, type, code and message.
struct ApiError {
  int status = 500;
  std::string type = "server_error";
  std::string code;
  std::string message;
};

enum class Finish { None, Stop, Length, Error, Cancelled };

/// One generation request and what it has produced so far; shared by the
/// HTTP thread that waits on it and the scheduler that fills it.
class Job {
public:
  // What to generate (set before submit).
  std::vector<int32_t> prompt; // BOS included
  int64_t maxTokens = 0;
  runtime::SamplerOptions sampler;
  std::vector<std::string> stops;
  std::vector<int32_t> stopTokens; // ends of turn besides BOS and EOS
  /// The adapter to run with (kernels with a LoRA rank); none: the
  /// scheduler's default.
  std::shared_ptr<const runtime::KernelLora> lora;

  struct Chunk {
    std::string text;
    bool done = false;
  };
  /// Waits up to `wait` for text or the end; takes the text produced since
  /// the last call.
  Chunk next(std::chrono::milliseconds wait);
  /// Waits for the end; all the text.
  std::string all();
  /// Waits up to `wait` for the end; whether it came.
  bool waitDone(std::chrono::milliseconds wait);
  /// The client is gone: the scheduler frees the slot at its next step.
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

  // Valid once done.
  Finish finish() const;
  std::optional<ApiError> error() const;
  int64_t completionTokens() const;

private:
  friend class Scheduler;
  void append(const std::string &text, int64_t tokens);
  void end(Finish f, std::optional<ApiError> e = std::nullopt);
  bool isDone() const;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::string unread;
  bool done = false;
  Finish finish_ = Finish::None;
  std::optional<ApiError> error_;
  int64_t generated = 0;
  std::atomic<bool> cancelled_{false};
};

struct SchedulerOptions {
  int parallel = 1;         // slots
  int queueLimit = 64;      // requests waiting beyond the slots
  uint64_t memoryLimit = 0; // bytes; 0: no guard
  uint64_t baseBytes = 0;   // what the process holds besides K/V caches
  double stepTimeout = 0;   // seconds; 0: none
  /// Test hook: every step sleeps this long (to exercise the watchdog).
  double stepDelay = 0;
  /// The adapter of requests that name none (the engine's at the start).
  std::shared_ptr<const runtime::KernelLora> defaultLora;
};

struct SchedulerMetrics {
  int64_t promptTokens = 0;
  double promptSeconds = 0;
  int64_t generatedTokens = 0;
  double generatedSeconds = 0;
  int64_t processing = 0; // in slots
  int64_t deferred = 0;   // queued
  int64_t slots = 0;
  uint64_t kvBytes = 0;     // held by the slots' caches
  uint64_t kvProjected = 0; // the admitted requests' buckets
  uint64_t memoryLimit = 0;
  double swapSeconds = 0;
  int64_t swaps = 0;
  int64_t stepTimeouts = 0;
  int64_t memoryGuardEvents = 0; // requests held back or refused
  int64_t batchedSteps = 0;      // decodeBatch calls
  int64_t batchedTokens = 0;     // tokens they ran
  int64_t requestsDone = 0, requestsFailed = 0;
  int64_t requestsCancelled = 0; // their clients went away
};

class Scheduler {
public:
  /// `engine` and `tokenizer` must outlive the scheduler.
  Scheduler(runtime::Engine &engine, const model::Tokenizer &tokenizer,
            SchedulerOptions options);
  ~Scheduler();
  Scheduler(const Scheduler &) = delete;
  Scheduler &operator=(const Scheduler &) = delete;

  /// Queues `job`, or says why not (the queue is full, the server is
  /// stopping, or the request could never fit the memory limit).
  std::optional<ApiError> submit(std::shared_ptr<Job> job);
  /// Stops taking requests, lets the running ones finish for up to
  /// `drain`, ends the rest, and stops the threads.
  void shutdown(std::chrono::milliseconds drain);
  SchedulerMetrics metrics() const;
  int64_t maxContext() const { return engine.maxContext(); }

private:
  struct Slot {
    std::shared_ptr<Job> job;
    runtime::KvCache cache;
    std::optional<runtime::Sampler> sampler;
    std::optional<TextStream> stream;
    std::vector<int32_t> history;
    int64_t pos = 0;        // where the next token goes (prompt ones included)
    int32_t next = 0;       // the token to run next
    bool prefilled = false; // the whole prompt is in the cache
    uint64_t projected = 0; // its K/V bucket's bytes
  };

  void loop();
  void watchdog();
  /// Moves queued jobs into free slots while memory allows.
  void admit();
  /// Runs the next chunk of the slot's prompt (the largest seq bucket); the
  /// last one samples the first token.
  void prefillChunk(Slot &slot);
  void decode(std::vector<Slot *> &busy);
  /// Runs one decode step of `group`, whose requests share an adapter.
  void decodeGroup(const std::vector<Slot *> &group);
  /// Gives the engine `job`'s adapter unless it has it already.
  Status useLora(const Job &job);
  /// Marks the step of `jobs` as running now, for the watchdog.
  void beginStep(std::vector<std::shared_ptr<Job>> jobs);
  /// Samples from `logits`, sends the text, and ends the job when done.
  void accept(Slot &slot, std::vector<float> logits);
  void release(Slot &slot, Finish finish,
               std::optional<ApiError> error = std::nullopt);
  uint64_t projectedBytes(const Job &job) const;
  /// What the slots' caches hold (the loop thread's, under `mu`).
  uint64_t heldCacheBytes() const;

  runtime::Engine &engine;
  const model::Tokenizer &tokenizer;
  SchedulerOptions options;

  mutable std::mutex mu;
  std::condition_variable wake;
  std::deque<std::shared_ptr<Job>> queue;
  std::vector<Slot> slots;
  bool stopping = false, stopped = false;
  SchedulerMetrics stats;
  // The step running now, for the watchdog.
  std::chrono::steady_clock::time_point stepStart;
  std::vector<std::shared_ptr<Job>> stepJobs;
  bool stepTimedOut = false;
  const runtime::KernelLora *currentLora = nullptr; // the engine's
  std::thread worker, guard;
};

} // namespace ane::serve

#endif // ANE_LIB_SERVE_SCHEDULER_H
