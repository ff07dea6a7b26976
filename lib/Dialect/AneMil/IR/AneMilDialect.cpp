//===- AneMilDialect.cpp - anemil dialect ---------------------*- C++ -*-===//

#include "lib/Dialect/AneMil/IR/AneMilDialect.h"

#include "lib/Abi/Kernels.h"
#include "lib/Dialect/AneMil/IR/AneMilOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::anemil;

#include "lib/Dialect/AneMil/IR/AneMilDialect.cpp.inc"
#include "lib/Dialect/AneMil/IR/AneMilEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "lib/Dialect/AneMil/IR/AneMilAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "lib/Dialect/AneMil/IR/AneMilTypes.cpp.inc"

void AneMilDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "lib/Dialect/AneMil/IR/AneMilOps.cpp.inc"
      >();
  registerAttributes();
  registerTypes();
}

void AneMilDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "lib/Dialect/AneMil/IR/AneMilAttrs.cpp.inc"
      >();
}

void AneMilDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "lib/Dialect/AneMil/IR/AneMilTypes.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Element types
//===----------------------------------------------------------------------===//

std::optional<DType> mlir::anemil::getDTypeFor(Type t) {
  if (t.isF16())
    return DType::FP16;
  if (t.isF32())
    return DType::FP32;
  auto i = dyn_cast<IntegerType>(t);
  if (!i || i.isSigned())
    return std::nullopt;
  unsigned w = i.getWidth();
  if (i.isSignless()) {
    switch (w) {
    case 1:
      return DType::Bool;
    case 4:
      return DType::Int4;
    case 8:
      return DType::Int8;
    case 16:
      return DType::Int16;
    case 32:
      return DType::Int32;
    default:
      return std::nullopt;
    }
  }
  switch (w) {
  case 1:
    return DType::UInt1;
  case 2:
    return DType::UInt2;
  case 3:
    return DType::UInt3;
  case 4:
    return DType::UInt4;
  case 6:
    return DType::UInt6;
  case 8:
    return DType::UInt8;
  case 16:
    return DType::UInt16;
  default:
    return std::nullopt;
  }
}

Type mlir::anemil::getElementTypeFor(MLIRContext *ctx, DType d) {
  auto sl = [&](unsigned w) { return IntegerType::get(ctx, w); };
  auto ui = [&](unsigned w) {
    return IntegerType::get(ctx, w, IntegerType::Unsigned);
  };
  switch (d) {
  case DType::FP16:
    return Float16Type::get(ctx);
  case DType::FP32:
    return Float32Type::get(ctx);
  case DType::Bool:
    return sl(1);
  case DType::Int4:
    return sl(4);
  case DType::Int8:
    return sl(8);
  case DType::Int16:
    return sl(16);
  case DType::Int32:
    return sl(32);
  case DType::UInt1:
    return ui(1);
  case DType::UInt2:
    return ui(2);
  case DType::UInt3:
    return ui(3);
  case DType::UInt4:
    return ui(4);
  case DType::UInt6:
    return ui(6);
  case DType::UInt8:
    return ui(8);
  case DType::UInt16:
    return ui(16);
  }
  return {};
}

//===----------------------------------------------------------------------===//
// #anemil.blob
//===----------------------------------------------------------------------===//

LogicalResult BlobAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               StringRef path, uint64_t offset, Type type) {
  if (path.empty())
    return emitError() << "blob path must not be empty";
  // The first metadata record follows the 64-byte file header, and the
  // writer aligns every record to 64 bytes.
  if (offset < 64 || offset % 64 != 0)
    return emitError() << "blob offset " << offset
                       << " must be a multiple of 64, at least 64";
  auto tensor = llvm::dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape())
    return emitError() << "blob type must be a statically shaped tensor, got "
                       << type;
  if (!getDTypeFor(tensor.getElementType()) ||
      tensor.getElementType().isInteger(1))
    return emitError() << "element type " << tensor.getElementType()
                       << " cannot be stored in weight.bin";
  return success();
}

