//===- Training.cpp - adapters and the backward pass of the engine --------===//
//
// A kernel set compiled with a LoRA rank takes every adapted projection's
// A^T and scaled B^T as inputs, and its backward kernels return their
// gradients. The engine keeps those inputs per layer, and trainSequence
// runs one sequence forward (keeping what the backward kernels read), the
// cross-entropy on the host, and the backward kernels layer by layer in
// reverse with the same weight swapping as inference.
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Engine.h"
#include "lib/Runtime/EngineTables.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

using namespace ane;
using namespace ane::runtime;

namespace {

TensorRef share(Tensor t) {
  return std::make_shared<const Tensor>(std::move(t));
}

/// a + b, elementwise, in a's type.
Tensor sum(const Tensor &a, const Tensor &b) {
  Tensor x = a.owned(), y = b.owned();
  for (size_t i = 0; i < x.f.size(); ++i)
    x.f[i] += y.f[i];
  return Tensor::floats(x.dtype, x.shape, std::move(x.f));
}

/// The first `n` columns of a [1, C, 1, S] tensor.
Tensor firstColumns(const Tensor &t, int64_t n) {
  Tensor x = t.owned();
  int64_t channels = x.shape[1], columns = x.shape[3];
  std::vector<float> v(size_t(channels * n));
  for (int64_t ch = 0; ch < channels; ++ch)
    std::copy_n(x.f.begin() + ch * columns, n, v.begin() + ch * n);
  return Tensor::floats(x.dtype, {1, channels, 1, n}, std::move(v));
}

/// Mean cross-entropy of the logits [1, V, 1, n] at column i against
/// tokens[i + 1], and its gradient with respect to the logits.
double crossEntropy(const Tensor &logits, const std::vector<int32_t> &tokens,
                    std::vector<float> &grad) {
  Tensor l = logits.owned();
  int64_t vocab = l.shape[1], n = l.shape[3];
  grad.assign(size_t(vocab * n), 0.0f);
  double loss = 0;
  for (int64_t i = 0; i < n; ++i) {
    double mx = -INFINITY;
    for (int64_t v = 0; v < vocab; ++v)
      mx = std::max(mx, double(l.f[size_t(v * n + i)]));
    double total = 0;
    for (int64_t v = 0; v < vocab; ++v)
      total += std::exp(double(l.f[size_t(v * n + i)]) - mx);
    int32_t target = tokens[size_t(i + 1)];
    loss += mx + std::log(total) - double(l.f[size_t(target * n + i)]);
    for (int64_t v = 0; v < vocab; ++v) {
      double p = std::exp(double(l.f[size_t(v * n + i)]) - mx) / total;
      grad[size_t(v * n + i)] = float((p - (v == target)) / double(n));
    }
  }
  return loss / double(n);
}

} // namespace

Status Engine::setLora(std::shared_ptr<const KernelLora> lora) {
  const abi::KernelSet &ks = image->kernels;
  const model::Config &c = ks.config;
  if (ks.loraRank == 0)
    return Status::error("the kernels take no adapters: compile them with a "
                         "LoRA rank");
  if (lora &&
      (lora->rank != ks.loraRank || int64_t(lora->layers.size()) != c.nLayers))
    return Status::error(fmt::format(
        "the adapter has rank {} over {} layers; the kernels take rank {} "
        "over {}",
        lora->rank, lora->layers.size(), ks.loraRank, c.nLayers));
  mil::DType dt = abi::toMil(ks.dtype);
  int64_t r = ks.loraRank;
  std::vector<std::map<std::string, TensorRef>> inputs(size_t(c.nLayers));
  for (int64_t l = 0; l < c.nLayers; ++l)
    for (const std::string &role : ks.loraTargets) {
      auto [in, out] = loraDims(c, role);
      std::vector<float> at(size_t(in * r), 0.0f), bt(size_t(r * out), 0.0f);
      if (lora) {
        auto it = lora->layers[size_t(l)].find(role);
        if (it == lora->layers[size_t(l)].end() ||
            it->second.at.size() != at.size() ||
            it->second.bt.size() != bt.size())
          return Status::error(fmt::format(
              "the adapter has no [{}, {}] matrices for {} of layer {}", in,
              out, role, l));
        at = it->second.at;
        for (size_t i = 0; i < bt.size(); ++i)
          bt[i] = float(lora->scale * it->second.bt[i]);
      }
      inputs[size_t(l)][abi::loraInputA(role)] =
          share(Tensor::floats(dt, {1, in, 1, r}, std::move(at)));
      inputs[size_t(l)][abi::loraInputB(role)] =
          share(Tensor::floats(dt, {1, r, 1, out}, std::move(bt)));
    }
  loraInputs = std::move(inputs);
  lora_ = std::move(lora);
  return Status::success();
}

