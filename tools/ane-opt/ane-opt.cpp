//===- ane-opt.cpp - ane-mlir optimizer driver ----------------------------===//

#include "lib/InitAll.h"
#include "lib/Tools/ToolMains.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::ane::registerAllDialects(registry);
  mlir::ane::registerAllPasses();
  return mlir::ane::aneOptMain(argc, argv, "ane-mlir optimizer driver\n",
                               registry);
}
