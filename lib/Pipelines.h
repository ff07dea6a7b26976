//===- Pipelines.h - the ane-compile pipeline -------------------*- C++ -*-===//

#ifndef ANE_LIB_PIPELINES_H
#define ANE_LIB_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

#include <string>

namespace mlir::ane {

struct CompileOptions : public PassPipelineOptions<CompileOptions> {
  Option<bool> fuse{*this, "fuse",
                    llvm::cl::desc("fuse Q/K/V and gate/up, fold norms"),
                    llvm::cl::init(true)};
  Option<std::string> scheme{*this, "scheme",
                             llvm::cl::desc("f16, q8, q4, q3 or lut4"),
                             llvm::cl::init("f16")};
  Option<int64_t> group{*this, "group",
                        llvm::cl::desc("quantization group (0: the scheme's)"),
                        llvm::cl::init(0)};
  Option<int64_t> seq{*this, "seq", llvm::cl::desc("tokens per call"),
                      llvm::cl::init(1)};
  Option<int64_t> ctx{*this, "ctx", llvm::cl::desc("KV cache length"),
                      llvm::cl::init(256)};
  Option<std::string> dtype{*this, "dtype",
                            llvm::cl::desc("fp16 (ANE) or fp32 (exact CPU)"),
                            llvm::cl::init("fp16")};
  Option<bool> backward{*this, "backward",
                        llvm::cl::desc("also emit the 5 backward kernels"),
                        llvm::cl::init(false)};
  Option<std::string> family{
      *this, "family",
      llvm::cl::desc("ANE family (m1-m4): legalize and verify for it; empty "
                     "for the cpu backend"),
      llvm::cl::init("")};
  Option<std::string> weightBinding{*this, "weight-binding",
                                    llvm::cl::desc("blob (input comes later)"),
                                    llvm::cl::init("blob")};
};

/// llama-fuse -> llama-quantize -> llama-outline-kernels ->
/// convert-llama-to-anemil, then anemil-legalize-ane and anemil-verify-ane when
/// a family is given.
void buildCompilePipeline(OpPassManager &pm, const CompileOptions &options);

/// Registers `ane-compile{...}` for ane-opt.
void registerCompilePipeline();

} // namespace mlir::ane

#endif // ANE_LIB_PIPELINES_H
