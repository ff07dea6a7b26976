//===- Products.cpp - matmul, linear and conv -----------------------------===//

#include "lib/Runtime/Cpu/Ops/Ops.h"
#include "lib/Runtime/Cpu/Ops/Strided.h"

#include "lib/MIL/ShapeRules.h"

#include <algorithm>

namespace ane::runtime {
namespace {

//===----------------------------------------------------------------------===//
//===----------------------------------------------------------------------===//

Status matmulOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x0, c.tensor("x"));
  TRY_ASSIGN(y0, c.tensor("y"));
  TRY_ASSIGN(tx, c.boolScalar("transpose_x", false));
  TRY_ASSIGN(ty, c.boolScalar("transpose_y", false));
  if (Status s = needSameDType(*x0, *y0); !s.ok())
    return s;
  auto shape = mil::matmulShape(x0->shape, y0->shape, tx, ty);
  if (!shape.ok())
    return Status::error(shape.error);
  // Promote vectors, then work on [batch..., rows, cols] views.
  Shape xs = x0->shape, ys = y0->shape;
  bool xVec = xs.size() == 1, yVec = ys.size() == 1;
  if (xVec)
    xs.insert(xs.begin(), 1);
  if (yVec)
    ys.push_back(1);
  int64_t xr = xs[xs.size() - 2], xc = xs.back();
  int64_t yr = ys[ys.size() - 2], yc = ys.back();
  int64_t m = (tx && !xVec) ? xc : xr, k = (tx && !xVec) ? xr : xc;
  int64_t n = (ty && !yVec) ? yr : yc;
  Shape bx(xs.begin(), xs.end() - 2), by(ys.begin(), ys.end() - 2);
  Shape batch = mil::broadcastShapes(bx, by).shape;
  Tensor r = Tensor::zeros(x0->dtype, shape.shape);
  int64_t outOff = 0;
  bool isFloat = r.isFloat();
  forEachBroadcast<2>(
      batch, {bx, by}, [&](int64_t, const std::array<int64_t, 2> &o) {
        int64_t xb = o[0] * xr * xc, yb = o[1] * yr * yc;
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double acc = 0;
            for (int64_t p = 0; p < k; ++p) {
              int64_t xi = (tx && !xVec) ? p * xc + i : i * xc + p;
              int64_t yi = (ty && !yVec) ? j * yc + p : p * yc + j;
              acc += x0->at(xb + xi) * y0->at(yb + yi);
            }
            if (isFloat)
              r.f[outOff] = storeAs(r.dtype, static_cast<float>(acc));
            else
              r.i[outOff] = wrapInt(r.dtype, floatToInt(acc));
            ++outOff;
          }
      });
  out.push_back(std::move(r));
  return Status::success();
}

Status linearOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(w, c.tensor("weight"));
  TRY_ASSIGN(b, c.optTensor("bias"));
  auto shape = mil::linearShape(x->shape, w->shape);
  if (!shape.ok())
    return Status::error(shape.error);
  int64_t dout = w->shape[0], din = w->shape[1];
  if (b && b->numElements() != dout)
    return Status::error("bias must have one entry per output");
  Tensor r = Tensor::zeros(x->dtype, shape.shape);
  int64_t rows = x->numElements() / std::max<int64_t>(din, 1);
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t o = 0; o < dout; ++o) {
      double acc = b ? b->at(o) : 0.0;
      for (int64_t i = 0; i < din; ++i)
        acc += x->at(row * din + i) * w->at(o * din + i);
      if (r.isFloat())
        r.f[row * dout + o] = storeAs(r.dtype, static_cast<float>(acc));
      else
        r.i[row * dout + o] = wrapInt(r.dtype, floatToInt(acc));
    }
  out.push_back(std::move(r));
  return Status::success();
}

