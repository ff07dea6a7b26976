//===- ShapeOps.cpp - shape and data movement -----------------------------===//

#include "lib/Runtime/Cpu/Ops/Ops.h"
#include "lib/Runtime/Cpu/Ops/Strided.h"

#include "lib/MIL/ShapeRules.h"

#include <algorithm>

namespace ane::runtime {
namespace {

//===----------------------------------------------------------------------===//
//===----------------------------------------------------------------------===//

/// x's values under `shape`. A float tensor's (or fp16 bits) are shared,
/// not copied: a reshaped K/V cache costs nothing.
Tensor reshaped(const TensorPtr &x, Shape shape) {
  if (x->isFloat() || x->halfStored)
    return Tensor::viewOf(x, std::move(shape));
  Tensor r = *x;
  r.shape = std::move(shape);
  return r;
}

Status reshapeOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(shape, c.intList("shape"));
  if (!shape)
    return Status::error("missing parameter 'shape'");
  auto s = mil::reshapeShape(x->shape, *shape);
  if (!s.ok())
    return Status::error(s.error);
  out.push_back(reshaped(x, s.shape));
  return Status::success();
}

Status expandDimsOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(axes, c.intList("axes"));
  auto s =
      mil::expandDimsShape(x->shape, axes.value_or(std::vector<int64_t>{}));
  if (!s.ok())
    return Status::error(s.error);
  out.push_back(reshaped(x, s.shape));
  return Status::success();
}

Status squeezeOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(axes, c.intList("axes"));
  auto s = mil::squeezeShape(x->shape, axes);
  if (!s.ok())
    return Status::error(s.error);
  out.push_back(reshaped(x, s.shape));
  return Status::success();
}

/// Gathers x elements into a tensor of `shape`, where source offset of each
/// output element comes from `srcOffset(multi-index)`.
template <typename Fn>
Tensor gatherElements(const Tensor &x, DType dtype, const Shape &shape,
                      Fn srcOffset) {
  Tensor r = Tensor::zeros(dtype, shape);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t n = 0; n < r.numElements(); ++n) {
    int64_t s = srcOffset(idx);
    if (s < 0)
      ; // no source element: stays zero
    else if (r.isFloat())
      r.f[n] = x.values()[s];
    else
      r.i[n] = x.i[s];
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      if (++idx[d] < shape[d])
        break;
      idx[d] = 0;
    }
  }
  return r;
}

/// The elements of x at base + sum(idx[d] * strides[d]) for every index
/// of `shape`: transposes and slices.
Tensor affineGather(const Tensor &x, const Shape &shape, int64_t base,
                    std::vector<int64_t> strides) {
  Tensor r = Tensor::zeros(x.dtype, shape);
  if (r.isFloat()) {
    const float *xv = x.values();
    forEachStrided<1>(
        shape, {std::move(strides)}, {base},
        [&](int64_t n, const std::array<int64_t, 1> &o) { r.f[n] = xv[o[0]]; });
  } else {
    forEachStrided<1>(shape, {std::move(strides)}, {base},
                      [&](int64_t n, const std::array<int64_t, 1> &o) {
                        r.i[n] = x.i[o[0]];
                      });
  }
  return r;
}

Status transposeOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(perm, c.intList("perm"));
  if (!perm)
    return Status::error("missing parameter 'perm'");
  auto s = mil::transposeShape(x->shape, *perm);
  if (!s.ok())
    return Status::error(s.error);
  std::vector<int64_t> st = stridesOf(x->shape);
  int64_t rank = static_cast<int64_t>(x->shape.size());
  std::vector<int64_t> permuted(rank); // source stride of each output axis
  for (int64_t d = 0; d < rank; ++d)
    permuted[d] = st[*mil::normalizeAxis((*perm)[d], rank)];
  out.push_back(affineGather(*x, s.shape, 0, std::move(permuted)));
  return Status::success();
}

