//===- AneMilOps.cpp - anemil dialect operations --------------*- C++ -*-===//
//
// Verifiers implement MIL's rules; the shape arithmetic itself lives in
// lib/MIL/ShapeRules so that the executor uses exactly the same rules.
//
//===----------------------------------------------------------------------===//

#include "lib/Dialect/AneMil/IR/AneMilOps.h"

#include "lib/MIL/ShapeRules.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace mlir::anemil;
namespace mil = ane::mil;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

namespace {

mil::Shape shapeOf(Value v) {
  auto shape = cast<RankedTensorType>(v.getType()).getShape();
  return mil::Shape(shape.begin(), shape.end());
}

mil::Shape shapeOf(Type t) {
  auto shape = cast<RankedTensorType>(t).getShape();
  return mil::Shape(shape.begin(), shape.end());
}

std::vector<int64_t> toVector(ArrayRef<int64_t> a) {
  return std::vector<int64_t>(a.begin(), a.end());
}

std::optional<std::vector<int64_t>>
toOptVector(std::optional<ArrayRef<int64_t>> a) {
  if (!a)
    return std::nullopt;
  return toVector(*a);
}

std::vector<bool> toBools(std::optional<ArrayRef<bool>> a) {
  if (!a)
    return {};
  return std::vector<bool>(a->begin(), a->end());
}

/// Reports a shape-rule failure, or a result that differs from the rule.
LogicalResult checkInferred(Operation *op, const mil::ShapeOrError &inferred,
                            Type resultType, StringRef what = "result") {
  if (!inferred.ok())
    return op->emitOpError() << inferred.error;
  mil::Shape actual = shapeOf(resultType);
  if (!mil::shapesCompatible(actual, inferred.shape))
    return op->emitOpError() << what << " shape " << mil::formatShape(actual)
                             << " does not match the inferred shape "
                             << mil::formatShape(inferred.shape);
  return success();
}

/// MIL requires some tensor parameters to be compile-time constants.
LogicalResult requireConst(Operation *op, Value v, StringRef param,
                           bool allowConstexpr) {
  Operation *def = v.getDefiningOp();
  if (def && isa<ConstOp>(def))
    return success();
  if (def && allowConstexpr &&
      isa<ConstexprAffineDequantizeOp, ConstexprBlockwiseShiftScaleOp,
          ConstexprLutToDenseOp>(def))
    return success();
  return op->emitOpError() << "parameter '" << param
                           << "' must be defined by anemil.const"
                           << (allowConstexpr ? " or a constexpr_* op" : "");
}

LogicalResult checkAxis(Operation *op, int64_t axis, int64_t rank,
                        StringRef name = "axis") {
  if (!mil::normalizeAxis(axis, rank))
    return op->emitOpError()
           << name << " " << axis << " is out of range for rank " << rank;
  return success();
}

Type elementTypeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getElementType();
}

/// A scale or zero point that is a scalar or 1-D along `axis` of `data`.
LogicalResult checkPerAxisParam(Operation *op, Value param, StringRef name,
                                const mil::Shape &data,
                                std::optional<int64_t> axis) {
  mil::Shape p = shapeOf(param);
  int64_t count = 1;
  for (int64_t d : p)
    count *= d;
  if (p.empty() || count == 1)
    return success();
  if (p.size() != 1)
    return op->emitOpError() << name << " must be a scalar or 1-D";
  if (!axis)
    return op->emitOpError() << "a 1-D " << name << " needs an axis";
  int64_t a = *mil::normalizeAxis(*axis, static_cast<int64_t>(data.size()));
  if (p[0] != data[a])
    return op->emitOpError()
           << name << " has " << p[0] << " entries, the data has " << data[a]
           << " along axis " << *axis;
  return success();
}

} // namespace

LogicalResult mlir::anemil::verifyBroadcastOp(Operation *op) {
  return checkInferred(op,
                       mil::broadcastShapes(shapeOf(op->getOperand(0)),
                                            shapeOf(op->getOperand(1))),
                       op->getResult(0).getType());
}