Status convOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(x, c.tensor("x"));
  TRY_ASSIGN(w, c.tensor("weight"));
  TRY_ASSIGN(b, c.optTensor("bias"));
  TRY_ASSIGN(strides, c.intList("strides"));
  TRY_ASSIGN(dilations, c.intList("dilations"));
  TRY_ASSIGN(pad, c.intList("pad"));
  TRY_ASSIGN(padType, c.string("pad_type", "valid"));
  TRY_ASSIGN(groups, c.intScalar("groups", 1));
  if (Status s = needFloat(*x, "x"); !s.ok())
    return s;
  mil::ConvParams p;
  p.strides = strides.value_or(std::vector<int64_t>{});
  p.dilations = dilations.value_or(std::vector<int64_t>{});
  p.pad = pad.value_or(std::vector<int64_t>{});
  p.groups = groups;
  if (padType == "valid")
    p.padType = mil::PadType::Valid;
  else if (padType == "same")
    p.padType = mil::PadType::Same;
  else if (padType == "same_lower")
    p.padType = mil::PadType::SameLower;
  else if (padType == "custom")
    p.padType = mil::PadType::Custom;
  else
    return Status::error("unknown pad_type '" + padType + "'");
  auto shape = mil::convShape(x->shape, w->shape, p);
  if (!shape.ok())
    return Status::error(shape.error);
  size_t sp = x->shape.size() - 2;
  int64_t cout = w->shape[0];
  if (b && b->numElements() != cout)
    return Status::error("bias must have one entry per output channel");
  // Work in 3 spatial dims, padding unused ones with size 1.
  int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, o[3] = {1, 1, 1};
  int64_t st[3] = {1, 1, 1}, dl[3] = {1, 1, 1}, pb[3] = {0, 0, 0};
  for (size_t d = 0; d < sp; ++d) {
    size_t e = 3 - sp + d;
    in[e] = x->shape[2 + d];
    k[e] = w->shape[2 + d];
    o[e] = shape.shape[2 + d];
    st[e] = p.strides.empty() ? 1 : p.strides[d];
    dl[e] = p.dilations.empty() ? 1 : p.dilations[d];
    if (p.padType == mil::PadType::Custom) {
      pb[e] = p.pad[2 * d];
    } else if (p.padType != mil::PadType::Valid) {
      int64_t total = std::max<int64_t>(
          (o[e] - 1) * st[e] + (k[e] - 1) * dl[e] + 1 - in[e], 0);
      pb[e] = p.padType == mil::PadType::Same ? total / 2 : total - total / 2;
    }
  }
  int64_t batch = x->shape[0], cin = x->shape[1], cinG = cin / groups,
          coutG = cout / groups;
  Tensor r = Tensor::zeros(x->dtype, shape.shape);
  int64_t inSp = in[0] * in[1] * in[2], kSp = k[0] * k[1] * k[2],
          oSp = o[0] * o[1] * o[2];
  bool pointwise = kSp == 1 && inSp == oSp && w->isFloat();
  for (int e = 0; e < 3; ++e)
    pointwise = pointwise && st[e] == 1 && pb[e] == 0;
  if (pointwise) {
    // A 1x1 conv is a matrix product (every projection of the kernels).
    // Same sums in the same order as the general loop below, with the
    // positions innermost so that x is read contiguously.
    std::vector<double> acc(oSp);
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t oc = 0; oc < cout; ++oc) {
        int64_t g = oc / coutG;
        std::fill(acc.begin(), acc.end(), b ? b->at(oc) : 0.0);
        for (int64_t ic = 0; ic < cinG; ++ic) {
          double wv = w->values()[oc * cinG + ic];
          const float *xs = &x->values()[(n * cin + g * cinG + ic) * inSp];
          for (int64_t i = 0; i < oSp; ++i)
            acc[i] += xs[i] * wv;
        }
        float *rs = &r.f[(n * cout + oc) * oSp];
        for (int64_t i = 0; i < oSp; ++i)
          rs[i] = storeAs(r.dtype, static_cast<float>(acc[i]));
      }
    out.push_back(std::move(r));
    return Status::success();
  }
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t oc = 0; oc < cout; ++oc) {
      int64_t g = oc / coutG;
      for (int64_t z = 0; z < o[0]; ++z)
        for (int64_t y = 0; y < o[1]; ++y)
          for (int64_t xx = 0; xx < o[2]; ++xx) {
            double acc = b ? b->at(oc) : 0.0;
            for (int64_t ic = 0; ic < cinG; ++ic) {
              int64_t xBase = (n * cin + g * cinG + ic) * inSp;
              int64_t wBase = (oc * cinG + ic) * kSp;
              for (int64_t kz = 0; kz < k[0]; ++kz) {
                int64_t iz = z * st[0] + kz * dl[0] - pb[0];
                if (iz < 0 || iz >= in[0])
                  continue;
                for (int64_t ky = 0; ky < k[1]; ++ky) {
                  int64_t iy = y * st[1] + ky * dl[1] - pb[1];
                  if (iy < 0 || iy >= in[1])
                    continue;
                  for (int64_t kx = 0; kx < k[2]; ++kx) {
                    int64_t ix = xx * st[2] + kx * dl[2] - pb[2];
                    if (ix < 0 || ix >= in[2])
                      continue;
                    acc += x->values()[xBase + (iz * in[1] + iy) * in[2] + ix] *
                           w->at(wBase + (kz * k[1] + ky) * k[2] + kx);
                  }
                }
              }
            }
            r.f[(n * cout + oc) * oSp + (z * o[1] + y) * o[2] + xx] =
                storeAs(r.dtype, static_cast<float>(acc));
          }
    }
  out.push_back(std::move(r));
  return Status::success();
}

} // namespace

void addProductOps(OpTable &table) {
  table[size_t(mil::OpKind::Matmul)] = matmulOp;
  table[size_t(mil::OpKind::Linear)] = linearOp;
  table[size_t(mil::OpKind::Conv)] = convOp;
}

} // namespace ane::runtime
