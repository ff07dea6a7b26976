//===- Pipelines.h - the ane-compile pipeline -------------------*- C++ -*-===//

#ifndef ANE_LIB_PIPELINES_H
#define ANE_LIB_PIPELINES_H

#include "lib/Abi/Schemes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

#include <string>

namespace mlir::ane {

struct CompileOptions : public PassPipelineOptions<CompileOptions> {
  Option<bool> fuse{*this, "fuse",
                    llvm::cl::desc("fuse Q/K/V and gate/up, fold norms"),
                    llvm::cl::init(true)};
  Option<::ane::abi::Scheme> scheme{
      *this, "scheme", llvm::cl::desc("weight storage scheme"),
      llvm::cl::init(::ane::abi::Scheme::F16),
      llvm::cl::values(
          clEnumValN(::ane::abi::Scheme::F16, "f16", "not quantized"),
          clEnumValN(::ane::abi::Scheme::Q8, "q8", "int8, symmetric"),
          clEnumValN(::ane::abi::Scheme::Q4, "q4", "int4, symmetric"),
          clEnumValN(::ane::abi::Scheme::Q3, "q3", "3-bit levels in int4"),
          clEnumValN(::ane::abi::Scheme::Lut4, "lut4",
                     "16-entry palette per group"))};
  Option<int64_t> group{*this, "group",
                        llvm::cl::desc("quantization group (0: the scheme's)"),
                        llvm::cl::init(0)};
  Option<int64_t> seq{*this, "seq", llvm::cl::desc("tokens per call"),
                      llvm::cl::init(1)};
  Option<int64_t> ctx{*this, "ctx", llvm::cl::desc("KV cache length"),
                      llvm::cl::init(256)};
  Option<::ane::abi::DType> dtype{
      *this, "dtype", llvm::cl::desc("compute and I/O element type"),
      llvm::cl::init(::ane::abi::DType::FP16),
      llvm::cl::values(
          clEnumValN(::ane::abi::DType::FP16, "fp16", "the ANE's"),
          clEnumValN(::ane::abi::DType::FP32, "fp32", "exact CPU checks"))};
  Option<bool> backward{*this, "backward",
                        llvm::cl::desc("also emit the 5 backward kernels"),
                        llvm::cl::init(false)};
  Option<int64_t> loraRank{
      *this, "lora-rank",
      llvm::cl::desc("LoRA rank of the adapter inputs (0: none); norms are "
                     "then not folded"),
      llvm::cl::init(0)};
  ListOption<std::string> loraTargets{
      *this, "lora-targets",
      llvm::cl::desc("roles adapted (attn_q, ..., ffn_down)")};
  Option<std::string> family{
      *this, "family",
      llvm::cl::desc("ANE family (m1-m4): legalize and verify for it; empty "
                     "for the cpu backend"),
      llvm::cl::init("")};
  Option<::ane::abi::WeightBinding> weightBinding{
      *this, "weight-binding",
      llvm::cl::desc("how a layer's weights reach a kernel"),
      llvm::cl::init(::ane::abi::WeightBinding::Blob),
      llvm::cl::values(clEnumValN(::ane::abi::WeightBinding::Blob, "blob",
                                  "constants at fixed offsets of the segment"),
                       clEnumValN(::ane::abi::WeightBinding::Input, "input",
                                  "program inputs named w_<role>; f16 or q8"))};
};

/// llama-fuse -> llama-quantize -> llama-outline-kernels ->
/// convert-llama-to-anemil, then anemil-legalize-ane and anemil-verify-ane when
/// a family is given.
void buildCompilePipeline(OpPassManager &pm, const CompileOptions &options);

/// Registers `ane-compile{...}` for ane-opt.
void registerCompilePipeline();

} // namespace mlir::ane

#endif // ANE_LIB_PIPELINES_H