LogicalResult mlir::anemil::verifyReduceOp(Operation *op) {
  auto axes = op->getAttrOfType<DenseI64ArrayAttr>("axes");
  auto keep = op->getAttrOfType<BoolAttr>("keep_dims");
  std::optional<std::vector<int64_t>> axesVec;
  if (axes)
    axesVec = toVector(axes.asArrayRef());
  return checkInferred(op,
                       mil::reduceShape(shapeOf(op->getOperand(0)), axesVec,
                                        keep && keep.getValue()),
                       op->getResult(0).getType());
}

#define GET_OP_CLASSES
#include "lib/Dialect/AneMil/IR/AneMilOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Constants
//===----------------------------------------------------------------------===//

LogicalResult ConstexprAffineDequantizeOp::verify() {
  for (auto [v, name] : {std::pair{getQuantizedData(), "quantized_data"},
                         std::pair{getScale(), "scale"},
                         std::pair{getZeroPoint(), "zero_point"}})
    if (failed(requireConst(*this, v, name, /*allowConstexpr=*/false)))
      return failure();
  mil::Shape data = shapeOf(getQuantizedData());
  if (failed(checkAxis(*this, getAxis(), data.size())))
    return failure();
  if (failed(checkPerAxisParam(*this, getScale(), "scale", data, getAxis())) ||
      failed(checkPerAxisParam(*this, getZeroPoint(), "zero_point", data,
                               getAxis())))
    return failure();
  Type zp = elementTypeOf(getZeroPoint());
  if (!zp.isF32() && zp != elementTypeOf(getQuantizedData()))
    return emitOpError() << "zero_point must have the data's dtype or fp32";
  if (elementTypeOf(getOutput()) != elementTypeOf(getScale()))
    return emitOpError() << "output dtype must equal the scale dtype";
  return checkInferred(*this, {data, {}}, getOutput().getType());
}

LogicalResult ConstexprBlockwiseShiftScaleOp::verify() {
  if (failed(requireConst(*this, getData(), "data", false)) ||
      failed(requireConst(*this, getScale(), "scale", false)) ||
      (getOffset() &&
       failed(requireConst(*this, getOffset(), "offset", false))))
    return failure();
  mil::Shape data = shapeOf(getData()), scale = shapeOf(getScale());
  if (scale.size() != data.size())
    return emitOpError() << "scale rank " << scale.size()
                         << " must equal the data rank " << data.size();
  for (size_t i = 0; i < data.size(); ++i)
    if (scale[i] <= 0 || data[i] % scale[i] != 0)
      return emitOpError() << "scale dim " << i << " (" << scale[i]
                           << ") does not divide data dim " << data[i];
  if (getOffset()) {
    if (shapeOf(getOffset()) != scale)
      return emitOpError() << "offset must have the scale's shape";
    Type off = elementTypeOf(getOffset());
    if (!isa<FloatType>(off) && off != elementTypeOf(getData()))
      return emitOpError() << "an integer offset must have the data's dtype";
  }
  if (elementTypeOf(getOutput()) != elementTypeOf(getScale()))
    return emitOpError() << "output dtype must equal the scale dtype";
  return checkInferred(*this, {data, {}}, getOutput().getType());
}

