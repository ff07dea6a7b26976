//===- Constexpr.cpp - quantization and compressed constants --------------===//

#include "lib/Runtime/Cpu/Ops/Ops.h"
#include "lib/Runtime/Cpu/Ops/Strided.h"

#include "lib/MIL/ShapeRules.h"

#include <algorithm>

namespace ane::runtime {
namespace {

//===----------------------------------------------------------------------===//
//===----------------------------------------------------------------------===//

/// Index along `axis` of flat element n of `shape`.
int64_t axisIndex(const Shape &shape, int64_t axis, int64_t n) {
  int64_t inner = 1;
  for (size_t d = axis + 1; d < shape.size(); ++d)
    inner *= shape[d];
  return n / inner % shape[axis];
}

/// Scale or zero point: scalar, or 1-D along `axis` of `data`.
Result<std::function<double(int64_t)>> perAxis(const TensorPtr &p,
                                               const Tensor &data,
                                               std::optional<int64_t> axis,
                                               const char *name) {
  if (!p)
    return std::function<double(int64_t)>([](int64_t) { return 0.0; });
  if (p->numElements() == 1)
    return std::function<double(int64_t)>(
        [v = p->at(0)](int64_t) { return v; });
  int64_t rank = static_cast<int64_t>(data.shape.size());
  auto a = axis ? mil::normalizeAxis(*axis, rank) : std::nullopt;
  if (!a || p->shape.size() != 1 || p->shape[0] != data.shape[*a])
    return Result<std::function<double(int64_t)>>::error(fmt::format(
        "{} must be a scalar or have one entry per element of axis", name));
  Shape shape = data.shape;
  int64_t ax = *a;
  return std::function<double(int64_t)>(
      [p, shape, ax](int64_t n) { return p->at(axisIndex(shape, ax, n)); });
}

Status affineDequantizeOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(q, c.tensor("quantized_data"));
  TRY_ASSIGN(scale, c.tensor("scale"));
  TRY_ASSIGN(zp, c.tensor("zero_point"));
  TRY_ASSIGN(axis, c.intScalar("axis", std::nullopt));
  if (Status s = needFloat(*scale, "scale"); !s.ok())
    return s;
  TRY_ASSIGN(sf, perAxis(scale, *q, axis, "scale"));
  TRY_ASSIGN(zf, perAxis(zp, *q, axis, "zero_point"));
  Tensor r = Tensor::zeros(scale->dtype, q->shape);
  for (int64_t n = 0; n < r.numElements(); ++n)
    r.f[n] = storeAs(r.dtype, static_cast<float>(sf(n) * (q->at(n) - zf(n))));
  out.push_back(std::move(r));
  return Status::success();
}

Status blockwiseShiftScaleOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(data, c.tensor("data"));
  TRY_ASSIGN(scale, c.tensor("scale"));
  TRY_ASSIGN(offset, c.optTensor("offset"));
  if (Status s = needFloat(*scale, "scale"); !s.ok())
    return s;
  size_t rank = data->shape.size();
  if (scale->shape.size() != rank || (offset && offset->shape != scale->shape))
    return Status::error("scale and offset need the data's rank");
  std::vector<int64_t> block(rank);
  for (size_t d = 0; d < rank; ++d) {
    if (scale->shape[d] <= 0 || data->shape[d] % scale->shape[d] != 0)
      return Status::error("scale dims must divide data dims");
    block[d] = data->shape[d] / scale->shape[d];
  }
  std::vector<int64_t> sst = stridesOf(scale->shape);
  Tensor r = Tensor::zeros(scale->dtype, data->shape);
  // Weights [out, in, 1, 1] with blocks along `in`: the same arithmetic as
  // the general loop below, without its per-element index walk.
  bool rowBlocks = rank >= 2 && block[0] == 1 && data->isFloat() == false;
  for (size_t d = 2; d < rank; ++d)
    rowBlocks = rowBlocks && data->shape[d] == 1;
  if (rowBlocks) {
    int64_t rows = data->shape[0], cols = data->shape[1],
            groups = scale->shape[1];
    for (int64_t o = 0; o < rows; ++o)
      for (int64_t i = 0; i < cols; ++i) {
        int64_t so = o * groups + i / block[1], n = o * cols + i;
        double off = offset ? offset->at(so) : 0.0;
        r.f[n] =
            storeAs(r.dtype, static_cast<float>(double(scale->values()[so]) *
                                                (double(data->i[n]) - off)));
      }
    out.push_back(std::move(r));
    return Status::success();
  }
  std::vector<int64_t> idx(rank, 0);
  for (int64_t n = 0; n < r.numElements(); ++n) {
    int64_t so = 0;
    for (size_t d = 0; d < rank; ++d)
      so += idx[d] / block[d] * sst[d];
    double off = offset ? offset->at(so) : 0.0;
    r.f[n] = storeAs(r.dtype,
                     static_cast<float>(scale->at(so) * (data->at(n) - off)));
    for (int64_t d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
      if (++idx[d] < data->shape[d])
        break;
      idx[d] = 0;
    }
  }
  out.push_back(std::move(r));
  return Status::success();
}

