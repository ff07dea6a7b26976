//===- Generate.cpp - sampling and the generation loop --------------------===//

#include "lib/Runtime/Generate.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <numeric>
#include <set>

namespace ane::runtime {

Sampler::Sampler(SamplerOptions o)
    : options(o), state(o.seed ^ 0x9E3779B97F4A7C15ull) {
  if (state == 0)
    state = 1;
}

float Sampler::uniform() {
  // xorshift64*: the same stream on every platform for a given seed.
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return float((state * 0x2545F4914F6CDD1Dull) >> 40) / float(1 << 24);
}

int32_t Sampler::sample(std::vector<float> logits,
                        const std::vector<int32_t> &history) {
  if (options.repeatPenalty != 1.0f && options.repeatLastN > 0) {
    std::set<int32_t> recent;
    size_t from = history.size() > size_t(options.repeatLastN)
                      ? history.size() - size_t(options.repeatLastN)
                      : 0;
    recent.insert(history.begin() + from, history.end());
    for (int32_t t : recent)
      if (t >= 0 && size_t(t) < logits.size())
        logits[t] = logits[t] > 0 ? logits[t] / options.repeatPenalty
                                  : logits[t] * options.repeatPenalty;
  }
  if (options.temperature <= 0)
    return int32_t(std::max_element(logits.begin(), logits.end()) -
                   logits.begin());
  // Candidates by falling logit; top-k and top-p cut the tail.
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  size_t keep = order.size();
  if (options.topK > 0 && size_t(options.topK) < keep)
    keep = size_t(options.topK);
  std::partial_sort(
      order.begin(), order.begin() + keep, order.end(),
      [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  order.resize(keep);
  std::vector<double> p(keep);
  double top = logits[order[0]], sum = 0;
  for (size_t i = 0; i < keep; ++i)
    sum += p[i] = std::exp((logits[order[i]] - top) / options.temperature);
  if (options.topP < 1.0f) {
    double mass = 0;
    size_t n = 0;
    while (n < keep && mass < options.topP * sum)
      mass += p[n++];
    keep = std::max<size_t>(n, 1);
    sum = std::accumulate(p.begin(), p.begin() + keep, 0.0);
  }
  double r = uniform() * sum;
  for (size_t i = 0; i < keep; ++i) {
    r -= p[i];
    if (r < 0)
      return order[i];
  }
  return order[keep - 1];
}

bool printablePiece(const std::string &piece) {
  if (piece.size() != 1)
    return !piece.empty();
  unsigned char b = piece[0];
  return std::isprint(b) || std::isspace(b);
}

Result<GenerationStats>
generate(const ForwardFn &forward, const model::Tokenizer &tokenizer,
         const std::string &prompt, int64_t newTokens, Sampler &sampler,
         const std::function<void(const std::string &piece)> &emit,
         bool special) {
  using Clock = std::chrono::steady_clock;
  std::vector<int32_t> tokens = tokenizer.encode(prompt, true, false, special);
  if (tokens.empty())
    return Status::error("the prompt encodes to no tokens");
  GenerationStats stats;
  stats.promptTokens = int64_t(tokens.size());
  for (size_t i = 1; i < tokens.size(); ++i) {
    emit(tokenizer.decode(tokens[i - 1], tokens[i]));
  }
  auto start = Clock::now();
  auto logits = forward(tokens, 0);
  stats.promptSeconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  start = Clock::now();
  while (logits.ok() && stats.newTokens < newTokens) {
    int32_t next = sampler.sample(std::move(*logits), tokens);
    if (next == tokenizer.bos() || tokenizer.endsGeneration(next))
      break;
    emit(tokenizer.decode(tokens.back(), next));
    tokens.push_back(next);
    ++stats.newTokens;
    if (stats.newTokens == newTokens)
      break;
    logits = forward({next}, int64_t(tokens.size()) - 1);
    ++stats.decodeSteps;
  }
  stats.decodeSeconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  if (!logits.ok())
    return logits.status();
  return stats;
}

Result<std::string> generateGreedy(const StepFn &step,
                                   const model::Tokenizer &tokenizer,
                                   const std::string &prompt, int64_t steps) {
  ForwardFn oneByOne = [&](const std::vector<int32_t> &tokens, int64_t pos) {
    Result<std::vector<float>> logits = Status::error("no tokens");
    for (size_t i = 0; i < tokens.size(); ++i)
      if (!(logits = step(tokens[i], pos + int64_t(i))).ok())
        break;
    return logits;
  };
  int64_t promptSteps = int64_t(tokenizer.encode(prompt, true, false).size());
  Sampler greedy({});
  std::string text;
  auto stats = generate(oneByOne, tokenizer, prompt, steps - promptSteps + 1,
                        greedy, [&](const std::string &p) {
                          if (printablePiece(p))
                            text += p;
                        });
  if (!stats.ok())
    return stats.status();
  return text + "\n";
}

} // namespace ane::runtime
