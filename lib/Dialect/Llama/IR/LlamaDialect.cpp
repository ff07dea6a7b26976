//===- LlamaDialect.cpp - llama dialect -----------------------*- C++ -*-===//

#include "lib/Dialect/Llama/IR/LlamaDialect.h"

#include "lib/Dialect/Llama/IR/LlamaOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::llama;

#include "lib/Dialect/Llama/IR/LlamaDialect.cpp.inc"
#include "lib/Dialect/Llama/IR/LlamaEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "lib/Dialect/Llama/IR/LlamaAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "lib/Dialect/Llama/IR/LlamaTypes.cpp.inc"

void LlamaDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "lib/Dialect/Llama/IR/LlamaOps.cpp.inc"
      >();
  registerAttributes();
  registerTypes();
}

void LlamaDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "lib/Dialect/Llama/IR/LlamaAttrs.cpp.inc"
      >();
}

void LlamaDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "lib/Dialect/Llama/IR/LlamaTypes.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Attribute and type verifiers
//===----------------------------------------------------------------------===//

LogicalResult ConfigAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 int64_t dim, int64_t nLayers, int64_t nHeads,
                                 int64_t nKvHeads, int64_t headDim,
                                 int64_t hiddenDim, int64_t vocabSize,
                                 FloatAttr ropeTheta, FloatAttr normEps,
                                 int64_t maxSeqLen) {
  std::pair<const char *, int64_t> positives[] = {{"dim", dim},
                                                  {"n_layers", nLayers},
                                                  {"n_heads", nHeads},
                                                  {"n_kv_heads", nKvHeads},
                                                  {"head_dim", headDim},
                                                  {"hidden_dim", hiddenDim},
                                                  {"vocab_size", vocabSize},
                                                  {"max_seq_len", maxSeqLen}};
  for (auto [name, value] : positives)
    if (value <= 0)
      return emitError() << name << " must be positive, got " << value;
  if (nHeads * headDim != dim)
    return emitError() << "n_heads (" << nHeads << ") * head_dim (" << headDim
                       << ") must equal dim (" << dim << ")";
  if (nHeads % nKvHeads != 0)
    return emitError() << "n_kv_heads (" << nKvHeads
                       << ") must divide n_heads (" << nHeads << ")";
  if (headDim % 2 != 0)
    return emitError() << "head_dim (" << headDim << ") must be even for RoPE";
  if (ropeTheta.getValueAsDouble() <= 0.0)
    return emitError() << "rope_theta must be positive";
  if (normEps.getValueAsDouble() <= 0.0)
    return emitError() << "norm_eps must be positive";
  return success();
}

unsigned QWeightType::getBitsPerElement() const {
  switch (getScheme()) {
  case QuantScheme::Q8:
    return 8;
  case QuantScheme::Q4:
  case QuantScheme::Lut4:
    return 4;
  case QuantScheme::Q3:
    return 3;
  }
  return 0;
}

LogicalResult QWeightType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  QuantScheme scheme, int64_t group,
                                  ArrayRef<int64_t> shape, Type scaleType) {
  if (shape.size() != 2)
    return emitError() << "expects a rank-2 logical shape, got rank "
                       << shape.size();
  if (shape[0] <= 0 || shape[1] <= 0)
    return emitError() << "shape dimensions must be positive";
  if (group < 0)
    return emitError() << "group size must be non-negative, got " << group;
  if (group > 0 && shape[1] % group != 0)
    return emitError() << "group size " << group
                       << " does not divide in-features " << shape[1];
  if (!scaleType.isF16() && !scaleType.isF32())
    return emitError() << "scale type must be f16 or f32, got " << scaleType;
  return success();
}

//===----------------------------------------------------------------------===//
// Discardable attributes: llama.config and llama.role
//===----------------------------------------------------------------------===//

LogicalResult LlamaDialect::verifyOperationAttribute(Operation *op,
                                                     NamedAttribute attr) {
  if (attr.getName() == getConfigAttrName()) {
    if (!isa<ConfigAttr>(attr.getValue()))
      return op->emitError() << "'" << getConfigAttrName()
                             << "' must be a #llama.config attribute";
    return success();
  }
  if (attr.getName() == getRoleAttrName())
    return op->emitError() << "'" << getRoleAttrName()
                           << "' belongs on a function argument";
  // Set by passes: the kernel a function implements, the quantization
  // scheme of the module's weights.
  if (attr.getName() == "llama.kernel" ||
      attr.getName() == "llama.quantization") {
    if (!isa<StringAttr>(attr.getValue()))
      return op->emitError()
             << "'" << attr.getName().getValue() << "' must be a string";
    return success();
  }
  return op->emitError() << "unknown llama attribute '"
                         << attr.getName().getValue() << "'";
}

LogicalResult LlamaDialect::verifyRegionArgAttribute(Operation *op,
                                                     unsigned regionIndex,
                                                     unsigned argIndex,
                                                     NamedAttribute attr) {
  // Recorded by llama-fuse for the packer.
  if (attr.getName() == "llama.fold_norm") {
    if (!isa<RoleAttr>(attr.getValue()))
      return op->emitError() << "'llama.fold_norm' must be a #llama.role";
    return success();
  }
  if (attr.getName() == "llama.fused_from") {
    auto roles = dyn_cast<ArrayAttr>(attr.getValue());
    if (!roles || roles.empty() ||
        !llvm::all_of(roles, [](Attribute a) { return isa<RoleAttr>(a); }))
      return op->emitError()
             << "'llama.fused_from' must be a list of #llama.role";
    return success();
  }
  if (attr.getName() != getRoleAttrName())
    return op->emitError() << "unknown llama argument attribute '"
                           << attr.getName().getValue() << "'";
  auto role = dyn_cast<RoleAttr>(attr.getValue());
  if (!role)
    return op->emitError() << "'" << getRoleAttrName()
                           << "' must be a #llama.role attribute";
  Region &region = op->getRegion(regionIndex);
  if (region.empty())
    return success();
  Type type = region.getArgument(argIndex).getType();
  SmallVector<int64_t> shape = getWeightShape(type);
  if (shape.empty())
    return op->emitError() << "argument " << argIndex << " with role "
                           << stringifyRole(role.getValue())
                           << " must be a weight tensor, got " << type;
  ConfigAttr config = lookupConfig(op);
  if (!config)
    return success();
  SmallVector<int64_t> expected =
      getExpectedWeightShape(config, role.getValue());
  if (shape != ArrayRef<int64_t>(expected)) {
    auto diag = op->emitError()
                << "argument " << argIndex << " with role "
                << stringifyRole(role.getValue()) << " has shape [";
    llvm::interleaveComma(shape, diag);
    diag << "], the config requires [";
    llvm::interleaveComma(expected, diag);
    return diag << "]";
  }
  return success();
}