LogicalResult
WeightSlotAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                       StringAttr role, ::ane::abi::Segment, ::ane::abi::Scheme,
                       int64_t group, DenseI64ArrayAttr shape, ArrayAttr blobs,
                       DenseI64ArrayAttr offsets, ArrayAttr fusedFrom,
                       StringAttr, int64_t ropeRows, int64_t headDim) {
  if (!role || role.getValue().empty())
    return emitError() << "a weight slot needs a role";
  if (blobs.size() != offsets.size() || blobs.empty())
    return emitError() << "slot '" << role.getValue() << "' has "
                       << blobs.size() << " blobs and " << offsets.size()
                       << " offsets";
  for (Attribute b : blobs) {
    auto t = llvm::dyn_cast<TypeAttr>(b);
    auto tensor = t ? llvm::dyn_cast<RankedTensorType>(t.getValue()) : nullptr;
    if (!tensor || !tensor.hasStaticShape() ||
        !getDTypeFor(tensor.getElementType()))
      return emitError() << "slot '" << role.getValue()
                         << "': blobs must be static tensor types of MIL "
                            "element types";
  }
  for (int64_t o : offsets.asArrayRef())
    if (o < 64 || o % 64 != 0)
      return emitError() << "slot '" << role.getValue() << "': blob offset "
                         << o << " must be a multiple of 64, at least 64";
  if (shape.empty() || shape.size() > 2 || group < 0 || ropeRows < 0 ||
      headDim < 0)
    return emitError() << "slot '" << role.getValue()
                       << "': bad shape, group or rope rows";
  if (fusedFrom && llvm::any_of(fusedFrom, [](Attribute a) {
        return !llvm::isa<StringAttr>(a);
      }))
    return emitError() << "slot '" << role.getValue()
                       << "': fused_from must list role names";
  return success();
}

RankedTensorType WeightSlotAttr::getBlobType(unsigned i) const {
  return llvm::cast<RankedTensorType>(
      llvm::cast<TypeAttr>(getBlobs()[i]).getValue());
}

::ane::abi::SlotSpec WeightSlotAttr::toSlotSpec() const {
  ::ane::abi::SlotSpec s;
  s.role = getRole().str();
  s.segment = getSegment();
  s.scheme = getScheme();
  s.group = getGroup();
  s.shape.assign(getShape().asArrayRef().begin(),
                 getShape().asArrayRef().end());
  for (unsigned i = 0; i < getBlobs().size(); ++i) {
    RankedTensorType t = getBlobType(i);
    ::ane::abi::BlobSpec b;
    b.dtype = *::ane::mil::parseDType(
        stringifyDType(*getDTypeFor(t.getElementType())).str());
    b.shape.assign(t.getShape().begin(), t.getShape().end());
    b.offset = uint64_t(getOffsets()[i]);
    s.blobs.push_back(std::move(b));
  }
  if (getFusedFrom())
    for (Attribute r : getFusedFrom())
      s.fusedFrom.push_back(llvm::cast<StringAttr>(r).str());
  if (getFoldNorm())
    s.foldNorm = getFoldNorm().str();
  s.ropeRows = getRopeRows();
  s.headDim = getHeadDim();
  return s;
}

WeightSlotAttr WeightSlotAttr::fromSlotSpec(MLIRContext *ctx,
                                            const ::ane::abi::SlotSpec &s) {
  Builder b(ctx);
  SmallVector<Attribute> blobs;
  SmallVector<int64_t> offsets;
  for (const ::ane::abi::BlobSpec &blob : s.blobs) {
    auto dtype = symbolizeDType(std::string(::ane::mil::dtypeName(blob.dtype)));
    blobs.push_back(TypeAttr::get(
        RankedTensorType::get(blob.shape, getElementTypeFor(ctx, *dtype))));
    offsets.push_back(int64_t(blob.offset));
  }
  ArrayAttr fused;
  if (!s.fusedFrom.empty()) {
    SmallVector<Attribute> names;
    for (const std::string &r : s.fusedFrom)
      names.push_back(b.getStringAttr(r));
    fused = b.getArrayAttr(names);
  }
  return get(ctx, b.getStringAttr(s.role), s.segment, s.scheme, s.group,
             b.getDenseI64ArrayAttr(s.shape), b.getArrayAttr(blobs),
             b.getDenseI64ArrayAttr(offsets), fused,
             s.foldNorm.empty() ? StringAttr() : b.getStringAttr(s.foldNorm),
             s.ropeRows, s.headDim);
}

//===----------------------------------------------------------------------===//
// Opsets
//===----------------------------------------------------------------------===//

Opset mlir::anemil::getIntroducedOpset(StringRef mnemonic) {
  return llvm::StringSwitch<Opset>(mnemonic)
      .Cases("constexpr_affine_dequantize", "constexpr_lut_to_dense",
             Opset::IOS16)
      .Cases("quantize", "dequantize", Opset::IOS17)
      .Cases("scaled_dot_product_attention", "constexpr_blockwise_shift_scale",
             "read_state", "write_state", Opset::IOS18)
      .Default(Opset::IOS15);
}

