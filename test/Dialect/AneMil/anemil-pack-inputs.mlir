// RUN: ane-opt %s --anemil-pack-inputs | FileCheck %s

// Sizes 64, 8 and 8: C = gcd = 8, so x takes 8 columns, cos and sin one.
// CHECK-LABEL: func.func @k
// CHECK-SAME: (%[[P:.*]]: tensor<1x8x1x10xf16> {anemil.name = "packed"})
// CHECK-SAME: anemil.packed_inputs = [{columns = 8 : i64, name = "x", offset = 0 : i64, shape = array<i64: 1, 64, 1, 1>}, {columns = 1 : i64, name = "cos", offset = 8 : i64, shape = array<i64: 1, 8, 1, 1>}, {columns = 1 : i64, name = "sin", offset = 9 : i64, shape = array<i64: 1, 8, 1, 1>}]
// CHECK: %[[XS:.*]] = anemil.slice_by_size %[[P]] {begin = array<i64: 0, 0, 0, 0>, size = array<i64: 1, 8, 1, 8>}
// CHECK: %[[X:.*]] = anemil.reshape %[[XS]] {shape = array<i64: 1, 64, 1, 1>}
// CHECK: %[[CS:.*]] = anemil.slice_by_size %[[P]] {begin = array<i64: 0, 0, 0, 8>, size = array<i64: 1, 8, 1, 1>}
// CHECK: %[[SS:.*]] = anemil.slice_by_size %[[P]] {begin = array<i64: 0, 0, 0, 9>, size = array<i64: 1, 8, 1, 1>}
// CHECK: anemil.mul %[[X]], %[[X]]
// A single-input kernel is left alone.
// CHECK-LABEL: func.func @one
// CHECK-SAME: (%{{.*}}: tensor<1x64x1x1xf16> {anemil.name = "x"})
// CHECK-NOT: packed_inputs
func.func @k(%x: tensor<1x64x1x1xf16> {anemil.name = "x"}, %c: tensor<1x8x1x1xf16> {anemil.name = "cos"},
             %s: tensor<1x8x1x1xf16> {anemil.name = "sin"}) -> (tensor<1x64x1x1xf16>, tensor<1x8x1x1xf16>) attributes {anemil.kernel = "k"} {
  %y = anemil.mul %x, %x : (tensor<1x64x1x1xf16>, tensor<1x64x1x1xf16>) -> tensor<1x64x1x1xf16>
  %z = anemil.mul %c, %s : (tensor<1x8x1x1xf16>, tensor<1x8x1x1xf16>) -> tensor<1x8x1x1xf16>
  return %y, %z : tensor<1x64x1x1xf16>, tensor<1x8x1x1xf16>
}
func.func @one(%x: tensor<1x64x1x1xf16> {anemil.name = "x"}) -> tensor<1x64x1x1xf16> attributes {anemil.kernel = "one"} {
  return %x : tensor<1x64x1x1xf16>
}
