//===- Finetune.cpp - LoRA fine-tuning on the engine ----------------------===//

#include "lib/Runtime/Finetune.h"

#include "lib/Model/GGUF.h"
#include "lib/Model/GGUFWriter.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstring>

namespace ane::runtime {
namespace {

/// SplitMix64: a well-mixed 64-bit hash of (seed, step, k).
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

bool sameShape(const LoraLayers &a, const LoraLayers &b) {
  if (a.size() != b.size())
    return false;
  for (size_t l = 0; l < a.size(); ++l) {
    if (a[l].size() != b[l].size())
      return false;
    for (const auto &[role, m] : a[l]) {
      auto it = b[l].find(role);
      if (it == b[l].end() || it->second.at.size() != m.at.size() ||
          it->second.bt.size() != m.bt.size())
        return false;
    }
  }
  return true;
}

/// Calls f(parameter, gradient, m, v) on every A and B array in step.
template <typename F>
void forEachArray(LoraLayers &p, LoraLayers &g, LoraLayers &m, LoraLayers &v,
                  F f) {
  for (size_t l = 0; l < p.size(); ++l)
    for (auto &[role, x] : p[l])
      for (bool isB : {false, true}) {
        auto pick = [&](LoraLayers &s) -> std::vector<float> & {
          LoraMatrices &mm = s[l].at(role);
          return isB ? mm.bt : mm.at;
        };
        f(isB ? x.bt : x.at, pick(g), pick(m), pick(v));
      }
}

std::vector<uint8_t> bytesOf(const std::vector<float> &v) {
  std::vector<uint8_t> b(v.size() * sizeof(float));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

constexpr const char *kStepKey = "training.step";

} // namespace

Result<Finetuner> Finetuner::create(Engine &engine,
                                    std::shared_ptr<KernelLora> lora,
                                    std::vector<int32_t> tokens,
                                    const FinetuneOptions &options,
                                    OptimizerState state) {
  if (options.steps < 1 || options.batch < 1 || options.gradAccum < 1 ||
      options.warmup < 0 || !(options.lr > 0) || options.clip < 0 ||
      options.weightDecay < 0)
    return Status::error("steps, batch and grad-accum must be at least 1, "
                         "the learning rate positive, warmup, clip and "
                         "weight decay not negative");
  int64_t length = engine.trainLength();
  if (int64_t(tokens.size()) < length)
    return Status::error(fmt::format(
        "the training text has {} tokens; one training sequence takes {} "
        "(--ctx {} and the next token)",
        tokens.size(), length, length - 1));
  if (state.m.empty()) {
    state.m = zerosLike(lora->layers);
    state.v = zerosLike(lora->layers);
    state.seed = options.seed;
  }
  if (!sameShape(state.m, lora->layers) || !sameShape(state.v, lora->layers))
    return Status::error("the optimizer state is not shaped like the adapter");
  if (Status s = engine.setLora(lora); !s.ok())
    return s;
  Finetuner f;
  f.engine = &engine;
  f.lora_ = std::move(lora);
  f.tokens = std::move(tokens);
  f.options = options;
  f.options.seed = state.seed; // a resumed run keeps its own
  f.state_ = std::move(state);
  return f;
}

double Finetuner::learningRate(int64_t step) const {
  if (options.warmup > 0 && step <= options.warmup)
    return options.lr * double(step) / double(options.warmup);
  return options.lr;
}

int64_t Finetuner::sequenceStart(int64_t step, int64_t k) const {
  uint64_t span = tokens.size() - uint64_t(engine->trainLength()) + 1;
  uint64_t h = mix(mix(mix(options.seed) ^ uint64_t(step)) ^ uint64_t(k));
  return int64_t(h % span);
}

Result<StepReport> Finetuner::step() {
  auto start = std::chrono::steady_clock::now();
  StepReport r;
  r.step = state_.step + 1;
  int64_t length = engine->trainLength();
  int64_t sequences = options.batch * options.gradAccum;
  LoraLayers grads = zerosLike(lora_->layers);
  for (int64_t k = 0; k < sequences; ++k) {
    auto first = tokens.begin() + sequenceStart(r.step, k);
    std::vector<int32_t> seq(first, first + length);
    auto loss = engine->trainSequence(seq, &grads);
    if (!loss.ok())
      return loss.status();
    r.loss += *loss / double(sequences);
    r.tokens += length - 1;
  }
  double squares = 0;
  forEachArray(lora_->layers, grads, state_.m, state_.v,
               [&](auto &, std::vector<float> &g, auto &, auto &) {
                 for (float &x : g) {
                   x /= float(sequences);
                   squares += double(x) * x;
                 }
               });
  r.gradNorm = std::sqrt(squares);
  double clip = options.clip > 0 && r.gradNorm > options.clip
                    ? options.clip / r.gradNorm
                    : 1.0;
  r.lr = learningRate(r.step);
  double c1 = 1 - std::pow(options.beta1, double(r.step));
  double c2 = 1 - std::pow(options.beta2, double(r.step));
  const FinetuneOptions &o = options;
  forEachArray(lora_->layers, grads, state_.m, state_.v,
               [&](std::vector<float> &p, std::vector<float> &g,
                   std::vector<float> &m, std::vector<float> &v) {
                 for (size_t i = 0; i < p.size(); ++i) {
                   double gi = g[i] * clip;
                   m[i] = float(o.beta1 * m[i] + (1 - o.beta1) * gi);
                   v[i] = float(o.beta2 * v[i] + (1 - o.beta2) * gi * gi);
                   double update = (m[i] / c1) / (std::sqrt(v[i] / c2) + o.eps);
                   p[i] = float(p[i] - r.lr * (update + o.weightDecay * p[i]));
                 }
               });
  state_.step = r.step;
  if (Status s = engine->setLora(lora_); !s.ok())
    return s;
  r.seconds = secondsSince(start);
  return r;
}

Result<double> Finetuner::textLoss(int64_t windows) {
  int64_t length = engine->trainLength();
  int64_t span = int64_t(tokens.size()) - length;
  windows = std::max<int64_t>(1, std::min(windows, span / length + 1));
  double total = 0;
  for (int64_t w = 0; w < windows; ++w) {
    int64_t at = windows > 1 ? w * span / (windows - 1) : 0;
    std::vector<int32_t> seq(tokens.begin() + at, tokens.begin() + at + length);
    auto loss = engine->trainSequence(seq, nullptr);
    if (!loss.ok())
      return loss.status();
    total += *loss;
  }
  return total / double(windows);
}

Status writeCheckpoint(const std::string &path, const KernelLora &lora,
                       const OptimizerState &state, const abi::KernelSet &set) {
  model::GGUFWriter w;
  w.str("general.type", "ane-lora-optimizer-state");
  w.u64(kStepKey, uint64_t(state.step));
  w.u64("training.seed", state.seed);
  uint32_t f32 = model::ggmlCodeFor(model::TensorType::F32);
  for (size_t l = 0; l < state.m.size(); ++l)
    for (const auto &[role, m] : state.m[l]) {
      const LoraMatrices &v = state.v[l].at(role);
      std::string base = fmt::format("blk.{}.{}.", l, role);
      w.tensor(base + "m_a", {m.at.size()}, f32, bytesOf(m.at));
      w.tensor(base + "m_b", {m.bt.size()}, f32, bytesOf(m.bt));
      w.tensor(base + "v_a", {v.at.size()}, f32, bytesOf(v.at));
      w.tensor(base + "v_b", {v.bt.size()}, f32, bytesOf(v.bt));
    }
  // The state first: an adapter never names a step its state has not got.
  if (Status s = w.write(path + ".state"); !s.ok())
    return s;
  model::LoraAdapter adapter = toLoraAdapter(lora, set);
  adapter.trainedSteps = state.step;
  return model::writeLoraAdapter(path, adapter);
}

Result<std::pair<KernelLora, OptimizerState>>
readCheckpoint(const std::string &path, const abi::KernelSet &set) {
  auto adapter = model::readLoraAdapter(path, set.config);
  if (!adapter.ok())
    return adapter.status();
  if (adapter->rank != set.loraRank)
    return Status::error(fmt::format("{}: rank {}; this run trains rank {}",
                                     path, adapter->rank, set.loraRank));
  auto lora = toKernelLora(*adapter, 1.0, set);
  if (!lora.ok())
    return lora.status();
  std::string statePath = path + ".state";
  auto g = model::GGUFFile::open(statePath);
  if (!g.ok())
    return g.status();
  OptimizerState state;
  const model::GGUFValue *step = g->get(kStepKey);
  const model::GGUFValue *seed = g->get("training.seed");
  if (!step || !step->asInt() || *step->asInt() < 0 || !seed ||
      seed->type != model::GGUFType::UInt64)
    return Status::error(statePath + ": training.step or training.seed is "
                                     "missing");
  state.step = *step->asInt();
  state.seed = seed->u;
  if (adapter->trainedSteps != state.step)
    return Status::error(
        fmt::format("{} is at step {}, its optimizer state {} at step {}", path,
                    adapter->trainedSteps, statePath, state.step));
  state.m = zerosLike(lora->layers);
  state.v = zerosLike(lora->layers);
  std::map<std::string, std::vector<float> *> arrays;
  for (size_t l = 0; l < state.m.size(); ++l)
    for (auto &[role, m] : state.m[l]) {
      LoraMatrices &v = state.v[l].at(role);
      std::string base = fmt::format("blk.{}.{}.", l, role);
      arrays[base + "m_a"] = &m.at;
      arrays[base + "m_b"] = &m.bt;
      arrays[base + "v_a"] = &v.at;
      arrays[base + "v_b"] = &v.bt;
    }
  for (const model::GGUFTensor &t : g->tensors) {
    auto it = arrays.find(t.name);
    uint64_t count = t.ne.size() == 1 ? t.ne[0] : 0;
    if (it == arrays.end() ||
        t.ggmlType != model::ggmlCodeFor(model::TensorType::F32) ||
        count != it->second->size())
      return Status::error(
          fmt::format("{}: tensor '{}' is not a moment of this adapter",
                      statePath, t.name));
    std::memcpy(it->second->data(), g->file->data() + g->dataOffset + t.offset,
                count * sizeof(float));
    arrays.erase(it);
  }
  if (!arrays.empty())
    return Status::error(fmt::format("{}: tensor '{}' is missing", statePath,
                                     arrays.begin()->first));
  return std::make_pair(std::move(*lora), std::move(state));
}

} // namespace ane::runtime
