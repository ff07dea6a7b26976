// The README's first command runs ane-opt on this example; keep it valid.
// RUN: ane-opt %ane_src_root/docs/examples/llama-layer.mlir | FileCheck %s

// CHECK-LABEL: func.func @embed
// CHECK: llama.embedding
// CHECK-LABEL: func.func @layer
// CHECK: llama.rms_norm
// CHECK-COUNT-2: llama.rope
// CHECK: llama.gqa_attention
// CHECK: llama.rms_norm
// CHECK: llama.swiglu
// CHECK-LABEL: func.func @head
// CHECK: llama.lm_head
