//===- Lora.cpp - adapters in the kernels' form ---------------------------===//

#include "lib/Runtime/Lora.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace ane::runtime {
namespace {

/// Where output row `o` of a role's weight sits in the kernels: Q and K
/// rows are stored per head in rotate-half order when the set reorders them.
struct RowOrder {
  int64_t headDim = 0; // 0: rows as they are

  int64_t operator()(int64_t o) const {
    if (headDim == 0)
      return o;
    int64_t r = o % headDim;
    return o - r + (r % 2 == 0 ? r / 2 : headDim / 2 + r / 2);
  }
};

RowOrder rowOrder(const abi::KernelSet &set, const std::string &role) {
  if (role != "attn_q" && role != "attn_k")
    return {};
  bool reordered =
      std::any_of(set.slots.begin(), set.slots.end(),
                  [](const abi::SlotSpec &s) { return s.ropeRows > 0; });
  return {reordered ? set.config.headDim : 0};
}

KernelLora zeroLora(const abi::KernelSet &set) {
  KernelLora k;
  k.rank = set.loraRank;
  k.layers.resize(size_t(set.config.nLayers));
  for (auto &layer : k.layers)
    for (const std::string &role : set.loraTargets) {
      auto [in, out] = loraDims(set.config, role);
      LoraMatrices &m = layer[role];
      m.in = in;
      m.out = out;
      m.at.assign(size_t(in * k.rank), 0.0f);
      m.bt.assign(size_t(k.rank * out), 0.0f);
    }
  return k;
}

} // namespace

int64_t KernelLora::parameterCount() const {
  int64_t n = 0;
  for (const auto &layer : layers)
    for (const auto &[role, m] : layer)
      n += int64_t(m.at.size() + m.bt.size());
  return n;
}

std::pair<int64_t, int64_t> loraDims(const model::Config &config,
                                     const std::string &role) {
  std::vector<int64_t> shape =
      model::expectedShape(config, *model::parseRole(role));
  return {shape[1], shape[0]};
}

Result<KernelLora> toKernelLora(const model::LoraAdapter &adapter,
                                double userScale, const abi::KernelSet &set) {
  if (set.loraRank == 0)
    return Status::error(fmt::format(
        "{}: the kernels take no adapters; compile them with a LoRA rank, or "
        "merge the adapter (--lora-merge)",
        adapter.source));
  if (adapter.rank > set.loraRank)
    return Status::error(
        fmt::format("{}: rank {} is above the {} the kernels take",
                    adapter.source, adapter.rank, set.loraRank));
  KernelLora k = zeroLora(set);
  k.scale = adapter.scale(userScale);
  k.alpha = adapter.alpha;
  int64_t r = adapter.rank, kr = k.rank;
  for (const model::LoraPair &p : adapter.pairs) {
    std::string role(model::roleName(p.role));
    auto it = k.layers.at(size_t(p.layer)).find(role);
    if (it == k.layers[size_t(p.layer)].end())
      return Status::error(fmt::format(
          "{}: tensor '{}.lora_a' adapts {}, which the kernels take no "
          "adapter for (they take {})",
          adapter.source, model::ggufTensorName(p.role, p.layer), role,
          fmt::join(set.loraTargets, ", ")));
    LoraMatrices &m = it->second;
    RowOrder order = rowOrder(set, role);
    for (int64_t j = 0; j < r; ++j) {
      for (int64_t i = 0; i < m.in; ++i)
        m.at[size_t(i * kr + j)] = p.a[size_t(j * m.in + i)];
      for (int64_t o = 0; o < m.out; ++o)
        m.bt[size_t(j * m.out + order(o))] = p.b[size_t(o * r + j)];
    }
  }
  return k;
}

model::LoraAdapter toLoraAdapter(const KernelLora &lora,
                                 const abi::KernelSet &set) {
  model::LoraAdapter a;
  a.rank = lora.rank;
  a.alpha = lora.alpha;
  int64_t r = lora.rank;
  for (size_t l = 0; l < lora.layers.size(); ++l)
    for (const auto &[role, m] : lora.layers[l]) {
      model::LoraPair p;
      p.layer = int(l);
      p.role = *model::parseRole(role);
      p.a.resize(size_t(r * m.in));
      p.b.resize(size_t(m.out * r));
      RowOrder order = rowOrder(set, role);
      for (int64_t j = 0; j < r; ++j) {
        for (int64_t i = 0; i < m.in; ++i)
          p.a[size_t(j * m.in + i)] = m.at[size_t(i * r + j)];
        for (int64_t o = 0; o < m.out; ++o)
          p.b[size_t(o * r + j)] = m.bt[size_t(j * m.out + order(o))];
      }
      a.pairs.push_back(std::move(p));
    }
  return a;
}

KernelLora initialLora(const abi::KernelSet &set, float alpha, uint64_t seed) {
  KernelLora k = zeroLora(set);
  k.alpha = alpha;
  k.scale = k.rank > 0 ? alpha / double(k.rank) : 0.0;
  std::mt19937_64 rng(seed);
  for (auto &layer : k.layers)
    for (auto &[role, m] : layer) {
      float bound = 1.0f / std::sqrt(float(m.in));
      std::uniform_real_distribution<float> u(-bound, bound);
      for (float &v : m.at)
        v = u(rng);
    }
  return k;
}

LoraLayers zerosLike(const LoraLayers &lora) {
  LoraLayers z = lora;
  for (auto &layer : z)
    for (auto &[role, m] : layer) {
      std::fill(m.at.begin(), m.at.end(), 0.0f);
      std::fill(m.bt.begin(), m.bt.end(), 0.0f);
    }
  return z;
}

} // namespace ane::runtime
