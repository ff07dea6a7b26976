// Kernels shaped like DESIGN.md's: activations in [1, C, 1, S], fp16.
// RUN: rm -rf %t && ane-translate --to-mil --weights-dir=%t %s | FileCheck %s
// RUN: od -A d -t x1 -N 8 %t/weight.bin | FileCheck %s --check-prefix=BIN

// CHECK-LABEL: program(1.3)
// CHECK-NEXT: {

// A projection as a 1x1 conv whose weight lives in weight.bin.
// CHECK-NEXT: func proj<ios18>(tensor<fp16, [1, 16, 1, 4]> x) {
// CHECK-NEXT: tensor<fp16, [8, 16, 1, 1]> w = const()[name = string("w"), val = tensor<fp16, [8, 16, 1, 1]>(BLOBFILE(path = string("@model_path/weights/weight.bin"), offset = uint64(64)))];
// CHECK-NEXT: string y_pad_type = const()[name = string("y_pad_type"), val = string("valid")];
// CHECK-NEXT: tensor<fp16, [1, 8, 1, 4]> y = conv(pad_type = y_pad_type, weight = w, x = x)[name = string("y")];
// CHECK-NEXT: } -> (y);
func.func @proj(%x: tensor<1x16x1x4xf16> loc("x")) -> tensor<1x8x1x4xf16> attributes {anemil.opset = #anemil.opset<ios18>} {
  %w = anemil.const dense<0.5> : tensor<8x16x1x1xf16> loc("w")
  %y = anemil.conv %x, %w {pad_type = #anemil.pad_type<valid>} : (tensor<1x16x1x4xf16>, tensor<8x16x1x1xf16>) -> tensor<1x8x1x4xf16> loc("y")
  return %y : tensor<1x8x1x4xf16>
}

// Attention scores: Q K^T, then softmax over the keys.
// CHECK-NEXT: func scores<ios18>(tensor<fp16, [1, 2, 4, 8]> q, tensor<fp16, [1, 2, 6, 8]> k) {
// CHECK-NEXT: bool s_transpose_y = const()[name = string("s_transpose_y"), val = bool(true)];
// CHECK-NEXT: tensor<fp16, [1, 2, 4, 6]> s = matmul(transpose_y = s_transpose_y, x = q, y = k)[name = string("s")];
// CHECK-NEXT: int32 p_axis = const()[name = string("p_axis"), val = int32(-1)];
// CHECK-NEXT: tensor<fp16, [1, 2, 4, 6]> p = softmax(axis = p_axis, x = s)[name = string("p")];
// CHECK-NEXT: } -> (p);
func.func @scores(%q: tensor<1x2x4x8xf16> loc("q"), %k: tensor<1x2x6x8xf16> loc("k")) -> tensor<1x2x4x6xf16> attributes {anemil.opset = #anemil.opset<ios18>} {
  %s = anemil.matmul %q, %k {transpose_y = true} : (tensor<1x2x4x8xf16>, tensor<1x2x6x8xf16>) -> tensor<1x2x4x6xf16> loc("s")
  %p = anemil.softmax %s {axis = -1 : i64} : tensor<1x2x4x6xf16> loc("p")
  return %p : tensor<1x2x4x6xf16>
}

// RMSNorm over channels from reduce_mean, rsqrt with an explicit epsilon, mul.
// CHECK-NEXT: func rms_norm<ios18>(tensor<fp16, [1, 16, 1, 4]> x) {
// CHECK-NEXT: tensor<fp16, [1, 16, 1, 4]> sq = mul(x = x, y = x)[name = string("sq")];
// CHECK-NEXT: tensor<int32, [1]> ms_axes = const()[name = string("ms_axes"), val = tensor<int32, [1]>([1])];
// CHECK-NEXT: bool ms_keep_dims = const()[name = string("ms_keep_dims"), val = bool(true)];
// CHECK-NEXT: tensor<fp16, [1, 1, 1, 4]> ms = reduce_mean(axes = ms_axes, keep_dims = ms_keep_dims, x = sq)[name = string("ms")];
// CHECK-NEXT: fp16 r_epsilon = const()[name = string("r_epsilon"), val = fp16(0x1.5p-17)];
// CHECK-NEXT: tensor<fp16, [1, 1, 1, 4]> r = rsqrt(epsilon = r_epsilon, x = ms)[name = string("r")];
// CHECK-NEXT: tensor<fp16, [1, 16, 1, 4]> n = mul(x = x, y = r)[name = string("n")];
// CHECK-NEXT: tensor<fp16, [1, 16, 1, 1]> g = const()[name = string("g"), val = tensor<fp16, [1, 16, 1, 1]>(BLOBFILE(path = string("@model_path/weights/weight.bin"), offset = uint64(384)))];
// CHECK-NEXT: tensor<fp16, [1, 16, 1, 4]> y = mul(x = n, y = g)[name = string("y")];
// CHECK-NEXT: } -> (y);
// CHECK-NEXT: }
func.func @rms_norm(%x: tensor<1x16x1x4xf16> loc("x")) -> tensor<1x16x1x4xf16> attributes {anemil.opset = #anemil.opset<ios18>} {
  %sq = anemil.mul %x, %x : (tensor<1x16x1x4xf16>, tensor<1x16x1x4xf16>) -> tensor<1x16x1x4xf16> loc("sq")
  %ms = anemil.reduce_mean %sq {axes = array<i64: 1>, keep_dims = true} : (tensor<1x16x1x4xf16>) -> tensor<1x1x1x4xf16> loc("ms")
  %r = anemil.rsqrt %ms {epsilon = 1.0e-05 : f32} : tensor<1x1x1x4xf16> loc("r")
  %n = anemil.mul %x, %r : (tensor<1x16x1x4xf16>, tensor<1x1x1x4xf16>) -> tensor<1x16x1x4xf16> loc("n")
  %g = anemil.const dense<1.0> : tensor<1x16x1x1xf16> loc("g")
  %y = anemil.mul %n, %g : (tensor<1x16x1x4xf16>, tensor<1x16x1x1xf16>) -> tensor<1x16x1x4xf16> loc("y")
  return %y : tensor<1x16x1x4xf16>
}

// weight.bin header: two blobs, version 2.
// BIN: 0000000 02 00 00 00 02 00 00 00
