// RUN: ane-opt %s --anemil-legalize-ane="family=m2 axis-limit=16 pad-channels=false" | FileCheck %s
// RUN: ane-opt %s --anemil-legalize-ane=family=m2 | FileCheck %s --check-prefix=PAD
// RUN: not ane-opt %s --anemil-legalize-ane=family=m9 2>&1 | FileCheck %s --check-prefix=FAMILY

// 40 output channels over a limit of 16: three tiles of 14 rows (the last
// one 12 rows, padded with zeros by `pad`), stacked on axis 2.
// CHECK-LABEL: func.func @head
// CHECK-SAME: -> (tensor<1x14x3x2xf16> {anemil.name = "logits"})
// CHECK: %[[W:.*]] = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<40x8x1x1xf16>
// CHECK: %[[W0:.*]] = anemil.slice_by_size %[[W]] {begin = array<i64: 0, 0, 0, 0>, size = array<i64: 14, 8, 1, 1>}
// CHECK: %[[Y0:.*]] = anemil.conv %{{.*}}, %[[W0]] {pad_type = #anemil.pad_type<valid>} : (tensor<1x8x1x2xf16>, tensor<14x8x1x1xf16>) -> tensor<1x14x1x2xf16>
// CHECK: %[[W1:.*]] = anemil.slice_by_size %[[W]] {begin = array<i64: 14, 0, 0, 0>, size = array<i64: 14, 8, 1, 1>}
// CHECK: %[[Y1:.*]] = anemil.conv %{{.*}}, %[[W1]]
// CHECK: %[[W2:.*]] = anemil.slice_by_size %[[W]] {begin = array<i64: 28, 0, 0, 0>, size = array<i64: 12, 8, 1, 1>}
// CHECK: %[[Y2:.*]] = anemil.conv %{{.*}}, %[[W2]] {{.*}} -> tensor<1x12x1x2xf16>
// CHECK: %[[P2:.*]] = anemil.pad %[[Y2]] {pad = array<i64: 0, 0, 0, 2, 0, 0, 0, 0>} : (tensor<1x12x1x2xf16>) -> tensor<1x14x1x2xf16>
// CHECK: %[[T:.*]] = anemil.concat %[[Y0]], %[[Y1]], %[[P2]] {axis = 2 : i64} : (tensor<1x14x1x2xf16>, tensor<1x14x1x2xf16>, tensor<1x14x1x2xf16>) -> tensor<1x14x3x2xf16>
// CHECK: return %[[T]]
// A conv within the limit is left alone.
// CHECK-LABEL: func.func @narrow
// CHECK-NOT: slice_by_size
// CHECK: anemil.conv {{.*}} -> tensor<1x16x1x2xf16>

// The classifier's backward: d_logits comes in the tiled layout of the
// logits, and W^T g is a sum of per-tile products on row slices of W.
// CHECK-LABEL: func.func @head_bwd
// CHECK-SAME: %[[G:.*]]: tensor<1x14x3x2xf16> {anemil.name = "d_logits"}
// CHECK: %[[W:.*]] = anemil.const
// CHECK: %[[W0:.*]] = anemil.slice_by_size %[[W]] {begin = array<i64: 0, 0, 0, 0>, size = array<i64: 14, 8, 1, 1>}
// CHECK: %[[R0:.*]] = anemil.reshape %[[W0]] {shape = array<i64: 14, 8>}
// CHECK: %[[G0:.*]] = anemil.slice_by_size %[[G]] {begin = array<i64: 0, 0, 0, 0>, size = array<i64: 1, 14, 1, 2>}
// CHECK: %[[H0:.*]] = anemil.reshape %[[G0]] {shape = array<i64: 14, 2>}
// CHECK: %[[M0:.*]] = anemil.matmul %[[R0]], %[[H0]] {transpose_x = true} : (tensor<14x8xf16>, tensor<14x2xf16>) -> tensor<8x2xf16>
// CHECK: anemil.slice_by_size %[[G]] {begin = array<i64: 0, 0, 1, 0>, size = array<i64: 1, 14, 1, 2>}
// CHECK: %[[M1:.*]] = anemil.matmul
// CHECK: %[[S1:.*]] = anemil.add %[[M0]], %[[M1]]
// CHECK: %[[W2:.*]] = anemil.slice_by_size %[[W]] {begin = array<i64: 28, 0, 0, 0>, size = array<i64: 12, 8, 1, 1>}
// CHECK: anemil.slice_by_size %[[G]] {begin = array<i64: 0, 0, 2, 0>, size = array<i64: 1, 12, 1, 2>}
// CHECK: %[[M2:.*]] = anemil.matmul {{.*}} -> tensor<8x2xf16>
// CHECK: %[[S2:.*]] = anemil.add %[[S1]], %[[M2]]
// CHECK: return %[[S2]]

