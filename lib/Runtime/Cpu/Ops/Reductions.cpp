//===- Reductions.cpp - reductions and normalizations ---------------------===//

#include "lib/Runtime/Cpu/Ops/Ops.h"
#include "lib/Runtime/Cpu/Ops/Strided.h"

#include "lib/MIL/ShapeRules.h"
#include "lib/Runtime/HalfFloat.h"

#include <algorithm>
#include <cmath>

namespace ane::runtime {
namespace {

//===----------------------------------------------------------------------===//
//===----------------------------------------------------------------------===//

/// Folds every element of x into acc[o] (sum or max) for its output o, in
/// row-major order: the general case.
void reduceAny(const Tensor &x, const std::vector<bool> &reduced,
               const Shape &kept, bool isMax, std::vector<double> &acc,
               std::vector<int64_t> &counts) {
  int64_t rank = static_cast<int64_t>(x.shape.size());
  std::vector<int64_t> keptStrides = stridesOf(kept);
  std::vector<int64_t> idx(rank, 0);
  for (int64_t n = 0; n < x.numElements(); ++n) {
    int64_t o = 0;
    for (int64_t d = 0; d < rank; ++d)
      if (!reduced[d])
        o += idx[d] * keptStrides[d];
    double v = x.at(n);
    acc[o] = isMax ? std::max(acc[o], v) : acc[o] + v;
    ++counts[o];
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++idx[d] < x.shape[d])
        break;
      idx[d] = 0;
    }
  }
}

/// reduceAny for one reduced axis of a float tensor (RMSNorm's mean, every
/// decode step): the same order of additions without the index walk.
void reduceLines(const float *x, const Shape &shape, int64_t axis, bool isMax,
                 std::vector<double> &acc, std::vector<int64_t> &counts) {
  int64_t outer = 1, inner = 1, n = shape[axis];
  for (int64_t d = 0; d < axis; ++d)
    outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d)
    inner *= shape[d];
  for (int64_t o = 0; o < outer; ++o) {
    double *a = acc.data() + o * inner;
    if (inner == 1) {
      // A contiguous line (RMSNorm over channels): the sum stays in a
      // register instead of going through memory on every addition.
      double v = *a;
      const float *line = x + o * n;
      for (int64_t k = 0; k < n; ++k)
        v = isMax ? std::max(v, double(line[k])) : v + line[k];
      *a = v;
      continue;
    }
    for (int64_t k = 0; k < n; ++k) {
      const float *line = x + (o * n + k) * inner;
      for (int64_t i = 0; i < inner; ++i)
        a[i] = isMax ? std::max(a[i], double(line[i])) : a[i] + line[i];
    }
  }
  std::fill(counts.begin(), counts.end(), n);
}

/// Reduces `x` over `axes` (normalized): a sum, mean or max per output
/// element, accumulated in double.
Status reduce(const OpContext &c, Outputs &out, const char *kind) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(axes, c.intList("axes"));
  TRY_ASSIGN(keep, c.boolScalar("keep_dims", false));
  auto shape = mil::reduceShape(x->shape, axes, keep);
  if (!shape.ok())
    return Status::error(shape.error);
  int64_t rank = static_cast<int64_t>(x->shape.size());
  std::vector<bool> reduced(rank, !axes.has_value());
  if (axes)
    for (int64_t a : *axes)
      reduced[*mil::normalizeAxis(a, rank)] = true;
  // Output element of each input element: drop reduced dims.
  Shape kept;
  for (int64_t d = 0; d < rank; ++d)
    kept.push_back(reduced[d] ? 1 : x->shape[d]);
  int64_t outCount = 1;
  for (int64_t d : kept)
    outCount *= d;
  const bool isMax = std::string_view(kind) == "max";
  const bool isMean = std::string_view(kind) == "mean";
  std::vector<double> acc(outCount, isMax ? -INFINITY : 0.0);
  std::vector<int64_t> counts(outCount, 0);
  if (x->isFloat() && std::count(reduced.begin(), reduced.end(), true) == 1)
    reduceLines(x->values(), x->shape,
                std::find(reduced.begin(), reduced.end(), true) -
                    reduced.begin(),
                isMax, acc, counts);
  else
    reduceAny(*x, reduced, kept, isMax, acc, counts);
  Tensor r = Tensor::zeros(x->dtype, shape.shape);
  for (int64_t o = 0; o < outCount; ++o) {
    double v = isMean && counts[o] ? acc[o] / counts[o] : acc[o];
    if (r.isFloat())
      r.f[o] = storeAs(r.dtype, static_cast<float>(v));
    else
      r.i[o] = wrapInt(r.dtype, floatToInt(v));
  }
  out.push_back(std::move(r));
  return Status::success();
}