namespace {
LogicalResult verifyNameAttr(Operation *op, NamedAttribute attr) {
  if (attr.getName() != "anemil.name")
    return op->emitError() << "unknown anemil argument or result attribute '"
                           << attr.getName().getValue() << "'";
  if (!isa<StringAttr>(attr.getValue()))
    return op->emitError() << "'anemil.name' must be a string";
  return success();
}
} // namespace

LogicalResult AneMilDialect::verifyRegionArgAttribute(Operation *op, unsigned,
                                                      unsigned,
                                                      NamedAttribute attr) {
  return verifyNameAttr(op, attr);
}

LogicalResult AneMilDialect::verifyRegionResultAttribute(Operation *op,
                                                         unsigned, unsigned,
                                                         NamedAttribute attr) {
  return verifyNameAttr(op, attr);
}

LogicalResult AneMilDialect::verifyOperationAttribute(Operation *op,
                                                      NamedAttribute attr) {
  if (attr.getName() == "anemil.kernel") {
    if (!isa<StringAttr>(attr.getValue()))
      return op->emitError() << "'anemil.kernel' must be a string";
    return success();
  }
  if (attr.getName() == "anemil.weights" ||
      attr.getName() == "anemil.weight_slots") {
    auto list = dyn_cast<ArrayAttr>(attr.getValue());
    if (!list ||
        llvm::any_of(list, [](Attribute a) { return !isa<WeightSlotAttr>(a); }))
      return op->emitError() << "'" << attr.getName().getValue()
                             << "' must be an array of #anemil.weight_slot";
    return success();
  }
  if (attr.getName() == "anemil.packed_inputs") {
    if (!isa<ArrayAttr>(attr.getValue()))
      return op->emitError()
             << "'" << attr.getName().getValue() << "' must be an array";
    return success();
  }
  if (attr.getName() == "anemil.padded_channels") {
    auto dict = dyn_cast<DictionaryAttr>(attr.getValue());
    if (!dict || llvm::any_of(dict, [](NamedAttribute a) {
          auto c = dyn_cast<IntegerAttr>(a.getValue());
          return !c || c.getInt() < 1;
        }))
      return op->emitError() << "'anemil.padded_channels' must map names to "
                                "positive channel counts";
    return success();
  }
  if (attr.getName() == "anemil.dtype") {
    auto s = dyn_cast<StringAttr>(attr.getValue());
    if (!s || !::ane::abi::parseDType(s.getValue().str()))
      return op->emitError() << "'anemil.dtype' must be \"fp16\" or \"fp32\"";
    return success();
  }
  if (attr.getName() == "anemil.weight_binding") {
    auto s = dyn_cast<StringAttr>(attr.getValue());
    if (!s || !::ane::abi::parseWeightBinding(s.getValue().str()))
      return op->emitError()
             << "'anemil.weight_binding' must be \"blob\" or \"input\"";
    return success();
  }
  if (attr.getName() == "anemil.lora_rank") {
    auto rank = dyn_cast<IntegerAttr>(attr.getValue());
    if (!rank || rank.getInt() <= 0)
      return op->emitError() << "'anemil.lora_rank' must be a positive integer";
    return success();
  }
  if (attr.getName() == "anemil.lora_targets") {
    auto targets = dyn_cast<ArrayAttr>(attr.getValue());
    bool ok = targets && !targets.empty();
    for (Attribute t : ok ? targets.getValue() : ArrayRef<Attribute>()) {
      auto s = dyn_cast<StringAttr>(t);
      ok &= s && ::ane::abi::isLoraRole(s.getValue().str());
    }
    if (!ok)
      return op->emitError() << "'anemil.lora_targets' must list roles "
                                "adapters can target";
    return success();
  }
  if (attr.getName() != getOpsetAttrName())
    return op->emitError() << "unknown anemil attribute '"
                           << attr.getName().getValue() << "'";
  auto opset = dyn_cast<OpsetAttr>(attr.getValue());
  if (!opset)
    return op->emitError() << "'" << getOpsetAttrName()
                           << "' must be an #anemil.opset attribute";
  if (!isa<FunctionOpInterface>(op))
    return op->emitError() << "'" << getOpsetAttrName()
                           << "' belongs on a function";
  LogicalResult result = success();
  op->walk([&](Operation *inner) {
    if (inner->getDialect() != this)
      return;
    StringRef mnemonic = inner->getName().stripDialect();
    Opset needed = getIntroducedOpset(mnemonic);
    if (needed > opset.getValue()) {
      inner->emitOpError() << "needs opset " << stringifyOpset(needed)
                           << ", the function is "
                           << stringifyOpset(opset.getValue());
      result = failure();
    }
  });
  return result;
}
