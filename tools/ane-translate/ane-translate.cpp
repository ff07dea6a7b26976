//===- ane-translate.cpp - ane-mlir translation driver --------------------===//

#include "lib/InitAll.h"
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

int main(int argc, char **argv) {
  mlir::ane::registerAllTranslations();
  return mlir::failed(
      mlir::mlirTranslateMain(argc, argv, "ane-mlir translation driver\n"));
}
