//===- TranslateRegistration.cpp - ane-translate MIL translations ---------===//

#include "lib/Dialect/AneMil/Export/MILTranslation.h"

#include "lib/Dialect/AneMil/IR/AneMilOps.h"
#include "lib/Dialect/Llama/IR/LlamaOps.h"
#include "lib/MIL/Text.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;
using namespace mlir::anemil;

namespace {

const llvm::MemoryBuffer *mainBuffer(const llvm::SourceMgr &sm) {
  return sm.getMemoryBuffer(sm.getMainFileID());
}

/// Parses the main buffer as MIL; parse errors already carry file:line:col.
std::optional<ane::mil::Program> parseMain(const llvm::SourceMgr &sm) {
  const llvm::MemoryBuffer *buf = mainBuffer(sm);
  auto program =
      ane::mil::parseProgram(buf->getBuffer(), buf->getBufferIdentifier());
  if (!program.ok()) {
    llvm::errs() << "error: " << program.message() << "\n";
    return std::nullopt;
  }
  return std::move(*program);
}

} // namespace

void mlir::anemil::registerToMILTranslation() {
  static llvm::cl::opt<std::string> weightsDir(
      "weights-dir",
      llvm::cl::desc("with --to-mil: write weight.bin for large constants "
                     "into this directory"),
      llvm::cl::init(""));
  static llvm::cl::opt<std::string> kernelDir(
      "kernel-dir",
      llvm::cl::desc("with --to-mil: write each compiled kernel as "
                     "DIR/<kernel>.mil, and DIR/manifest.json"),
      llvm::cl::init(""));
  static TranslateFromMLIRRegistration reg(
      "to-mil", "translate anemil to Core ML MIL text",
      [](ModuleOp module, llvm::raw_ostream &os) {
        if (kernelDir.getNumOccurrences())
          return exportKernelDir(module, kernelDir);
        MILExportOptions options;
        options.weightsDir = weightsDir;
        return exportMIL(module, os, options);
      },
      [](DialectRegistry &registry) {
        registry
            .insert<func::FuncDialect, AneMilDialect, llama::LlamaDialect>();
      });
}

void mlir::anemil::registerFromMILTranslation() {
  static TranslateToMLIRRegistration reg(
      "from-mil", "translate Core ML MIL text to anemil",
      [](llvm::SourceMgr &sm, MLIRContext *ctx) -> OwningOpRef<Operation *> {
        auto program = parseMain(sm);
        if (!program)
          return nullptr;
        auto module =
            importMIL(*program, ctx, mainBuffer(sm)->getBufferIdentifier());
        if (!module)
          return nullptr;
        return OwningOpRef<Operation *>(module.release());
      },
      [](DialectRegistry &registry) {
        registry.insert<func::FuncDialect, AneMilDialect>();
      });
}

void mlir::anemil::registerFormatMILTranslation() {
  static TranslateRegistration reg(
      "format-mil",
      "re-print any MIL text in the Core ML compiler's canonical style",
      [](const std::shared_ptr<llvm::SourceMgr> &sm, llvm::raw_ostream &os,
         MLIRContext *) -> LogicalResult {
        auto program = parseMain(*sm);
        if (!program)
          return failure();
        os << ane::mil::printProgram(*program);
        return success();
      });
}
