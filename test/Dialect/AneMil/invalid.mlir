// RUN: ane-opt %s -split-input-file -verify-diagnostics

// One chunk per verifier rule of the anemil dialect. Shape-rule
// arithmetic is also unit-tested in test/unittests/MIL/ShapeRulesTest.cpp.

// expected-error @+1 {{'anemil.opset' belongs on a function}}
module attributes {anemil.opset = #anemil.opset<ios18>} {}

// -----

func.func @f0() {
  // expected-error @+1 {{blob path must not be empty}}
  %w = anemil.const #anemil.blob<"", 64> : tensor<4xf16>
  return
}

// -----

func.func @f1() {
  // expected-error @+1 {{blob offset 96 must be a multiple of 64, at least 64}}
  %w = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 96> : tensor<4xf16>
  return
}

// -----

func.func @f2() {
  // expected-error @+1 {{blob offset 0 must be a multiple of 64, at least 64}}
  %w = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 0> : tensor<4xf16>
  return
}

// -----

func.func @f3() {
  // expected-error @+1 {{blob type must be a statically shaped tensor, got 'tensor<?xf16>'}}
  %w = "anemil.const"() {val = #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<?xf16>} : () -> tensor<?xf16>
  return
}

// -----

func.func @f4() {
  // expected-error @+1 {{element type 'i1' cannot be stored in weight.bin}}
  %w = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<4xi1>
  return
}

// -----

func.func @f5() {
  // expected-error @+1 {{element type 'i64' cannot be stored in weight.bin}}
  %w = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<4xi64>
  return
}

// -----

// expected-error @+1 {{'anemil.opset' must be an #anemil.opset attribute}}
func.func @f6() attributes {anemil.opset = "ios18"} {
  return
}

// -----

func.func @f7(%q: tensor<1x2x4xf16>) attributes {anemil.opset = #anemil.opset<ios17>} {
  // expected-error @+1 {{needs opset ios18, the function is ios17}}
  %o = anemil.scaled_dot_product_attention %q, %q, %q : (tensor<1x2x4xf16>, tensor<1x2x4xf16>, tensor<1x2x4xf16>) -> tensor<1x2x4xf16>
  return
}

// -----

func.func @f8(%x: tensor<4xf16>) attributes {anemil.opset = #anemil.opset<ios16>} {
  %s = anemil.const dense<0.5> : tensor<f16>
  // expected-error @+1 {{needs opset ios17, the function is ios16}}
  %q = anemil.quantize %x, %s {output_dtype = #anemil.dtype<int8>} : (tensor<4xf16>, tensor<f16>) -> tensor<4xi8>
  return
}

// -----

func.func @f9() attributes {anemil.opset = #anemil.opset<ios15>} {
  %q = anemil.const dense<1> : tensor<4xi8>
  %s = anemil.const dense<0.5> : tensor<f16>
  %z = anemil.const dense<0> : tensor<i8>
  // expected-error @+1 {{needs opset ios16, the function is ios15}}
  %w = anemil.constexpr_affine_dequantize %q, %s, %z {axis = 0 : i64} : (tensor<4xi8>, tensor<f16>, tensor<i8>) -> tensor<4xf16>
  return
}

// -----

// expected-error @+1 {{unknown anemil attribute 'anemil.layer'}}
func.func @f10() attributes {anemil.layer = 1 : i64} {
  return
}

// -----

func.func @f11(%q: tensor<4xi8>) {
  %s = anemil.const dense<0.5> : tensor<f16>
  %z = anemil.const dense<0> : tensor<i8>
  // expected-error @+1 {{parameter 'quantized_data' must be defined by anemil.const}}
  %w = anemil.constexpr_affine_dequantize %q, %s, %z {axis = 0 : i64} : (tensor<4xi8>, tensor<f16>, tensor<i8>) -> tensor<4xf16>
  return
}

// -----

func.func @f12() {
  %q = anemil.const dense<1> : tensor<4x8xi8>
  %z = anemil.const dense<0> : tensor<i8>
  %s = anemil.const dense<0.5> : tensor<f16>
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %w = anemil.constexpr_affine_dequantize %q, %s, %z {axis = 2 : i64} : (tensor<4x8xi8>, tensor<f16>, tensor<i8>) -> tensor<4x8xf16>
  return
}

// -----

func.func @f13() {
  %q = anemil.const dense<1> : tensor<4x8xi8>
  %z = anemil.const dense<0> : tensor<i8>
  %s = anemil.const dense<0.5> : tensor<4x2xf16>
  // expected-error @+1 {{scale must be a scalar or 1-D}}
  %w = anemil.constexpr_affine_dequantize %q, %s, %z {axis = 0 : i64} : (tensor<4x8xi8>, tensor<4x2xf16>, tensor<i8>) -> tensor<4x8xf16>
  return
}

// -----

func.func @f14() {
  %q = anemil.const dense<1> : tensor<4x8xi8>
  %z = anemil.const dense<0> : tensor<i8>
  %s = anemil.const dense<0.5> : tensor<8xf16>
  // expected-error @+1 {{scale has 8 entries, the data has 4 along axis 0}}
  %w = anemil.constexpr_affine_dequantize %q, %s, %z {axis = 0 : i64} : (tensor<4x8xi8>, tensor<8xf16>, tensor<i8>) -> tensor<4x8xf16>
  return
}

// -----

func.func @f15() {
  %q = anemil.const dense<1> : tensor<4x8xi8>
  %z = anemil.const dense<0> : tensor<ui8>
  %s = anemil.const dense<0.5> : tensor<f16>
  // expected-error @+1 {{zero_point must have the data's dtype or fp32}}
  %w = anemil.constexpr_affine_dequantize %q, %s, %z {axis = 0 : i64} : (tensor<4x8xi8>, tensor<f16>, tensor<ui8>) -> tensor<4x8xf16>
  return
}

// -----

func.func @f16() {
  %q = anemil.const dense<1> : tensor<4x8xi8>
  %z = anemil.const dense<0> : tensor<i8>
  %s = anemil.const dense<0.5> : tensor<f16>
  // expected-error @+1 {{output dtype must equal the scale dtype}}
  %w = anemil.constexpr_affine_dequantize %q, %s, %z {axis = 0 : i64} : (tensor<4x8xi8>, tensor<f16>, tensor<i8>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f17() {
  %q = anemil.const dense<1> : tensor<4x8xi8>
  %z = anemil.const dense<0> : tensor<i8>
  %s = anemil.const dense<0.5> : tensor<f16>
  // expected-error @+1 {{result shape [8, 4] does not match the inferred shape [4, 8]}}
  %w = anemil.constexpr_affine_dequantize %q, %s, %z {axis = 0 : i64} : (tensor<4x8xi8>, tensor<f16>, tensor<i8>) -> tensor<8x4xf16>
  return
}

// -----

func.func @f18(%s: tensor<4x2xf16>) attributes {anemil.opset = #anemil.opset<ios18>} {
  %d = anemil.const dense<1> : tensor<4x8xi4>
  // expected-error @+1 {{parameter 'scale' must be defined by anemil.const}}
  %w = anemil.constexpr_blockwise_shift_scale %d, %s : (tensor<4x8xi4>, tensor<4x2xf16>) -> tensor<4x8xf16>
  return
}

// -----

func.func @f19() {
  %d = anemil.const dense<1> : tensor<4x8xi4>
  %s = anemil.const dense<0.5> : tensor<4xf16>
  // expected-error @+1 {{scale rank 1 must equal the data rank 2}}
  %w = anemil.constexpr_blockwise_shift_scale %d, %s : (tensor<4x8xi4>, tensor<4xf16>) -> tensor<4x8xf16>
  return
}

// -----

func.func @f20() {
  %d = anemil.const dense<1> : tensor<4x8xi4>
  %s = anemil.const dense<0.5> : tensor<4x3xf16>
  // expected-error @+1 {{scale dim 1 (3) does not divide data dim 8}}
  %w = anemil.constexpr_blockwise_shift_scale %d, %s : (tensor<4x8xi4>, tensor<4x3xf16>) -> tensor<4x8xf16>
  return
}

// -----

func.func @f21() {
  %d = anemil.const dense<1> : tensor<4x8xi4>
  %s = anemil.const dense<0.5> : tensor<4x2xf16>
  %o = anemil.const dense<0> : tensor<4x1xi4>
  // expected-error @+1 {{offset must have the scale's shape}}
  %w = anemil.constexpr_blockwise_shift_scale %d, %s, %o : (tensor<4x8xi4>, tensor<4x2xf16>, tensor<4x1xi4>) -> tensor<4x8xf16>
  return
}

// -----

func.func @f22() {
  %d = anemil.const dense<1> : tensor<4x8xi4>
  %s = anemil.const dense<0.5> : tensor<4x2xf16>
  %o = anemil.const dense<0> : tensor<4x2xi8>
  // expected-error @+1 {{an integer offset must have the data's dtype}}
  %w = anemil.constexpr_blockwise_shift_scale %d, %s, %o : (tensor<4x8xi4>, tensor<4x2xf16>, tensor<4x2xi8>) -> tensor<4x8xf16>
  return
}

// -----

func.func @f23() {
  %d = anemil.const dense<1> : tensor<4x8xi4>
  %s = anemil.const dense<0.5> : tensor<4x2xf16>
  // expected-error @+1 {{output dtype must equal the scale dtype}}
  %w = anemil.constexpr_blockwise_shift_scale %d, %s : (tensor<4x8xi4>, tensor<4x2xf16>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f24() {
  %d = anemil.const dense<1> : tensor<4x8xi4>
  %s = anemil.const dense<0.5> : tensor<4x2xf16>
  // expected-error @+1 {{result shape [4, 4] does not match the inferred shape [4, 8]}}
  %w = anemil.constexpr_blockwise_shift_scale %d, %s : (tensor<4x8xi4>, tensor<4x2xf16>) -> tensor<4x4xf16>
  return
}

// -----

func.func @f25(%i: tensor<2xui8>) {
  %l = anemil.const dense<0.0> : tensor<4xf16>
  // expected-error @+1 {{parameter 'indices' must be defined by anemil.const}}
  %w = anemil.constexpr_lut_to_dense %i, %l {shape = array<i64: 2, 4>} : (tensor<2xui8>, tensor<4xf16>) -> tensor<2x4xf16>
  return
}

// -----

func.func @f26() {
  %i = anemil.const dense<1> : tensor<2xui8>
  %l = anemil.const dense<0.0> : tensor<4xf16>
  // expected-error @+1 {{output dtype must equal the lut dtype}}
  %w = anemil.constexpr_lut_to_dense %i, %l {shape = array<i64: 2, 4>} : (tensor<2xui8>, tensor<4xf16>) -> tensor<2x4xf32>
  return
}

// -----

func.func @f27() {
  %i = anemil.const dense<1> : tensor<2xui8>
  %l = anemil.const dense<0.0> : tensor<4xf16>
  // expected-error @+1 {{vector_axis needs the iOS18 form (no shape)}}
  %w = anemil.constexpr_lut_to_dense %i, %l {shape = array<i64: 2, 4>, vector_axis = 0 : i64} : (tensor<2xui8>, tensor<4xf16>) -> tensor<2x4xf16>
  return
}

// -----

func.func @f28() {
  %i = anemil.const dense<1> : tensor<2x1xui8>
  %l = anemil.const dense<0.0> : tensor<4xf16>
  // expected-error @+1 {{iOS16 indices must be a 1-D uint8 tensor}}
  %w = anemil.constexpr_lut_to_dense %i, %l {shape = array<i64: 2, 4>} : (tensor<2x1xui8>, tensor<4xf16>) -> tensor<2x4xf16>
  return
}

// -----

func.func @f29() {
  %i = anemil.const dense<1> : tensor<2xui8>
  %l = anemil.const dense<0.0> : tensor<2x2xf16>
  // expected-error @+1 {{iOS16 lut must be 1-D}}
  %w = anemil.constexpr_lut_to_dense %i, %l {shape = array<i64: 2, 4>} : (tensor<2xui8>, tensor<2x2xf16>) -> tensor<2x4xf16>
  return
}

// -----

func.func @f30() {
  %i = anemil.const dense<1> : tensor<2xui8>
  %l = anemil.const dense<0.0> : tensor<5xf16>
  // expected-error @+1 {{lut size 5 must be 2, 4, 16, 64 or 256}}
  %w = anemil.constexpr_lut_to_dense %i, %l {shape = array<i64: 2, 4>} : (tensor<2xui8>, tensor<5xf16>) -> tensor<2x4xf16>
  return
}

// -----

func.func @f31() {
  %i = anemil.const dense<1> : tensor<2xui8>
  %l = anemil.const dense<0.0> : tensor<4xf16>
  // expected-error @+1 {{shape entries must be positive}}
  %w = "anemil.constexpr_lut_to_dense"(%i, %l) {shape = array<i64: 0, 4>} : (tensor<2xui8>, tensor<4xf16>) -> tensor<2x4xf16>
  return
}

// -----

func.func @f32() {
  %i = anemil.const dense<1> : tensor<2xui8>
  %l = anemil.const dense<0.0> : tensor<4xf16>
  // expected-error @+1 {{indices hold 2 bytes, 16 2-bit values need 4}}
  %w = anemil.constexpr_lut_to_dense %i, %l {shape = array<i64: 4, 4>} : (tensor<2xui8>, tensor<4xf16>) -> tensor<4x4xf16>
  return
}

// -----

func.func @f33() {
  %i = anemil.const dense<1> : tensor<2xui8>
  %l = anemil.const dense<0.0> : tensor<4xf16>
  // expected-error @+1 {{result shape [4, 2] does not match the inferred shape [2, 4]}}
  %w = anemil.constexpr_lut_to_dense %i, %l {shape = array<i64: 2, 4>} : (tensor<2xui8>, tensor<4xf16>) -> tensor<4x2xf16>
  return
}

// -----

func.func @f34() {
  %i = anemil.const dense<1> : tensor<4x8xui2>
  %l = anemil.const dense<0.0> : tensor<1x4x1xf16>
  // expected-error @+1 {{lut rank must be the indices rank + 2}}
  %w = anemil.constexpr_lut_to_dense %i, %l : (tensor<4x8xui2>, tensor<1x4x1xf16>) -> tensor<4x8xf16>
  return
}

// -----

func.func @f35() {
  %i = anemil.const dense<1> : tensor<4x8xui2>
  %l = anemil.const dense<0.0> : tensor<1x1x16x1xf16>
  // expected-error @+1 {{lut has 16 entries per palette, 2-bit indices need 4}}
  %w = anemil.constexpr_lut_to_dense %i, %l : (tensor<4x8xui2>, tensor<1x1x16x1xf16>) -> tensor<4x8xf16>
  return
}

// -----

func.func @f36() {
  %i = anemil.const dense<1> : tensor<4x8xui2>
  %l = anemil.const dense<0.0> : tensor<1x1x4x2xf16>
  // expected-error @+1 {{vector_axis 2 is out of range for rank 2}}
  %w = anemil.constexpr_lut_to_dense %i, %l {vector_axis = 2 : i64} : (tensor<4x8xui2>, tensor<1x1x4x2xf16>) -> tensor<4x16xf16>
  return
}

// -----

func.func @f37() {
  %i = anemil.const dense<1> : tensor<4x8xui2>
  %l = anemil.const dense<0.0> : tensor<3x1x4x1xf16>
  // expected-error @+1 {{lut dim 0 (3) does not divide output dim 4}}
  %w = anemil.constexpr_lut_to_dense %i, %l : (tensor<4x8xui2>, tensor<3x1x4x1xf16>) -> tensor<4x8xf16>
  return
}

// -----

func.func @f38() {
  %i = anemil.const dense<1> : tensor<4x8xui2>
  %l = anemil.const dense<0.0> : tensor<1x1x4x2xf16>
  // expected-error @+1 {{result shape [4, 8] does not match the inferred shape [8, 8]}}
  %w = anemil.constexpr_lut_to_dense %i, %l : (tensor<4x8xui2>, tensor<1x1x4x2xf16>) -> tensor<4x8xf16>
  return
}

// -----

func.func @f39(%x: tensor<4xf16>, %s: tensor<f16>) {
  // expected-error @+1 {{parameter 'scale' must be defined by anemil.const or a constexpr_* op}}
  %q = anemil.quantize %x, %s {output_dtype = #anemil.dtype<int8>} : (tensor<4xf16>, tensor<f16>) -> tensor<4xi8>
  return
}

// -----

func.func @f40(%x: tensor<4xf16>) {
  %s = anemil.const dense<0.5> : tensor<f16>
  // expected-error @+1 {{output_dtype must be int8 or uint8}}
  %q = anemil.quantize %x, %s {output_dtype = #anemil.dtype<int16>} : (tensor<4xf16>, tensor<f16>) -> tensor<4xi8>
  return
}

// -----

func.func @f41(%x: tensor<4xf16>) {
  %s = anemil.const dense<0.5> : tensor<f16>
  // expected-error @+1 {{result element type does not match output_dtype}}
  %q = anemil.quantize %x, %s {output_dtype = #anemil.dtype<uint8>} : (tensor<4xf16>, tensor<f16>) -> tensor<4xi8>
  return
}

// -----

func.func @f42(%x: tensor<4xf16>) {
  %s = anemil.const dense<0.5> : tensor<f16>
  %z = anemil.const dense<0> : tensor<ui8>
  // expected-error @+1 {{zero_point dtype must equal output_dtype}}
  %q = anemil.quantize %x, %s, %z {output_dtype = #anemil.dtype<int8>} : (tensor<4xf16>, tensor<f16>, tensor<ui8>) -> tensor<4xi8>
  return
}

// -----

func.func @f43(%x: tensor<4xf32>) {
  %s = anemil.const dense<0.5> : tensor<f16>
  // expected-error @+1 {{scale dtype must equal the input dtype}}
  %q = anemil.quantize %x, %s {output_dtype = #anemil.dtype<int8>} : (tensor<4xf32>, tensor<f16>) -> tensor<4xi8>
  return
}

// -----

func.func @f44(%x: tensor<4xf16>) {
  %s = anemil.const dense<0.5> : tensor<f16>
  // expected-error @+1 {{axis 1 is out of range for rank 1}}
  %q = anemil.quantize %x, %s {axis = 1 : i64, output_dtype = #anemil.dtype<int8>} : (tensor<4xf16>, tensor<f16>) -> tensor<4xi8>
  return
}

// -----

func.func @f45(%x: tensor<4xf16>) {
  %s = anemil.const dense<0.5> : tensor<4xf16>
  // expected-error @+1 {{a 1-D scale needs an axis}}
  %q = anemil.quantize %x, %s {output_dtype = #anemil.dtype<int8>} : (tensor<4xf16>, tensor<4xf16>) -> tensor<4xi8>
  return
}

// -----

func.func @f46(%x: tensor<4xf16>) {
  %s = anemil.const dense<0.5> : tensor<f16>
  // expected-error @+1 {{result shape [2] does not match the inferred shape [4]}}
  %q = anemil.quantize %x, %s {output_dtype = #anemil.dtype<int8>} : (tensor<4xf16>, tensor<f16>) -> tensor<2xi8>
  return
}

// -----

func.func @f47(%x: tensor<4xi8>, %s: tensor<f16>) {
  // expected-error @+1 {{parameter 'scale' must be defined by anemil.const or a constexpr_* op}}
  %d = anemil.dequantize %x, %s : (tensor<4xi8>, tensor<f16>) -> tensor<4xf16>
  return
}

// -----

func.func @f48(%x: tensor<4xi8>) {
  %s = anemil.const dense<0.5> : tensor<f16>
  %z = anemil.const dense<0> : tensor<ui8>
  // expected-error @+1 {{zero_point dtype must equal the input dtype}}
  %d = anemil.dequantize %x, %s, %z : (tensor<4xi8>, tensor<f16>, tensor<ui8>) -> tensor<4xf16>
  return
}

// -----

func.func @f49(%x: tensor<4xi8>) {
  %s = anemil.const dense<0.5> : tensor<f16>
  // expected-error @+1 {{output dtype must equal the scale dtype}}
  %d = anemil.dequantize %x, %s : (tensor<4xi8>, tensor<f16>) -> tensor<4xf32>
  return
}

// -----

func.func @f50(%x: tensor<4xi8>) {
  %s = anemil.const dense<0.5> : tensor<f16>
  // expected-error @+1 {{axis -2 is out of range for rank 1}}
  %d = anemil.dequantize %x, %s {axis = -2 : i64} : (tensor<4xi8>, tensor<f16>) -> tensor<4xf16>
  return
}

// -----

func.func @f51(%x: tensor<4xi8>) {
  %s = anemil.const dense<0.5> : tensor<3xf16>
  // expected-error @+1 {{scale has 3 entries, the data has 4 along axis 0}}
  %d = anemil.dequantize %x, %s {axis = 0 : i64} : (tensor<4xi8>, tensor<3xf16>) -> tensor<4xf16>
  return
}

// -----

func.func @f52(%x: tensor<4xi8>) {
  %s = anemil.const dense<0.5> : tensor<f16>
  // expected-error @+1 {{result shape [1, 4] does not match the inferred shape [4]}}
  %d = anemil.dequantize %x, %s : (tensor<4xi8>, tensor<f16>) -> tensor<1x4xf16>
  return
}

// -----

func.func @f53(%x: tensor<4xf32>) {
  // expected-error @+1 {{result element type does not match dtype fp16}}
  %h = anemil.cast %x {dtype = #anemil.dtype<fp16>} : (tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @f54(%x: tensor<4xf32>) {
  // expected-error @+1 {{result shape [2, 2] does not match the inferred shape [4]}}
  %h = anemil.cast %x {dtype = #anemil.dtype<fp16>} : (tensor<4xf32>) -> tensor<2x2xf16>
  return
}

// -----

func.func @f55(%x: tensor<1x8x1x4xf16>, %w: tensor<16x8x1x1xf16>, %b: tensor<8xf16>) {
  // expected-error @+1 {{bias must be 1-D with one entry per output channel}}
  %y = anemil.conv %x, %w, %b : (tensor<1x8x1x4xf16>, tensor<16x8x1x1xf16>, tensor<8xf16>) -> tensor<1x16x1x4xf16>
  return
}

// -----

func.func @f56(%x: tensor<8x4xf16>, %w: tensor<16x8xf16>) {
  // expected-error @+1 {{x must have 1 to 3 spatial dims, got rank 2}}
  %y = anemil.conv %x, %w : (tensor<8x4xf16>, tensor<16x8xf16>) -> tensor<16x4xf16>
  return
}

// -----

func.func @f57(%x: tensor<1x8x4xf16>, %w: tensor<16x8x1x1xf16>) {
  // expected-error @+1 {{weight rank 4 does not match x rank 3}}
  %y = anemil.conv %x, %w : (tensor<1x8x4xf16>, tensor<16x8x1x1xf16>) -> tensor<1x16x4xf16>
  return
}

// -----

func.func @f58(%x: tensor<1x8x4xf16>, %w: tensor<16x8x1xf16>) {
  // expected-error @+1 {{groups must be >= 1, got 0}}
  %y = anemil.conv %x, %w {groups = 0 : i64} : (tensor<1x8x4xf16>, tensor<16x8x1xf16>) -> tensor<1x16x4xf16>
  return
}

// -----

func.func @f59(%x: tensor<1x8x4xf16>, %w: tensor<16x8x1xf16>) {
  // expected-error @+1 {{strides has 2 entries, expected 1}}
  %y = anemil.conv %x, %w {strides = array<i64: 1, 1>} : (tensor<1x8x4xf16>, tensor<16x8x1xf16>) -> tensor<1x16x4xf16>
  return
}

// -----

func.func @f60(%x: tensor<1x8x4xf16>, %w: tensor<16x8x1xf16>) {
  // expected-error @+1 {{dilations entry 0 is out of range}}
  %y = anemil.conv %x, %w {dilations = array<i64: 0>} : (tensor<1x8x4xf16>, tensor<16x8x1xf16>) -> tensor<1x16x4xf16>
  return
}

// -----

func.func @f61(%x: tensor<1x8x4xf16>, %w: tensor<16x8x1xf16>) {
  // expected-error @+1 {{pad entry -1 is out of range}}
  %y = anemil.conv %x, %w {pad = array<i64: -1, 0>, pad_type = #anemil.pad_type<custom>} : (tensor<1x8x4xf16>, tensor<16x8x1xf16>) -> tensor<1x16x4xf16>
  return
}

// -----

func.func @f62(%x: tensor<1x8x4xf16>, %w: tensor<16x8x1xf16>) {
  // expected-error @+1 {{pad_type custom needs a pad entry per side}}
  %y = anemil.conv %x, %w {pad_type = #anemil.pad_type<custom>} : (tensor<1x8x4xf16>, tensor<16x8x1xf16>) -> tensor<1x16x4xf16>
  return
}

// -----

func.func @f63(%x: tensor<1x6x4xf16>, %w: tensor<16x2x1xf16>) {
  // expected-error @+1 {{input channels 6 are not divisible by groups 4}}
  %y = anemil.conv %x, %w {groups = 4 : i64} : (tensor<1x6x4xf16>, tensor<16x2x1xf16>) -> tensor<1x16x4xf16>
  return
}

// -----

func.func @f64(%x: tensor<1x8x4xf16>, %w: tensor<6x2x1xf16>) {
  // expected-error @+1 {{output channels 6 are not divisible by groups 4}}
  %y = anemil.conv %x, %w {groups = 4 : i64} : (tensor<1x8x4xf16>, tensor<6x2x1xf16>) -> tensor<1x6x4xf16>
  return
}

// -----

func.func @f65(%x: tensor<1x8x4xf16>, %w: tensor<16x4x1xf16>) {
  // expected-error @+1 {{weight dim 1 is 4, expected input channels / groups = 8}}
  %y = anemil.conv %x, %w : (tensor<1x8x4xf16>, tensor<16x4x1xf16>) -> tensor<1x16x4xf16>
  return
}

// -----

func.func @f66(%x: tensor<1x8x2xf16>, %w: tensor<16x8x3xf16>) {
  // expected-error @+1 {{kernel extent 3 exceeds padded input 2 on spatial dim 0}}
  %y = anemil.conv %x, %w : (tensor<1x8x2xf16>, tensor<16x8x3xf16>) -> tensor<1x16x1xf16>
  return
}

// -----

func.func @f67(%x: tensor<1x8x4xf16>, %w: tensor<16x8x1xf16>) {
  // expected-error @+1 {{result shape [1, 8, 4] does not match the inferred shape [1, 16, 4]}}
  %y = anemil.conv %x, %w : (tensor<1x8x4xf16>, tensor<16x8x1xf16>) -> tensor<1x8x4xf16>
  return
}

// -----

func.func @f68(%x: tensor<3x4xf16>, %y: tensor<5x6xf16>) {
  // expected-error @+1 {{inner dimensions differ: 4 vs 5 (x [3, 4], y [5, 6])}}
  %z = anemil.matmul %x, %y : (tensor<3x4xf16>, tensor<5x6xf16>) -> tensor<3x6xf16>
  return
}

// -----

func.func @f69(%x: tensor<2x3x4xf16>, %y: tensor<3x4x6xf16>) {
  // expected-error @+1 {{batch dims: shapes [2] and [3] do not broadcast}}
  %z = anemil.matmul %x, %y : (tensor<2x3x4xf16>, tensor<3x4x6xf16>) -> tensor<3x3x6xf16>
  return
}

// -----

func.func @f70(%x: tensor<f16>, %y: tensor<4xf16>) {
  // expected-error @+1 {{matmul operands must have rank >= 1}}
  %z = anemil.matmul %x, %y : (tensor<f16>, tensor<4xf16>) -> tensor<f16>
  return
}

// -----

func.func @f71(%x: tensor<3x4xf16>, %y: tensor<3x4xf16>) {
  // expected-error @+1 {{result shape [4, 4] does not match the inferred shape [3, 3]}}
  %z = anemil.matmul %x, %y {transpose_y = true} : (tensor<3x4xf16>, tensor<3x4xf16>) -> tensor<4x4xf16>
  return
}

// -----

func.func @f72(%x: tensor<3x4xf16>, %y: tensor<4x4xf32>) {
  // expected-error @+1 {{failed to verify that all of {x, y, output} have same element type}}
  %z = anemil.matmul %x, %y : (tensor<3x4xf16>, tensor<4x4xf32>) -> tensor<3x4xf16>
  return
}

// -----

func.func @f73(%x: tensor<2x4xf16>, %w: tensor<8x4xf16>) {
  // expected-error @+1 {{parameter 'weight' must be defined by anemil.const or a constexpr_* op}}
  %y = anemil.linear %x, %w : (tensor<2x4xf16>, tensor<8x4xf16>) -> tensor<2x8xf16>
  return
}

// -----

func.func @f74(%x: tensor<2x4xf16>) {
  %w = anemil.const dense<1.0> : tensor<8x4xf32>
  // expected-error @+1 {{weight dtype must equal the x dtype}}
  %y = anemil.linear %x, %w : (tensor<2x4xf16>, tensor<8x4xf32>) -> tensor<2x8xf16>
  return
}

// -----

func.func @f75(%x: tensor<2x4xf16>) {
  %w = anemil.const dense<1.0> : tensor<8x4xf16>
  %b = anemil.const dense<1.0> : tensor<4xf16>
  // expected-error @+1 {{bias must be 1-D with one entry per output}}
  %y = anemil.linear %x, %w, %b : (tensor<2x4xf16>, tensor<8x4xf16>, tensor<4xf16>) -> tensor<2x8xf16>
  return
}

// -----

func.func @f76(%x: tensor<1x1x2x4xf16>) {
  %w = anemil.const dense<1.0> : tensor<8x4xf16>
  // expected-error @+1 {{x must have rank 1 to 3, got 4}}
  %y = anemil.linear %x, %w : (tensor<1x1x2x4xf16>, tensor<8x4xf16>) -> tensor<1x1x2x8xf16>
  return
}

// -----

func.func @f77(%x: tensor<2x4xf16>) {
  %w = anemil.const dense<1.0> : tensor<8x4x1xf16>
  // expected-error @+1 {{weight must have rank 2, got 3}}
  %y = anemil.linear %x, %w : (tensor<2x4xf16>, tensor<8x4x1xf16>) -> tensor<2x8xf16>
  return
}

// -----

func.func @f78(%x: tensor<2x4xf16>) {
  %w = anemil.const dense<1.0> : tensor<8x5xf16>
  // expected-error @+1 {{x last dim 4 does not match weight in-features 5}}
  %y = anemil.linear %x, %w : (tensor<2x4xf16>, tensor<8x5xf16>) -> tensor<2x8xf16>
  return
}

// -----

func.func @f79(%x: tensor<2x4xf16>) {
  %w = anemil.const dense<1.0> : tensor<8x4xf16>
  // expected-error @+1 {{result shape [2, 4] does not match the inferred shape [2, 8]}}
  %y = anemil.linear %x, %w : (tensor<2x4xf16>, tensor<8x4xf16>) -> tensor<2x4xf16>
  return
}

// -----

func.func @f80(%x: tensor<2x4xf16>) {
  // expected-error @+1 {{axes entry 2 is out of range for rank 2}}
  %y = anemil.layer_norm %x {axes = array<i64: 2>} : (tensor<2x4xf16>) -> tensor<2x4xf16>
  return
}

// -----

func.func @f81(%x: tensor<2x4xf16>, %g: tensor<4xf16>) {
  // expected-error @+1 {{parameter 'gamma' must be defined by anemil.const or a constexpr_* op}}
  %y = anemil.layer_norm %x gamma %g {axes = array<i64: -1>} : (tensor<2x4xf16>, tensor<4xf16>) -> tensor<2x4xf16>
  return
}

// -----

func.func @f82(%x: tensor<2x4xf16>) {
  %b = anemil.const dense<0.0> : tensor<2xf16>
  // expected-error @+1 {{beta has shape [2], expected x's shape over axes [4]}}
  %y = anemil.layer_norm %x beta %b {axes = array<i64: -1>} : (tensor<2x4xf16>, tensor<2xf16>) -> tensor<2x4xf16>
  return
}

// -----

func.func @f83(%q: tensor<4x8xf16>) {
  // expected-error @+1 {{query, key and value must have the same rank, at least 3}}
  %o = anemil.scaled_dot_product_attention %q, %q, %q : (tensor<4x8xf16>, tensor<4x8xf16>, tensor<4x8xf16>) -> tensor<4x8xf16>
  return
}

// -----

func.func @f84(%q: tensor<1x4x8xf16>, %k: tensor<1x6x4xf16>) {
  // expected-error @+1 {{query and key embedding sizes differ}}
  %o = anemil.scaled_dot_product_attention %q, %k, %k : (tensor<1x4x8xf16>, tensor<1x6x4xf16>, tensor<1x6x4xf16>) -> tensor<1x4x4xf16>
  return
}

// -----

func.func @f85(%q: tensor<1x4x8xf16>, %k: tensor<1x6x8xf16>, %v: tensor<1x5x8xf16>) {
  // expected-error @+1 {{key and value sequence lengths differ}}
  %o = anemil.scaled_dot_product_attention %q, %k, %v : (tensor<1x4x8xf16>, tensor<1x6x8xf16>, tensor<1x5x8xf16>) -> tensor<1x4x8xf16>
  return
}

// -----

func.func @f86(%q: tensor<1x4x8xf16>, %k: tensor<2x6x8xf16>) {
  // expected-error @+1 {{query, key and value batch dims differ}}
  %o = anemil.scaled_dot_product_attention %q, %k, %k : (tensor<1x4x8xf16>, tensor<2x6x8xf16>, tensor<2x6x8xf16>) -> tensor<1x4x8xf16>
  return
}

// -----

func.func @f87(%q: tensor<1x4x8xf16>, %k: tensor<1x6x8xf16>, %m: tensor<4x5xf16>) {
  // expected-error @+1 {{attn_mask [4, 5] does not broadcast to the scores shape [1, 4, 6]}}
  %o = anemil.scaled_dot_product_attention %q, %k, %k, %m : (tensor<1x4x8xf16>, tensor<1x6x8xf16>, tensor<1x6x8xf16>, tensor<4x5xf16>) -> tensor<1x4x8xf16>
  return
}

// -----

func.func @f88(%q: tensor<1x4x8xf16>, %k: tensor<1x6x8xf16>, %v: tensor<1x6x2xf16>) {
  // expected-error @+1 {{result shape [1, 4, 8] does not match the inferred shape [1, 4, 2]}}
  %o = anemil.scaled_dot_product_attention %q, %k, %v : (tensor<1x4x8xf16>, tensor<1x6x8xf16>, tensor<1x6x2xf16>) -> tensor<1x4x8xf16>
  return
}

// -----

func.func @f89(%x: tensor<3x2xf16>, %y: tensor<4x2xf16>) {
  // expected-error @+1 {{shapes [3, 2] and [4, 2] do not broadcast}}
  %z = anemil.add %x, %y : (tensor<3x2xf16>, tensor<4x2xf16>) -> tensor<3x2xf16>
  return
}

// -----

func.func @f90(%x: tensor<3x1xf16>, %y: tensor<1x2xf16>) {
  // expected-error @+1 {{result shape [3, 1] does not match the inferred shape [3, 2]}}
  %z = anemil.mul %x, %y : (tensor<3x1xf16>, tensor<1x2xf16>) -> tensor<3x1xf16>
  return
}

// -----

func.func @f91(%x: tensor<3xf16>, %y: tensor<3xf32>) {
  // expected-error @+1 {{failed to verify that all of {x, y, output} have same element type}}
  %z = anemil.sub %x, %y : (tensor<3xf16>, tensor<3xf32>) -> tensor<3xf16>
  return
}

// -----

func.func @f92(%x: tensor<3xi32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 16-bit float or 32-bit float values}}
  %z = anemil.pow %x, %x : (tensor<3xi32>, tensor<3xi32>) -> tensor<3xi32>
  return
}

// -----

func.func @f93(%x: tensor<3xf16>, %y: tensor<2xf16>) {
  // expected-error @+1 {{shapes [3] and [2] do not broadcast}}
  %z = anemil.less %x, %y : (tensor<3xf16>, tensor<2xf16>) -> tensor<3xi1>
  return
}

// -----

func.func @f94(%x: tensor<3xf16>) {
  // expected-error @+1 {{result #0 must be ranked tensor of 1-bit signless integer values}}
  %z = anemil.greater_equal %x, %x : (tensor<3xf16>, tensor<3xf16>) -> tensor<3xf16>
  return
}

// -----

func.func @f95(%x: tensor<3xf16>) {
  // expected-error @+1 {{axis 1 is out of range for rank 1}}
  %z = anemil.softmax %x {axis = 1 : i64} : tensor<3xf16>
  return
}

// -----

func.func @f96(%x: tensor<3xi32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 16-bit float or 32-bit float values}}
  %z = anemil.exp %x : tensor<3xi32>
  return
}

// -----

func.func @f97(%c: tensor<3xi1>, %a: tensor<2xf16>) {
  // expected-error @+1 {{shapes [3] and [2] do not broadcast}}
  %z = anemil.select %c, %a, %a : (tensor<3xi1>, tensor<2xf16>, tensor<2xf16>) -> tensor<3xf16>
  return
}

// -----

func.func @f98(%c: tensor<3xi1>, %a: tensor<2x2xf16>, %b: tensor<3x2xf16>) {
  // expected-error @+1 {{shapes [2, 2] and [3, 2] do not broadcast}}
  %z = anemil.select %c, %a, %b : (tensor<3xi1>, tensor<2x2xf16>, tensor<3x2xf16>) -> tensor<3x2xf16>
  return
}

// -----

func.func @f99(%c: tensor<2xi1>, %a: tensor<2xf16>) {
  // expected-error @+1 {{result shape [1] does not match the inferred shape [2]}}
  %z = anemil.select %c, %a, %a : (tensor<2xi1>, tensor<2xf16>, tensor<2xf16>) -> tensor<1xf16>
  return
}

// -----

func.func @f100(%x: tensor<2x3xf16>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %z = anemil.reduce_sum %x {axes = array<i64: 2>} : (tensor<2x3xf16>) -> tensor<2xf16>
  return
}

// -----

func.func @f101(%x: tensor<2x3xf16>) {
  // expected-error @+1 {{axis -1 is repeated}}
  %z = anemil.reduce_mean %x {axes = array<i64: 1, -1>} : (tensor<2x3xf16>) -> tensor<2xf16>
  return
}

// -----

func.func @f102(%x: tensor<2x3xf16>) {
  // expected-error @+1 {{result shape [2, 1] does not match the inferred shape [2]}}
  %z = anemil.reduce_max %x {axes = array<i64: 1>} : (tensor<2x3xf16>) -> tensor<2x1xf16>
  return
}

// -----

func.func @f103(%x: tensor<2x3xf16>) {
  // expected-error @+1 {{shape has more than one -1 entry}}
  %z = anemil.reshape %x {shape = array<i64: -1, -1>} : (tensor<2x3xf16>) -> tensor<6x1xf16>
  return
}

// -----

func.func @f104(%x: tensor<2x3xf16>) {
  // expected-error @+1 {{a 0 entry (copy a dim) needs shape to have x's rank}}
  %z = anemil.reshape %x {shape = array<i64: 0, 3, 1>} : (tensor<2x3xf16>) -> tensor<2x3x1xf16>
  return
}

// -----

func.func @f105(%x: tensor<2x3xf16>) {
  // expected-error @+1 {{shape entry -2 is invalid}}
  %z = anemil.reshape %x {shape = array<i64: -2, 3>} : (tensor<2x3xf16>) -> tensor<2x3xf16>
  return
}

// -----

func.func @f106(%x: tensor<2x3xf16>) {
  // expected-error @+1 {{cannot infer -1: 6 elements are not a multiple of 4}}
  %z = anemil.reshape %x {shape = array<i64: 4, -1>} : (tensor<2x3xf16>) -> tensor<4x1xf16>
  return
}

// -----

func.func @f107(%x: tensor<2x3xf16>) {
  // expected-error @+1 {{reshape from [2, 3] (6 elements) to [4, 2] (8 elements)}}
  %z = anemil.reshape %x {shape = array<i64: 4, 2>} : (tensor<2x3xf16>) -> tensor<4x2xf16>
  return
}

// -----

func.func @f108(%x: tensor<2x3xf16>) {
  // expected-error @+1 {{result shape [6] does not match the inferred shape [3, 2]}}
  %z = anemil.reshape %x {shape = array<i64: 3, 2>} : (tensor<2x3xf16>) -> tensor<6xf16>
  return
}

// -----

func.func @f109(%x: tensor<2x3xf16>) {
  // expected-error @+1 {{perm has 1 entries for rank 2}}
  %z = anemil.transpose %x {perm = array<i64: 0>} : (tensor<2x3xf16>) -> tensor<2x3xf16>
  return
}

// -----

func.func @f110(%x: tensor<2x3xf16>) {
  // expected-error @+1 {{perm: axis 1 is repeated}}
  %z = anemil.transpose %x {perm = array<i64: 1, 1>} : (tensor<2x3xf16>) -> tensor<3x3xf16>
  return
}

// -----

func.func @f111(%x: tensor<2x3xf16>) {
  // expected-error @+1 {{result shape [2, 3] does not match the inferred shape [3, 2]}}
  %z = anemil.transpose %x {perm = array<i64: 1, 0>} : (tensor<2x3xf16>) -> tensor<2x3xf16>
  return
}

// -----

func.func @f112(%x: tensor<2x3xf16>) {
  // expected-error @+1 {{axes must not be empty}}
  %z = anemil.expand_dims %x {axes = array<i64>} : (tensor<2x3xf16>) -> tensor<2x3xf16>
  return
}

// -----

func.func @f113(%x: tensor<2x3xf16>) {
  // expected-error @+1 {{axis 3 is out of range for rank 3}}
  %z = anemil.expand_dims %x {axes = array<i64: 3>} : (tensor<2x3xf16>) -> tensor<2x3x1xf16>
  return
}

// -----

func.func @f114(%x: tensor<2x3xf16>) {
  // expected-error @+1 {{result shape [2, 3, 1] does not match the inferred shape [1, 2, 3]}}
  %z = anemil.expand_dims %x {axes = array<i64: 0>} : (tensor<2x3xf16>) -> tensor<2x3x1xf16>
  return
}

// -----

func.func @f115(%x: tensor<1x3xf16>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %z = anemil.squeeze %x {axes = array<i64: 2>} : (tensor<1x3xf16>) -> tensor<3xf16>
  return
}

// -----

func.func @f116(%x: tensor<1x3x1xf16>) {
  // expected-error @+1 {{result shape [3] does not match the inferred shape [3, 1]}}
  %z = anemil.squeeze %x {axes = array<i64: 0>} : (tensor<1x3x1xf16>) -> tensor<3xf16>
  return
}

// -----

func.func @f117(%x: tensor<4x10xf16>) {
  // expected-error @+1 {{begin and end need 2 entries}}
  %z = anemil.slice_by_index %x {begin = array<i64: 0>, end = array<i64: 4, 10>} : (tensor<4x10xf16>) -> tensor<4x10xf16>
  return
}

// -----

func.func @f118(%x: tensor<4x10xf16>) {
  // expected-error @+1 {{stride and masks need 2 entries}}
  %z = anemil.slice_by_index %x {begin = array<i64: 0, 0>, end = array<i64: 4, 10>, stride = array<i64: 1>} : (tensor<4x10xf16>) -> tensor<4x10xf16>
  return
}

// -----

func.func @f119(%x: tensor<4x10xf16>) {
  // expected-error @+1 {{stride on axis 1 is 0}}
  %z = anemil.slice_by_index %x {begin = array<i64: 0, 0>, end = array<i64: 4, 10>, stride = array<i64: 1, 0>} : (tensor<4x10xf16>) -> tensor<4x10xf16>
  return
}

// -----

func.func @f120(%x: tensor<4x10xf16>) {
  // expected-error @+1 {{squeezed index 4 is out of range on axis 0}}
  %z = anemil.slice_by_index %x {begin = array<i64: 4, 0>, end = array<i64: 5, 10>, squeeze_mask = array<i1: true, false>} : (tensor<4x10xf16>) -> tensor<10xf16>
  return
}

// -----

func.func @f121(%x: tensor<4x10xf16>) {
  // expected-error @+1 {{slice on axis 0 is empty}}
  %z = anemil.slice_by_index %x {begin = array<i64: 3, 0>, end = array<i64: 2, 10>} : (tensor<4x10xf16>) -> tensor<1x10xf16>
  return
}

// -----

func.func @f122(%x: tensor<4x10xf16>) {
  // expected-error @+1 {{result shape [2, 3] does not match the inferred shape [2, 4]}}
  %z = anemil.slice_by_index %x {begin = array<i64: 0, 0>, end = array<i64: 4, 10>, stride = array<i64: 2, 3>} : (tensor<4x10xf16>) -> tensor<2x3xf16>
  return
}

// -----

func.func @pad_odd(%x: tensor<4x10xf16>) {
  // expected-error @+1 {{pad needs an even number of entries, at most 4}}
  %z = anemil.pad %x {pad = array<i64: 1, 2, 3>} : (tensor<4x10xf16>) -> tensor<4x10xf16>
  return
}

// -----

func.func @pad_negative(%x: tensor<4x10xf16>) {
  // expected-error @+1 {{pad entry 1 is negative: -2}}
  %z = anemil.pad %x {pad = array<i64: 0, -2>} : (tensor<4x10xf16>) -> tensor<4x8xf16>
  return
}

// -----

func.func @pad_shape(%x: tensor<4x10xf16>) {
  // expected-error @+1 {{result shape [4, 12] does not match the inferred shape [4, 13]}}
  %z = anemil.pad %x {pad = array<i64: 1, 2>} : (tensor<4x10xf16>) -> tensor<4x12xf16>
  return
}

// -----

func.func @f123(%x: tensor<4x10xf16>) {
  // expected-error @+1 {{begin and size need 2 entries}}
  %z = anemil.slice_by_size %x {begin = array<i64: 0>, size = array<i64: 4, 10>} : (tensor<4x10xf16>) -> tensor<4x10xf16>
  return
}

// -----

func.func @f124(%x: tensor<4x10xf16>) {
  // expected-error @+1 {{size entry 0 on axis 0 is invalid}}
  %z = anemil.slice_by_size %x {begin = array<i64: 0, 0>, size = array<i64: 0, 10>} : (tensor<4x10xf16>) -> tensor<4x10xf16>
  return
}

// -----

func.func @f125(%x: tensor<4x10xf16>) {
  // expected-error @+1 {{begin 10 is out of range on axis 1 of size 10}}
  %z = anemil.slice_by_size %x {begin = array<i64: 0, 10>, size = array<i64: 4, -1>} : (tensor<4x10xf16>) -> tensor<4x10xf16>
  return
}

// -----

func.func @f126(%x: tensor<4x10xf16>) {
  // expected-error @+1 {{begin 2 + size 3 exceeds axis 0 of size 4}}
  %z = anemil.slice_by_size %x {begin = array<i64: 2, 0>, size = array<i64: 3, -1>} : (tensor<4x10xf16>) -> tensor<3x10xf16>
  return
}

// -----

func.func @f127(%x: tensor<4x10xf16>) {
  // expected-error @+1 {{result shape [2, 9] does not match the inferred shape [2, 10]}}
  %z = anemil.slice_by_size %x {begin = array<i64: 2, 0>, size = array<i64: 2, -1>} : (tensor<4x10xf16>) -> tensor<2x9xf16>
  return
}

// -----

func.func @f128() {
  // expected-error @+1 {{expected 1 or more operands, but found 0}}
  %z = "anemil.concat"() {axis = 0 : i64} : () -> tensor<1xf16>
  return
}

// -----

func.func @f129(%a: tensor<2x3xf16>, %b: tensor<2xf16>) {
  // expected-error @+1 {{value 1 has rank 1, expected 2}}
  %z = anemil.concat %a, %b {axis = 0 : i64} : (tensor<2x3xf16>, tensor<2xf16>) -> tensor<4x3xf16>
  return
}

// -----

func.func @f130(%a: tensor<2x3xf16>, %b: tensor<2x4xf16>) {
  // expected-error @+1 {{value 1 has shape [2, 4], incompatible with [2, 3] on axis 1}}
  %z = anemil.concat %a, %b {axis = 0 : i64} : (tensor<2x3xf16>, tensor<2x4xf16>) -> tensor<4x3xf16>
  return
}

// -----

func.func @f131(%a: tensor<2x3xf16>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %z = anemil.concat %a, %a {axis = 2 : i64} : (tensor<2x3xf16>, tensor<2x3xf16>) -> tensor<4x3xf16>
  return
}

// -----

func.func @f132(%a: tensor<2x3xf16>) {
  // expected-error @+1 {{result shape [4, 3] does not match the inferred shape [2, 6]}}
  %z = anemil.concat %a, %a {axis = 1 : i64} : (tensor<2x3xf16>, tensor<2x3xf16>) -> tensor<4x3xf16>
  return
}

// -----

func.func @f133(%x: tensor<2x6xf16>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %z:2 = anemil.split %x {axis = 2 : i64, num_splits = 2 : i64} : (tensor<2x6xf16>) -> (tensor<2x3xf16>, tensor<2x3xf16>)
  return
}

// -----

func.func @f134(%x: tensor<2x6xf16>) {
  // expected-error @+1 {{exactly one of num_splits and split_sizes must be given}}
  %z:2 = anemil.split %x {axis = 1 : i64} : (tensor<2x6xf16>) -> (tensor<2x3xf16>, tensor<2x3xf16>)
  return
}

// -----

func.func @f135(%x: tensor<2x6xf16>) {
  // expected-error @+1 {{axis size 6 is not divisible by num_splits 4}}
  %z:4 = anemil.split %x {axis = 1 : i64, num_splits = 4 : i64} : (tensor<2x6xf16>) -> (tensor<2x1xf16>, tensor<2x1xf16>, tensor<2x1xf16>, tensor<2x1xf16>)
  return
}

// -----

func.func @f136(%x: tensor<2x6xf16>) {
  // expected-error @+1 {{split size 0 is invalid}}
  %z:2 = anemil.split %x {axis = 1 : i64, split_sizes = array<i64: 6, 0>} : (tensor<2x6xf16>) -> (tensor<2x6xf16>, tensor<2x0xf16>)
  return
}

// -----

func.func @f137(%x: tensor<2x6xf16>) {
  // expected-error @+1 {{split_sizes sum to 5, axis size is 6}}
  %z:2 = anemil.split %x {axis = 1 : i64, split_sizes = array<i64: 2, 3>} : (tensor<2x6xf16>) -> (tensor<2x2xf16>, tensor<2x3xf16>)
  return
}

// -----

func.func @f138(%x: tensor<2x6xf16>) {
  // expected-error @+1 {{has 3 results, the split makes 2}}
  %z:3 = anemil.split %x {axis = 1 : i64, num_splits = 2 : i64} : (tensor<2x6xf16>) -> (tensor<2x3xf16>, tensor<2x3xf16>, tensor<2x3xf16>)
  return
}

// -----

func.func @f139(%x: tensor<2x6xf16>) {
  // expected-error @+1 {{result #1 shape [2, 3] does not match the inferred shape [2, 4]}}
  %z:2 = anemil.split %x {axis = 1 : i64, split_sizes = array<i64: 2, 4>} : (tensor<2x6xf16>) -> (tensor<2x2xf16>, tensor<2x3xf16>)
  return
}

// -----

func.func @f140(%x: tensor<8x4xf16>, %i: tensor<3xi32>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %z = anemil.gather %x, %i {axis = 2 : i64} : (tensor<8x4xf16>, tensor<3xi32>) -> tensor<3x4xf16>
  return
}

// -----

func.func @f141(%x: tensor<8x4xf16>, %i: tensor<3xi32>) {
  // expected-error @+1 {{batch_dims 1 is out of range}}
  %z = anemil.gather %x, %i {axis = 0 : i64, batch_dims = 1 : i64} : (tensor<8x4xf16>, tensor<3xi32>) -> tensor<3x4xf16>
  return
}

// -----

func.func @f142(%x: tensor<2x5x7xf16>, %i: tensor<3x4xi32>) {
  // expected-error @+1 {{batch dim 0 differs between x and indices}}
  %z = anemil.gather %x, %i {axis = 1 : i64, batch_dims = 1 : i64} : (tensor<2x5x7xf16>, tensor<3x4xi32>) -> tensor<2x4x7xf16>
  return
}

// -----

func.func @f143(%x: tensor<8x4xf16>, %i: tensor<3xi32>) {
  // expected-error @+1 {{result shape [8, 3] does not match the inferred shape [3, 4]}}
  %z = anemil.gather %x, %i : (tensor<8x4xf16>, tensor<3xi32>) -> tensor<8x3xf16>
  return
}

// -----

func.func @f144(%x: tensor<8x4xf16>, %i: tensor<3xf32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of}}
  %z = anemil.gather %x, %i : (tensor<8x4xf16>, tensor<3xf32>) -> tensor<3x4xf16>
  return
}

// -----

func.func @f145(%x: tensor<8xf16>) {
  // expected-error @+1 {{x must have rank >= 2}}
  %z = anemil.band_part %x {lower = -1 : i64, upper = 0 : i64} : tensor<8xf16>
  return
}

// -----

func.func @f146() {
  // expected-error @+1 {{value must be a scalar literal}}
  %z = anemil.fill {shape = array<i64: 2>, value = dense<1.0> : tensor<2xf16>} : tensor<2xf16>
  return
}

// -----

func.func @f147() {
  // expected-error @+1 {{result element type must be the value's type 'f16'}}
  %z = anemil.fill {shape = array<i64: 2>, value = 1.0 : f16} : tensor<2xf32>
  return
}

// -----

func.func @f148() {
  // expected-error @+1 {{result element type must be the value's type 'f32'}}
  %z = anemil.fill {shape = array<i64: 2>} : tensor<2xf16>
  return
}

// -----

func.func @f149() {
  // expected-error @+1 {{shape entries must be positive}}
  %z = anemil.fill {shape = array<i64: 0>} : tensor<0xf32>
  return
}

// -----

func.func @f150() {
  // expected-error @+1 {{result shape [3, 2] does not match the inferred shape [2, 3]}}
  %z = anemil.fill {shape = array<i64: 2, 3>} : tensor<3x2xf32>
  return
}

// -----

func.func @f151(%s: !anemil.state<tensor<4xf16>>, %v: tensor<2xf16>) attributes {anemil.opset = #anemil.opset<ios18>} {
  // expected-error @+1 {{failed to verify that data is the tensor the state wraps}}
  "anemil.write_state"(%s, %v) : (!anemil.state<tensor<4xf16>>, tensor<2xf16>) -> ()
  return
}

// -----

func.func @f152(%s: !anemil.state<tensor<4xf16>>) attributes {anemil.opset = #anemil.opset<ios18>} {
  // expected-error @+1 {{failed to verify that output is the tensor the state wraps}}
  %v = "anemil.read_state"(%s) : (!anemil.state<tensor<4xf16>>) -> tensor<4xf32>
  return
}

// -----

// expected-error @+1 {{'anemil.kernel' must be a string}}
func.func @k() attributes {anemil.kernel = 3 : i64} {
  return
}

// -----

// expected-error @+1 {{'anemil.weights' must be an array of #anemil.weight_slot}}
func.func @w() attributes {anemil.weights = "attn_q"} {
  return
}

// -----

// expected-error @+1 {{'anemil.weight_slots' must be an array of #anemil.weight_slot}}
module attributes {anemil.weight_slots = [{role = "attn_q"}]} {
}

// -----

// expected-error @+1 {{slot 'attn_q' has 2 blobs and 1 offsets}}
func.func @w() attributes {anemil.weights = [#anemil.weight_slot<role = "attn_q", segment = layer, scheme = q8, group = 8, shape = [8, 8], blobs = [tensor<8x8x1x1xi8>, tensor<8x1x1x1xf16>], offsets = [64]>]} {
  return
}

// -----

// expected-error @+1 {{slot 'attn_q': blob offset 96 must be a multiple of 64, at least 64}}
func.func @w() attributes {anemil.weights = [#anemil.weight_slot<role = "attn_q", segment = layer, scheme = f16, group = 0, shape = [8], blobs = [tensor<1x8x1x1xf16>], offsets = [96]>]} {
  return
}

// -----

// expected-error @+1 {{slot 'attn_q': blobs must be static tensor types of MIL element types}}
func.func @w() attributes {anemil.weights = [#anemil.weight_slot<role = "attn_q", segment = layer, scheme = f16, group = 0, shape = [8], blobs = [tensor<1x8x1x1xbf16>], offsets = [64]>]} {
  return
}

// -----

// expected-error @+2 {{unknown scheme 'q5'}}
// expected-error @+1 {{failed to parse AneMil_WeightSlotAttr parameter 'scheme'}}
func.func @w() attributes {anemil.weights = [#anemil.weight_slot<role = "attn_q", segment = layer, scheme = q5, group = 0, shape = [8], blobs = [tensor<1x8x1x1xf16>], offsets = [64]>]} {
  return
}

// -----

// expected-error @+2 {{unknown segment 'shared'}}
// expected-error @+1 {{failed to parse AneMil_WeightSlotAttr parameter 'segment'}}
func.func @w() attributes {anemil.weights = [#anemil.weight_slot<role = "attn_q", segment = shared, scheme = f16, group = 0, shape = [8], blobs = [tensor<1x8x1x1xf16>], offsets = [64]>]} {
  return
}

// -----

// expected-error @+1 {{'anemil.padded_channels' must map names to positive channel counts}}
func.func @p() attributes {anemil.padded_channels = {x = 0 : i64}} {
  return
}

// -----

// expected-error @+1 {{'anemil.padded_channels' must map names to positive channel counts}}
func.func @p() attributes {anemil.padded_channels = [172]} {
  return
}

// -----

// expected-error @+1 {{'anemil.dtype' must be "fp16" or "fp32"}}
module attributes {anemil.dtype = 16 : i64} {}

// -----

// expected-error @+1 {{'anemil.dtype' must be "fp16" or "fp32"}}
module attributes {anemil.dtype = "bf16"} {}

// -----

// expected-error @+1 {{'anemil.weight_binding' must be "blob" or "input"}}
module attributes {anemil.weight_binding = "baked"} {}

// -----

// expected-error @+1 {{'anemil.name' must be a string}}
func.func @n(%x: tensor<4xf16> {anemil.name = 1 : i64}) {
  return
}

// -----

// expected-error @+1 {{unknown anemil argument or result attribute 'anemil.label'}}
func.func @r() -> (tensor<4xf16> {anemil.label = "y"}) {
  %c = anemil.const dense<1.0> : tensor<4xf16>
  return %c : tensor<4xf16>
}
