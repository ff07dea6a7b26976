// RUN: ane-translate --import-model='synthetic:tiny?layers=1' | ane-opt --llama-fuse | FileCheck %s
// RUN: ane-translate --import-model='synthetic:tiny?layers=1' | ane-opt --llama-fuse=fold-norms=false | FileCheck %s --check-prefix=NOFOLD
// RUN: ane-opt %s --llama-fuse | FileCheck %s --check-prefix=NEAR
// RUN: ane-translate --import-model='synthetic:tiny?layers=1&qkv_bias=1' | ane-opt --llama-fuse | FileCheck %s --check-prefix=BIAS

// CHECK-LABEL: func.func @layer
// The norm weights left the signature; the stacked weights record the fold.
// CHECK-NOT: llama.role<attn_norm>
// CHECK-SAME: %[[QKV:[^:]*]]: tensor<128x64xf32> {llama.fold_norm = #llama.role<attn_norm>, llama.fused_from = [#llama.role<attn_q>, #llama.role<attn_k>, #llama.role<attn_v>], llama.role = #llama.role<attn_qkv>}
// CHECK-SAME: %[[GU:[^:]*]]: tensor<352x64xf32> {llama.fold_norm = #llama.role<ffn_norm>, llama.fused_from = [#llama.role<ffn_gate>, #llama.role<ffn_up>], llama.role = #llama.role<ffn_gate_up>}
// CHECK: %[[N:.*]] = llama.rms_norm %{{[^,]*}} {eps = 9.99999974E-6 : f32} : tensor<?x64xf32>
// CHECK-NEXT: %[[P:.*]] = llama.linear %[[N]], %[[QKV]] : tensor<?x64xf32>, tensor<128x64xf32> -> tensor<?x128xf32>
// CHECK-NEXT: %[[S:.*]]:3 = llama.split %[[P]] {sizes = array<i64: 64, 32, 32>}
// CHECK: llama.rope %[[S]]#0
// CHECK: llama.rope %[[S]]#1
// CHECK: llama.gqa_attention {{.*}}, {{.*}}, %[[S]]#2
// CHECK: llama.split {{.*}} {sizes = array<i64: 176, 176>}
// CHECK-LABEL: func.func @head
// CHECK-SAME: tensor<512x64xf32> {llama.fold_norm = #llama.role<output_norm>, llama.role = #llama.role<output>}

// Biases stack as the weights do, unscaled by the folded norm (it scales
// the input, the bias is added after).
// BIAS-LABEL: func.func @layer
// BIAS-SAME: %[[QKV:[^:]*]]: tensor<128x64xf32> {llama.fold_norm = #llama.role<attn_norm>, llama.fused_from = [#llama.role<attn_q>, #llama.role<attn_k>, #llama.role<attn_v>], llama.role = #llama.role<attn_qkv>}
// BIAS-SAME: %[[B:[^:]*]]: tensor<128xf32> {llama.fused_from = [#llama.role<attn_q_bias>, #llama.role<attn_k_bias>, #llama.role<attn_v_bias>], llama.role = #llama.role<attn_qkv_bias>}
// BIAS-NOT: attn_q_bias>}
// BIAS: %[[P:.*]] = llama.linear %{{.*}}, %[[QKV]], %[[B]] : tensor<?x64xf32>, tensor<128x64xf32>, tensor<128xf32> -> tensor<?x128xf32>
// BIAS-NEXT: llama.split %[[P]] {sizes = array<i64: 64, 32, 32>}

// NOFOLD: tensor<128x64xf32> {llama.fused_from = [#llama.role<attn_q>, #llama.role<attn_k>, #llama.role<attn_v>], llama.role = #llama.role<attn_qkv>}
// NOFOLD: llama.rms_norm %{{.*}}, %{{.*}} {eps

// Near misses: different quantization cannot stack; a norm that also feeds
// something other than a projection keeps its weight.
// NEAR-LABEL: func.func @mixed
// NEAR: llama.rms_norm %{{.*}}, %{{.*}} {eps
// NEAR-COUNT-3: llama.linear %{{.*}}, %arg
// NEAR-NOT: llama.split
// NEAR: return
func.func @mixed(%x: tensor<2x64xf32>, %g: tensor<64xf32> {llama.role = #llama.role<attn_norm>},
                 %wq: !llama.qweight<q4, group = 32, shape = [64, 64], scale = f16> {llama.role = #llama.role<attn_q>},
                 %wk: !llama.qweight<q8, group = 0, shape = [32, 64], scale = f16> {llama.role = #llama.role<attn_k>},
                 %wv: tensor<32x64xf32> {llama.role = #llama.role<attn_v>}) -> (tensor<2x64xf32>, tensor<2x32xf32>, tensor<2x32xf32>, tensor<2x64xf32>) {
  %n = llama.rms_norm %x, %g {eps = 1.0e-05 : f32} : tensor<2x64xf32>, tensor<64xf32>
  %q = llama.linear %n, %wq : tensor<2x64xf32>, !llama.qweight<q4, group = 32, shape = [64, 64], scale = f16> -> tensor<2x64xf32>
  %k = llama.linear %n, %wk : tensor<2x64xf32>, !llama.qweight<q8, group = 0, shape = [32, 64], scale = f16> -> tensor<2x32xf32>
  %v = llama.linear %n, %wv : tensor<2x64xf32>, tensor<32x64xf32> -> tensor<2x32xf32>
  %r = llama.add %n, %x : tensor<2x64xf32>
  return %q, %k, %v, %r : tensor<2x64xf32>, tensor<2x32xf32>, tensor<2x32xf32>, tensor<2x64xf32>
}

// Only some projections with a bias: they stay apart.
// NEAR-LABEL: func.func @some_bias
// NEAR-COUNT-3: llama.linear %{{.*}}, %arg
// NEAR-NOT: llama.split
// NEAR: return
func.func @some_bias(%x: tensor<2x64xf32>,
                     %wq: tensor<64x64xf32> {llama.role = #llama.role<attn_q>},
                     %wk: tensor<32x64xf32> {llama.role = #llama.role<attn_k>},
                     %wv: tensor<32x64xf32> {llama.role = #llama.role<attn_v>},
                     %bq: tensor<64xf32> {llama.role = #llama.role<attn_q_bias>}) -> (tensor<2x64xf32>, tensor<2x32xf32>, tensor<2x32xf32>) {
  %n = llama.rms_norm %x {eps = 1.0e-05 : f32} : tensor<2x64xf32>
  %q = llama.linear %n, %wq, %bq : tensor<2x64xf32>, tensor<64x64xf32>, tensor<64xf32> -> tensor<2x64xf32>
  %k = llama.linear %n, %wk : tensor<2x64xf32>, tensor<32x64xf32> -> tensor<2x32xf32>
  %v = llama.linear %n, %wv : tensor<2x64xf32>, tensor<32x64xf32> -> tensor<2x32xf32>
  return %q, %k, %v : tensor<2x64xf32>, tensor<2x32xf32>, tensor<2x32xf32>
}
