//===- Pipelines.cpp - the ane-compile pipeline ---------------------------===//

#include "lib/Pipelines.h"

#include "lib/Conversion/Passes.h"
#include "lib/Dialect/AneMil/Transforms/Passes.h"
#include "lib/Dialect/Llama/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

void mlir::ane::buildCompilePipeline(OpPassManager &pm,
                                     const CompileOptions &o) {
  // Adapters read the normed activation, so the norm stays outside the
  // projections.
  if (o.fuse)
    pm.addPass(llama::createLlamaFusePass(
        llama::LlamaFusePassOptions{/*foldNorms=*/o.loraRank == 0}));
  pm.addPass(llama::createLlamaQuantizePass(
      llama::LlamaQuantizePassOptions{o.scheme, o.group}));
  pm.addPass(llama::createLlamaOutlineKernelsPass(
      llama::LlamaOutlineKernelsPassOptions{o.seq, o.ctx}));
  ConvertLlamaToAneMilPassOptions lower{o.dtype, o.weightBinding, o.backward,
                                        o.loraRank};
  std::vector<std::string> targets(o.loraTargets.begin(), o.loraTargets.end());
  lower.loraTargets = targets; // copied by the pass
  pm.addPass(createConvertLlamaToAneMilPass(lower));
  if (!o.family.empty()) {
    anemil::AneMilLegalizeAnePassOptions legalize;
    legalize.family = o.family;
    pm.addPass(anemil::createAneMilLegalizeAnePass(legalize));
    anemil::AneMilVerifyAnePassOptions verify;
    verify.family = o.family;
    pm.addPass(anemil::createAneMilVerifyAnePass(verify));
  }
}

void mlir::ane::registerCompilePipeline() {
  PassPipelineRegistration<CompileOptions>(
      "ane-compile",
      "compile an imported llama module to anemil kernels for one bucket",
      buildCompilePipeline);
}