Status sliceByIndexOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(begin, c.intList("begin"));
  TRY_ASSIGN(end, c.intList("end"));
  TRY_ASSIGN(stride, c.intList("stride"));
  TRY_ASSIGN(beginMask, c.boolList("begin_mask"));
  TRY_ASSIGN(endMask, c.boolList("end_mask"));
  TRY_ASSIGN(squeezeMask, c.boolList("squeeze_mask"));
  if (!begin || !end)
    return Status::error("slice_by_index needs begin and end");
  mil::SliceByIndexParams p{
      *begin,    *end,    stride.value_or(std::vector<int64_t>{}),
      beginMask, endMask, squeezeMask};
  auto s = mil::sliceByIndexShape(x->shape, p);
  if (!s.ok())
    return Status::error(s.error);
  size_t rank = x->shape.size();
  std::vector<mil::SliceRange> ranges(rank);
  for (size_t d = 0; d < rank; ++d) {
    bool sq = !squeezeMask.empty() && squeezeMask[d];
    int64_t st = p.stride.empty() ? 1 : p.stride[d];
    if (sq) {
      int64_t b = (*begin)[d] < 0 ? (*begin)[d] + x->shape[d] : (*begin)[d];
      ranges[d] = {b, 1, 1};
    } else {
      ranges[d] = *mil::resolveSliceAxis(x->shape[d], (*begin)[d], (*end)[d],
                                         st, !beginMask.empty() && beginMask[d],
                                         !endMask.empty() && endMask[d]);
    }
  }
  // Iterate over the un-squeezed slice, then drop squeezed dims.
  Shape full;
  for (const auto &r : ranges)
    full.push_back(r.count);
  std::vector<int64_t> st = stridesOf(x->shape), steps(rank);
  int64_t base = 0;
  for (size_t d = 0; d < rank; ++d) {
    base += ranges[d].start * st[d];
    steps[d] = ranges[d].stride * st[d];
  }
  Tensor r = affineGather(*x, full, base, std::move(steps));
  r.shape = s.shape;
  out.push_back(std::move(r));
  return Status::success();
}

Status sliceBySizeOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(begin, c.intList("begin"));
  TRY_ASSIGN(size, c.intList("size"));
  if (!begin || !size)
    return Status::error("slice_by_size needs begin and size");
  auto s = mil::sliceBySizeShape(x->shape, *begin, *size);
  if (!s.ok())
    return Status::error(s.error);
  std::vector<int64_t> st = stridesOf(x->shape);
  int64_t base = 0;
  for (size_t d = 0; d < x->shape.size(); ++d)
    base += ((*begin)[d] < 0 ? (*begin)[d] + x->shape[d] : (*begin)[d]) * st[d];
  out.push_back(affineGather(*x, s.shape, base, std::move(st)));
  return Status::success();
}

/// Constant-mode pad with zeros, the only mode the compiler emits.
Status padOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(pad, c.intList("pad"));
  TRY_ASSIGN(mode, c.string("mode", "constant"));
  TRY_ASSIGN(value, c.floatScalar("constant_val", 0.0));
  if (!pad)
    return Status::error("pad needs 'pad'");
  if (mode != "constant" || value != 0.0)
    return Status::error("only constant pad with zeros is supported");
  auto s = mil::padShape(x->shape, *pad);
  if (!s.ok())
    return Status::error(s.error);
  std::vector<int64_t> st = stridesOf(x->shape);
  size_t rank = x->shape.size(), first = rank - pad->size() / 2;
  out.push_back(gatherElements(*x, x->dtype, s.shape, [&](const auto &idx) {
    int64_t off = 0;
    for (size_t d = 0; d < rank; ++d) {
      int64_t i = idx[d];
      if (d >= first)
        i -= (*pad)[2 * (d - first)];
      if (i < 0 || i >= x->shape[d])
        return int64_t(-1);
      off += i * st[d];
    }
    return off;
  }));
  return Status::success();
}

