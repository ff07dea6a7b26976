//===- Passes.td - conversion passes -----------------------*- tablegen -*-===//

#ifndef ANE_CONVERSION_PASSES
#define ANE_CONVERSION_PASSES

include "mlir/Pass/PassBase.td"

def ConvertLlamaToAneMilPass
    : Pass<"convert-llama-to-anemil", "mlir::ModuleOp"> {
  let summary = "Lower outlined llama kernels to anemil (MIL) programs";
  let description = [{
    Every function with `llama.kernel` becomes an anemil function of the same
    name working in the `[1, C, 1, S]` layout: linear as a 1x1 `conv`,
    RMSNorm as `reduce_mean` of squares, `rsqrt` with its epsilon and `mul`,
    RoPE as slices, multiplies and a concat over cos/sin table inputs, GQA as
    grouped `matmul`s over the KV cache with an additive mask input, SwiGLU as
    `silu` and `mul`. Weights become `anemil.const` blobs at offsets that are
    the same for every layer (`weight-binding=blob`); quantized weights
    become `constexpr_blockwise_shift_scale` (q8, q4, q3) or
    `constexpr_lut_to_dense` (lut4). With `weight-binding=input` weights are
    program inputs instead (`w_<role>`, and `w_<role>_scale` for q8, which is
    dequantized in the graph by `cast` and `mul`). The slots each kernel
    reads are listed in its `anemil.weights` attribute. @embed stays: the
    host looks tokens up.
  }];
  let options = [
    Option<"dtype", "dtype", "::ane::abi::DType",
           /*default=*/"::ane::abi::DType::FP16",
           "compute and I/O element type", [{::llvm::cl::values(
             clEnumValN(::ane::abi::DType::FP16, "fp16", "the ANE's"),
             clEnumValN(::ane::abi::DType::FP32, "fp32", "exact CPU checks"))}]>,
    Option<"weightBinding", "weight-binding", "::ane::abi::WeightBinding",
           /*default=*/"::ane::abi::WeightBinding::Blob",
           "how a layer's weights reach a kernel", [{::llvm::cl::values(
             clEnumValN(::ane::abi::WeightBinding::Blob, "blob",
                        "constants at fixed offsets of the segment"),
             clEnumValN(::ane::abi::WeightBinding::Input, "input",
                        "program inputs named w_<role>; f16 or q8"))}]>,
    Option<"backward", "backward", "bool", /*default=*/"false",
           "also emit the input-gradient kernels lm_head_bwd, ffn_down_bwd, "
           "ffn_up_bwd, attn_core_bwd (with Wo^T) and attn_qkv_bwd">,
    Option<"loraRank", "lora-rank", "int64_t", /*default=*/"0",
           "LoRA rank r: projections of the lora-targets roles take "
           "lora_a_<role> [1, in, 1, r] and lora_b_<role> [1, r, 1, out] "
           "inputs and add B A x; backward kernels also return their "
           "gradients (0: no adapters)">,
    ListOption<"loraTargets", "lora-targets", "std::string",
               "roles adapted: attn_q, attn_k, attn_v, attn_out, ffn_gate, "
               "ffn_up, ffn_down">,
  ];
  let dependentDialects = ["mlir::anemil::AneMilDialect",
                           "mlir::func::FuncDialect"];
}

#endif // ANE_CONVERSION_PASSES
