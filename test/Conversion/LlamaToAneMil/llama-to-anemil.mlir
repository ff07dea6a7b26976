// RUN: ane-translate --import-model='synthetic:tiny?layers=1' | ane-opt --llama-quantize=scheme=q4 --llama-outline-kernels="seq=2 ctx=8" --convert-llama-to-anemil | FileCheck %s
// RUN: ane-translate --import-model='synthetic:tiny?layers=1' | ane-opt --llama-outline-kernels="seq=2 ctx=8" --convert-llama-to-anemil=dtype=fp32 | FileCheck %s --check-prefix=F32
// RUN: ane-translate --import-model='synthetic:tiny?layers=1' | ane-opt --llama-quantize=scheme=q8 --llama-outline-kernels="seq=2 ctx=8" --convert-llama-to-anemil | FileCheck %s --check-prefix=Q8
// RUN: ane-translate --import-model='synthetic:tiny?layers=1' | ane-opt --llama-quantize="scheme=q8 group=32" --llama-outline-kernels="seq=2 ctx=8" --convert-llama-to-anemil | FileCheck %s --check-prefix=Q8G
// RUN: ane-translate --import-model='synthetic:tiny?layers=1&qkv_bias=1' | ane-opt --llama-fuse --llama-outline-kernels="seq=2 ctx=8" --convert-llama-to-anemil | FileCheck %s --check-prefix=BIAS
// RUN: ane-translate --import-model='synthetic:tiny?layers=1&qkv_bias=1' | ane-opt --llama-outline-kernels="seq=2 ctx=8" --convert-llama-to-anemil | FileCheck %s --check-prefix=BIAS3

// Biases are fp16 vectors in the layer segment; the q and k elements move
// with their rows into rotate-half order (rope_rows), v's stay. The kernel
// adds the bias [1, C, 1, 1] to the projection before the split.
// BIAS: #anemil.weight_slot<role = "attn_qkv_bias", segment = layer, scheme = f16, group = 0, shape = [128], blobs = [tensor<1x128x1x1xf16>], offsets = {{\[}}[[$OFF:[0-9]+]]], fused_from = ["attn_q_bias", "attn_k_bias", "attn_v_bias"], rope_rows = 96, head_dim = 16>
// BIAS-LABEL: func.func @attn_qkv
// BIAS: %[[P:.*]] = anemil.conv
// BIAS-NEXT: %[[B:.*]] = anemil.const #anemil.blob<"@model_path/weights/weight.bin", [[$OFF]]> : tensor<1x128x1x1xf16>
// BIAS-NEXT: %[[S:.*]] = anemil.add %[[P]], %[[B]] : (tensor<1x128x1x2xf16>, tensor<1x128x1x1xf16>) -> tensor<1x128x1x2xf16>
// BIAS-NEXT: anemil.split %[[S]]
// BIAS3: role = "attn_q_bias", segment = layer, scheme = f16, group = 0, shape = [64], {{.*}}, rope_rows = 64, head_dim = 16>
// BIAS3-SAME: role = "attn_k_bias", segment = layer, scheme = f16, group = 0, shape = [32], {{.*}}, rope_rows = 32, head_dim = 16>
// BIAS3-SAME: role = "attn_v_bias", segment = layer, scheme = f16, group = 0, shape = [32], blobs = [tensor<1x32x1x1xf16>], offsets = [{{[0-9]+}}]>
// BIAS3-LABEL: func.func @attn_qkv
// BIAS3-COUNT-3: anemil.add %{{.*}}, %{{.*}} : (tensor<1x{{64|32}}x1x2xf16>, tensor<1x{{64|32}}x1x1xf16>)