// With the m2 limit nothing is tiled. Padding to 64-byte rows: 8 fp16 channels become 32, 40 become 64; fp32
// rows need 16 channels; the mask-like [1, 1, S, C] and aligned tensors stay.
// PAD-LABEL: func.func @head(
// PAD-SAME: %[[X:.*]]: tensor<1x32x1x2xf16>) -> (tensor<1x64x1x2xf16> {anemil.name = "logits"})
// PAD-SAME: anemil.padded_channels = {arg0 = 8 : i64, logits = 40 : i64}
// PAD: %[[L:.*]] = anemil.slice_by_size %[[X]] {begin = array<i64: 0, 0, 0, 0>, size = array<i64: 1, 8, 1, 2>} : (tensor<1x32x1x2xf16>) -> tensor<1x8x1x2xf16>
// PAD: %[[Y:.*]] = anemil.conv %[[L]], {{.*}} -> tensor<1x40x1x2xf16>
// PAD: %[[P:.*]] = anemil.pad %[[Y]] {pad = array<i64: 0, 0, 0, 24, 0, 0, 0, 0>} : (tensor<1x40x1x2xf16>) -> tensor<1x64x1x2xf16>
// PAD: return %[[P]]
// PAD-LABEL: func.func @aligned(
// PAD-SAME: tensor<1x64x1x2xf16>, %{{.*}}: tensor<1x1x2x8xf16>, %{{.*}}: tensor<1x16x1x2xf32>) -> tensor<1x64x1x2xf16>
// PAD-NOT: padded_channels
// PAD-NOT: slice_by_size
// PAD: return

// FAMILY: error: unknown ANE family 'm9' (m1, m2, m3, m4)

func.func @head(%x: tensor<1x8x1x2xf16>) -> (tensor<1x40x1x2xf16> {anemil.name = "logits"}) attributes {anemil.kernel = "lm_head"} {
  %w = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<40x8x1x1xf16>
  %y = anemil.conv %x, %w {pad_type = #anemil.pad_type<valid>} : (tensor<1x8x1x2xf16>, tensor<40x8x1x1xf16>) -> tensor<1x40x1x2xf16>
  return %y : tensor<1x40x1x2xf16>
}

func.func @narrow(%x: tensor<1x8x1x2xf16>) -> tensor<1x16x1x2xf16> {
  %w = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<16x8x1x1xf16>
  %y = anemil.conv %x, %w {pad_type = #anemil.pad_type<valid>} : (tensor<1x8x1x2xf16>, tensor<16x8x1x1xf16>) -> tensor<1x16x1x2xf16>
  return %y : tensor<1x16x1x2xf16>
}

func.func @head_bwd(%g: tensor<1x40x1x2xf16> {anemil.name = "d_logits"}) -> (tensor<8x2xf16> {anemil.name = "d_x"}) attributes {anemil.kernel = "lm_head_bwd"} {
  %w = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<40x8x1x1xf16>
  %wm = anemil.reshape %w {shape = array<i64: 40, 8>} : (tensor<40x8x1x1xf16>) -> tensor<40x8xf16>
  %gm = anemil.reshape %g {shape = array<i64: 40, 2>} : (tensor<1x40x1x2xf16>) -> tensor<40x2xf16>
  %y = anemil.matmul %wm, %gm {transpose_x = true} : (tensor<40x8xf16>, tensor<40x2xf16>) -> tensor<8x2xf16>
  return %y : tensor<8x2xf16>
}

func.func @aligned(%x: tensor<1x64x1x2xf16>, %m: tensor<1x1x2x8xf16>, %f: tensor<1x16x1x2xf32>) -> tensor<1x64x1x2xf16> attributes {anemil.kernel = "aligned"} {
  return %x : tensor<1x64x1x2xf16>
}
