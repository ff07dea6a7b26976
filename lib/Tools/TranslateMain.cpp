//===- TranslateMain.cpp - ane-translate's main ---------------------------===//
//
// The options of mlir-translate that our tests and users need (one
// translation, -o, --split-input-file, --verify-diagnostics,
// --allow-unregistered-dialect), reading the input under the tools' rules.
//
//===----------------------------------------------------------------------===//

#include "lib/Tools/ToolMains.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "mlir/Support/ToolUtilities.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;

namespace {

namespace cl = llvm::cl;

struct TranslateOptions {
  cl::opt<std::string> input{cl::Positional, cl::desc("<input file>"),
                             cl::init("-")};
  cl::opt<std::string> output{"o", cl::desc("Output filename"),
                              cl::value_desc("filename"), cl::init("-")};
  cl::opt<bool> allowUnregistered{
      "allow-unregistered-dialect",
      cl::desc("Allow operations of unregistered dialects (tests only)"),
      cl::init(false)};
  cl::opt<bool> splitInput{
      "split-input-file",
      cl::desc("Split the input at '// -----' and translate each part alone"),
      cl::init(false)};
  cl::opt<bool> verifyDiagnostics{
      "verify-diagnostics",
      cl::desc("Check the diagnostics against the expected-* comments"),
      cl::init(false)};
  cl::opt<const Translation *, false, TranslationParser> translation{
      cl::desc("Translation to perform"), cl::Required};
};

/// Translates one chunk of input in a fresh context.
LogicalResult translateChunk(const TranslateOptions &options,
                             std::unique_ptr<llvm::MemoryBuffer> chunk,
                             llvm::raw_ostream &os) {
  MLIRContext context;
  context.allowUnregisteredDialects(options.allowUnregistered);
  auto sourceMgr = std::make_shared<llvm::SourceMgr>();
  sourceMgr->AddNewSourceBuffer(std::move(chunk), llvm::SMLoc());
  const Translation &translate = *options.translation;
  if (options.verifyDiagnostics) {
    context.printOpOnDiagnostic(false);
    SourceMgrDiagnosticVerifierHandler handler(*sourceMgr, &context);
    (void)translate(sourceMgr, os, &context);
    return handler.verify();
  }
  SourceMgrDiagnosticHandler handler(*sourceMgr, &context);
  return translate(sourceMgr, os, &context);
}

} // namespace

int mlir::ane::aneTranslateMain(int argc, char **argv,
                                llvm::StringRef toolName) {
  llvm::InitLLVM initLLVM(argc, argv);
  static TranslateOptions options;
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerTranslationCLOptions();
  registerDefaultTimingManagerCLOptions();
  cl::ParseCommandLineOptions(argc, argv, toolName);

  std::unique_ptr<llvm::MemoryBuffer> input = openCheckedInput(options.input);
  if (!input)
    return 1;
  std::string error;
  std::unique_ptr<llvm::ToolOutputFile> output =
      openOutputFile(options.output, &error);
  if (!output) {
    llvm::errs() << error << "\n";
    return 1;
  }
  auto translate = [&](std::unique_ptr<llvm::MemoryBuffer> chunk,
                       llvm::raw_ostream &os) {
    return translateChunk(options, std::move(chunk), os);
  };
  int status = runParsing(options.input, [&] {
    return failed(splitAndProcessBuffer(
               std::move(input), translate, output->os(),
               options.splitInput ? kDefaultSplitMarker : "", ""))
               ? 1
               : 0;
  });
  if (status == 0)
    output->keep();
  return status;
}