// Per-channel int8 (q8's default) is MIL's affine form: int8 data, one fp16
// scale and one zero point per output row, along axis 0.
// Q8: #anemil.weight_slot<role = "attn_q", segment = layer, scheme = q8, group = 64, shape = [64, 64], blobs = [tensor<64x64x1x1xi8>, tensor<64xf16>, tensor<64xi8>], offsets = [256, 4416, 4608], rope_rows = 64, head_dim = 16>
// Q8-LABEL: func.func @attn_qkv
// Q8: %[[D:.*]] = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 256> : tensor<64x64x1x1xi8>
// Q8: %[[S:.*]] = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 4416> : tensor<64xf16>
// Q8: %[[Z:.*]] = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 4608> : tensor<64xi8>
// Q8: anemil.constexpr_affine_dequantize %[[D]], %[[S]], %[[Z]] {axis = 0 : i64} : (tensor<64x64x1x1xi8>, tensor<64xf16>, tensor<64xi8>) -> tensor<64x64x1x1xf16>
// Grouped int8 stays blockwise.
// Q8G: #anemil.weight_slot<role = "attn_q", segment = layer, scheme = q8, group = 32, shape = [64, 64], blobs = [tensor<64x64x1x1xi8>, tensor<64x2x1x1xf16>]
// Q8G-LABEL: func.func @attn_qkv
// Q8G-NOT: constexpr_affine_dequantize
// Q8G: anemil.constexpr_blockwise_shift_scale {{.*}} : (tensor<64x64x1x1xi8>, tensor<64x2x1x1xf16>) -> tensor<64x64x1x1xf16>

// The slot table of the module: layer slots at offsets equal in every
// layer's segment, then the global slots.
// CHECK: module attributes {anemil.dtype = "fp16", anemil.weight_binding = "blob", anemil.weight_slots = [#anemil.weight_slot<role = "attn_norm", segment = layer, scheme = f16, group = 0, shape = [64], blobs = [tensor<1x64x1x1xf16>], offsets = [64]>,
// CHECK-SAME: #anemil.weight_slot<role = "attn_q", segment = layer, scheme = q4, group = 64, shape = [64, 64], blobs = [tensor<64x64x1x1xi4>, tensor<64x1x1x1xf16>], offsets = [256, 2368], rope_rows = 64, head_dim = 16>
// Q and K rows are stored in rotate-half order (rope_rows of them); V is not.
// CHECK-SAME: role = "attn_k", {{.*}}, rope_rows = 32, head_dim = 16>
// CHECK-SAME: role = "attn_v", {{.*}}, offsets = [3776, 4864]>,

// CHECK-LABEL: func.func @attn_qkv
// CHECK-SAME: (%[[X:.*]]: tensor<1x64x1x2xf16> {anemil.name = "x"}, %[[COS:.*]]: tensor<1x8x1x2xf16> {anemil.name = "rope_cos"}, %[[SIN:.*]]: tensor<1x8x1x2xf16> {anemil.name = "rope_sin"})
// CHECK-SAME: -> (tensor<1x64x1x2xf16> {anemil.name = "q"}, tensor<1x32x1x2xf16> {anemil.name = "k"}, tensor<1x32x1x2xf16> {anemil.name = "v"})
// CHECK-SAME: anemil.kernel = "attn_qkv", anemil.opset = #anemil.opset<ios18>
// RMSNorm: reduce_mean of squares over channels, rsqrt with epsilon, mul.
// CHECK: %[[SQ:.*]] = anemil.mul %[[X]], %[[X]]
// CHECK: %[[MS:.*]] = anemil.reduce_mean %[[SQ]] {axes = array<i64: 1>, keep_dims = true} : (tensor<1x64x1x2xf16>) -> tensor<1x1x1x2xf16>
// CHECK: %[[R:.*]] = anemil.rsqrt %[[MS]] {epsilon = 9.99999974E-6 : f32}
// CHECK: %[[N:.*]] = anemil.mul %[[X]], %[[R]]
// CHECK: %[[G:.*]] = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<1x64x1x1xf16>
// CHECK: %[[NG:.*]] = anemil.mul %[[N]], %[[G]]
// A q4 projection: int4 data and fp16 scales per group, then a 1x1 conv.
// CHECK: %[[D:.*]] = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 256> : tensor<64x64x1x1xi4>
// CHECK: %[[S:.*]] = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 2368> : tensor<64x1x1x1xf16>
// CHECK: %[[WQ:.*]] = anemil.constexpr_blockwise_shift_scale %[[D]], %[[S]]
// CHECK: %[[Q:.*]] = anemil.conv %[[NG]], %[[WQ]] {pad_type = #anemil.pad_type<valid>} : (tensor<1x64x1x2xf16>, tensor<64x64x1x1xf16>) -> tensor<1x64x1x2xf16>
// RoPE as rotate-half with the table inputs; no sin or cos op.
// CHECK: %[[C:.*]] = anemil.reshape %[[COS]] {shape = array<i64: 1, 1, 8, 2>}
// CHECK: %[[H:.*]] = anemil.reshape %[[Q]] {shape = array<i64: 4, 2, 8, 2>}
// CHECK: %[[X1:.*]] = anemil.slice_by_size %[[H]] {begin = array<i64: 0, 0, 0, 0>, size = array<i64: 4, 1, 8, 2>}
// CHECK: %[[X2:.*]] = anemil.slice_by_size %[[H]] {begin = array<i64: 0, 1, 0, 0>, size = array<i64: 4, 1, 8, 2>}
// CHECK: anemil.mul %[[X1]], %[[C]]
// CHECK: anemil.concat {{.*}} {axis = 1 : i64} : (tensor<4x1x8x2xf16>, tensor<4x1x8x2xf16>) -> tensor<4x2x8x2xf16>
// CHECK-NOT: anemil.sin
// CHECK: return

