//===- LlamaOps.td - llama dialect operations --------------*- tablegen -*-===//

#ifndef ANE_LLAMA_OPS
#define ANE_LLAMA_OPS

include "lib/Dialect/Llama/IR/LlamaDialect.td"
include "lib/Dialect/Llama/IR/LlamaAttrs.td"
include "lib/Dialect/Llama/IR/LlamaTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpBase.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def Llama_Activation : 2DTensorOf<[F16, F32]>;
def Llama_Vector : 1DTensorOf<[F16, F32, BF16]>;
def Llama_Tokens : 1DTensorOf<[I32]>;
def Llama_Matrix : AnyTypeOf<[2DTensorOf<[F16, F32, BF16]>, Llama_QWeightType],
                             "a rank-2 float tensor or !llama.qweight">;
def Llama_Cache : 3DTensorOf<[F16, F32]>;

//===----------------------------------------------------------------------===//
// Ops
//===----------------------------------------------------------------------===//

def Llama_EmbeddingOp : Llama_Op<"embedding", [Pure]> {
  let summary = "Token embedding lookup";
  let description = [{
    Row `tokens[i]` of `table` (`[vocab, dim]`) becomes row `i` of the result.

    ```mlir
    %h = llama.embedding %tokens, %table
        : tensor<4xi32>, tensor<512x64xf32> -> tensor<4x64xf32>
    ```
  }];
  let arguments = (ins Llama_Tokens:$tokens, Llama_Matrix:$table);
  let results = (outs Llama_Activation:$result);
  let assemblyFormat = [{
    $tokens `,` $table attr-dict `:` type($tokens) `,` type($table) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Llama_RmsNormOp : Llama_Op<"rms_norm", [Pure, AllTypesMatch<["x", "result"]>]> {
  let summary = "Root-mean-square normalization with a learned scale";
  let description = [{
    `result[s, i] = x[s, i] / sqrt(mean_j(x[s, j]^2) + eps) * weight[i]`.
    Without a weight (after `llama-fuse` folded it into the next projection)
    the scale is 1.

    ```mlir
    %n = llama.rms_norm %x, %w {eps = 1.0e-05 : f32} : tensor<4x64xf32>, tensor<64xf32>
    %u = llama.rms_norm %x {eps = 1.0e-05 : f32} : tensor<4x64xf32>
    ```
  }];
  let arguments = (ins Llama_Activation:$x, Optional<Llama_Vector>:$weight,
                       F32Attr:$eps);
  let results = (outs Llama_Activation:$result);
  let assemblyFormat = [{
    $x (`,` $weight^)? attr-dict `:` type($x) (`,` type($weight)^)?
  }];
  let hasVerifier = 1;
}

def Llama_SplitOp : Llama_Op<"split", [Pure]> {
  let summary = "Split features into consecutive parts";
  let description = [{
    Undoes a fused projection: `sizes` are the widths of the parts.

    ```mlir
    %q, %k, %v = llama.split %qkv {sizes = array<i64: 64, 32, 32>}
        : tensor<4x128xf32> -> tensor<4x64xf32>, tensor<4x32xf32>, tensor<4x32xf32>
    ```
  }];
  let arguments = (ins Llama_Activation:$x, DenseI64ArrayAttr:$sizes);
  let results = (outs Variadic<Llama_Activation>:$results);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($results)";
  let hasVerifier = 1;
}

def Llama_LinearOp : Llama_Op<"linear", [Pure]> {
  let summary = "Projection x * W^T (+ b) by a plain or quantized weight";
  let description = [{
    `weight` is `[out_features, in_features]`, as in PyTorch and GGUF; the
    optional `bias` (Qwen2's q/k/v) has `out_features` elements.

    ```mlir
    %q = llama.linear %x, %wq : tensor<4x64xf32>, tensor<64x64xf32> -> tensor<4x64xf32>
    %k = llama.linear %x, %wk, %bk : tensor<4x64xf32>, tensor<32x64xf32>, tensor<32xf32> -> tensor<4x32xf32>
    %g = llama.linear %x, %wg : tensor<4x64xf16>,
        !llama.qweight<q4, group = 32, shape = [172, 64], scale = f16> -> tensor<4x172xf16>
    ```
  }];
  let arguments = (ins Llama_Activation:$x, Llama_Matrix:$weight,
                       Optional<Llama_Vector>:$bias);
  let results = (outs Llama_Activation:$result);
  let assemblyFormat = [{
    $x `,` $weight (`,` $bias^)? attr-dict `:` type($x) `,` type($weight)
    (`,` type($bias)^)? `->` type($result)
  }];
  let builders = [
    OpBuilder<(ins "Type":$result, "Value":$x, "Value":$weight), [{
      build($_builder, $_state, result, x, weight, Value());
    }]>
  ];
  let hasVerifier = 1;
}

def Llama_RopeOp : Llama_Op<"rope", [Pure, AllTypesMatch<["x", "result"]>]> {
  let summary = "Rotary position embedding";
  let description = [{
    `x` is `[seq, n * head_dim]`. Each head's consecutive pairs
    `(x[2i], x[2i+1])` are rotated by `positions[s] * theta^(-2i/head_dim)`,
    the interleaved convention of llama2.c and GGUF's `llama` architecture.

    ```mlir
    %r = llama.rope %q, %pos {head_dim = 8 : i64, theta = 1.0e+04 : f64}
        : tensor<4x64xf32>, tensor<4xi32>
    ```
  }];
  let arguments = (ins Llama_Activation:$x, Llama_Tokens:$positions,
                       I64Attr:$head_dim, F64Attr:$theta);
  let results = (outs Llama_Activation:$result);
  let assemblyFormat = "$x `,` $positions attr-dict `:` type($x) `,` type($positions)";
  let hasVerifier = 1;
}

def Llama_GqaAttentionOp : Llama_Op<"gqa_attention", [Pure,
    AllTypesMatch<["q", "result"]>, AllTypesMatch<["k", "v"]>,
    AllTypesMatch<["k_cache", "v_cache", "k_cache_out", "v_cache_out"]>]> {
  let summary = "Grouped-query attention over a KV cache";
  let description = [{
    `q` is `[seq, n_heads * head_dim]`; `k` and `v` are
    `[seq, n_kv_heads * head_dim]` for the same `seq` new tokens, whose
    absolute positions are `positions`. Caches are `[n_kv_heads, ctx, head_dim]`.
    The new keys and values are written at their positions (returned as the
    updated caches), then every query head `h` attends over KV head
    `h / (n_heads / n_kv_heads)`, with scores scaled by `1/sqrt(head_dim)` and,
    when `causal`, only to cache entries at or before its own position.

    ```mlir
    %o, %kc, %vc = llama.gqa_attention %q, %k, %v cache(%kc0, %vc0) positions(%pos)
        {n_heads = 8 : i64, n_kv_heads = 4 : i64, head_dim = 8 : i64, causal = true}
        : tensor<4x64xf32>, tensor<4x32xf32>, tensor<4x256x8xf32>, tensor<4xi32>
    ```
  }];
  let arguments = (ins Llama_Activation:$q, Llama_Activation:$k,
                       Llama_Activation:$v, Llama_Cache:$k_cache,
                       Llama_Cache:$v_cache, Llama_Tokens:$positions,
                       I64Attr:$n_heads, I64Attr:$n_kv_heads, I64Attr:$head_dim,
                       BoolAttr:$causal);
  let results = (outs Llama_Activation:$result, Llama_Cache:$k_cache_out,
                      Llama_Cache:$v_cache_out);
  let assemblyFormat = [{
    $q `,` $k `,` $v `cache` `(` $k_cache `,` $v_cache `)`
    `positions` `(` $positions `)` attr-dict
    `:` type($q) `,` type($k) `,` type($k_cache) `,` type($positions)
  }];
  let hasVerifier = 1;
}

def Llama_SwiGluOp : Llama_Op<"swiglu", [Pure, AllTypesMatch<["gate", "up", "result"]>]> {
  let summary = "SwiGLU gate: silu(gate) * up";
  let description = [{
    ```mlir
    %h = llama.swiglu %gate, %up : tensor<4x172xf32>
    ```
  }];
  let arguments = (ins Llama_Activation:$gate, Llama_Activation:$up);
  let results = (outs Llama_Activation:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
}

def Llama_AddOp : Llama_Op<"add", [Pure, Commutative,
    AllTypesMatch<["lhs", "rhs", "result"]>]> {
  let summary = "Residual addition";
  let description = [{
    ```mlir
    %h2 = llama.add %h, %attn : tensor<4x64xf32>
    ```
  }];
  let arguments = (ins Llama_Activation:$lhs, Llama_Activation:$rhs);
  let results = (outs Llama_Activation:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Llama_LmHeadOp : Llama_Op<"lm_head", [Pure]> {
  let summary = "Classifier from hidden states to vocabulary logits";
  let description = [{
    `weight` is `[vocab, dim]`; the result is `[seq, vocab]`. The final norm is
    a separate `llama.rms_norm`.

    ```mlir
    %logits = llama.lm_head %n, %wout : tensor<1x64xf32>, tensor<512x64xf32> -> tensor<1x512xf32>
    ```
  }];
  let arguments = (ins Llama_Activation:$x, Llama_Matrix:$weight);
  let results = (outs Llama_Activation:$logits);
  let assemblyFormat = [{
    $x `,` $weight attr-dict `:` type($x) `,` type($weight) `->` type($logits)
  }];
  let hasVerifier = 1;
}

#endif // ANE_LLAMA_OPS
