//===- Passes.td - llama dialect passes --------------------*- tablegen -*-===//

#ifndef ANE_LLAMA_PASSES
#define ANE_LLAMA_PASSES

include "mlir/Pass/PassBase.td"

def LlamaFusePass : Pass<"llama-fuse", "mlir::ModuleOp"> {
  let summary = "Fuse Q/K/V and gate/up projections; fold RMSNorm scales";
  let description = [{
    Q, K and V projections of one input become a single `llama.linear` on a
    new weight argument with role `attn_qkv` (rows stacked Q, K, V) followed
    by `llama.split`; gate and up become `ffn_gate_up`. With `fold-norms`, an
    RMSNorm whose result only feeds projections loses its weight, which moves
    into them: W' = W diag(g). The new arguments record what the packer must
    do: `llama.fused_from = [roles]` and `llama.fold_norm = role`.
  }];
  let options = [
    Option<"foldNorms", "fold-norms", "bool", /*default=*/"true",
           "fold RMSNorm weights into the following projections">,
  ];
  let dependentDialects = ["mlir::llama::LlamaDialect"];
}

def LlamaQuantizePass : Pass<"llama-quantize", "mlir::ModuleOp"> {
  let summary = "Give matrix weight arguments a quantized type";
  let description = [{
    Rewrites the type of every role-tagged matrix argument (projections,
    classifier, embedding) to `!llama.qweight<scheme, group, shape, scale>`.
    The group is clamped to what a row allows: if it does not divide the
    in-features, the largest power of two that does (down to 16) is used, else
    one group per row. `f16` leaves weights as they are. The scheme is
    recorded on the module as `llama.quantization`, for the weight packer.
  }];
  let options = [
    Option<"scheme", "scheme", "::ane::abi::Scheme",
           /*default=*/"::ane::abi::Scheme::Q4", "storage scheme",
           [{::llvm::cl::values(
             clEnumValN(::ane::abi::Scheme::F16, "f16", "not quantized"),
             clEnumValN(::ane::abi::Scheme::Q8, "q8", "int8, symmetric"),
             clEnumValN(::ane::abi::Scheme::Q4, "q4", "int4, symmetric"),
             clEnumValN(::ane::abi::Scheme::Q3, "q3", "3-bit levels in int4"),
             clEnumValN(::ane::abi::Scheme::Lut4, "lut4",
                        "16-entry palette per group"))}]>,
    Option<"group", "group", "int64_t", /*default=*/"0",
           "group size along in-features; 0 picks the scheme's default "
           "(q4: 128, q3: 64, q8: 0 = per channel, lut4: 16)">,
  ];
  let dependentDialects = ["mlir::llama::LlamaDialect"];
}

def LlamaOutlineKernelsPass : Pass<"llama-outline-kernels", "mlir::ModuleOp"> {
  let summary = "Split the layer template into the forward kernel plan";
  let description = [{
    Replaces @layer and @head by the kernels of one shape bucket, with static
    sequence length `seq` and context length `ctx`:
    `attn_qkv` (norm, Q/K/V, RoPE), `attn_core` (GQA over the cache),
    `attn_out` (Wo + residual), `ffn_up` (norm, gate/up, SwiGLU),
    `ffn_down` (W2 + residual) and `lm_head` (final norm + classifier).
    Each kernel function carries `llama.kernel = "<name>"`; @embed stays for
    the host.
  }];
  let options = [
    Option<"seq", "seq", "int64_t", /*default=*/"1",
           "tokens per call (1 for decode)">,
    Option<"ctx", "ctx", "int64_t", /*default=*/"256",
           "KV cache length of the bucket">,
  ];
  let dependentDialects = ["mlir::llama::LlamaDialect",
                           "mlir::func::FuncDialect"];
}

#endif // ANE_LLAMA_PASSES
