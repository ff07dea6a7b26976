//===- ane-opt.cpp - ane-mlir optimizer driver ----------------------------===//

#include "lib/InitAll.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::ane::registerAllDialects(registry);
  mlir::ane::registerAllPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "ane-mlir optimizer driver\n", registry));
}
