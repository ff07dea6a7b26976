//===- Pipelines.cpp - the ane-compile pipeline ---------------------------===//

#include "lib/Pipelines.h"

#include "lib/Conversion/Passes.h"
#include "lib/Dialect/Llama/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

void mlir::ane::buildCompilePipeline(OpPassManager &pm,
                                     const CompileOptions &o) {
  pm.addPass(llama::createLlamaQuantizePass(
      llama::LlamaQuantizePassOptions{o.scheme, o.group}));
  pm.addPass(llama::createLlamaOutlineKernelsPass(
      llama::LlamaOutlineKernelsPassOptions{o.seq, o.ctx}));
  pm.addPass(createConvertLlamaToAneMilPass(
      ConvertLlamaToAneMilPassOptions{o.dtype, o.weightBinding}));
}

void mlir::ane::registerCompilePipeline() {
  PassPipelineRegistration<CompileOptions>(
      "ane-compile",
      "compile an imported llama module to anemil kernels for one bucket",
      buildCompilePipeline);
}