LogicalResult ConstexprLutToDenseOp::verify() {
  if (failed(requireConst(*this, getIndices(), "indices", false)) ||
      failed(requireConst(*this, getLut(), "lut", false)))
    return failure();
  if (elementTypeOf(getOutput()) != elementTypeOf(getLut()))
    return emitOpError() << "output dtype must equal the lut dtype";
  mil::Shape idx = shapeOf(getIndices()), lut = shapeOf(getLut());
  if (auto shape = getShape()) {
    // iOS16 form: packed bytes, a flat palette, an explicit shape.
    if (getVectorAxis())
      return emitOpError() << "vector_axis needs the iOS18 form (no shape)";
    if (!elementTypeOf(getIndices()).isUnsignedInteger(8) || idx.size() != 1)
      return emitOpError() << "iOS16 indices must be a 1-D uint8 tensor";
    if (lut.size() != 1)
      return emitOpError() << "iOS16 lut must be 1-D";
    int64_t bits = 0;
    for (int64_t b : {1, 2, 4, 6, 8})
      if (lut[0] == (int64_t(1) << b))
        bits = b;
    if (!bits)
      return emitOpError() << "lut size " << lut[0]
                           << " must be 2, 4, 16, 64 or 256";
    int64_t count = 1;
    for (int64_t d : *shape) {
      if (d <= 0)
        return emitOpError() << "shape entries must be positive";
      count *= d;
    }
    int64_t bytes = (count * bits + 7) / 8;
    if (idx[0] != bytes)
      return emitOpError() << "indices hold " << idx[0] << " bytes, " << count
                           << " " << bits << "-bit values need " << bytes;
    return checkInferred(*this, {toVector(*shape), {}}, getOutput().getType());
  }
  // iOS18 form: one index per element, a palette per group.
  unsigned bits = elementTypeOf(getIndices()).getIntOrFloatBitWidth();
  if (lut.size() != idx.size() + 2)
    return emitOpError() << "lut rank must be the indices rank + 2";
  if (lut[idx.size()] != (int64_t(1) << bits))
    return emitOpError() << "lut has " << lut[idx.size()] << " entries per "
                         << "palette, " << bits << "-bit indices need "
                         << (int64_t(1) << bits);
  int64_t vectorSize = lut.back();
  mil::Shape out = idx;
  if (vectorSize > 1) {
    int64_t axis = getVectorAxis().value_or(0);
    if (failed(checkAxis(*this, axis, idx.size(), "vector_axis")))
      return failure();
    out[*mil::normalizeAxis(axis, idx.size())] *= vectorSize;
  }
  for (size_t i = 0; i < idx.size(); ++i)
    if (lut[i] <= 0 || out[i] % lut[i] != 0)
      return emitOpError() << "lut dim " << i << " (" << lut[i]
                           << ") does not divide output dim " << out[i];
  return checkInferred(*this, {out, {}}, getOutput().getType());
}

//===----------------------------------------------------------------------===//
// Quantization and casts
//===----------------------------------------------------------------------===//

/// The shared shape rules of quantize and dequantize: an optional axis of
/// the input, scale and zero point scalar or 1-D along it, and an output of
/// the input's shape.
static LogicalResult checkPerAxisQuantization(Operation *op, Value input,
                                              Value scale, Value zeroPoint,
                                              std::optional<int64_t> axis,
                                              Type output) {
  mil::Shape in = shapeOf(input);
  if (axis && failed(checkAxis(op, *axis, in.size())))
    return failure();
  if (failed(checkPerAxisParam(op, scale, "scale", in, axis)) ||
      (zeroPoint &&
       failed(checkPerAxisParam(op, zeroPoint, "zero_point", in, axis))))
    return failure();
  return checkInferred(op, {in, {}}, output);
}

LogicalResult QuantizeOp::verify() {
  if (failed(requireConst(*this, getScale(), "scale", true)) ||
      (getZeroPoint() &&
       failed(requireConst(*this, getZeroPoint(), "zero_point", true))))
    return failure();
  DType out = getOutputDtype();
  if (out != DType::Int8 && out != DType::UInt8)
    return emitOpError() << "output_dtype must be int8 or uint8";
  if (elementTypeOf(getOutput()) != getElementTypeFor(getContext(), out))
    return emitOpError() << "result element type does not match output_dtype";
  if (getZeroPoint() &&
      elementTypeOf(getZeroPoint()) != elementTypeOf(getOutput()))
    return emitOpError() << "zero_point dtype must equal output_dtype";
  if (elementTypeOf(getScale()) != elementTypeOf(getInput()))
    return emitOpError() << "scale dtype must equal the input dtype";
  return checkPerAxisQuantization(*this, getInput(), getScale(), getZeroPoint(),
                                  getAxis(), getOutput().getType());
}

LogicalResult DequantizeOp::verify() {
  if (failed(requireConst(*this, getScale(), "scale", true)) ||
      (getZeroPoint() &&
       failed(requireConst(*this, getZeroPoint(), "zero_point", true))))
    return failure();
  if (getZeroPoint() &&
      elementTypeOf(getZeroPoint()) != elementTypeOf(getInput()))
    return emitOpError() << "zero_point dtype must equal the input dtype";
  if (elementTypeOf(getOutput()) != elementTypeOf(getScale()))
    return emitOpError() << "output dtype must equal the scale dtype";
  return checkPerAxisQuantization(*this, getInput(), getScale(), getZeroPoint(),
                                  getAxis(), getOutput().getType());
}

