// RUN: ane-translate --import-model='synthetic:tiny?layers=1' | ane-opt --pass-pipeline='builtin.module(ane-compile{scheme=q4 seq=2 ctx=8 weight-binding=input backward=true})' | FileCheck %s
// RUN: ane-translate --import-model='synthetic:tiny?layers=1' | ane-opt --pass-pipeline='builtin.module(ane-compile{seq=2 ctx=8 weight-binding=input dtype=fp32})' | FileCheck %s --check-prefix=DENSE

// Weights are inputs after the activations, in the ANE's surface layout
// whatever the slot stores: q4's [64, 64] matrix arrives as fp16
// [1, in, 1, out] (the host dequantizes it) and projects through a matmul,
// as the ANE convolves with constants only. The slot still stores q4.
// CHECK-LABEL: func.func @attn_out
// CHECK-SAME: %[[X:[^:]*]]: tensor<1x64x1x2xf16> {anemil.name = "attn"}
// CHECK-SAME: %[[W:[^:]*]]: tensor<1x64x1x64xf16> {anemil.name = "w_attn_out"}
// CHECK-SAME: scheme = q4
// CHECK-NOT: anemil.const
// CHECK-NOT: anemil.conv
// CHECK: %[[XM:.*]] = anemil.reshape %[[X]] {shape = array<i64: 1, 1, 64, 2>}
// CHECK: %[[WM:.*]] = anemil.reshape %[[W]] {shape = array<i64: 1, 1, 64, 64>}
// CHECK: %[[Y:.*]] = anemil.matmul %[[WM]], %[[XM]] {transpose_x = true}
// CHECK: anemil.reshape %[[Y]] {shape = array<i64: 1, 64, 1, 2>}

// The fused gate/up weight is one [1, 64, 1, 352] input; its backward
// slices its columns and multiplies without a transpose (W^T g as
// [in, out] x [out, S]).
// CHECK-LABEL: func.func @ffn_up_bwd
// CHECK-SAME: %[[WB:[^:]*]]: tensor<1x64x1x352xf16> {anemil.name = "w_ffn_gate_up"}
// CHECK: anemil.slice_by_size %[[WB]] {begin = array<i64: 0, 0, 0, 176>, size = array<i64: 1, 64, 1, 176>}
// CHECK: anemil.matmul %{{.*}}, %{{.*}} : (tensor<64x176xf16>, tensor<176x2xf16>) -> tensor<64x2xf16>

// DENSE-LABEL: func.func @ffn_down
// DENSE-SAME: tensor<1x176x1x64xf32> {anemil.name = "w_ffn_down"}
// DENSE: anemil.matmul {{.*}} {transpose_x = true} : (tensor<1x1x176x64xf32>, tensor<1x1x176x2xf32>) -> tensor<1x1x64x2xf32>
