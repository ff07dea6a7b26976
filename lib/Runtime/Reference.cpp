//===- Reference.cpp - plain fp32 Llama forward pass ----------------------===//

#include "lib/Runtime/Reference.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

using namespace ane;
using namespace ane::runtime;
using model::Role;

namespace {

Result<std::vector<float>> tensorOf(const model::ModelSpec &spec, Role role,
                                    int layer) {
  const model::TensorInfo *t = spec.find(role, layer);
  if (!t)
    return Result<std::vector<float>>::error(
        fmt::format("{}: no tensor {} for layer {}", spec.source,
                    model::roleName(role), layer));
  auto data = spec.load(*t);
  if (!data.ok())
    return data.status();
  return data->toFloat();
}

void rmsNorm(float *out, const float *x, const std::vector<float> &w, int64_t n,
             double eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i)
    ss += double(x[i]) * x[i];
  float r = float(1.0 / std::sqrt(ss / n + eps));
  for (int64_t i = 0; i < n; ++i)
    out[i] = w[i] * (r * x[i]);
}

/// out[rows] = W[rows, cols] x[cols]
void matVec(float *out, const std::vector<float> &w, const float *x,
            int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = w.data() + r * cols;
    float acc = 0;
    for (int64_t c = 0; c < cols; ++c)
      acc += row[c] * x[c];
    out[r] = acc;
  }
}

void addBias(float *v, const std::vector<float> &bias) {
  for (size_t i = 0; i < bias.size(); ++i)
    v[i] += bias[i];
}

/// Rotates the interleaved pairs (2p, 2p+1) of every head by pos * θ_p.
void rope(float *v, int64_t width, const model::Config &c, int64_t pos) {
  int64_t hd = c.headDim;
  for (int64_t i = 0; i < width; i += 2) {
    double a = double(pos) * c.ropeFrequency((i % hd) / 2);
    float c = float(std::cos(a)), s = float(std::sin(a));
    float v0 = v[i], v1 = v[i + 1];
    v[i] = v0 * c - v1 * s;
    v[i + 1] = v0 * s + v1 * c;
  }
}

void softmax(float *x, int64_t n) {
  float mx = *std::max_element(x, x + n);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  for (int64_t i = 0; i < n; ++i)
    x[i] /= sum;
}

} // namespace

Status ReferenceModel::loadWeights(int layer, Layer &L) const {
  std::pair<std::vector<float> *, Role> roles[] = {
      {&L.attnNorm, Role::AttnNorm}, {&L.wq, Role::AttnQ},
      {&L.wk, Role::AttnK},          {&L.wv, Role::AttnV},
      {&L.wo, Role::AttnOut},        {&L.ffnNorm, Role::FfnNorm},
      {&L.gate, Role::FfnGate},      {&L.up, Role::FfnUp},
      {&L.down, Role::FfnDown}};
  for (auto &[into, role] : roles) {
    auto t = tensorOf(*spec, role, layer);
    if (!t.ok())
      return t.status();
    *into = std::move(*t);
  }
  if (!spec->config.qkvBias)
    return Status::success();
  std::pair<std::vector<float> *, Role> biases[] = {{&L.bq, Role::AttnQBias},
                                                    {&L.bk, Role::AttnKBias},
                                                    {&L.bv, Role::AttnVBias}};
  for (auto &[into, role] : biases) {
    auto t = tensorOf(*spec, role, layer);
    if (!t.ok())
      return t.status();
    *into = std::move(*t);
  }
  return Status::success();
}

Result<ReferenceModel> ReferenceModel::load(const model::ModelSpec &spec,
                                            int64_t context, bool streaming) {
  ReferenceModel m;
  m.config_ = spec.config;
  m.spec = &spec;
  m.streaming = streaming;
  if (Status s = m.config_.validate(); !s.ok())
    return s;
  if (context < 0 || context > (int64_t(1) << 24))
    return Result<ReferenceModel>::error(
        fmt::format("context {} is out of range", context));
  m.context = context ? context : m.config_.maxSeqLen;
  auto take = [&](std::vector<float> &into, Role role, int layer) -> Status {
    auto t = tensorOf(spec, role, layer);
    if (!t.ok())
      return t.status();
    into = std::move(*t);
    return Status::success();
  };
  Status s = take(m.embedding, Role::TokenEmbd, -1);
  if (s.ok())
    s = take(m.outputNorm, Role::OutputNorm, -1);
  if (s.ok())
    s = take(m.output, Role::Output, -1);
  const model::Config &c = m.config_;
  m.layers.resize(c.nLayers);
  for (int l = 0; s.ok() && l < c.nLayers; ++l) {
    Layer &L = m.layers[l];
    if (!streaming)
      s = m.loadWeights(l, L);
    L.keys.assign(m.context * c.kvDim(), 0.0f);
    L.values.assign(m.context * c.kvDim(), 0.0f);
  }
  if (!s.ok())
    return s;
  return m;
}