LogicalResult CastOp::verify() {
  if (elementTypeOf(getOutput()) != getElementTypeFor(getContext(), getDtype()))
    return emitOpError() << "result element type does not match dtype "
                         << stringifyDType(getDtype());
  return checkInferred(*this, {shapeOf(getX()), {}}, getOutput().getType());
}

//===----------------------------------------------------------------------===//
// Linear algebra, convolution, normalization, attention
//===----------------------------------------------------------------------===//

LogicalResult ConvOp::verify() {
  mil::ConvParams p;
  p.strides = toOptVector(getStrides()).value_or(std::vector<int64_t>{});
  p.dilations = toOptVector(getDilations()).value_or(std::vector<int64_t>{});
  p.pad = toOptVector(getPad()).value_or(std::vector<int64_t>{});
  p.groups = getGroups().value_or(1);
  switch (getPadType().value_or(PadType::Valid)) {
  case PadType::Valid:
    p.padType = mil::PadType::Valid;
    break;
  case PadType::Same:
    p.padType = mil::PadType::Same;
    break;
  case PadType::SameLower:
    p.padType = mil::PadType::SameLower;
    break;
  case PadType::Custom:
    p.padType = mil::PadType::Custom;
    break;
  }
  if (getBias()) {
    mil::Shape b = shapeOf(getBias()), w = shapeOf(getWeight());
    if (b.size() != 1 || (!w.empty() && b[0] != w[0]))
      return emitOpError() << "bias must be 1-D with one entry per output "
                              "channel";
  }
  return checkInferred(*this,
                       mil::convShape(shapeOf(getX()), shapeOf(getWeight()), p),
                       getOutput().getType());
}

LogicalResult MatmulOp::verify() {
  return checkInferred(*this,
                       mil::matmulShape(shapeOf(getX()), shapeOf(getY()),
                                        getTransposeX().value_or(false),
                                        getTransposeY().value_or(false)),
                       getOutput().getType());
}

LogicalResult LinearOp::verify() {
  if (failed(requireConst(*this, getWeight(), "weight", true)) ||
      (getBias() && failed(requireConst(*this, getBias(), "bias", true))))
    return failure();
  if (elementTypeOf(getWeight()) != elementTypeOf(getX()))
    return emitOpError() << "weight dtype must equal the x dtype";
  mil::Shape w = shapeOf(getWeight());
  if (getBias()) {
    mil::Shape b = shapeOf(getBias());
    if (b.size() != 1 || (w.size() == 2 && b[0] != w[0]))
      return emitOpError() << "bias must be 1-D with one entry per output";
  }
  return checkInferred(*this, mil::linearShape(shapeOf(getX()), w),
                       getOutput().getType());
}

LogicalResult LayerNormOp::verify() {
  mil::Shape x = shapeOf(getX());
  int64_t rank = x.size();
  std::vector<int64_t> axes;
  if (auto a = getAxes()) {
    for (int64_t axis : *a) {
      if (failed(checkAxis(*this, axis, rank, "axes entry")))
        return failure();
      axes.push_back(*mil::normalizeAxis(axis, rank));
    }
  } else {
    for (int64_t i = 0; i < rank; ++i)
      axes.push_back(i);
  }
  mil::Shape normShape;
  for (int64_t a : axes)
    normShape.push_back(x[a]);
  for (auto [v, name] :
       {std::pair{getGamma(), "gamma"}, std::pair{getBeta(), "beta"}}) {
    if (!v)
      continue;
    if (failed(requireConst(*this, v, name, true)))
      return failure();
    if (!mil::shapesCompatible(shapeOf(v), normShape))
      return emitOpError() << name << " has shape "
                           << mil::formatShape(shapeOf(v))
                           << ", expected x's shape over axes "
                           << mil::formatShape(normShape);
  }
  return success();
}

