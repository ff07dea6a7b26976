//===- ane-translate.cpp - ane-mlir translation driver --------------------===//

#include "lib/Dialect/Llama/Import/ModelImport.h"
#include "lib/InitAll.h"
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

int main(int argc, char **argv) {
  // --import-model names its model in the flag and reads no input file.
  if (mlir::llama::isImportModelInvocation(argc, argv))
    return mlir::llama::importModelMain(argc, argv);
  mlir::ane::registerAllTranslations();
  return mlir::failed(
      mlir::mlirTranslateMain(argc, argv, "ane-mlir translation driver\n"));
}
