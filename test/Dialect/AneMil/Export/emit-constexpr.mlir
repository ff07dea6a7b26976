// Constants feeding constexpr_* ops are written inline: as attributes for
// the iOS16 ops, as inputs for the iOS18 ones. Small constants stay inline.
// RUN: rm -rf %t && ane-translate --to-mil --weights-dir=%t %s | FileCheck %s

// CHECK: func q8<ios16>() {
// CHECK-NEXT: tensor<fp16, [4, 16]> w = constexpr_affine_dequantize()[axis = tensor<int32, []>(0), name = tensor<string, []>("w"), quantized_data = tensor<int8, [4, 16]>(BLOBFILE(path = tensor<string, []>("@model_path/weights/weight.bin"), offset = tensor<uint64, []>(64))), scale = tensor<fp16, [4]>([0x1p-1, 0x1p-1, 0x1p-1, 0x1p-1]), zero_point = tensor<int8, [4]>([0, 0, 0, 0])];
// CHECK-NEXT: } -> (w);
func.func @q8() -> tensor<4x16xf16> attributes {anemil.opset = #anemil.opset<ios16>} {
  %q = anemil.const dense<3> : tensor<4x16xi8>
  %s = anemil.const dense<0.5> : tensor<4xf16>
  %z = anemil.const dense<0> : tensor<4xi8>
  %w = anemil.constexpr_affine_dequantize %q, %s, %z {axis = 0 : i64} : (tensor<4x16xi8>, tensor<4xf16>, tensor<4xi8>) -> tensor<4x16xf16> loc("w")
  return %w : tensor<4x16xf16>
}

// CHECK: func q4<ios18>() {
// CHECK-NEXT: tensor<fp16, [4, 16]> w = constexpr_blockwise_shift_scale(data = tensor<int4, [4, 16]>(BLOBFILE(path = string("@model_path/weights/weight.bin"), offset = uint64(192))), scale = tensor<fp16, [4, 1]>({{\[\[}}0x1p-1], [0x1p-1], [0x1p-1], [0x1p-1]]))[name = string("w")];
// CHECK-NEXT: tensor<fp16, [4, 16]> l = constexpr_lut_to_dense(indices = tensor<uint4, [4, 16]>(BLOBFILE(path = string("@model_path/weights/weight.bin"), offset = uint64(320))), lut = tensor<fp16, [4, 1, 16, 1]>(BLOBFILE(path = string("@model_path/weights/weight.bin"), offset = uint64(448))))[name = string("l")];
// CHECK-NEXT: } -> (w, l);
func.func @q4() -> (tensor<4x16xf16>, tensor<4x16xf16>) attributes {anemil.opset = #anemil.opset<ios18>} {
  %d = anemil.const dense<-3> : tensor<4x16xi4>
  %s = anemil.const dense<0.5> : tensor<4x1xf16>
  %w = anemil.constexpr_blockwise_shift_scale %d, %s : (tensor<4x16xi4>, tensor<4x1xf16>) -> tensor<4x16xf16> loc("w")
  %i = anemil.const dense<5> : tensor<4x16xui4>
  %lut = anemil.const dense<0.25> : tensor<4x1x16x1xf16>
  %l = anemil.constexpr_lut_to_dense %i, %lut : (tensor<4x16xui4>, tensor<4x1x16x1xf16>) -> tensor<4x16xf16> loc("l")
  return %w, %l : tensor<4x16xf16>, tensor<4x16xf16>
}