// GQA: 4 query heads over 2 KV heads by reshapes, an additive mask input.
// CHECK-LABEL: func.func @attn_core
// CHECK-SAME: (%[[AQ:.*]]: tensor<1x64x1x2xf16> {anemil.name = "q"}, %[[KC:.*]]: tensor<1x32x1x8xf16> {anemil.name = "k_cache"}, %[[VC:.*]]: tensor<1x32x1x8xf16> {anemil.name = "v_cache"}, %[[M:.*]]: tensor<1x1x2x8xf16> {anemil.name = "mask"})
// CHECK-SAME: anemil.weights = []
// CHECK: anemil.reshape {{.*}} -> tensor<1x2x4x16xf16>
// CHECK: %[[K4:.*]] = anemil.reshape %[[KC]] {shape = array<i64: 1, 2, 16, 8>}
// CHECK: anemil.matmul {{.*}}, %[[K4]] : (tensor<1x2x4x16xf16>, tensor<1x2x16x8xf16>) -> tensor<1x2x4x8xf16>
// CHECK: anemil.const dense<2.500000e-01> : tensor<f16>
// CHECK: anemil.add {{.*}}, %[[M]] : (tensor<1x4x2x8xf16>, tensor<1x1x2x8xf16>) -> tensor<1x4x2x8xf16>
// CHECK: anemil.softmax {{.*}} {axis = -1 : i64}
// CHECK: anemil.matmul {{.*}} {transpose_y = true} : (tensor<1x2x4x8xf16>, tensor<1x2x16x8xf16>) -> tensor<1x2x4x16xf16>

// CHECK-LABEL: func.func @ffn_up
// CHECK: %[[GATE:.*]] = anemil.conv {{.*}} -> tensor<1x176x1x2xf16>
// CHECK: %[[UP:.*]] = anemil.conv {{.*}} -> tensor<1x176x1x2xf16>
// CHECK: %[[SG:.*]] = anemil.silu %[[GATE]]
// CHECK: anemil.mul %[[SG]], %[[UP]]

// CHECK-LABEL: func.func @lm_head
// CHECK: anemil.conv {{.*}} -> tensor<1x512x1x2xf16>

// F32: anemil.dtype = "fp32"
// F32: #anemil.weight_slot<role = "attn_q", segment = layer, scheme = f16, group = 0, shape = [64, 64], blobs = [tensor<64x64x1x1xf32>], offsets = [384], rope_rows = 64, head_dim = 16>
// F32-LABEL: func.func @attn_out
// F32-SAME: (%{{.*}}: tensor<1x64x1x2xf32> {anemil.name = "attn"}, %{{.*}}: tensor<1x64x1x2xf32> {anemil.name = "x"}) -> (tensor<1x64x1x2xf32> {anemil.name = "x_out"})
