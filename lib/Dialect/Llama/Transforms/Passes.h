//===- Passes.h - llama dialect passes --------------------------*- C++ -*-===//

#ifndef ANE_LIB_DIALECT_LLAMA_TRANSFORMS_PASSES_H
#define ANE_LIB_DIALECT_LLAMA_TRANSFORMS_PASSES_H

#include "lib/Abi/Schemes.h"
#include "lib/Dialect/Llama/IR/LlamaOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::llama {

#define GEN_PASS_DECL
#include "lib/Dialect/Llama/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "lib/Dialect/Llama/Transforms/Passes.h.inc"

/// Name of the function attribute naming a kernel of the plan.
constexpr StringLiteral kKernelAttrName = "llama.kernel";
/// Module attribute recording the quantization scheme.
constexpr StringLiteral kQuantizationAttrName = "llama.quantization";

} // namespace mlir::llama

#endif // ANE_LIB_DIALECT_LLAMA_TRANSFORMS_PASSES_H
