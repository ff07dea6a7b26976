//===- Passes.h - anemil dialect passes -------------------------*- C++ -*-===//

#ifndef ANE_LIB_DIALECT_ANEMIL_TRANSFORMS_PASSES_H
#define ANE_LIB_DIALECT_ANEMIL_TRANSFORMS_PASSES_H

#include "lib/Dialect/AneMil/IR/AneMilOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::anemil {

#define GEN_PASS_DECL
#include "lib/Dialect/AneMil/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "lib/Dialect/AneMil/Transforms/Passes.h.inc"

/// The largest size of any axis on an ANE family ("m1".."m4"); 0 if unknown.
int64_t aneAxisLimit(StringRef family);

} // namespace mlir::anemil

#endif // ANE_LIB_DIALECT_ANEMIL_TRANSFORMS_PASSES_H
