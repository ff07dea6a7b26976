//===- Attention.cpp - scaled dot-product attention -----------------------===//

#include "lib/Runtime/Cpu/Ops/Ops.h"
#include "lib/Runtime/Cpu/Ops/Strided.h"

#include "lib/MIL/ShapeRules.h"

#include <algorithm>
#include <cmath>

namespace ane::runtime {
namespace {

Status sdpaOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(q, c.tensor("query"));
  TRY_ASSIGN(k, c.tensor("key"));
  TRY_ASSIGN(v, c.tensor("value"));
  TRY_ASSIGN(mask, c.optTensor("attn_mask"));
  std::optional<Shape> maskShape;
  if (mask)
    maskShape = mask->shape;
  auto shape = mil::sdpaShape(q->shape, k->shape, v->shape, maskShape);
  if (!shape.ok())
    return Status::error(shape.error);
  size_t rank = q->shape.size();
  int64_t L = q->shape[rank - 2], E = q->shape[rank - 1];
  int64_t S = k->shape[rank - 2], EV = v->shape[rank - 1];
  int64_t batches = q->numElements() / (L * E);
  Shape scoreShape(q->shape.begin(), q->shape.end() - 2);
  scoreShape.push_back(L);
  scoreShape.push_back(S);
  std::vector<int64_t> mst;
  if (mask)
    mst = broadcastStrides(mask->shape, scoreShape);
  Tensor r = Tensor::zeros(q->dtype, shape.shape);
  float scale = 1.0f / std::sqrt(static_cast<float>(E));
  std::vector<float> scores(S);
  std::vector<int64_t> bIdx(rank - 2, 0);
  for (int64_t bt = 0; bt < batches; ++bt) {
    int64_t maskBase = 0;
    for (size_t d = 0; d + 2 < rank; ++d)
      maskBase += mask ? bIdx[d] * mst[d] : 0;
    for (int64_t i = 0; i < L; ++i) {
      float mx = -INFINITY;
      for (int64_t j = 0; j < S; ++j) {
        double acc = 0;
        for (int64_t e = 0; e < E; ++e)
          acc += q->values()[(bt * L + i) * E + e] *
                 k->values()[(bt * S + j) * E + e];
        float s = static_cast<float>(acc) * scale;
        if (mask) {
          int64_t mi = maskBase + i * mst[rank - 2] + j * mst[rank - 1];
          if (mask->dtype == DType::Bool)
            s = mask->i[mi] ? s : -INFINITY;
          else
            s += mask->values()[mi];
        }
        scores[j] = s;
        mx = std::max(mx, s);
      }
      double sum = 0;
      for (int64_t j = 0; j < S; ++j) {
        scores[j] = std::isinf(mx) && mx < 0 ? 0 : std::exp(scores[j] - mx);
        sum += scores[j];
      }
      for (int64_t e = 0; e < EV; ++e) {
        double acc = 0;
        for (int64_t j = 0; j < S; ++j)
          acc += scores[j] / sum * v->values()[(bt * S + j) * EV + e];
        r.f[(bt * L + i) * EV + e] = storeAs(r.dtype, static_cast<float>(acc));
      }
    }
    for (int64_t d = static_cast<int64_t>(rank) - 3; d >= 0; --d) {
      if (++bIdx[d] < q->shape[d])
        break;
      bIdx[d] = 0;
    }
  }
  out.push_back(std::move(r));
  return Status::success();
}

} // namespace

void addAttentionOps(OpTable &table) {
  table[size_t(mil::OpKind::ScaledDotProductAttention)] = sdpaOp;
}

} // namespace ane::runtime
