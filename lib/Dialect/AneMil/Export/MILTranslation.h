//===- MILTranslation.h - anemil <-> MIL text -------------------*- C++ -*-===//

#ifndef ANE_LIB_DIALECT_ANEMIL_EXPORT_MILTRANSLATION_H
#define ANE_LIB_DIALECT_ANEMIL_EXPORT_MILTRANSLATION_H

#include "lib/Abi/KernelSet.h"
#include "lib/MIL/Program.h"
#include "lib/MIL/WeightFile.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace mlir::anemil {

struct MILExportOptions {
  /// Where to write weight.bin for constants of 10 or more elements. Empty:
  /// such constants are an error.
  std::string weightsDir;
  /// The BLOBFILE path written into the text.
  std::string blobPath = ::ane::mil::kModelWeightPath;
};

/// Builds the MIL program for every func.func of `module` (one MIL function
/// each). Scalar attributes become `const` statements with deterministic
/// names; large constants go to weight.bin.
FailureOr<::ane::mil::Program> exportMIL(ModuleOp module,
                                         const MILExportOptions &options);
/// exportMIL, then prints the canonical text.
LogicalResult exportMIL(ModuleOp module, llvm::raw_ostream &os,
                        const MILExportOptions &options);

/// The kernel set of one compiled bucket: every function with
/// `anemil.kernel` as a program whose function is `main` (equal texts kept
/// once), its inputs, outputs, bucket and weight slots, the segments the
/// packer must write, and the module's #llama.config.
FailureOr<::ane::abi::KernelSet> exportKernelSet(ModuleOp module);

/// Writes exportKernelSet's programs as `<dir>/<kernel>.mil` and its
/// manifest as `<dir>/manifest.json` (lib/Abi's one format). All or
/// nothing: the files are written to a sibling folder that replaces `dir`
/// at the end.
LogicalResult exportKernelDir(ModuleOp module, StringRef dir);

/// Builds an anemil module from a parsed MIL program. An op the dialect lacks
/// is an error naming the op and its line.
OwningOpRef<ModuleOp> importMIL(const ::ane::mil::Program &program,
                                MLIRContext *context, StringRef fileName);

/// The MIL parameter names of an anemil op's operands, in operand order.
ArrayRef<StringRef> getMILOperandNames(StringRef mnemonic);

void registerToMILTranslation();
void registerFromMILTranslation();
void registerFormatMILTranslation();

inline void registerMILTranslations() {
  registerToMILTranslation();
  registerFromMILTranslation();
  registerFormatMILTranslation();
}

} // namespace mlir::anemil

#endif // ANE_LIB_DIALECT_ANEMIL_EXPORT_MILTRANSLATION_H