Status lutToDenseOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(indices, c.tensor("indices"));
  TRY_ASSIGN(lut, c.tensor("lut"));
  TRY_ASSIGN(shape, c.intList("shape"));
  if (shape) {
    // iOS16: packed bytes, flat palette, explicit shape.
    int64_t palette = lut->numElements();
    int bits = 0;
    for (int b : {1, 2, 4, 6, 8})
      if (palette == (int64_t(1) << b))
        bits = b;
    if (!bits || lut->shape.size() != 1)
      return Status::error("lut must be 1-D with 2, 4, 16, 64 or 256 entries");
    int64_t count = 1;
    for (int64_t d : *shape) {
      if (d <= 0 || d > (int64_t(1) << 31))
        return Status::error("invalid shape");
      count *= d;
    }
    if (indices->numElements() * 8 < count * bits)
      return Status::error("indices hold too few bytes for the shape");
    std::vector<uint8_t> bytes(indices->i.begin(), indices->i.end());
    std::vector<int64_t> idx =
        mil::unpackSubByte(bytes.data(), count, bits, false);
    Tensor r = Tensor::zeros(lut->dtype, *shape);
    for (int64_t n = 0; n < count; ++n) {
      if (r.isFloat())
        r.f[n] = lut->values()[idx[n]];
      else
        r.i[n] = lut->i[idx[n]];
    }
    out.push_back(std::move(r));
    return Status::success();
  }
  // iOS18: per-group palettes, optional vectors along vector_axis.
  TRY_ASSIGN(vectorAxis, c.intScalar("vector_axis", 0));
  size_t rank = indices->shape.size();
  if (lut->shape.size() != rank + 2)
    return Status::error("lut rank must be the indices rank + 2");
  int64_t palette = lut->shape[rank], vsize = lut->shape[rank + 1];
  Shape outShape = indices->shape;
  int64_t va = 0;
  if (vsize > 1) {
    auto a = mil::normalizeAxis(vectorAxis, static_cast<int64_t>(rank));
    if (!a)
      return Status::error("vector_axis is out of range");
    va = *a;
    outShape[va] *= vsize;
  }
  std::vector<int64_t> group(rank);
  for (size_t d = 0; d < rank; ++d) {
    if (lut->shape[d] <= 0 || outShape[d] % lut->shape[d] != 0)
      return Status::error("lut dims must divide the output dims");
    group[d] = outShape[d] / lut->shape[d];
  }
  std::vector<int64_t> lst = stridesOf(lut->shape),
                       ist = stridesOf(indices->shape);
  Tensor r = Tensor::zeros(lut->dtype, outShape);
  std::vector<int64_t> idx(rank, 0);
  for (int64_t n = 0; n < r.numElements(); ++n) {
    int64_t io = 0, lo = 0;
    for (size_t d = 0; d < rank; ++d) {
      int64_t id = idx[d];
      if (vsize > 1 && static_cast<int64_t>(d) == va)
        id /= vsize;
      io += id * ist[d];
      lo += idx[d] / group[d] * lst[d];
    }
    int64_t sel = indices->i[io];
    if (sel < 0 || sel >= palette)
      return Status::error("index outside the palette");
    int64_t lane = vsize > 1 ? idx[va] % vsize : 0;
    int64_t src = lo + sel * lst[rank] + lane;
    if (r.isFloat())
      r.f[n] = lut->values()[src];
    else
      r.i[n] = lut->i[src];
    for (int64_t d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
      if (++idx[d] < outShape[d])
        break;
      idx[d] = 0;
    }
  }
  out.push_back(std::move(r));
  return Status::success();
}

