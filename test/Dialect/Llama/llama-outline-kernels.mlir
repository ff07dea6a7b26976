// RUN: ane-translate --import-model='synthetic:tiny?layers=1' | ane-opt --llama-outline-kernels="seq=1 ctx=32" | FileCheck %s
// RUN: not ane-opt %s --llama-outline-kernels 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: ane-translate --import-model=synthetic:tiny | not ane-opt --llama-outline-kernels="seq=8 ctx=4" 2>&1 | FileCheck %s --check-prefix=BUCKET

// The template's `?` dims become a decode bucket: S=1, C=32.
// CHECK-LABEL: func.func @embed
// CHECK-LABEL: func.func @attn_qkv
// CHECK-SAME: (%[[X:.*]]: tensor<1x64xf32>, %[[P:.*]]: tensor<1xi32>, %{{.*}}: tensor<64xf32> {llama.role = #llama.role<attn_norm>}, %{{.*}}: tensor<64x64xf32> {llama.role = #llama.role<attn_q>}, %{{.*}}: tensor<32x64xf32> {llama.role = #llama.role<attn_k>}, %{{.*}}: tensor<32x64xf32> {llama.role = #llama.role<attn_v>})
// CHECK-SAME: -> (tensor<1x64xf32>, tensor<1x32xf32>, tensor<1x32xf32>) attributes {llama.kernel = "attn_qkv"}
// CHECK: llama.rms_norm
// CHECK-COUNT-3: llama.linear
// CHECK-COUNT-2: llama.rope
// CHECK-NOT: llama.gqa_attention
// CHECK-LABEL: func.func @attn_core
// CHECK-SAME: (%{{.*}}: tensor<1x64xf32>, %{{.*}}: tensor<1x32xf32>, %{{.*}}: tensor<1x32xf32>, %{{.*}}: tensor<2x32x16xf32>, %{{.*}}: tensor<2x32x16xf32>, %{{.*}}: tensor<1xi32>) -> tensor<1x64xf32> attributes {llama.kernel = "attn_core"}
// CHECK: llama.gqa_attention
// CHECK-LABEL: func.func @attn_out
// CHECK-SAME: (%[[A:.*]]: tensor<1x64xf32>, %[[R:.*]]: tensor<1x64xf32>, %[[WO:.*]]: tensor<64x64xf32> {llama.role = #llama.role<attn_out>})
// CHECK: %[[O:.*]] = llama.linear %[[A]], %[[WO]]
// CHECK: llama.add %[[R]], %[[O]]
// CHECK-LABEL: func.func @ffn_up
// CHECK-SAME: -> tensor<1x176xf32> attributes {llama.kernel = "ffn_up"}
// CHECK: llama.swiglu
// CHECK-LABEL: func.func @ffn_down
// CHECK-SAME: (%{{.*}}: tensor<1x176xf32>, %{{.*}}: tensor<1x64xf32>, %{{.*}}: tensor<64x176xf32> {llama.role = #llama.role<ffn_down>})
// CHECK-LABEL: func.func @lm_head
// CHECK-SAME: -> tensor<1x512xf32> attributes {llama.kernel = "lm_head"}
// CHECK: llama.rms_norm
// CHECK: llama.lm_head
// CHECK-NOT: func.func @layer
// CHECK-NOT: func.func @head

// MISSING: error: llama-outline-kernels needs @layer and @head functions
// BUCKET: error: seq and ctx must be positive with ctx >= seq
func.func @other() {
  return
}