Status concatOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(values, c.tuple("values"));
  TRY_ASSIGN(axis, c.intScalar("axis", std::nullopt));
  TRY_ASSIGN(interleave, c.boolScalar("interleave", false));
  std::vector<Shape> shapes;
  for (const TensorPtr &v : values) {
    if (v->dtype != values[0]->dtype)
      return Status::error("values have different dtypes");
    shapes.push_back(v->shape);
  }
  auto s = mil::concatShape(shapes, axis, interleave);
  if (!s.ok())
    return Status::error(s.error);
  int64_t a = *mil::normalizeAxis(axis, static_cast<int64_t>(shapes[0].size()));
  Tensor r = Tensor::zeros(values[0]->dtype, s.shape);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < a; ++d)
    outer *= s.shape[d];
  for (size_t d = a + 1; d < s.shape.size(); ++d)
    inner *= s.shape[d];
  int64_t outAxis = s.shape[a], n = static_cast<int64_t>(values.size());
  int64_t axisOff = 0;
  for (int64_t vi = 0; vi < n; ++vi) {
    const Tensor &v = *values[vi];
    int64_t va = v.shape[a];
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t k = 0; k < va; ++k) {
        int64_t dstAxis = interleave ? k * n + vi : axisOff + k;
        int64_t src = (o * va + k) * inner;
        int64_t dst = (o * outAxis + dstAxis) * inner;
        if (r.isFloat())
          std::copy_n(v.values() + src, inner, r.f.data() + dst);
        else
          std::copy_n(v.i.data() + src, inner, r.i.data() + dst);
      }
    axisOff += va;
  }
  out.push_back(std::move(r));
  return Status::success();
}

Status splitOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(axis, c.intScalar("axis", std::nullopt));
  TRY_ASSIGN(sizes, c.intList("split_sizes"));
  std::optional<int64_t> numSplits;
  if (c.st.arg("num_splits") || c.st.attr("num_splits")) {
    TRY_ASSIGN(n, c.intScalar("num_splits", std::nullopt));
    numSplits = n;
  }
  auto s = mil::splitShapes(x->shape, axis, numSplits, sizes);
  if (!s.ok())
    return Status::error(s.error);
  int64_t a = *mil::normalizeAxis(axis, static_cast<int64_t>(x->shape.size()));
  // Row-major: each part is `outer` runs of part[a] * inner contiguous
  // elements.
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < a; ++d)
    outer *= x->shape[d];
  for (size_t d = a + 1; d < x->shape.size(); ++d)
    inner *= x->shape[d];
  int64_t offset = 0;
  for (const Shape &part : s.shapes) {
    Tensor r = Tensor::zeros(x->dtype, part);
    int64_t run = part[a] * inner;
    for (int64_t o = 0; o < outer; ++o) {
      int64_t src = (o * x->shape[a] + offset) * inner;
      if (r.isFloat())
        std::copy_n(x->values() + src, run, r.f.data() + o * run);
      else
        std::copy_n(x->i.data() + src, run, r.i.data() + o * run);
    }
    out.push_back(std::move(r));
    offset += part[a];
  }
  return Status::success();
}