Status quantizeOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(input, c.tensor("input"));
  TRY_ASSIGN(scale, c.tensor("scale"));
  TRY_ASSIGN(zp, c.optTensor("zero_point"));
  TRY_ASSIGN(dtypeName, c.string("output_dtype", nullptr));
  std::optional<int64_t> axis;
  if (c.st.arg("axis") || c.st.attr("axis")) {
    TRY_ASSIGN(a, c.intScalar("axis", std::nullopt));
    axis = a;
  }
  auto dtype = mil::parseDType(dtypeName);
  if (!dtype || (*dtype != DType::Int8 && *dtype != DType::UInt8))
    return Status::error("output_dtype must be int8 or uint8");
  TRY_ASSIGN(sf, perAxis(scale, *input, axis, "scale"));
  TRY_ASSIGN(zf, perAxis(zp, *input, axis, "zero_point"));
  int64_t lo = *dtype == DType::Int8 ? -128 : 0,
          hi = *dtype == DType::Int8 ? 127 : 255;
  Tensor r = Tensor::zeros(*dtype, input->shape);
  for (int64_t n = 0; n < r.numElements(); ++n) {
    double q = std::nearbyint(input->at(n) / sf(n)) + zf(n); // half to even
    r.i[n] = std::clamp<int64_t>(floatToInt(q), lo, hi);
  }
  out.push_back(std::move(r));
  return Status::success();
}

Status dequantizeOp(const OpContext &c, Outputs &out) {
  TRY_ASSIGN(input, c.tensor("input"));
  TRY_ASSIGN(scale, c.tensor("scale"));
  TRY_ASSIGN(zp, c.optTensor("zero_point"));
  std::optional<int64_t> axis;
  if (c.st.arg("axis") || c.st.attr("axis")) {
    TRY_ASSIGN(a, c.intScalar("axis", std::nullopt));
    axis = a;
  }
  if (Status s = needFloat(*scale, "scale"); !s.ok())
    return s;
  TRY_ASSIGN(sf, perAxis(scale, *input, axis, "scale"));
  TRY_ASSIGN(zf, perAxis(zp, *input, axis, "zero_point"));
  Tensor r = Tensor::zeros(scale->dtype, input->shape);
  for (int64_t n = 0; n < r.numElements(); ++n)
    r.f[n] =
        storeAs(r.dtype, static_cast<float>(sf(n) * (input->at(n) - zf(n))));
  out.push_back(std::move(r));
  return Status::success();
}

} // namespace

void addConstexprOps(OpTable &table) {
  table[size_t(mil::OpKind::ConstexprAffineDequantize)] = affineDequantizeOp;
  table[size_t(mil::OpKind::ConstexprBlockwiseShiftScale)] =
      blockwiseShiftScaleOp;
  table[size_t(mil::OpKind::ConstexprLutToDense)] = lutToDenseOp;
  table[size_t(mil::OpKind::Quantize)] = quantizeOp;
  table[size_t(mil::OpKind::Dequantize)] = dequantizeOp;
}

} // namespace ane::runtime
