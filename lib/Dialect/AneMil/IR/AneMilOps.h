//===- AneMilOps.h - anemil dialect operations ------------------*- C++ -*-===//

#ifndef ANE_LIB_DIALECT_ANEMIL_IR_ANEMILOPS_H
#define ANE_LIB_DIALECT_ANEMIL_IR_ANEMILOPS_H

#include "lib/Dialect/AneMil/IR/AneMilDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "lib/Dialect/AneMil/IR/AneMilAbi.h"
#include "lib/Dialect/AneMil/IR/AneMilEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "lib/Dialect/AneMil/IR/AneMilAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "lib/Dialect/AneMil/IR/AneMilTypes.h.inc"

namespace mlir::anemil {

/// Verifies that an elementwise op's result has the broadcast shape of its
/// `x` and `y` operands.
LogicalResult verifyBroadcastOp(Operation *op);
/// Verifies a reduce_* op's axes and result shape.
LogicalResult verifyReduceOp(Operation *op);

/// The MIL element type an MLIR element type stands for, if any.
std::optional<DType> getDTypeFor(Type elementType);
/// The MLIR element type for a MIL element type.
Type getElementTypeFor(MLIRContext *ctx, DType dtype);

/// The first opset in which a MIL op (by anemil mnemonic) exists.
Opset getIntroducedOpset(StringRef mnemonic);

} // namespace mlir::anemil

#define GET_OP_CLASSES
#include "lib/Dialect/AneMil/IR/AneMilOps.h.inc"

#endif // ANE_LIB_DIALECT_ANEMIL_IR_ANEMILOPS_H
