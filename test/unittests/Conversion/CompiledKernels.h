//===- CompiledKernels.h - compiled kernels as the runtime sees them -*- C++
//-*-//
//
// Test helpers that turn a module compiled by ane-compile into what the
// runtime consumes: one parsed MIL program per kernel.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_TEST_UNITTESTS_CONVERSION_COMPILEDKERNELS_H
#define ANE_TEST_UNITTESTS_CONVERSION_COMPILEDKERNELS_H

#include "lib/Compile.h"
#include "lib/Dialect/AneMil/Export/MILTranslation.h"
#include "lib/MIL/Text.h"
#include "lib/Model/Llama2c.h"
#include "lib/Model/Tokenizer.h"
#include "lib/Runtime/ModelPacker.h"
#include "lib/Runtime/Reference.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "test/unittests/SharedData.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>

namespace ane::test {

/// `kernel` exported as its own program (function `main`) and parsed back
/// from its text, as the runtime receives it.
inline mil::Program kernelProgram(mlir::ModuleOp module,
                                  llvm::StringRef kernel) {
  using namespace mlir;
  auto fn = module.lookupSymbol<func::FuncOp>(kernel);
  EXPECT_TRUE(fn) << kernel.str();
  if (!fn)
    return {};
  OwningOpRef<ModuleOp> single = ModuleOp::create(fn.getLoc());
  auto clone = cast<func::FuncOp>(fn->clone());
  clone.setSymName("main");
  single->push_back(clone);
  auto program = anemil::exportMIL(*single, anemil::MILExportOptions());
  EXPECT_TRUE(succeeded(program)) << kernel.str();
  if (failed(program))
    return {};
  auto parsed = mil::parseProgram(mil::printProgram(*program));
  EXPECT_TRUE(parsed.ok()) << parsed.message();
  return parsed.ok() ? *parsed : mil::Program();
}

using runtime::relativeError;

/// `spec` compiled with `options` and packed in memory (an empty image,
/// with the failure reported, if either step fails).
inline runtime::ModelImage compileImage(const model::ModelSpec &spec,
                                        const KernelSetOptions &options) {
  auto kernels = compileKernelSet(spec, options);
  EXPECT_TRUE(kernels.ok()) << kernels.message();
  if (!kernels.ok())
    return {};
  auto image = runtime::packImage(spec, std::move(*kernels));
  EXPECT_TRUE(image.ok()) << image.message();
  return image.ok() ? std::move(*image) : runtime::ModelImage();
}

/// stories260K.bin with its tok512 vocabulary, from ../shared.
struct Stories {
  model::ModelSpec spec;
  std::optional<model::Tokenizer> tokenizer;

  void load() {
    auto m = model::openModel(sharedPath("models/stories260K.bin"));
    ASSERT_TRUE(m.ok()) << m.message();
    spec = std::move(*m);
    auto vocab = model::readLlama2cTokenizer(sharedPath("models/tok512.bin"));
    ASSERT_TRUE(vocab.ok()) << vocab.message();
    auto t = model::Tokenizer::create(*vocab);
    ASSERT_TRUE(t.ok()) << t.message();
    tokenizer = std::move(*t);
  }
};

} // namespace ane::test

#endif // ANE_TEST_UNITTESTS_CONVERSION_COMPILEDKERNELS_H
