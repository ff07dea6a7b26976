//===- InitAll.h - register everything the ane tools use --------*- C++ -*-===//
//
// Header-only so each tool links just the libraries of what it registers.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_INITALL_H
#define ANE_LIB_INITALL_H

#include "lib/Conversion/Passes.h"
#include "lib/Dialect/AneMil/Export/MILTranslation.h"
#include "lib/Dialect/AneMil/IR/AneMilOps.h"
#include "lib/Dialect/AneMil/Transforms/Passes.h"
#include "lib/Dialect/Llama/IR/LlamaOps.h"
#include "lib/Dialect/Llama/Transforms/Passes.h"
#include "lib/Pipelines.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"

namespace mlir::ane {

/// The dialects every ane tool parses: func plus our two.
inline void registerAllDialects(DialectRegistry &registry) {
  registry
      .insert<func::FuncDialect, llama::LlamaDialect, anemil::AneMilDialect>();
}

/// The passes of our dialects.
inline void registerAllPasses() {
  llama::registerLlamaPasses();
  anemil::registerAneMilPasses();
  ane::registerAneConversionPasses();
  ane::registerCompilePipeline();
}

/// --to-mil, --from-mil and --format-mil.
inline void registerAllTranslations() { anemil::registerMILTranslations(); }

} // namespace mlir::ane

#endif // ANE_LIB_INITALL_H
