//===- OptMain.cpp - ane-opt's main ---------------------------------------===//

#include "lib/Tools/ToolMains.h"

#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;

int mlir::ane::aneOptMain(int argc, char **argv, llvm::StringRef toolName,
                          DialectRegistry &registry) {
  llvm::InitLLVM initLLVM(argc, argv);
  auto [inputFilename, outputFilename] =
      registerAndParseCLIOptions(argc, argv, toolName, registry);
  MlirOptMainConfig config = MlirOptMainConfig::createFromCLOptions();
  if (config.shouldShowDialects()) {
    llvm::outs() << "Available Dialects: ";
    llvm::interleaveComma(registry.getDialectNames(), llvm::outs());
    llvm::outs() << "\n";
    return 0;
  }
  std::unique_ptr<llvm::MemoryBuffer> input = openCheckedInput(inputFilename);
  if (!input)
    return 1;
  std::string error;
  std::unique_ptr<llvm::ToolOutputFile> output =
      openOutputFile(outputFilename, &error);
  if (!output) {
    llvm::errs() << error << "\n";
    return 1;
  }
  int status = runParsing(inputFilename, [&] {
    return failed(MlirOptMain(output->os(), std::move(input), registry, config))
               ? 1
               : 0;
  });
  if (status == 0)
    output->keep();
  return status;
}
