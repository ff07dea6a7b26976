//===- Passes.h - conversion passes -----------------------------*- C++ -*-===//

#ifndef ANE_LIB_CONVERSION_PASSES_H
#define ANE_LIB_CONVERSION_PASSES_H

#include "lib/Abi/Schemes.h"
#include "lib/Dialect/AneMil/IR/AneMilOps.h"
#include "lib/Dialect/Llama/IR/LlamaOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::ane {

#define GEN_PASS_DECL
#include "lib/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "lib/Conversion/Passes.h.inc"

} // namespace mlir::ane

#endif // ANE_LIB_CONVERSION_PASSES_H
