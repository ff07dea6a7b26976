//===- LlamaOps.h - llama dialect operations --------------------*- C++ -*-===//

#ifndef ANE_LIB_DIALECT_LLAMA_IR_LLAMAOPS_H
#define ANE_LIB_DIALECT_LLAMA_IR_LLAMAOPS_H

#include "lib/Dialect/Llama/IR/LlamaDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "lib/Dialect/Llama/IR/LlamaEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "lib/Dialect/Llama/IR/LlamaAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "lib/Dialect/Llama/IR/LlamaTypes.h.inc"

#define GET_OP_CLASSES
#include "lib/Dialect/Llama/IR/LlamaOps.h.inc"

namespace mlir::llama {

/// The logical [rows, cols] shape of a weight: a ranked tensor's shape or a
/// !llama.qweight's logical shape.
SmallVector<int64_t> getWeightShape(Type type);

/// The shape a weight with `role` must have under `config`.
SmallVector<int64_t> getExpectedWeightShape(ConfigAttr config, Role role);

/// The #llama.config governing `op`: the nearest enclosing `llama.config`.
ConfigAttr lookupConfig(Operation *op);

} // namespace mlir::llama

#endif // ANE_LIB_DIALECT_LLAMA_IR_LLAMAOPS_H