/// Visits every 1-D line of `shape` along `axis`: fn(base offset, stride).
template <typename Fn>
void forEachLine(const Shape &shape, int64_t axis, Fn fn) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d)
    inner *= shape[d];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i)
      fn(o * shape[axis] * inner + i, inner);
}

Status softmaxOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(axis, c.intScalar("axis", -1));
  if (Status s = needFloat(*x, "x"); !s.ok())
    return s;
  auto a = mil::normalizeAxis(axis, static_cast<int64_t>(x->shape.size()));
  if (!a)
    return Status::error(fmt::format("axis {} is out of range", axis));
  Tensor r = x->owned();
  int64_t n = x->shape[*a];
  const float *xv = x->values();
  // exp once per element: kept in r, then scaled by 1 / sum.
  forEachLine(x->shape, *a, [&](int64_t base, int64_t stride) {
    float mx = -INFINITY;
    for (int64_t k = 0; k < n; ++k)
      mx = std::max(mx, xv[base + k * stride]);
    float sum = 0;
    for (int64_t k = 0; k < n; ++k) {
      float e = std::exp(xv[base + k * stride] - mx);
      r.f[base + k * stride] = e;
      sum += e;
    }
    for (int64_t k = 0; k < n; ++k)
      r.f[base + k * stride] /= sum;
  });
  if (r.dtype == DType::FP16)
    roundToHalfs(r.f.data(), r.numElements());
  out.push_back(std::move(r));
  return Status::success();
}

Status layerNormOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(gamma, c.optTensor("gamma"));
  TRY_ASSIGN(beta, c.optTensor("beta"));
  TRY_ASSIGN(axes, c.intList("axes"));
  TRY_ASSIGN(eps, c.floatScalar("epsilon", 1e-5f));
  if (Status s = needFloat(*x, "x"); !s.ok())
    return s;
  int64_t rank = static_cast<int64_t>(x->shape.size());
  std::vector<bool> norm(rank, !axes.has_value());
  if (axes)
    for (int64_t a : *axes) {
      auto n = mil::normalizeAxis(a, rank);
      if (!n)
        return Status::error(fmt::format("axis {} is out of range", a));
      norm[*n] = true;
    }
  // Group elements by their non-normalized index.
  Shape groupShape;
  int64_t groupSize = 1;
  for (int64_t d = 0; d < rank; ++d) {
    groupShape.push_back(norm[d] ? 1 : x->shape[d]);
    if (norm[d])
      groupSize *= x->shape[d];
  }
  for (const TensorPtr &p : {gamma, beta})
    if (p && p->numElements() != groupSize)
      return Status::error("gamma and beta must match x over axes");
  std::vector<int64_t> gStrides = stridesOf(groupShape);
  int64_t groups = x->numElements() / std::max<int64_t>(groupSize, 1);
  std::vector<double> mean(groups, 0), var(groups, 0);
  std::vector<int64_t> groupOf(x->numElements()), posInGroup(x->numElements());
  std::vector<int64_t> filled(groups, 0);
  std::vector<int64_t> idx(rank, 0);
  for (int64_t n = 0; n < x->numElements(); ++n) {
    int64_t g = 0;
    for (int64_t d = 0; d < rank; ++d)
      if (!norm[d])
        g += idx[d] * gStrides[d];
    groupOf[n] = g;
    posInGroup[n] = filled[g]++;
    mean[g] += x->values()[n];
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++idx[d] < x->shape[d])
        break;
      idx[d] = 0;
    }
  }
  for (double &m : mean)
    m /= groupSize;
  for (int64_t n = 0; n < x->numElements(); ++n) {
    double d = x->values()[n] - mean[groupOf[n]];
    var[groupOf[n]] += d * d;
  }
  Tensor r = x->owned();
  for (int64_t n = 0; n < x->numElements(); ++n) {
    int64_t g = groupOf[n];
    double v = (x->values()[n] - mean[g]) / std::sqrt(var[g] / groupSize + eps);
    if (gamma)
      v *= gamma->at(posInGroup[n]);
    if (beta)
      v += beta->at(posInGroup[n]);
    r.f[n] = storeAs(r.dtype, static_cast<float>(v));
  }
  out.push_back(std::move(r));
  return Status::success();
}

} // namespace

void addReductionOps(OpTable &table) {
  table[size_t(mil::OpKind::Softmax)] = softmaxOp;
  table[size_t(mil::OpKind::ReduceSum)] = [](const OpContext &c, Outputs &o) {
    return reduce(c, o, "sum");
  };
  table[size_t(mil::OpKind::ReduceMean)] = [](const OpContext &c, Outputs &o) {
    return reduce(c, o, "mean");
  };
  table[size_t(mil::OpKind::ReduceMax)] = [](const OpContext &c, Outputs &o) {
    return reduce(c, o, "max");
  };
  table[size_t(mil::OpKind::LayerNorm)] = layerNormOp;
}

} // namespace ane::runtime
