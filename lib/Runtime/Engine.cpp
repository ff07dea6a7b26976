//===- Engine.cpp - a model's kernels run layer by layer ------------------===//

#include "lib/Runtime/Engine.h"

#include <fmt/format.h>

#include <cmath>

using namespace ane;
using namespace ane::runtime;

namespace {

Result<Executor> bindKernel(const CompiledModel &m, const std::string &kernel,
                            const std::vector<uint8_t> &segment,
                            const std::string &segmentName) {
  auto it = m.kernels.find(kernel);
  if (it == m.kernels.end())
    return Result<Executor>::error(
        fmt::format("the model has no '{}' kernel", kernel));
  auto reader = mil::WeightReader::fromBuffer(segment.data(), segment.size(),
                                              segmentName, nullptr);
  if (!reader.ok())
    return reader.status();
  WeightFiles files;
  files.emplace(mil::kModelWeightPath, *reader);
  return Executor::create(it->second, "main", files);
}

/// cos and sin of pos * θ^(-2p/hd), p < hd/2, as [1, hd/2, 1, 1] tables.
std::pair<Tensor, Tensor> ropeTables(const model::Config &c, mil::DType dtype,
                                     int64_t pos) {
  int64_t half = c.headDim / 2;
  std::vector<float> cosT(half), sinT(half);
  for (int64_t p = 0; p < half; ++p) {
    double a = pos * std::pow(c.ropeTheta, -2.0 * p / c.headDim);
    cosT[p] = float(std::cos(a));
    sinT[p] = float(std::sin(a));
  }
  return {Tensor::floats(dtype, {1, half, 1, 1}, cosT),
          Tensor::floats(dtype, {1, half, 1, 1}, sinT)};
}

/// Writes column `pos` of a [1, C, 1, context] cache from a [1, C, 1, 1]
/// kernel output.
Status writeColumn(Tensor &cache, const Tensor &column, int64_t pos) {
  int64_t channels = cache.shape[1], context = cache.shape[3];
  if (int64_t(column.f.size()) != channels)
    return Status::error(fmt::format("a K/V output of {} values for a cache "
                                     "of {} channels",
                                     column.f.size(), channels));
  for (int64_t ch = 0; ch < channels; ++ch)
    cache.f[ch * context + pos] = column.f[ch];
  return Status::success();
}

} // namespace

Result<Engine> Engine::create(const CompiledModel &m) {
  const model::Config &c = m.config;
  if (int64_t(m.layerSegments.size()) != c.nLayers)
    return Result<Engine>::error(fmt::format(
        "{} layer segments for {} layers", m.layerSegments.size(), c.nLayers));
  if (int64_t(m.embedding.size()) != c.vocabSize * c.dim)
    return Result<Engine>::error("the embedding table is not [vocab, dim]");
  if (m.context <= 0)
    return Result<Engine>::error("the context bucket must be positive");
  Engine e;
  e.model = &m;
  for (int64_t l = 0; l < c.nLayers; ++l) {
    std::map<std::string, Executor> bound;
    for (const char *k : kLayerKernels) {
      auto exec =
          bindKernel(m, k, m.layerSegments[l], fmt::format("layer {}", l));
      if (!exec.ok())
        return Result<Engine>::error(
            fmt::format("{} of layer {}: {}", k, l, exec.message()));
      bound.emplace(k, std::move(*exec));
    }
    e.layers.push_back(std::move(bound));
    e.keys.push_back(Tensor::zeros(m.dtype, {1, c.kvDim(), 1, m.context}));
    e.values.push_back(Tensor::zeros(m.dtype, {1, c.kvDim(), 1, m.context}));
  }
  auto head = bindKernel(m, kHeadKernel, m.globalSegment, "global");
  if (!head.ok())
    return Result<Engine>::error("lm_head: " + head.message());
  e.head.push_back(std::move(*head));
  return e;
}

Result<std::vector<Tensor>> Engine::run(Executor &kernel,
                                        std::map<std::string, Tensor> inputs) {
  std::vector<Tensor> ordered;
  for (const mil::Param &p : kernel.function().params) {
    auto it = inputs.find(p.name);
    if (it == inputs.end())
      return Result<std::vector<Tensor>>::error(
          fmt::format("no value for kernel input '{}'", p.name));
    ordered.push_back(std::move(it->second));
  }
  auto outs = kernel.run(ordered);
  if (outs.ok() &&
      (outs->empty() || outs->size() != kernel.function().outputs.size()))
    return Result<std::vector<Tensor>>::error("wrong number of outputs");
  return outs;
}

Result<std::vector<float>> Engine::decode(int32_t token, int64_t pos) {
  const model::Config &c = model->config;
  if (token < 0 || token >= c.vocabSize)
    return Result<std::vector<float>>::error(
        fmt::format("token {} is outside the vocabulary", token));
  if (pos < 0 || pos >= model->context)
    return Result<std::vector<float>>::error(fmt::format(
        "position {} is outside the context bucket {}", pos, model->context));
  mil::DType dt = model->dtype;
  Tensor x = Tensor::floats(
      dt, {1, c.dim, 1, 1},
      std::vector<float>(model->embedding.begin() + token * c.dim,
                         model->embedding.begin() + (token + 1) * c.dim));
  auto [cosT, sinT] = ropeTables(c, dt, pos);
  std::vector<float> maskValues(model->context, -1e4f);
  for (int64_t t = 0; t <= pos; ++t)
    maskValues[t] = 0.0f;
  Tensor mask = Tensor::floats(dt, {1, 1, 1, model->context}, maskValues);
  auto fail = [](const char *kernel, size_t layer, const Status &s) {
    return Result<std::vector<float>>::error(
        fmt::format("{} of layer {}: {}", kernel, layer, s.message()));
  };
  for (size_t l = 0; l < layers.size(); ++l) {
    auto &k = layers[l];
    auto qkv = run(k.at("attn_qkv"),
                   {{"x", x}, {"rope_cos", cosT}, {"rope_sin", sinT}});
    if (!qkv.ok())
      return fail("attn_qkv", l, qkv.status());
    if (qkv->size() != 3)
      return fail("attn_qkv", l, Status::error("expected outputs q, k, v"));
    Status kv = writeColumn(keys[l], (*qkv)[1], pos);
    if (kv.ok())
      kv = writeColumn(values[l], (*qkv)[2], pos);
    if (!kv.ok())
      return fail("attn_qkv", l, kv);
    auto attn = run(k.at("attn_core"), {{"q", (*qkv)[0]},
                                        {"k_cache", keys[l]},
                                        {"v_cache", values[l]},
                                        {"mask", mask}});
    if (!attn.ok())
      return fail("attn_core", l, attn.status());
    auto out = run(k.at("attn_out"), {{"attn", (*attn)[0]}, {"x", x}});
    if (!out.ok())
      return fail("attn_out", l, out.status());
    x = (*out)[0];
    auto h = run(k.at("ffn_up"), {{"x", x}});
    if (!h.ok())
      return fail("ffn_up", l, h.status());
    auto down = run(k.at("ffn_down"), {{"h", (*h)[0]}, {"x", x}});
    if (!down.ok())
      return fail("ffn_down", l, down.status());
    x = (*down)[0];
  }
  auto logits = run(head[0], {{"x", x}});
  if (!logits.ok())
    return Result<std::vector<float>>::error("lm_head: " + logits.message());
  return (*logits)[0].f;
}
