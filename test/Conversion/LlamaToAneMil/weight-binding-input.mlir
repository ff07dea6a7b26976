// RUN: ane-translate --import-model='synthetic:tiny?layers=1' | ane-opt --pass-pipeline='builtin.module(ane-compile{scheme=q8 seq=2 ctx=8 weight-binding=input})' | FileCheck %s
// RUN: ane-translate --import-model='synthetic:tiny?layers=1' | ane-opt --pass-pipeline='builtin.module(ane-compile{seq=2 ctx=8 weight-binding=input})' | FileCheck %s --check-prefix=DENSE

// Weights are inputs after the activations; q8 is dequantized in the graph.
// CHECK-LABEL: func.func @attn_out
// CHECK-SAME: %[[W:[^:]*]]: tensor<64x64x1x1xi8> {anemil.name = "w_attn_out"}, %[[S:[^:]*]]: tensor<64x1x1x1xf16> {anemil.name = "w_attn_out_scale"}
// CHECK-NOT: anemil.const
// CHECK: %[[F:.*]] = anemil.cast %[[W]] {dtype = #anemil.dtype<fp16>} : (tensor<64x64x1x1xi8>) -> tensor<64x64x1x1xf16>
// CHECK: %[[G:.*]] = anemil.reshape %[[F]] {shape = array<i64: 64, 1, 64, 1>}
// CHECK: %[[M:.*]] = anemil.mul %[[G]], %[[S]]
// CHECK: %[[D:.*]] = anemil.reshape %[[M]] {shape = array<i64: 64, 64, 1, 1>}
// CHECK: anemil.conv %{{.*}}, %[[D]]

// DENSE-LABEL: func.func @ffn_down
// DENSE-SAME: tensor<64x176x1x1xf16> {anemil.name = "w_ffn_down"}
