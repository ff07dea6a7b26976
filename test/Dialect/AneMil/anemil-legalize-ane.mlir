// RUN: ane-opt %s --anemil-legalize-ane="family=m2 axis-limit=16" | FileCheck %s
// RUN: ane-opt %s --anemil-legalize-ane=family=m2 | FileCheck %s --check-prefix=WIDE
// RUN: not ane-opt %s --anemil-legalize-ane=family=m9 2>&1 | FileCheck %s --check-prefix=FAMILY

// 40 output channels over a limit of 16: three tiles of 14 rows (the last
// one 12 rows, padded with zeros), stacked on axis 2.
// CHECK-LABEL: func.func @head
// CHECK-SAME: -> (tensor<1x14x3x2xf16> {anemil.name = "logits"})
// CHECK: %[[W:.*]] = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<40x8x1x1xf16>
// CHECK: %[[W0:.*]] = anemil.slice_by_size %[[W]] {begin = array<i64: 0, 0, 0, 0>, size = array<i64: 14, 8, 1, 1>}
// CHECK: %[[Y0:.*]] = anemil.conv %{{.*}}, %[[W0]] {pad_type = #anemil.pad_type<valid>} : (tensor<1x8x1x2xf16>, tensor<14x8x1x1xf16>) -> tensor<1x14x1x2xf16>
// CHECK: %[[W1:.*]] = anemil.slice_by_size %[[W]] {begin = array<i64: 14, 0, 0, 0>, size = array<i64: 14, 8, 1, 1>}
// CHECK: %[[Y1:.*]] = anemil.conv %{{.*}}, %[[W1]]
// CHECK: %[[W2:.*]] = anemil.slice_by_size %[[W]] {begin = array<i64: 28, 0, 0, 0>, size = array<i64: 12, 8, 1, 1>}
// CHECK: %[[Y2:.*]] = anemil.conv %{{.*}}, %[[W2]] {{.*}} -> tensor<1x12x1x2xf16>
// CHECK: %[[Z:.*]] = anemil.fill {shape = array<i64: 1, 2, 1, 2>, value = 0.000000e+00 : f16} : tensor<1x2x1x2xf16>
// CHECK: %[[P2:.*]] = anemil.concat %[[Y2]], %[[Z]] {axis = 1 : i64}
// CHECK: %[[T:.*]] = anemil.concat %[[Y0]], %[[Y1]], %[[P2]] {axis = 2 : i64} : (tensor<1x14x1x2xf16>, tensor<1x14x1x2xf16>, tensor<1x14x1x2xf16>) -> tensor<1x14x3x2xf16>
// CHECK: return %[[T]]
// A conv within the limit is left alone.
// CHECK-LABEL: func.func @narrow
// CHECK-NOT: slice_by_size
// CHECK: anemil.conv {{.*}} -> tensor<1x16x1x2xf16>

// WIDE-LABEL: func.func @head
// WIDE-NOT: slice_by_size
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
