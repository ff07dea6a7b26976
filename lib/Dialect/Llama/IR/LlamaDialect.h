//===- LlamaDialect.h - llama dialect ---------------------------*- C++ -*-===//

#ifndef ANE_LIB_DIALECT_LLAMA_IR_LLAMADIALECT_H
#define ANE_LIB_DIALECT_LLAMA_IR_LLAMADIALECT_H

#include "mlir/IR/Dialect.h"

#include "lib/Dialect/Llama/IR/LlamaDialect.h.inc"

#endif // ANE_LIB_DIALECT_LLAMA_IR_LLAMADIALECT_H
