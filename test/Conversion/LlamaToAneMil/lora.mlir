// RUN: ane-translate --import-model='synthetic:tiny?layers=1' | ane-opt --llama-fuse=fold-norms=0 --llama-outline-kernels="seq=2 ctx=8" --convert-llama-to-anemil="backward=1 lora-rank=4 lora-targets=attn_q,attn_v,attn_out,ffn_up,ffn_down" | FileCheck %s
// RUN: ane-translate --import-model='synthetic:tiny?layers=1' | ane-opt --llama-outline-kernels="seq=2 ctx=8" --convert-llama-to-anemil="lora-rank=2 lora-targets=attn_k" | FileCheck %s --check-prefix=SPLIT

// The module records the adapters; the norm stays a slot of its own.
// CHECK: module attributes {{{.*}}anemil.lora_rank = 4 : i64, anemil.lora_targets = ["attn_q", "attn_v", "attn_out", "ffn_up", "ffn_down"]
// CHECK-NOT: fold_norm

// A fused Q/K/V projection takes A^T [1, in, 1, r] and B^T [1, r, 1, out]
// per adapted part (not K), after its activations; their gradients follow
// d_x.
// CHECK-LABEL: func.func @attn_qkv_bwd
// CHECK-SAME: {anemil.name = "rope_sin"}, %{{.*}}: tensor<1x64x1x4xf16> {anemil.name = "lora_a_attn_q"}, %{{.*}}: tensor<1x4x1x64xf16> {anemil.name = "lora_b_attn_q"}, %{{.*}}: tensor<1x64x1x4xf16> {anemil.name = "lora_a_attn_v"}, %{{.*}}: tensor<1x4x1x32xf16> {anemil.name = "lora_b_attn_v"}, %{{.*}} {anemil.name = "d_q"}
// CHECK-SAME: -> (tensor<1x64x1x2xf16> {anemil.name = "d_x"}, tensor<1x64x1x4xf16> {anemil.name = "d_lora_a_attn_q"}, tensor<1x4x1x64xf16> {anemil.name = "d_lora_b_attn_q"}, tensor<1x64x1x4xf16> {anemil.name = "d_lora_a_attn_v"}, tensor<1x4x1x32xf16> {anemil.name = "d_lora_b_attn_v"})

// The forward: each adapted part of the split gets B (A x) added.
// CHECK-LABEL: func.func @attn_qkv(
// CHECK: %[[PARTS:.*]]:3 = anemil.split
// CHECK: %[[AX:.*]] = anemil.matmul {{.*}}transpose_x = true
// CHECK: %[[BAX:.*]] = anemil.matmul {{.*}}transpose_x = true
// CHECK: anemil.add %[[PARTS]]#0, {{.*}}

// attn_core_bwd folds attn_out's W^T in, and so its adapter.
// CHECK-LABEL: func.func @attn_core_bwd
// CHECK-SAME: {anemil.name = "lora_a_attn_out"}
// CHECK-SAME: {anemil.name = "d_lora_b_attn_out"})

// ffn_down_bwd now reads h: dB^T = (A h) g^T.
// CHECK-LABEL: func.func @ffn_down_bwd
// CHECK-SAME: {anemil.name = "h"}, {{.*}}{anemil.name = "lora_a_ffn_down"}, {{.*}}{anemil.name = "lora_b_ffn_down"}, {{.*}}{anemil.name = "d_x_out"})

// Without llama-fuse the adapted projection adds its delta itself.
// SPLIT-LABEL: func.func @attn_qkv(
// SPLIT-SAME: {anemil.name = "lora_a_attn_k"}, %{{.*}}: tensor<1x2x1x32xf16> {anemil.name = "lora_b_attn_k"})
// SPLIT-COUNT-3: anemil.conv
// SPLIT: anemil.matmul
// SPLIT: anemil.matmul
// SPLIT: anemil.add