LogicalResult ScaledDotProductAttentionOp::verify() {
  std::optional<mil::Shape> mask;
  if (getAttnMask())
    mask = shapeOf(getAttnMask());
  return checkInferred(*this,
                       mil::sdpaShape(shapeOf(getQuery()), shapeOf(getKey()),
                                      shapeOf(getValue()), mask),
                       getOutput().getType());
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxOp::verify() {
  return checkAxis(*this, getAxis().value_or(-1), getX().getType().getRank());
}

LogicalResult SelectOp::verify() {
  mil::ShapeOrError ab = mil::broadcastShapes(shapeOf(getA()), shapeOf(getB()));
  if (!ab.ok())
    return emitOpError() << ab.error;
  return checkInferred(*this,
                       mil::broadcastShapes(shapeOf(getCond()), ab.shape),
                       getOutput().getType());
}

//===----------------------------------------------------------------------===//
// Shape and data movement
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::verify() {
  return checkInferred(*this,
                       mil::reshapeShape(shapeOf(getX()), toVector(getShape())),
                       getOutput().getType());
}

LogicalResult TransposeOp::verify() {
  return checkInferred(
      *this, mil::transposeShape(shapeOf(getX()), toVector(getPerm())),
      getOutput().getType());
}

LogicalResult ExpandDimsOp::verify() {
  return checkInferred(
      *this, mil::expandDimsShape(shapeOf(getX()), toVector(getAxes())),
      getOutput().getType());
}

LogicalResult SqueezeOp::verify() {
  return checkInferred(
      *this, mil::squeezeShape(shapeOf(getX()), toOptVector(getAxes())),
      getOutput().getType());
}

LogicalResult SliceByIndexOp::verify() {
  mil::SliceByIndexParams p;
  p.begin = toVector(getBegin());
  p.end = toVector(getEnd());
  p.stride = toOptVector(getStride()).value_or(std::vector<int64_t>{});
  p.beginMask = toBools(getBeginMask());
  p.endMask = toBools(getEndMask());
  p.squeezeMask = toBools(getSqueezeMask());
  return checkInferred(*this, mil::sliceByIndexShape(shapeOf(getX()), p),
                       getOutput().getType());
}

LogicalResult SliceBySizeOp::verify() {
  return checkInferred(*this,
                       mil::sliceBySizeShape(shapeOf(getX()),
                                             toVector(getBegin()),
                                             toVector(getSize())),
                       getOutput().getType());
}

LogicalResult PadOp::verify() {
  return checkInferred(*this,
                       mil::padShape(shapeOf(getX()), toVector(getPad())),
                       getOutput().getType());
}

LogicalResult ConcatOp::verify() {
  std::vector<mil::Shape> shapes;
  for (Value v : getValues())
    shapes.push_back(shapeOf(v));
  return checkInferred(
      *this,
      mil::concatShape(shapes, getAxis(), getInterleave().value_or(false)),
      getOutput().getType());
}

LogicalResult SplitOp::verify() {
  mil::ShapesOrError r = mil::splitShapes(
      shapeOf(getX()), getAxis(), getNumSplits(), toOptVector(getSplitSizes()));
  if (!r.ok())
    return emitOpError() << r.error;
  if (r.shapes.size() != getOutputs().size())
    return emitOpError() << "has " << getOutputs().size()
                         << " results, the split makes " << r.shapes.size();
  for (auto [i, out] : llvm::enumerate(getOutputs()))
    if (failed(checkInferred(*this, {r.shapes[i], {}}, out.getType(),
                             "result #" + std::to_string(i))))
      return failure();
  return success();
}

LogicalResult GatherOp::verify() {
  return checkInferred(*this,
                       mil::gatherShape(shapeOf(getX()), shapeOf(getIndices()),
                                        getAxis().value_or(0),
                                        getBatchDims().value_or(0)),
                       getOutput().getType());
}

LogicalResult BandPartOp::verify() {
  if (getX().getType().getRank() < 2)
    return emitOpError() << "x must have rank >= 2";
  return success();
}

LogicalResult FillOp::verify() {
  Type expected = Float32Type::get(getContext());
  if (auto value = getValue()) {
    auto typed = dyn_cast<TypedAttr>(*value);
    if (!isa<FloatAttr, IntegerAttr>(*value))
      return emitOpError() << "value must be a scalar literal";
    expected = typed.getType();
  }
  if (getOutput().getType().getElementType() != expected)
    return emitOpError() << "result element type must be the value's type "
                         << expected;
  for (int64_t d : getShape())
    if (d <= 0)
      return emitOpError() << "shape entries must be positive";
  return checkInferred(*this, {toVector(getShape()), {}},
                       getOutput().getType());
}