Result<std::vector<float>> ReferenceModel::forward(int32_t token, int64_t pos) {
  const model::Config &c = config_;
  if (token < 0 || token >= c.vocabSize)
    return Result<std::vector<float>>::error(fmt::format(
        "token {} is outside the vocabulary of {}", token, c.vocabSize));
  if (pos < 0 || pos >= context)
    return Result<std::vector<float>>::error(
        fmt::format("position {} is outside the context of {}", pos, context));
  int64_t d = c.dim, hd = c.headDim, kvd = c.kvDim(), qd = c.nHeads * hd;
  int64_t group = c.nHeads / c.nKvHeads;
  std::vector<float> x(embedding.begin() + token * d,
                       embedding.begin() + (token + 1) * d);
  std::vector<float> xb(std::max(d, qd)), q(qd), att(pos + 1), h1(c.hiddenDim),
      h3(c.hiddenDim), out(std::max(d, qd));
  for (size_t l = 0; l < layers.size(); ++l) {
    Layer &L = layers[l];
    if (streaming)
      if (Status s = loadWeights(int(l), scratch); !s.ok())
        return s;
    const Layer &W = streaming ? scratch : L;
    rmsNorm(xb.data(), x.data(), W.attnNorm, d, c.normEps);
    float *k = L.keys.data() + pos * kvd, *v = L.values.data() + pos * kvd;
    matVec(q.data(), W.wq, xb.data(), qd, d);
    matVec(k, W.wk, xb.data(), kvd, d);
    matVec(v, W.wv, xb.data(), kvd, d);
    addBias(q.data(), W.bq);
    addBias(k, W.bk);
    addBias(v, W.bv);
    rope(q.data(), qd, c, pos);
    rope(k, kvd, c, pos);
    for (int64_t h = 0; h < c.nHeads; ++h) {
      const float *qh = q.data() + h * hd;
      int64_t kvOff = (h / group) * hd;
      for (int64_t t = 0; t <= pos; ++t) {
        const float *kt = L.keys.data() + t * kvd + kvOff;
        float dot = 0;
        for (int64_t i = 0; i < hd; ++i)
          dot += qh[i] * kt[i];
        att[t] = dot / std::sqrt(float(hd));
      }
      softmax(att.data(), pos + 1);
      float *oh = xb.data() + h * hd;
      std::fill(oh, oh + hd, 0.0f);
      for (int64_t t = 0; t <= pos; ++t) {
        const float *vt = L.values.data() + t * kvd + kvOff;
        for (int64_t i = 0; i < hd; ++i)
          oh[i] += att[t] * vt[i];
      }
    }
    matVec(out.data(), W.wo, xb.data(), d, qd);
    for (int64_t i = 0; i < d; ++i)
      x[i] += out[i];
    rmsNorm(xb.data(), x.data(), W.ffnNorm, d, c.normEps);
    matVec(h1.data(), W.gate, xb.data(), c.hiddenDim, d);
    matVec(h3.data(), W.up, xb.data(), c.hiddenDim, d);
    for (int64_t i = 0; i < c.hiddenDim; ++i)
      h1[i] = h1[i] / (1.0f + std::exp(-h1[i])) * h3[i];
    matVec(out.data(), W.down, h1.data(), d, c.hiddenDim);
    for (int64_t i = 0; i < d; ++i)
      x[i] += out[i];
  }
  rmsNorm(xb.data(), x.data(), outputNorm, d, c.normEps);
  std::vector<float> logits(c.vocabSize);
  matVec(logits.data(), output, xb.data(), c.vocabSize, d);
  return logits;
}

int32_t ane::runtime::argmax(const std::vector<float> &logits) {
  return int32_t(std::max_element(logits.begin(), logits.end()) -
                 logits.begin());
}

double ane::runtime::relativeError(const std::vector<float> &got,
                                   const std::vector<float> &want) {
  if (got.size() != want.size())
    return INFINITY;
  double err = 0, scale = 1e-6;
  for (size_t i = 0; i < want.size(); ++i) {
    err = std::max(err, std::fabs(double(got[i]) - want[i]));
    scale = std::max(scale, std::fabs(double(want[i])));
  }
  return err / scale;
}
