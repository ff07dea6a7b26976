//===- Scheduler.cpp - slots, a queue and batched decode ------------------===//

#include "lib/Serve/Scheduler.h"

#include <fmt/format.h>

#include <algorithm>

namespace ane::serve {

using Clock = std::chrono::steady_clock;

namespace {

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string gib(uint64_t bytes) {
  return fmt::format("{:.2f} GiB", double(bytes) / double(1ull << 30));
}

} // namespace

// -- Job ---------------------------------------------------------------------

Job::Chunk Job::next(std::chrono::milliseconds wait) {
  std::unique_lock lk(mu);
  cv.wait_for(lk, wait, [&] { return done || !unread.empty(); });
  Chunk c{std::move(unread), done};
  unread.clear();
  return c;
}

std::string Job::all() {
  std::unique_lock lk(mu);
  cv.wait(lk, [&] { return done; });
  std::string text = std::move(unread);
  unread.clear();
  return text;
}

bool Job::waitDone(std::chrono::milliseconds wait) {
  std::unique_lock lk(mu);
  return cv.wait_for(lk, wait, [&] { return done; });
}

Finish Job::finish() const {
  std::lock_guard lk(mu);
  return finish_;
}

std::optional<ApiError> Job::error() const {
  std::lock_guard lk(mu);
  return error_;
}

int64_t Job::completionTokens() const {
  std::lock_guard lk(mu);
  return generated;
}

void Job::append(const std::string &text, int64_t tokens) {
  {
    std::lock_guard lk(mu);
    if (done)
      return;
    unread += text;
    generated += tokens;
  }
  cv.notify_all();
}

void Job::end(Finish f, std::optional<ApiError> e) {
  {
    std::lock_guard lk(mu);
    if (done)
      return;
    done = true;
    finish_ = f;
    error_ = std::move(e);
  }
  cv.notify_all();
}

bool Job::isDone() const {
  std::lock_guard lk(mu);
  return done;
}

// -- Scheduler ---------------------------------------------------------------

Scheduler::Scheduler(runtime::Engine &e, const model::Tokenizer &t,
                     SchedulerOptions o)
    : engine(e), tokenizer(t), options(o),
      slots(size_t(std::max(1, o.parallel))) {
  stats.slots = int64_t(slots.size());
  stats.memoryLimit = options.memoryLimit;
  currentLora = engine.lora();
  worker = std::thread([this] { loop(); });
  guard = std::thread([this] { watchdog(); });
}

Scheduler::~Scheduler() { shutdown(std::chrono::milliseconds(0)); }

uint64_t Scheduler::projectedBytes(const Job &job) const {
  int64_t positions = std::min<int64_t>(
      int64_t(job.prompt.size()) + job.maxTokens, engine.maxContext());
  // Besides the cache: logits and sampler copies, the batch's activations.
  uint64_t scratch = (1ull << 20) + 16 * uint64_t(tokenizer.size());
  return engine.cacheBytes(positions) + scratch;
}

std::optional<ApiError> Scheduler::submit(std::shared_ptr<Job> job) {
  std::lock_guard lk(mu);
  if (stopping)
    return ApiError{503, "server_error", "shutting_down",
                    "the server is shutting down"};
  uint64_t need = projectedBytes(*job);
  if (options.memoryLimit && options.baseBytes + need > options.memoryLimit) {
    stats.memoryGuardEvents += 1;
    return ApiError{
        503, "server_error", "insufficient_memory",
        fmt::format("the request needs {} for its K/V cache besides the {} "
                    "the model holds; the memory limit is {}",
                    gib(need), gib(options.baseBytes),
                    gib(options.memoryLimit))};
  }
  if (int64_t(queue.size()) >= options.queueLimit)
    return ApiError{429, "rate_limit_exceeded", "queue_full",
                    fmt::format("all {} slots are busy and {} requests wait; "
                                "try again later",
                                slots.size(), queue.size())};
  queue.push_back(std::move(job));
  stats.deferred = int64_t(queue.size());
  wake.notify_all();
  return std::nullopt;
}

void Scheduler::admit() {
  uint64_t inUse = 0;
  for (const Slot &s : slots)
    if (s.job)
      inUse += s.projected;
  while (!queue.empty()) {
    std::shared_ptr<Job> job = queue.front();
    if (job->cancelled() || job->isDone()) {
      stats.requestsCancelled += 1;
      job->end(Finish::Cancelled);
      queue.pop_front();
      continue;
    }
    auto free = std::find_if(slots.begin(), slots.end(),
                             [](const Slot &s) { return !s.job; });
    if (free == slots.end())
      break;
    uint64_t need = projectedBytes(*job);
    if (options.memoryLimit &&
        options.baseBytes + inUse + need > options.memoryLimit) {
      stats.memoryGuardEvents += 1;
      break; // waits for a slot's memory to come back
    }
    inUse += need;
    free->job = job;
    free->projected = need;
    free->sampler.emplace(job->sampler);
    free->stream.emplace(job->stops);
    free->history = job->prompt;
    free->pos = 0;
    free->prefilled = false;
    queue.pop_front();
  }
  stats.deferred = int64_t(queue.size());
  stats.kvProjected = inUse;
  stats.processing = std::count_if(slots.begin(), slots.end(),
                                   [](const Slot &s) { return bool(s.job); });
}

void Scheduler::loop() {
  for (;;) {
    std::vector<Slot *> fresh, busy;
    {
      std::unique_lock lk(mu);
      auto anyBusy = [&] {
        return std::any_of(slots.begin(), slots.end(),
                           [](const Slot &s) { return bool(s.job); });
      };
      wake.wait(lk, [&] { return stopped || !queue.empty() || anyBusy(); });
      if (stopped && !anyBusy())
        return;
      admit();
      for (Slot &s : slots)
        if (s.job)
          (s.prefilled ? busy : fresh).push_back(&s);
      if (fresh.empty() && busy.empty()) {
        wake.wait_for(lk, std::chrono::milliseconds(20));
        continue;
      }
    }
    for (Slot *s : fresh)
      prefillChunk(*s);
    decode(busy);
  }
}

void Scheduler::watchdog() {
  for (;;) {
    std::unique_lock lk(mu);
    if (wake.wait_for(lk, std::chrono::milliseconds(20),
                      [&] { return stopped; }))
      return;
    if (options.stepTimeout <= 0 || stepJobs.empty() || stepTimedOut ||
        secondsSince(stepStart) <= options.stepTimeout)
      continue;
    stepTimedOut = true;
    stats.stepTimeouts += 1;
    for (const auto &job : stepJobs)
      job->end(Finish::Error,
               ApiError{500, "server_error", "step_timeout",
                        fmt::format("a decode step ran past the step timeout "
                                    "of {} s; the request was ended",
                                    options.stepTimeout)});
  }
}

void Scheduler::beginStep(std::vector<std::shared_ptr<Job>> jobs) {
  {
    std::lock_guard lk(mu);
    stepStart = Clock::now();
    stepJobs = std::move(jobs);
    stepTimedOut = false;
  }
  if (options.stepDelay > 0)
    std::this_thread::sleep_for(
        std::chrono::duration<double>(options.stepDelay));
}

void Scheduler::prefillChunk(Slot &slot) {
  const Job &job = *slot.job;
  if (job.isDone() || job.cancelled())
    return release(slot, Finish::Cancelled);
  beginStep({slot.job});
  auto start = Clock::now();
  int64_t left = int64_t(job.prompt.size()) - slot.pos;
  int64_t n = std::min(left, engine.prefillChunk());
  std::vector<int32_t> chunk(job.prompt.begin() + slot.pos,
                             job.prompt.begin() + slot.pos + n);
  bool last = n == left;
  Status ran = useLora(job);
  std::vector<float> logits;
  if (ran.ok() && !last)
    ran = engine.fill(slot.cache, chunk, slot.pos);
  else if (ran.ok()) {
    auto out = engine.forward(slot.cache, chunk, slot.pos);
    ran = out.status();
    if (out.ok())
      logits = std::move(*out);
  }
  double seconds = secondsSince(start);
  {
    std::lock_guard lk(mu);
    stepJobs.clear();
    stats.promptTokens += n;
    stats.promptSeconds += seconds;
    stats.kvBytes = heldCacheBytes();
  }
  if (!ran.ok())
    return release(slot, Finish::Error,
                   ApiError{500, "server_error", "", ran.message()});
  slot.pos += n;
  if (!last)
    return;
  slot.prefilled = true;
  accept(slot, std::move(logits));
}

Status Scheduler::useLora(const Job &job) {
  const auto &lora = job.lora ? job.lora : options.defaultLora;
  if (lora.get() == currentLora)
    return Status::success();
  if (Status s = engine.setLora(lora); !s.ok())
    return s;
  currentLora = lora.get();
  return Status::success();
}

void Scheduler::decode(std::vector<Slot *> &busy) {
  // Requests with the same adapter decode together; the engine takes one
  // adapter a step.
  std::vector<std::vector<Slot *>> groups;
  std::vector<const runtime::KernelLora *> keys;
  for (Slot *s : busy) {
    if (!s->job)
      continue; // ended at its prefill
    if (s->job->isDone() || s->job->cancelled()) {
      release(*s, Finish::Cancelled);
      continue;
    }
    const runtime::KernelLora *key =
        s->job->lora ? s->job->lora.get() : options.defaultLora.get();
    size_t g = std::find(keys.begin(), keys.end(), key) - keys.begin();
    if (g == keys.size()) {
      keys.push_back(key);
      groups.emplace_back();
    }
    groups[g].push_back(s);
  }
  for (const auto &group : groups)
    decodeGroup(group);
}

void Scheduler::decodeGroup(const std::vector<Slot *> &live) {
  std::vector<runtime::Engine::BatchStep> steps;
  std::vector<std::shared_ptr<Job>> jobs;
  for (Slot *s : live) {
    steps.push_back({&s->cache, s->next, s->pos});
    jobs.push_back(s->job);
  }
  beginStep(std::move(jobs));
  auto start = Clock::now();
  Status adapter = useLora(*live[0]->job);
  auto logits = adapter.ok() ? engine.decodeBatch(steps)
                             : Result<std::vector<std::vector<float>>>(adapter);
  double seconds = secondsSince(start);
  {
    std::lock_guard lk(mu);
    stepJobs.clear();
    stats.generatedSeconds += seconds;
    stats.batchedSteps += 1;
    stats.batchedTokens += int64_t(steps.size());
    stats.swaps = engine.stats().swaps;
    stats.swapSeconds = engine.stats().swapSeconds;
    stats.kvBytes = heldCacheBytes();
  }
  for (size_t i = 0; i < live.size(); ++i) {
    if (!logits.ok()) {
      release(*live[i], Finish::Error,
              ApiError{500, "server_error", "", logits.message()});
      continue;
    }
    live[i]->pos += 1;
    accept(*live[i], std::move((*logits)[i]));
  }
}

void Scheduler::accept(Slot &slot, std::vector<float> logits) {
  Job &job = *slot.job;
  if (job.isDone() || job.cancelled())
    return release(slot, Finish::Cancelled);
  int32_t t = slot.sampler->sample(std::move(logits), slot.history);
  if (t == tokenizer.bos() || tokenizer.endsGeneration(t) ||
      std::find(job.stopTokens.begin(), job.stopTokens.end(), t) !=
          job.stopTokens.end())
    return release(slot, Finish::Stop);
  std::string piece = tokenizer.decode(slot.history.back(), t);
  slot.history.push_back(t);
  job.append(slot.stream->push(piece), 1);
  {
    std::lock_guard lk(mu);
    stats.generatedTokens += 1;
  }
  if (slot.stream->stopped())
    return release(slot, Finish::Stop);
  if (job.completionTokens() >= job.maxTokens ||
      slot.pos >= engine.maxContext())
    return release(slot, Finish::Length);
  slot.next = t;
}

void Scheduler::release(Slot &slot, Finish finish,
                        std::optional<ApiError> error) {
  std::shared_ptr<Job> job = slot.job;
  if (slot.stream && finish != Finish::Error)
    job->append(slot.stream->finish(), 0);
  bool failed = finish == Finish::Error || job->error().has_value();
  slot.cache.clear();
  slot.stream.reset();
  slot.sampler.reset();
  slot.history.clear();
  {
    std::lock_guard lk(mu);
    slot.job.reset();
    slot.projected = 0;
    (failed ? stats.requestsFailed : stats.requestsDone) += 1;
    if (finish == Finish::Cancelled)
      stats.requestsCancelled += 1;
    stats.kvBytes = heldCacheBytes();
    stats.processing = std::count_if(slots.begin(), slots.end(),
                                     [](const Slot &s) { return bool(s.job); });
  }
  // Last, so that whoever waits on the job sees the counts include it.
  job->end(finish, std::move(error));
  wake.notify_all();
}

uint64_t Scheduler::heldCacheBytes() const {
  uint64_t total = 0;
  for (const Slot &s : slots)
    total += s.cache.bytes();
  return total;
}

SchedulerMetrics Scheduler::metrics() const {
  std::lock_guard lk(mu);
  return stats;
}

void Scheduler::shutdown(std::chrono::milliseconds drain) {
  std::unique_lock lk(mu);
  if (stopped && !worker.joinable())
    return;
  stopping = true;
  auto idle = [&] {
    return queue.empty() &&
           std::none_of(slots.begin(), slots.end(),
                        [](const Slot &s) { return bool(s.job); });
  };
  wake.wait_for(lk, drain, idle);
  for (auto &job : queue)
    job->end(Finish::Error, ApiError{503, "server_error", "shutting_down",
                                     "the server is shutting down"});
  queue.clear();
  for (Slot &s : slots)
    if (s.job)
      s.job->cancel();
  stopped = true;
  wake.notify_all();
  lk.unlock();
  if (worker.joinable())
    worker.join();
  if (guard.joinable())
    guard.join();
}

} // namespace ane::serve
