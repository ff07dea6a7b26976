// RUN: ane-opt %s | ane-opt | FileCheck %s
// RUN: ane-opt %s --mlir-print-op-generic | ane-opt | FileCheck %s

// CHECK: module attributes {llama.config = #llama.config<dim = 64, n_layers = 5, n_heads = 8, n_kv_heads = 4, head_dim = 8, hidden_dim = 172, vocab_size = 512, rope_theta = 1.000000e+04 : f64, norm_eps = 1.000000e-05 : f64, max_seq_len = 512>}
module attributes {llama.config = #llama.config<dim = 64, n_layers = 5, n_heads = 8, n_kv_heads = 4, head_dim = 8, hidden_dim = 172, vocab_size = 512, rope_theta = 10000.0, norm_eps = 1.0e-05, max_seq_len = 512>} {

// CHECK-LABEL: func.func @embedding
// CHECK-SAME: (%[[T:.*]]: tensor<4xi32>, %[[E:.*]]: tensor<512x64xf32> {llama.role = #llama.role<token_embd>})
// CHECK: llama.embedding %[[T]], %[[E]] : tensor<4xi32>, tensor<512x64xf32> -> tensor<4x64xf32>
func.func @embedding(%tokens: tensor<4xi32>, %table: tensor<512x64xf32> {llama.role = #llama.role<token_embd>}) -> tensor<4x64xf32> {
  %h = llama.embedding %tokens, %table : tensor<4xi32>, tensor<512x64xf32> -> tensor<4x64xf32>
  return %h : tensor<4x64xf32>
}

// CHECK-LABEL: func.func @rms_norm
// CHECK-SAME: (%[[X:.*]]: tensor<4x64xf32>, %[[W:.*]]: tensor<64xf32> {llama.role = #llama.role<attn_norm>})
// CHECK: llama.rms_norm %[[X]], %[[W]] {eps = 9.99999974E-6 : f32} : tensor<4x64xf32>, tensor<64xf32>
func.func @rms_norm(%x: tensor<4x64xf32>, %w: tensor<64xf32> {llama.role = #llama.role<attn_norm>}) -> tensor<4x64xf32> {
  %n = llama.rms_norm %x, %w {eps = 1.0e-05 : f32} : tensor<4x64xf32>, tensor<64xf32>
  return %n : tensor<4x64xf32>
}

// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[X:.*]]: tensor<4x64xf16>, %[[WQ:.*]]: tensor<64x64xf16> {llama.role = #llama.role<attn_q>}, %[[WG:.*]]: !llama.qweight<q4, group = 32, shape = [172, 64], scale = f16> {llama.role = #llama.role<ffn_gate>})
// CHECK: llama.linear %[[X]], %[[WQ]] : tensor<4x64xf16>, tensor<64x64xf16> -> tensor<4x64xf16>
// CHECK: llama.linear %[[X]], %[[WG]] : tensor<4x64xf16>, !llama.qweight<q4, group = 32, shape = [172, 64], scale = f16> -> tensor<4x172xf16>
func.func @linear(%x: tensor<4x64xf16>,
                  %wq: tensor<64x64xf16> {llama.role = #llama.role<attn_q>},
                  %wg: !llama.qweight<q4, group = 32, shape = [172, 64], scale = f16> {llama.role = #llama.role<ffn_gate>}) -> (tensor<4x64xf16>, tensor<4x172xf16>) {
  %q = llama.linear %x, %wq : tensor<4x64xf16>, tensor<64x64xf16> -> tensor<4x64xf16>
  %g = llama.linear %x, %wg : tensor<4x64xf16>, !llama.qweight<q4, group = 32, shape = [172, 64], scale = f16> -> tensor<4x172xf16>
  return %q, %g : tensor<4x64xf16>, tensor<4x172xf16>
}

// CHECK-LABEL: func.func @linear_bias
// CHECK: llama.linear %{{.*}}, %{{.*}}, %{{.*}} : tensor<4x64xf32>, tensor<32x64xf32>, tensor<32xf32> -> tensor<4x32xf32>
func.func @linear_bias(%x: tensor<4x64xf32>,
                       %wk: tensor<32x64xf32> {llama.role = #llama.role<attn_k>},
                       %bk: tensor<32xf32> {llama.role = #llama.role<attn_k_bias>}) -> tensor<4x32xf32> {
  %k = llama.linear %x, %wk, %bk : tensor<4x64xf32>, tensor<32x64xf32>, tensor<32xf32> -> tensor<4x32xf32>
  return %k : tensor<4x32xf32>
}

// CHECK-LABEL: func.func @qweight_schemes
// CHECK-SAME: !llama.qweight<q8, group = 0, shape = [64, 172], scale = f32> {llama.role = #llama.role<ffn_down>}
// CHECK-SAME: !llama.qweight<q3, group = 64, shape = [172, 64], scale = f16> {llama.role = #llama.role<ffn_up>}
// CHECK-SAME: !llama.qweight<lut4, group = 16, shape = [512, 64], scale = f16> {llama.role = #llama.role<output>}
func.func @qweight_schemes(%down: !llama.qweight<q8, group = 0, shape = [64, 172], scale = f32> {llama.role = #llama.role<ffn_down>},
                           %up: !llama.qweight<q3, group = 64, shape = [172, 64], scale = f16> {llama.role = #llama.role<ffn_up>},
                           %out: !llama.qweight<lut4, group = 16, shape = [512, 64], scale = f16> {llama.role = #llama.role<output>}) {
  return
}

// CHECK-LABEL: func.func @rope
// CHECK: llama.rope %{{.*}}, %{{.*}} {head_dim = 8 : i64, theta = 1.000000e+04 : f64} : tensor<4x64xf32>, tensor<4xi32>
func.func @rope(%q: tensor<4x64xf32>, %pos: tensor<4xi32>) -> tensor<4x64xf32> {
  %r = llama.rope %q, %pos {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<4x64xf32>, tensor<4xi32>
  return %r : tensor<4x64xf32>
}

// CHECK-LABEL: func.func @gqa_attention
// CHECK-SAME: (%[[Q:.*]]: tensor<4x64xf32>, %[[K:.*]]: tensor<4x32xf32>, %[[V:.*]]: tensor<4x32xf32>, %[[KC:.*]]: tensor<4x256x8xf32>, %[[VC:.*]]: tensor<4x256x8xf32>, %[[P:.*]]: tensor<4xi32>)
// CHECK: = llama.gqa_attention %[[Q]], %[[K]], %[[V]] cache(%[[KC]], %[[VC]]) positions(%[[P]])
// CHECK-SAME: {causal = true, head_dim = 8 : i64, n_heads = 8 : i64, n_kv_heads = 4 : i64}
// CHECK-SAME: : tensor<4x64xf32>, tensor<4x32xf32>, tensor<4x256x8xf32>, tensor<4xi32>
func.func @gqa_attention(%q: tensor<4x64xf32>, %k: tensor<4x32xf32>, %v: tensor<4x32xf32>,
                         %kc: tensor<4x256x8xf32>, %vc: tensor<4x256x8xf32>, %pos: tensor<4xi32>)
    -> (tensor<4x64xf32>, tensor<4x256x8xf32>, tensor<4x256x8xf32>) {
  %o, %kc2, %vc2 = llama.gqa_attention %q, %k, %v cache(%kc, %vc) positions(%pos)
      {n_heads = 8 : i64, n_kv_heads = 4 : i64, head_dim = 8 : i64, causal = true}
      : tensor<4x64xf32>, tensor<4x32xf32>, tensor<4x256x8xf32>, tensor<4xi32>
  return %o, %kc2, %vc2 : tensor<4x64xf32>, tensor<4x256x8xf32>, tensor<4x256x8xf32>
}

// CHECK-LABEL: func.func @swiglu_add
// CHECK: %[[S:.*]] = llama.swiglu %{{.*}}, %{{.*}} : tensor<4x172xf32>
// CHECK: llama.add %[[S]], %[[S]] : tensor<4x172xf32>
func.func @swiglu_add(%gate: tensor<4x172xf32>, %up: tensor<4x172xf32>) -> tensor<4x172xf32> {
  %h = llama.swiglu %gate, %up : tensor<4x172xf32>
  %r = llama.add %h, %h : tensor<4x172xf32>
  return %r : tensor<4x172xf32>
}

// CHECK-LABEL: func.func @lm_head
// CHECK: llama.lm_head %{{.*}}, %{{.*}} : tensor<1x64xf32>, tensor<512x64xf32> -> tensor<1x512xf32>
func.func @lm_head(%x: tensor<1x64xf32>, %w: tensor<512x64xf32> {llama.role = #llama.role<output>}, %n: tensor<64xf32> {llama.role = #llama.role<output_norm>}) -> tensor<1x512xf32> {
  %l = llama.lm_head %x, %w : tensor<1x64xf32>, tensor<512x64xf32> -> tensor<1x512xf32>
  return %l : tensor<1x512xf32>
}

// CHECK-LABEL: func.func @split_and_unscaled_norm
// CHECK: %[[N:.*]] = llama.rms_norm %{{.*}} {eps = 9.99999974E-6 : f32} : tensor<2x128xf32>
// CHECK: llama.split %[[N]] {sizes = array<i64: 64, 32, 32>} : tensor<2x128xf32> -> tensor<2x64xf32>, tensor<2x32xf32>, tensor<2x32xf32>
func.func @split_and_unscaled_norm(%x: tensor<2x128xf32>) -> (tensor<2x64xf32>, tensor<2x32xf32>, tensor<2x32xf32>) {
  %n = llama.rms_norm %x {eps = 1.0e-05 : f32} : tensor<2x128xf32>
  %q, %k, %v = llama.split %n {sizes = array<i64: 64, 32, 32>} : tensor<2x128xf32> -> tensor<2x64xf32>, tensor<2x32xf32>, tensor<2x32xf32>
  return %q, %k, %v : tensor<2x64xf32>, tensor<2x32xf32>, tensor<2x32xf32>
}

// CHECK-LABEL: func.func @fused_roles
// CHECK-SAME: {llama.role = #llama.role<attn_qkv>}
// CHECK-SAME: {llama.role = #llama.role<ffn_gate_up>}
func.func @fused_roles(%a: tensor<128x64xf32> {llama.role = #llama.role<attn_qkv>},
                       %b: tensor<344x64xf32> {llama.role = #llama.role<ffn_gate_up>}) {
  return
}

// CHECK-LABEL: func.func @roles_without_config_shape_check
// CHECK-SAME: #llama.role<attn_k>
// CHECK-SAME: #llama.role<attn_v>
// CHECK-SAME: #llama.role<attn_out>
// CHECK-SAME: #llama.role<ffn_norm>
func.func @roles_without_config_shape_check(
    %k: tensor<32x64xf32> {llama.role = #llama.role<attn_k>},
    %v: tensor<32x64xf32> {llama.role = #llama.role<attn_v>},
    %o: tensor<64x64xf32> {llama.role = #llama.role<attn_out>},
    %fn: tensor<64xf32> {llama.role = #llama.role<ffn_norm>}) {
  return
}

}
