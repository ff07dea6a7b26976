// RUN: ane-opt %s | ane-opt | FileCheck %s
// RUN: ane-opt %s --mlir-print-op-generic | ane-opt | FileCheck %s

// CHECK-LABEL: func.func @consts
// CHECK-SAME: attributes {anemil.opset = #anemil.opset<ios18>}
// CHECK: anemil.const dense<1.001360e-05> : tensor<f16>
// CHECK: anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<64x64x1x1xf16>
// CHECK: anemil.const dense<[1, 64, 1, -1]> : tensor<4xi32>
func.func @consts() -> (tensor<f16>, tensor<64x64x1x1xf16>, tensor<4xi32>) attributes {anemil.opset = #anemil.opset<ios18>} {
  %eps = anemil.const dense<1.0e-05> : tensor<f16>
  %w = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<64x64x1x1xf16>
  %s = anemil.const dense<[1, 64, 1, -1]> : tensor<4xi32>
  return %eps, %w, %s : tensor<f16>, tensor<64x64x1x1xf16>, tensor<4xi32>
}

// CHECK-LABEL: func.func @constexprs
// CHECK: %[[Q:.*]] = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<64x64xi8>
// CHECK: %[[S:.*]] = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 4224> : tensor<64xf16>
// CHECK: %[[Z:.*]] = anemil.const dense<0> : tensor<64xi8>
// CHECK: anemil.constexpr_affine_dequantize %[[Q]], %[[S]], %[[Z]] {axis = 0 : i64} : (tensor<64x64xi8>, tensor<64xf16>, tensor<64xi8>) -> tensor<64x64xf16>
// CHECK: %[[D:.*]] = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 4480> : tensor<64x64xi4>
// CHECK: %[[BS:.*]] = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 6592> : tensor<64x2xf16>
// CHECK: anemil.constexpr_blockwise_shift_scale %[[D]], %[[BS]] : (tensor<64x64xi4>, tensor<64x2xf16>) -> tensor<64x64xf16>
// CHECK: %[[UD:.*]] = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 6912> : tensor<64x64xui4>
// CHECK: %[[OFF:.*]] = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 9024> : tensor<64x2xui4>
// CHECK: anemil.constexpr_blockwise_shift_scale %[[UD]], %[[BS]], %[[OFF]] : (tensor<64x64xui4>, tensor<64x2xf16>, tensor<64x2xui4>) -> tensor<64x64xf16>
// CHECK: %[[IDX:.*]] = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 9152> : tensor<64x64xui4>
// CHECK: %[[LUT:.*]] = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 11264> : tensor<64x1x16x1xf16>
// CHECK: anemil.constexpr_lut_to_dense %[[IDX]], %[[LUT]] : (tensor<64x64xui4>, tensor<64x1x16x1xf16>) -> tensor<64x64xf16>
// CHECK: %[[B:.*]] = anemil.const dense<[27, 228]> : tensor<2xui8>
// CHECK: %[[L4:.*]] = anemil.const dense<[0.000000e+00, 1.000000e+00, 2.000000e+00, 3.000000e+00]> : tensor<4xf16>
// CHECK: anemil.constexpr_lut_to_dense %[[B]], %[[L4]] {shape = array<i64: 2, 4>} : (tensor<2xui8>, tensor<4xf16>) -> tensor<2x4xf16>
// CHECK: %[[VI:.*]] = anemil.const dense<1> : tensor<4x8xui2>
// CHECK: %[[VL:.*]] = anemil.const dense<5.000000e-01> : tensor<1x1x4x2xf32>
// CHECK: anemil.constexpr_lut_to_dense %[[VI]], %[[VL]] {vector_axis = 1 : i64} : (tensor<4x8xui2>, tensor<1x1x4x2xf32>) -> tensor<4x16xf32>
func.func @constexprs() attributes {anemil.opset = #anemil.opset<ios18>} {
  %q = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<64x64xi8>
  %s = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 4224> : tensor<64xf16>
  %z = anemil.const dense<0> : tensor<64xi8>
  %w0 = anemil.constexpr_affine_dequantize %q, %s, %z {axis = 0 : i64} : (tensor<64x64xi8>, tensor<64xf16>, tensor<64xi8>) -> tensor<64x64xf16>
  %d = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 4480> : tensor<64x64xi4>
  %bs = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 6592> : tensor<64x2xf16>
  %w1 = anemil.constexpr_blockwise_shift_scale %d, %bs : (tensor<64x64xi4>, tensor<64x2xf16>) -> tensor<64x64xf16>
  %ud = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 6912> : tensor<64x64xui4>
  %off = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 9024> : tensor<64x2xui4>
  %w2 = anemil.constexpr_blockwise_shift_scale %ud, %bs, %off : (tensor<64x64xui4>, tensor<64x2xf16>, tensor<64x2xui4>) -> tensor<64x64xf16>
  %idx = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 9152> : tensor<64x64xui4>
  %lut = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 11264> : tensor<64x1x16x1xf16>
  %w3 = anemil.constexpr_lut_to_dense %idx, %lut : (tensor<64x64xui4>, tensor<64x1x16x1xf16>) -> tensor<64x64xf16>
  %bytes = anemil.const dense<[27, 228]> : tensor<2xui8>
  %lut4 = anemil.const dense<[0.0, 1.0, 2.0, 3.0]> : tensor<4xf16>
  %w4 = anemil.constexpr_lut_to_dense %bytes, %lut4 {shape = array<i64: 2, 4>} : (tensor<2xui8>, tensor<4xf16>) -> tensor<2x4xf16>
  %vi = anemil.const dense<1> : tensor<4x8xui2>
  %vl = anemil.const dense<0.5> : tensor<1x1x4x2xf32>
  %w5 = anemil.constexpr_lut_to_dense %vi, %vl {vector_axis = 1 : i64} : (tensor<4x8xui2>, tensor<1x1x4x2xf32>) -> tensor<4x16xf32>
  return
}