Result<double> Engine::trainSequence(const std::vector<int32_t> &tokens,
                                     LoraLayers *grads) {
  const abi::KernelSet &ks = image->kernels;
  const model::Config &c = ks.config;
  int64_t n = int64_t(tokens.size()) - 1;
  if (!lora_)
    return Status::error("no adapter to train: the engine has none set");
  if (n != seqBuckets.back())
    return Status::error(fmt::format(
        "a training sequence is {} tokens (the largest seq bucket and the "
        "next token), not {}",
        trainLength(), tokens.size()));
  if (grads && int64_t(grads->size()) != c.nLayers)
    return Status::error("the gradients are not shaped like the adapter");
  for (int32_t t : tokens)
    if (t < 0 || t >= c.vocabSize)
      return Status::error(
          fmt::format("token {} is outside the vocabulary", t));
  std::vector<Saved> saved;
  auto last = runChunk(ownCache, tokens, 0, n, 0, &saved);
  if (!last.ok())
    return last.status();
  TensorRef x = share(std::move(*last));

  auto find = [&](abi::Kernel k, int64_t ctx) { return kernel(k, n, ctx); };
  auto head = find(abi::Kernel::LmHead, 0);
  auto headBwd = find(abi::Kernel::LmHeadBwd, 0);
  auto downBwd = find(abi::Kernel::FfnDownBwd, 0);
  auto upBwd = find(abi::Kernel::FfnUpBwd, 0);
  auto coreBwd = find(abi::Kernel::AttnCoreBwd, ownCache.columns_);
  auto qkvBwd = find(abi::Kernel::AttnQkvBwd, 0);
  for (auto *k : {&head, &headBwd, &downBwd, &upBwd, &coreBwd, &qkvBwd})
    if (!k->ok())
      return Status::error("training needs the backward kernels: " +
                           k->message());
  // The outputs read below by name (runNamed returns every output).
  std::pair<LoadedKernel *, std::vector<const char *>> reads[] = {
      {*head, {"logits"}},
      {*headBwd, {"d_x"}},
      {*downBwd, {"d_h"}},
      {*upBwd, {"d_x"}},
      {*coreBwd, {"d_q", "d_k_cache", "d_v_cache"}},
      {*qkvBwd, {"d_x"}}};
  for (auto &[k, names] : reads)
    for (const char *name : names)
      if (std::none_of(
              k->desc->outputs.begin(), k->desc->outputs.end(),
              [&](const abi::TensorDesc &o) { return o.name == name; }))
        return Status::error(
            fmt::format("kernel '{}' returns no '{}'", k->desc->name(), name));
  // One call of a kernel of layer `l` (-1: the global weights), with the
  // adapter gradients it returns added to `grads`.
  auto call = [&](LoadedKernel &k, int64_t l,
                  const Named &in) -> Result<std::map<std::string, Tensor>> {
    auto out = runNamed(k, l, in);
    if (!out.ok())
      return Status::error(
          fmt::format("{} of layer {}: {}", k.desc->name(), l, out.message()));
    for (auto &[name, t] : *out) {
      auto lora = abi::parseLoraName(name);
      if (!lora || name.rfind("d_", 0) != 0 || l < 0)
        continue;
      auto it = (*grads)[size_t(l)].find(lora->first);
      if (it == (*grads)[size_t(l)].end())
        return Status::error(
            fmt::format("no gradient slot for {} of layer {}", lora->first, l));
      std::vector<float> &g = lora->second ? it->second.bt : it->second.at;
      Tensor v = t.owned();
      if (v.f.size() != g.size())
        return Status::error(fmt::format("{} of layer {} has {} values, not {}",
                                         name, l, v.f.size(), g.size()));
      // The kernels take scale x B: dL/dB = scale x dL/d(scale B).
      double f = lora->second ? lora_->scale : 1.0;
      for (size_t i = 0; i < g.size(); ++i)
        g[i] += float(f * v.f[i]);
    }
    return out;
  };

  auto logits = call(**head, -1, {{"x", x}});
  if (!logits.ok())
    return logits.status();
  std::vector<float> dLogits;
  double loss = crossEntropy(logits->at("logits"), tokens, dLogits);
  if (!grads)
    return loss;
  mil::DType dt = abi::toMil(ks.dtype);
  auto dHead =
      call(**headBwd, -1,
           {{"x", x},
            {"d_logits", share(Tensor::floats(dt, {1, c.vocabSize, 1, n},
                                              std::move(dLogits)))}});
  if (!dHead.ok())
    return dHead.status();
  TensorRef dx = share(std::move(dHead->at("d_x")));
  auto [cosTable, sinTable] = ropeTables(c, dt, 0, n);
  TensorRef cosT = share(std::move(cosTable)),
            sinT = share(std::move(sinTable));
  TensorRef mask = share(causalMask(dt, 0, n, ownCache.columns_));
  for (int64_t l = c.nLayers - 1; l >= 0; --l) {
    const Saved &s = saved[size_t(l)];
    auto down = call(**downBwd, l, {{"h", s.h}, {"d_x_out", dx}});
    if (!down.ok())
      return down.status();
    auto up = call(**upBwd, l, {{"x", s.mid}, {"d_h", share(down->at("d_h"))}});
    if (!up.ok())
      return up.status();
    // The residual: x_out = mid + ffn(mid).
    TensorRef dMid = share(sum(*dx, up->at("d_x")));
    auto core = call(**coreBwd, l,
                     {{"q", s.q},
                      {"k_cache", ownCache.keys[size_t(l)]},
                      {"v_cache", ownCache.values[size_t(l)]},
                      {"mask", mask},
                      {"d_x_out", dMid}});
    if (!core.ok())
      return core.status();
    // This sequence's keys and values are cache columns 0..n-1.
    auto qkv = call(**qkvBwd, l,
                    {{"x", s.x},
                     {"rope_cos", cosT},
                     {"rope_sin", sinT},
                     {"d_q", share(core->at("d_q"))},
                     {"d_k", share(firstColumns(core->at("d_k_cache"), n))},
                     {"d_v", share(firstColumns(core->at("d_v_cache"), n))}});
    if (!qkv.ok())
      return qkv.status();
    dx = share(sum(*dMid, qkv->at("d_x")));
  }
  return loss;
}
