//===- ane-translate.cpp - ane-mlir translation driver --------------------===//

#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

int main(int argc, char **argv) {
  return mlir::failed(
      mlir::mlirTranslateMain(argc, argv, "ane-mlir translation driver\n"));
}