// CHECK-LABEL: func.func @quantization
// CHECK: anemil.quantize %{{.*}}, %{{.*}} {output_dtype = #anemil.dtype<int8>} : (tensor<1x64xf16>, tensor<f16>) -> tensor<1x64xi8>
// CHECK: anemil.quantize %{{.*}}, %{{.*}}, %{{.*}} {axis = 1 : i64, output_dtype = #anemil.dtype<uint8>} : (tensor<1x64xf16>, tensor<64xf16>, tensor<64xui8>) -> tensor<1x64xui8>
// CHECK: anemil.dequantize %{{.*}}, %{{.*}} : (tensor<1x64xi8>, tensor<f16>) -> tensor<1x64xf16>
// CHECK: anemil.dequantize %{{.*}}, %{{.*}}, %{{.*}} {axis = 1 : i64} : (tensor<1x64xui8>, tensor<64xf16>, tensor<64xui8>) -> tensor<1x64xf16>
func.func @quantization(%x: tensor<1x64xf16>) attributes {anemil.opset = #anemil.opset<ios17>} {
  %s = anemil.const dense<0.1> : tensor<f16>
  %sv = anemil.const dense<0.1> : tensor<64xf16>
  %zp = anemil.const dense<128> : tensor<64xui8>
  %q = anemil.quantize %x, %s {output_dtype = #anemil.dtype<int8>} : (tensor<1x64xf16>, tensor<f16>) -> tensor<1x64xi8>
  %u = anemil.quantize %x, %sv, %zp {axis = 1 : i64, output_dtype = #anemil.dtype<uint8>} : (tensor<1x64xf16>, tensor<64xf16>, tensor<64xui8>) -> tensor<1x64xui8>
  %d = anemil.dequantize %q, %s : (tensor<1x64xi8>, tensor<f16>) -> tensor<1x64xf16>
  %e = anemil.dequantize %u, %sv, %zp {axis = 1 : i64} : (tensor<1x64xui8>, tensor<64xf16>, tensor<64xui8>) -> tensor<1x64xf16>
  return
}

// CHECK-LABEL: func.func @cast
// CHECK: anemil.cast %{{.*}} {dtype = #anemil.dtype<fp16>} : (tensor<1x64xf32>) -> tensor<1x64xf16>
// CHECK: anemil.cast %{{.*}} {dtype = #anemil.dtype<int32>} : (tensor<1x64xf16>) -> tensor<1x64xi32>
// CHECK: anemil.cast %{{.*}} {dtype = #anemil.dtype<bool>} : (tensor<1x64xi32>) -> tensor<1x64xi1>
func.func @cast(%x: tensor<1x64xf32>) {
  %h = anemil.cast %x {dtype = #anemil.dtype<fp16>} : (tensor<1x64xf32>) -> tensor<1x64xf16>
  %i = anemil.cast %h {dtype = #anemil.dtype<int32>} : (tensor<1x64xf16>) -> tensor<1x64xi32>
  %b = anemil.cast %i {dtype = #anemil.dtype<bool>} : (tensor<1x64xi32>) -> tensor<1x64xi1>
  return
}

// CHECK-LABEL: func.func @conv
// CHECK: anemil.conv %{{.*}}, %{{.*}} {pad_type = #anemil.pad_type<valid>} : (tensor<1x64x1x8xf16>, tensor<128x64x1x1xf16>) -> tensor<1x128x1x8xf16>
// CHECK: anemil.conv %{{.*}}, %{{.*}}, %{{.*}} {dilations = array<i64: 1, 1>, groups = 2 : i64, pad = array<i64: 1, 1, 0, 0>, pad_type = #anemil.pad_type<custom>, strides = array<i64: 2, 1>}
// CHECK-SAME: : (tensor<1x64x9x8xf16>, tensor<32x32x3x1xf16>, tensor<32xf16>) -> tensor<1x32x5x8xf16>
// CHECK: anemil.conv %{{.*}}, %{{.*}} {pad_type = #anemil.pad_type<same>, strides = array<i64: 2>} : (tensor<1x4x7xf32>, tensor<4x4x3xf32>) -> tensor<1x4x4xf32>
// CHECK: anemil.conv %{{.*}}, %{{.*}} {pad_type = #anemil.pad_type<same_lower>} : (tensor<1x4x7xf32>, tensor<4x4x3xf32>) -> tensor<1x4x7xf32>
func.func @conv(%x: tensor<1x64x1x8xf16>, %x2: tensor<1x64x9x8xf16>, %x3: tensor<1x4x7xf32>, %w3: tensor<4x4x3xf32>) {
  %w = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<128x64x1x1xf16>
  %y = anemil.conv %x, %w {pad_type = #anemil.pad_type<valid>} : (tensor<1x64x1x8xf16>, tensor<128x64x1x1xf16>) -> tensor<1x128x1x8xf16>
  %wg = anemil.const dense<1.0> : tensor<32x32x3x1xf16>
  %b = anemil.const dense<0.0> : tensor<32xf16>
  %y2 = anemil.conv %x2, %wg, %b {dilations = array<i64: 1, 1>, groups = 2 : i64, pad = array<i64: 1, 1, 0, 0>, pad_type = #anemil.pad_type<custom>, strides = array<i64: 2, 1>} : (tensor<1x64x9x8xf16>, tensor<32x32x3x1xf16>, tensor<32xf16>) -> tensor<1x32x5x8xf16>
  %y3 = anemil.conv %x3, %w3 {pad_type = #anemil.pad_type<same>, strides = array<i64: 2>} : (tensor<1x4x7xf32>, tensor<4x4x3xf32>) -> tensor<1x4x4xf32>
  %y4 = anemil.conv %x3, %w3 {pad_type = #anemil.pad_type<same_lower>} : (tensor<1x4x7xf32>, tensor<4x4x3xf32>) -> tensor<1x4x7xf32>
  return
}

// CHECK-LABEL: func.func @matmul_linear
// CHECK: anemil.matmul %{{.*}}, %{{.*}} {transpose_y = true} : (tensor<1x4x8x16xf16>, tensor<1x4x32x16xf16>) -> tensor<1x4x8x32xf16>
// CHECK: anemil.matmul %{{.*}}, %{{.*}} {transpose_x = true} : (tensor<16x8xf32>, tensor<3x16x5xf32>) -> tensor<3x8x5xf32>
// CHECK: anemil.linear %{{.*}}, %{{.*}} : (tensor<8x64xf16>, tensor<32x64xf16>) -> tensor<8x32xf16>
// CHECK: anemil.linear %{{.*}}, %{{.*}}, %{{.*}} : (tensor<8x64xf16>, tensor<64x64xf16>, tensor<64xf16>) -> tensor<8x64xf16>
func.func @matmul_linear(%q: tensor<1x4x8x16xf16>, %k: tensor<1x4x32x16xf16>, %a: tensor<16x8xf32>, %b: tensor<3x16x5xf32>, %x: tensor<8x64xf16>) {
  %s = anemil.matmul %q, %k {transpose_y = true} : (tensor<1x4x8x16xf16>, tensor<1x4x32x16xf16>) -> tensor<1x4x8x32xf16>
  %m = anemil.matmul %a, %b {transpose_x = true} : (tensor<16x8xf32>, tensor<3x16x5xf32>) -> tensor<3x8x5xf32>
  %w = anemil.const dense<0.5> : tensor<32x64xf16>
  %y = anemil.linear %x, %w : (tensor<8x64xf16>, tensor<32x64xf16>) -> tensor<8x32xf16>
  %qd = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<64x64xi8>
  %sc = anemil.const dense<0.01> : tensor<64xf16>
  %zp = anemil.const dense<0> : tensor<64xi8>
  %wd = anemil.constexpr_affine_dequantize %qd, %sc, %zp {axis = 0 : i64} : (tensor<64x64xi8>, tensor<64xf16>, tensor<64xi8>) -> tensor<64x64xf16>
  %bias = anemil.const dense<0.0> : tensor<64xf16>
  %y2 = anemil.linear %x, %wd, %bias : (tensor<8x64xf16>, tensor<64x64xf16>, tensor<64xf16>) -> tensor<8x64xf16>
  return
}

// CHECK-LABEL: func.func @layer_norm
// CHECK: anemil.layer_norm %{{.*}} gamma %{{.*}} beta %{{.*}} {axes = array<i64: -1>, epsilon = 9.99999974E-6 : f32} : (tensor<8x64xf16>, tensor<64xf16>, tensor<64xf16>) -> tensor<8x64xf16>
// CHECK: anemil.layer_norm %{{.*}} : (tensor<8x64xf16>) -> tensor<8x64xf16>
// CHECK: anemil.layer_norm %{{.*}} beta %{{.*}} {axes = array<i64: 1>} : (tensor<8x64xf16>, tensor<64xf16>) -> tensor<8x64xf16>
func.func @layer_norm(%x: tensor<8x64xf16>) {
  %g = anemil.const dense<1.0> : tensor<64xf16>
  %b = anemil.const dense<0.0> : tensor<64xf16>
  %y = anemil.layer_norm %x gamma %g beta %b {axes = array<i64: -1>, epsilon = 1.0e-05 : f32} : (tensor<8x64xf16>, tensor<64xf16>, tensor<64xf16>) -> tensor<8x64xf16>
  %y2 = anemil.layer_norm %x : (tensor<8x64xf16>) -> tensor<8x64xf16>
  %y3 = anemil.layer_norm %x beta %b {axes = array<i64: 1>} : (tensor<8x64xf16>, tensor<64xf16>) -> tensor<8x64xf16>
  return
}

// CHECK-LABEL: func.func @sdpa
// CHECK: anemil.scaled_dot_product_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : (tensor<1x4x8x16xf16>, tensor<1x4x32x16xf16>, tensor<1x4x32x16xf16>, tensor<1x1x8x32xf16>) -> tensor<1x4x8x16xf16>
// CHECK: anemil.scaled_dot_product_attention %{{.*}}, %{{.*}}, %{{.*}} : (tensor<1x4x8x16xf16>, tensor<1x4x32x16xf16>, tensor<1x4x32x16xf16>) -> tensor<1x4x8x16xf16>
func.func @sdpa(%q: tensor<1x4x8x16xf16>, %k: tensor<1x4x32x16xf16>, %v: tensor<1x4x32x16xf16>, %m: tensor<1x1x8x32xf16>) attributes {anemil.opset = #anemil.opset<ios18>} {
  %o = anemil.scaled_dot_product_attention %q, %k, %v, %m : (tensor<1x4x8x16xf16>, tensor<1x4x32x16xf16>, tensor<1x4x32x16xf16>, tensor<1x1x8x32xf16>) -> tensor<1x4x8x16xf16>
  %o2 = anemil.scaled_dot_product_attention %q, %k, %v : (tensor<1x4x8x16xf16>, tensor<1x4x32x16xf16>, tensor<1x4x32x16xf16>) -> tensor<1x4x8x16xf16>
  return
}

// CHECK-LABEL: func.func @elementwise
// CHECK: anemil.add %{{.*}}, %{{.*}} : (tensor<1x64x1x8xf16>, tensor<1x64x1x1xf16>) -> tensor<1x64x1x8xf16>
// CHECK: anemil.sub %{{.*}}, %{{.*}} : (tensor<1x64x1x8xf16>, tensor<f16>) -> tensor<1x64x1x8xf16>
// CHECK: anemil.mul %{{.*}}, %{{.*}} : (tensor<1x64x1x8xf16>, tensor<1x64x1x8xf16>) -> tensor<1x64x1x8xf16>
// CHECK: anemil.real_div %{{.*}}, %{{.*}} : (tensor<1x64x1x8xf16>, tensor<f16>) -> tensor<1x64x1x8xf16>
// CHECK: anemil.pow %{{.*}}, %{{.*}} : (tensor<1x64x1x8xf16>, tensor<f16>) -> tensor<1x64x1x8xf16>
// CHECK: anemil.maximum %{{.*}}, %{{.*}} : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>
// CHECK: anemil.minimum %{{.*}}, %{{.*}} : (tensor<4xi32>, tensor<1xi32>) -> tensor<4xi32>
// CHECK: anemil.greater_equal %{{.*}}, %{{.*}} : (tensor<8x1xi32>, tensor<8xi32>) -> tensor<8x8xi1>
// CHECK: anemil.less %{{.*}}, %{{.*}} : (tensor<1x64x1x8xf16>, tensor<f16>) -> tensor<1x64x1x8xi1>
// CHECK: anemil.sqrt %{{.*}} : tensor<1x64x1x8xf16>
// CHECK: anemil.rsqrt %{{.*}} {epsilon = 9.99999974E-6 : f32} : tensor<1x64x1x8xf16>
// CHECK: anemil.exp %{{.*}} : tensor<1x64x1x8xf16>
// CHECK: anemil.sigmoid %{{.*}} : tensor<1x64x1x8xf16>
// CHECK: anemil.silu %{{.*}} : tensor<1x64x1x8xf16>
// CHECK: anemil.gelu %{{.*}} {mode = #anemil.gelu_mode<TANH_APPROXIMATION>} : tensor<1x64x1x8xf16>
// CHECK: anemil.gelu %{{.*}} : tensor<1x64x1x8xf16>
// CHECK: anemil.softmax %{{.*}} {axis = -1 : i64} : tensor<1x64x1x8xf16>
// CHECK: anemil.select %{{.*}}, %{{.*}}, %{{.*}} : (tensor<8x8xi1>, tensor<8x8xf16>, tensor<f16>) -> tensor<8x8xf16>
func.func @elementwise(%x: tensor<1x64x1x8xf16>, %c: tensor<1x64x1x1xf16>, %s: tensor<f16>, %i: tensor<4xi32>, %j: tensor<1xi32>,
                       %r: tensor<8x1xi32>, %cols: tensor<8xi32>, %m: tensor<8x8xi1>, %a: tensor<8x8xf16>) {
  %0 = anemil.add %x, %c : (tensor<1x64x1x8xf16>, tensor<1x64x1x1xf16>) -> tensor<1x64x1x8xf16>
  %1 = anemil.sub %x, %s : (tensor<1x64x1x8xf16>, tensor<f16>) -> tensor<1x64x1x8xf16>
  %2 = anemil.mul %x, %x : (tensor<1x64x1x8xf16>, tensor<1x64x1x8xf16>) -> tensor<1x64x1x8xf16>
  %3 = anemil.real_div %x, %s : (tensor<1x64x1x8xf16>, tensor<f16>) -> tensor<1x64x1x8xf16>
  %4 = anemil.pow %x, %s : (tensor<1x64x1x8xf16>, tensor<f16>) -> tensor<1x64x1x8xf16>
  %5 = anemil.maximum %i, %i : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>
  %6 = anemil.minimum %i, %j : (tensor<4xi32>, tensor<1xi32>) -> tensor<4xi32>
  %7 = anemil.greater_equal %r, %cols : (tensor<8x1xi32>, tensor<8xi32>) -> tensor<8x8xi1>
  %8 = anemil.less %x, %s : (tensor<1x64x1x8xf16>, tensor<f16>) -> tensor<1x64x1x8xi1>
  %9 = anemil.sqrt %x : tensor<1x64x1x8xf16>
  %10 = anemil.rsqrt %x {epsilon = 1.0e-05 : f32} : tensor<1x64x1x8xf16>
  %11 = anemil.exp %x : tensor<1x64x1x8xf16>
  %12 = anemil.sigmoid %x : tensor<1x64x1x8xf16>
  %13 = anemil.silu %x : tensor<1x64x1x8xf16>
  %14 = anemil.gelu %x {mode = #anemil.gelu_mode<TANH_APPROXIMATION>} : tensor<1x64x1x8xf16>
  %15 = anemil.gelu %x : tensor<1x64x1x8xf16>
  %16 = anemil.softmax %x {axis = -1 : i64} : tensor<1x64x1x8xf16>
  %17 = anemil.select %m, %a, %s : (tensor<8x8xi1>, tensor<8x8xf16>, tensor<f16>) -> tensor<8x8xf16>
  return
}

// CHECK-LABEL: func.func @reductions
// CHECK: anemil.reduce_sum %{{.*}} {axes = array<i64: 1>, keep_dims = true} : (tensor<1x64x1x8xf16>) -> tensor<1x1x1x8xf16>
// CHECK: anemil.reduce_mean %{{.*}} {axes = array<i64: 1, -1>} : (tensor<1x64x1x8xf16>) -> tensor<1x1xf16>
// CHECK: anemil.reduce_max %{{.*}} : (tensor<1x64x1x8xf16>) -> tensor<f16>
func.func @reductions(%x: tensor<1x64x1x8xf16>) {
  %0 = anemil.reduce_sum %x {axes = array<i64: 1>, keep_dims = true} : (tensor<1x64x1x8xf16>) -> tensor<1x1x1x8xf16>
  %1 = anemil.reduce_mean %x {axes = array<i64: 1, -1>} : (tensor<1x64x1x8xf16>) -> tensor<1x1xf16>
  %2 = anemil.reduce_max %x : (tensor<1x64x1x8xf16>) -> tensor<f16>
  return
}

// CHECK-LABEL: func.func @shapes
// CHECK: anemil.reshape %{{.*}} {shape = array<i64: 1, 4, 16, -1>} : (tensor<1x64x1x8xf16>) -> tensor<1x4x16x8xf16>
// CHECK: anemil.transpose %{{.*}} {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x4x16x8xf16>) -> tensor<1x16x4x8xf16>
// CHECK: anemil.expand_dims %{{.*}} {axes = array<i64: 0, 2>} : (tensor<64x8xf16>) -> tensor<1x64x1x8xf16>
// CHECK: anemil.squeeze %{{.*}} {axes = array<i64: 0, 2>} : (tensor<1x64x1x8xf16>) -> tensor<64x8xf16>
// CHECK: anemil.squeeze %{{.*}} : (tensor<1x64x1x8xf16>) -> tensor<64x8xf16>
// CHECK: anemil.slice_by_index %{{.*}} {begin = array<i64: 0, 0, 0, 0>, end = array<i64: 1, 32, 1, 8>} : (tensor<1x64x1x8xf16>) -> tensor<1x32x1x8xf16>
// CHECK: anemil.slice_by_index %{{.*}} {begin = array<i64: 0, 1, 0, 0>, begin_mask = array<i1: true, false, true, true>, end = array<i64: 0, 64, 0, 0>, end_mask = array<i1: true, false, true, true>, squeeze_mask = array<i1: true, false, false, false>, stride = array<i64: 1, 2, 1, 1>} : (tensor<1x64x1x8xf16>) -> tensor<32x1x8xf16>
// CHECK: anemil.slice_by_size %{{.*}} {begin = array<i64: 0, 32, 0, 0>, size = array<i64: 1, 32, 1, -1>} : (tensor<1x64x1x8xf16>) -> tensor<1x32x1x8xf16>
// CHECK: anemil.pad %{{.*}} {pad = array<i64: 0, 24, 0, 0>} : (tensor<1x32x1x8xf16>) -> tensor<1x32x25x8xf16>
// CHECK: anemil.concat %{{.*}}, %{{.*}} {axis = 1 : i64} : (tensor<1x32x1x8xf16>, tensor<1x32x1x8xf16>) -> tensor<1x64x1x8xf16>
// CHECK: anemil.concat %{{.*}}, %{{.*}} {axis = 3 : i64, interleave = true} : (tensor<1x32x1x8xf16>, tensor<1x32x1x8xf16>) -> tensor<1x32x1x16xf16>
// CHECK: anemil.split %{{.*}} {axis = 1 : i64, num_splits = 2 : i64} : (tensor<1x64x1x8xf16>) -> (tensor<1x32x1x8xf16>, tensor<1x32x1x8xf16>)
// CHECK: anemil.split %{{.*}} {axis = 1 : i64, split_sizes = array<i64: 48, 16>} : (tensor<1x64x1x8xf16>) -> (tensor<1x48x1x8xf16>, tensor<1x16x1x8xf16>)
// CHECK: anemil.gather %{{.*}}, %{{.*}} {axis = 0 : i64, validate_indices = false} : (tensor<512x64xf16>, tensor<8xi32>) -> tensor<8x64xf16>
// CHECK: anemil.gather %{{.*}}, %{{.*}} {axis = 1 : i64, batch_dims = 1 : i64} : (tensor<2x5x7xf32>, tensor<2x3xui16>) -> tensor<2x3x7xf32>
// CHECK: anemil.band_part %{{.*}} {lower = -1 : i64, upper = 0 : i64} : tensor<8x8xf16>
// CHECK: anemil.fill {shape = array<i64: 1, 64, 1, 8>, value = 0.000000e+00 : f16} : tensor<1x64x1x8xf16>
// CHECK: anemil.fill {shape = array<i64: 2>} : tensor<2xf32>
// CHECK: anemil.fill {shape = array<i64: 3>, value = 7 : i32} : tensor<3xi32>
func.func @shapes(%x: tensor<1x64x1x8xf16>, %y: tensor<64x8xf16>, %h: tensor<1x32x1x8xf16>, %t: tensor<512x64xf16>, %ids: tensor<8xi32>,
                  %g: tensor<2x5x7xf32>, %gi: tensor<2x3xui16>, %sq: tensor<8x8xf16>) {
  %0 = anemil.reshape %x {shape = array<i64: 1, 4, 16, -1>} : (tensor<1x64x1x8xf16>) -> tensor<1x4x16x8xf16>
  %1 = anemil.transpose %0 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x4x16x8xf16>) -> tensor<1x16x4x8xf16>
  %2 = anemil.expand_dims %y {axes = array<i64: 0, 2>} : (tensor<64x8xf16>) -> tensor<1x64x1x8xf16>
  %3 = anemil.squeeze %x {axes = array<i64: 0, 2>} : (tensor<1x64x1x8xf16>) -> tensor<64x8xf16>
  %4 = anemil.squeeze %x : (tensor<1x64x1x8xf16>) -> tensor<64x8xf16>
  %5 = anemil.slice_by_index %x {begin = array<i64: 0, 0, 0, 0>, end = array<i64: 1, 32, 1, 8>} : (tensor<1x64x1x8xf16>) -> tensor<1x32x1x8xf16>
  %6 = anemil.slice_by_index %x {begin = array<i64: 0, 1, 0, 0>, end = array<i64: 0, 64, 0, 0>, stride = array<i64: 1, 2, 1, 1>,
                                 begin_mask = array<i1: true, false, true, true>, end_mask = array<i1: true, false, true, true>,
                                 squeeze_mask = array<i1: true, false, false, false>} : (tensor<1x64x1x8xf16>) -> tensor<32x1x8xf16>
  %7 = anemil.slice_by_size %x {begin = array<i64: 0, 32, 0, 0>, size = array<i64: 1, 32, 1, -1>} : (tensor<1x64x1x8xf16>) -> tensor<1x32x1x8xf16>
  %p = anemil.pad %h {pad = array<i64: 0, 24, 0, 0>} : (tensor<1x32x1x8xf16>) -> tensor<1x32x25x8xf16>
  %8 = anemil.concat %h, %h {axis = 1 : i64} : (tensor<1x32x1x8xf16>, tensor<1x32x1x8xf16>) -> tensor<1x64x1x8xf16>
  %9 = anemil.concat %h, %h {axis = 3 : i64, interleave = true} : (tensor<1x32x1x8xf16>, tensor<1x32x1x8xf16>) -> tensor<1x32x1x16xf16>
  %10:2 = anemil.split %x {axis = 1 : i64, num_splits = 2 : i64} : (tensor<1x64x1x8xf16>) -> (tensor<1x32x1x8xf16>, tensor<1x32x1x8xf16>)
  %11:2 = anemil.split %x {axis = 1 : i64, split_sizes = array<i64: 48, 16>} : (tensor<1x64x1x8xf16>) -> (tensor<1x48x1x8xf16>, tensor<1x16x1x8xf16>)
  %12 = anemil.gather %t, %ids {axis = 0 : i64, validate_indices = false} : (tensor<512x64xf16>, tensor<8xi32>) -> tensor<8x64xf16>
  %13 = anemil.gather %g, %gi {axis = 1 : i64, batch_dims = 1 : i64} : (tensor<2x5x7xf32>, tensor<2x3xui16>) -> tensor<2x3x7xf32>
  %14 = anemil.band_part %sq {lower = -1 : i64, upper = 0 : i64} : tensor<8x8xf16>
  %15 = anemil.fill {shape = array<i64: 1, 64, 1, 8>, value = 0.0 : f16} : tensor<1x64x1x8xf16>
  %16 = anemil.fill {shape = array<i64: 2>} : tensor<2xf32>
  %17 = anemil.fill {shape = array<i64: 3>, value = 7 : i32} : tensor<3xi32>
  return
}

// CHECK-LABEL: func.func @state
// CHECK-SAME: (%[[S:.*]]: !anemil.state<tensor<1x4x64xf16>>, %[[V:.*]]: tensor<1x4x64xf16>)
// CHECK: anemil.read_state %[[S]] : !anemil.state<tensor<1x4x64xf16>>
// CHECK: anemil.write_state %[[S]], %[[V]] : !anemil.state<tensor<1x4x64xf16>>
func.func @state(%s: !anemil.state<tensor<1x4x64xf16>>, %v: tensor<1x4x64xf16>) -> tensor<1x4x64xf16> attributes {anemil.opset = #anemil.opset<ios18>} {
  %k = anemil.read_state %s : !anemil.state<tensor<1x4x64xf16>>
  anemil.write_state %s, %v : !anemil.state<tensor<1x4x64xf16>>
  return %k : tensor<1x4x64xf16>
}

// A kernel's weight slots: optional fields are printed only when set.
// CHECK-LABEL: func.func @weight_slots
// CHECK-SAME: anemil.weights = [#anemil.weight_slot<role = "attn_qkv", segment = layer, scheme = q4, group = 16, shape = [128, 64], blobs = [tensor<128x64x1x1xi4>, tensor<128x4x1x1xf16>], offsets = [64, 4224], fused_from = ["attn_q", "attn_k", "attn_v"], fold_norm = "attn_norm", rope_rows = 96, head_dim = 8>, #anemil.weight_slot<role = "output_norm", segment = global, scheme = f16, group = 0, shape = [64], blobs = [tensor<1x64x1x1xf32>], offsets = [64]>]
func.func @weight_slots() attributes {anemil.weights = [#anemil.weight_slot<role = "attn_qkv", segment = layer, scheme = q4, group = 16, shape = [128, 64], blobs = [tensor<128x64x1x1xi4>, tensor<128x4x1x1xf16>], offsets = [64, 4224], fused_from = ["attn_q", "attn_k", "attn_v"], fold_norm = "attn_norm", rope_rows = 96, head_dim = 8>, #anemil.weight_slot<role = "output_norm", segment = global, scheme = f16, group = 0, shape = [64], blobs = [tensor<1x64x1x1xf32>], offsets = [64]>]} {
  return
}
