//===- ModelImport.h - model files to the llama dialect ---------*- C++ -*-===//

#ifndef ANE_LIB_DIALECT_LLAMA_IMPORT_MODELIMPORT_H
#define ANE_LIB_DIALECT_LLAMA_IMPORT_MODELIMPORT_H

#include "lib/Model/Model.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace mlir::llama {

/// Builds the llama-dialect module of a model: the #llama.config, @embed,
/// the @layer template (weights are role-tagged arguments; no weight data
/// enters the IR) and @head. Sequence and context lengths are left dynamic
/// (`?`); kernel outlining picks the buckets.
OwningOpRef<ModuleOp> importModel(const ::ane::model::ModelSpec &model,
                                  MLIRContext *context);

/// True if the command line asks for `--import-model=<file|synthetic:NAME>`.
bool isImportModelInvocation(int argc, char **argv);

/// `ane-translate --import-model=SPEC [-o FILE] [--mlir-print-...]`: the model
/// is named by the flag, not by an input file, so this mode does not go
/// through mlirTranslateMain (which always reads one).
int importModelMain(int argc, char **argv);

} // namespace mlir::llama

#endif // ANE_LIB_DIALECT_LLAMA_IMPORT_MODELIMPORT_H
