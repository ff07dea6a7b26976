//===- LlamaAttrs.td - llama attributes and enums ----------*- tablegen -*-===//

#ifndef ANE_LLAMA_ATTRS
#define ANE_LLAMA_ATTRS

include "lib/Dialect/Llama/IR/LlamaDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Llama_Role : I32EnumAttr<"Role", "the role of a weight argument", [
    I32EnumAttrCase<"AttnQ", 0, "attn_q">,
    I32EnumAttrCase<"AttnK", 1, "attn_k">,
    I32EnumAttrCase<"AttnV", 2, "attn_v">,
    I32EnumAttrCase<"AttnOut", 3, "attn_out">,
    I32EnumAttrCase<"AttnNorm", 4, "attn_norm">,
    I32EnumAttrCase<"FfnGate", 5, "ffn_gate">,
    I32EnumAttrCase<"FfnUp", 6, "ffn_up">,
    I32EnumAttrCase<"FfnDown", 7, "ffn_down">,
    I32EnumAttrCase<"FfnNorm", 8, "ffn_norm">,
    I32EnumAttrCase<"OutputNorm", 9, "output_norm">,
    I32EnumAttrCase<"Output", 10, "output">,
    I32EnumAttrCase<"TokenEmbd", 11, "token_embd">,
    // Made by llama-fuse: Q, K and V (or gate and up) stacked by rows.
    I32EnumAttrCase<"AttnQkv", 12, "attn_qkv">,
    I32EnumAttrCase<"FfnGateUp", 13, "ffn_gate_up">,
    // Qwen2's projection biases, and llama-fuse's stack of them.
    I32EnumAttrCase<"AttnQBias", 14, "attn_q_bias">,
    I32EnumAttrCase<"AttnKBias", 15, "attn_k_bias">,
    I32EnumAttrCase<"AttnVBias", 16, "attn_v_bias">,
    I32EnumAttrCase<"AttnQkvBias", 17, "attn_qkv_bias">
  ]> {
  let cppNamespace = "::mlir::llama";
  let genSpecializedAttr = 0;
}
def Llama_RoleAttr : EnumAttr<Llama_Dialect, Llama_Role, "role"> {
  let assemblyFormat = "`<` $value `>`";
}

def Llama_QuantScheme : I32EnumAttr<"QuantScheme", "weight quantization scheme", [
    I32EnumAttrCase<"Q8", 0, "q8">,
    I32EnumAttrCase<"Q4", 1, "q4">,
    I32EnumAttrCase<"Q3", 2, "q3">,
    I32EnumAttrCase<"Lut4", 3, "lut4">
  ]> {
  let cppNamespace = "::mlir::llama";
  let genSpecializedAttr = 0;
}

//===----------------------------------------------------------------------===//
// #llama.config
//===----------------------------------------------------------------------===//

def Llama_ConfigAttr : AttrDef<Llama_Dialect, "Config"> {
  let mnemonic = "config";
  let summary = "Hyper-parameters of a Llama-family model";
  let description = [{
    ```mlir
    #llama.config<dim = 64, n_layers = 5, n_heads = 8, n_kv_heads = 4,
                  head_dim = 8, hidden_dim = 172, vocab_size = 512,
                  rope_theta = 10000.0, norm_eps = 1.0e-05, max_seq_len = 512>
    ```
    `dim == n_heads * head_dim`, `n_kv_heads` divides `n_heads`, and
    `head_dim` is even (RoPE rotates pairs).
  }];
  let parameters = (ins
    "int64_t":$dim,
    "int64_t":$n_layers,
    "int64_t":$n_heads,
    "int64_t":$n_kv_heads,
    "int64_t":$head_dim,
    "int64_t":$hidden_dim,
    "int64_t":$vocab_size,
    "FloatAttr":$rope_theta,
    "FloatAttr":$norm_eps,
    "int64_t":$max_seq_len
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Width of the K and V projections: n_kv_heads * head_dim.
    int64_t getKvDim() const { return getNKvHeads() * getHeadDim(); }
  }];
}

#endif // ANE_LLAMA_ATTRS
