//===- ane-translate.cpp - ane-mlir translation driver --------------------===//

#include "lib/Dialect/Llama/Import/ModelImport.h"
#include "lib/InitAll.h"
#include "lib/Tools/ToolMains.h"

int main(int argc, char **argv) {
  // --import-model names its model in the flag and reads no input file.
  if (mlir::llama::isImportModelInvocation(argc, argv))
    return mlir::llama::importModelMain(argc, argv);
  mlir::ane::registerAllTranslations();
  return mlir::ane::aneTranslateMain(argc, argv,
                                     "ane-mlir translation driver\n");
}
