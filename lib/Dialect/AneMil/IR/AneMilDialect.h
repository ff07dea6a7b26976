//===- AneMilDialect.h - anemil dialect -------------------------*- C++ -*-===//

#ifndef ANE_LIB_DIALECT_ANEMIL_IR_ANEMILDIALECT_H
#define ANE_LIB_DIALECT_ANEMIL_IR_ANEMILDIALECT_H

#include "mlir/IR/Dialect.h"

#include "lib/Dialect/AneMil/IR/AneMilDialect.h.inc"

#endif // ANE_LIB_DIALECT_ANEMIL_IR_ANEMILDIALECT_H