Status gatherOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(indices, c.tensor("indices"));
  TRY_ASSIGN(axis, c.intScalar("axis", 0));
  TRY_ASSIGN(batchDims, c.intScalar("batch_dims", 0));
  if (indices->isFloat())
    return Status::error("indices must be integers");
  auto s = mil::gatherShape(x->shape, indices->shape, axis, batchDims);
  if (!s.ok())
    return Status::error(s.error);
  int64_t rank = static_cast<int64_t>(x->shape.size());
  int64_t a = *mil::normalizeAxis(axis, rank);
  int64_t dim = x->shape[a];
  for (int64_t v : indices->i)
    if (v < -dim || v >= dim)
      return Status::error(fmt::format(
          "index {} is out of range for axis {} of size {}", v, a, dim));
  std::vector<int64_t> xst = stridesOf(x->shape),
                       ist = stridesOf(indices->shape);
  int64_t iRank = static_cast<int64_t>(indices->shape.size());
  out.push_back(gatherElements(*x, x->dtype, s.shape, [&](const auto &idx) {
    // idx = x[:a] + indices[batch_dims:] + x[a+1:]
    int64_t iOff = 0;
    for (int64_t d = 0; d < batchDims; ++d)
      iOff += idx[d] * ist[d];
    for (int64_t d = batchDims; d < iRank; ++d)
      iOff += idx[a + d - batchDims] * ist[d];
    int64_t sel = indices->i[iOff];
    if (sel < 0)
      sel += dim;
    int64_t off = sel * xst[a];
    for (int64_t d = 0; d < a; ++d)
      off += idx[d] * xst[d];
    for (int64_t d = a + 1; d < rank; ++d)
      off += idx[d - 1 + (iRank - batchDims)] * xst[d];
    return off;
  }));
  return Status::success();
}

Status bandPartOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(lower, c.intScalar("lower", -1));
  TRY_ASSIGN(upper, c.intScalar("upper", -1));
  size_t rank = x->shape.size();
  if (rank < 2)
    return Status::error("x must have rank >= 2");
  int64_t rows = x->shape[rank - 2], cols = x->shape[rank - 1];
  Tensor r = x->owned();
  for (int64_t n = 0; n < r.numElements(); ++n) {
    int64_t m = n / cols % rows, k = n % cols;
    bool keep = (lower < 0 || m - k <= lower) && (upper < 0 || k - m <= upper);
    if (keep)
      continue;
    if (r.isFloat())
      r.f[n] = 0;
    else
      r.i[n] = 0;
  }
  out.push_back(std::move(r));
  return Status::success();
}

Status fillOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(shape, c.intList("shape"));
  TRY_ASSIGN(value, c.optTensor("value"));
  if (!shape)
    return Status::error("missing parameter 'shape'");
  for (int64_t d : *shape)
    if (d <= 0 || d > (int64_t(1) << 31))
      return Status::error(fmt::format("shape entry {} is invalid", d));
  DType dtype = value ? value->dtype : DType::FP32;
  Tensor r = Tensor::zeros(dtype, *shape);
  double v = value && value->numElements() == 1 ? value->at(0) : 0.0;
  for (int64_t n = 0; n < r.numElements(); ++n) {
    if (r.isFloat())
      r.f[n] = storeAs(dtype, static_cast<float>(v));
    else
      r.i[n] = wrapInt(dtype, floatToInt(v));
  }
  out.push_back(std::move(r));
  return Status::success();
}

Status identityOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  out.push_back(reshaped(x, x->shape));
  return Status::success();
}

} // namespace

void addShapeOps(OpTable &table) {
  table[size_t(mil::OpKind::Reshape)] = reshapeOp;
  table[size_t(mil::OpKind::Transpose)] = transposeOp;
  table[size_t(mil::OpKind::ExpandDims)] = expandDimsOp;
  table[size_t(mil::OpKind::Squeeze)] = squeezeOp;
  table[size_t(mil::OpKind::SliceByIndex)] = sliceByIndexOp;
  table[size_t(mil::OpKind::SliceBySize)] = sliceBySizeOp;
  table[size_t(mil::OpKind::Pad)] = padOp;
  table[size_t(mil::OpKind::Concat)] = concatOp;
  table[size_t(mil::OpKind::Split)] = splitOp;
  table[size_t(mil::OpKind::Gather)] = gatherOp;
  table[size_t(mil::OpKind::BandPart)] = bandPartOp;
  table[size_t(mil::OpKind::Fill)] = fillOp;
  table[size_t(mil::OpKind::Identity)] = identityOp;
}

} // namespace ane::runtime
