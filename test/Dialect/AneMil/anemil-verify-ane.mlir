// RUN: ane-opt %s --split-input-file --anemil-verify-ane=family=m2 -verify-diagnostics
// RUN: not ane-opt %s --split-input-file --anemil-verify-ane=family=m4 2>&1 | FileCheck %s --check-prefix=M4

// On an m4 (axis limit 65536) every other rule still holds; only the
// 20000-wide kernel passes.
// M4: error: computes in fp32; the ANE computes in fp16
// M4-NOT: over the m4 limit
// M4: error: input or output 'tensor<1x172x1x1xf16>' has rows of 344 bytes, not a multiple of 64
// M4-NOT: over the m4 limit
// M4: error: 'gather' does not run on the ANE
// M4-NOT: over the m4 limit

// A kernel within every rule.
func.func @ok(%x: tensor<1x32x1x4xf16>, %m: tensor<1x1x4x32xf16>) -> tensor<1x32x1x4xf16> attributes {anemil.kernel = "ok"} {
  %w = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<32x32x1x1xi4>
  %s = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 640> : tensor<32x1x1x1xf16>
  %wd = anemil.constexpr_blockwise_shift_scale %w, %s : (tensor<32x32x1x1xi4>, tensor<32x1x1x1xf16>) -> tensor<32x32x1x1xf16>
  %y = anemil.conv %x, %wd : (tensor<1x32x1x4xf16>, tensor<32x32x1x1xf16>) -> tensor<1x32x1x4xf16>
  return %y : tensor<1x32x1x4xf16>
}

// -----

func.func @fp32(%x: tensor<1x32x1x4xf32>) -> tensor<1x32x1x4xf16> attributes {anemil.kernel = "fp32"} {
  %h = anemil.cast %x {dtype = #anemil.dtype<fp16>} : (tensor<1x32x1x4xf32>) -> tensor<1x32x1x4xf16>
  // expected-error @+1 {{computes in fp32; the ANE computes in fp16}}
  %e = anemil.exp %x : tensor<1x32x1x4xf32>
  return %h : tensor<1x32x1x4xf16>
}

// -----

// expected-error @+1 {{an input or output axis 1 has 20000 elements, over the m2 limit of 16384}}
func.func @wide(%x: tensor<1x20000x1x1xf16>) -> tensor<1x20000x1x1xf16> attributes {anemil.kernel = "wide"} {
  // expected-error @+1 {{a result axis 1 has 20000 elements, over the m2 limit of 16384}}
  %y = anemil.exp %x : tensor<1x20000x1x1xf16>
  return %y : tensor<1x20000x1x1xf16>
}

// -----

// expected-error @+1 {{input or output 'tensor<1x172x1x1xf16>' has rows of 344 bytes, not a multiple of 64}}
func.func @rows(%x: tensor<1x172x1x1xf16>) -> tensor<1x172x1x1xf16> attributes {anemil.kernel = "rows"} {
  %y = anemil.exp %x : tensor<1x172x1x1xf16>
  return %y : tensor<1x172x1x1xf16>
}

// -----

func.func @gather(%t: tensor<1x64x1x32xf16>, %i: tensor<32xi32>) -> tensor<1x64x1x32xf16> attributes {anemil.kernel = "gather"} {
  // expected-error @+1 {{'gather' does not run on the ANE}}
  %e = anemil.gather %t, %i {axis = 3 : i64} : (tensor<1x64x1x32xf16>, tensor<32xi32>) -> tensor<1x64x1x32xf16>
  return %e : tensor<1x64x1x32xf16>
}

// -----

// Functions without anemil.kernel (host code, tests) are not checked.
func.func @host(%x: tensor<3xf32>) -> tensor<3xf32> {
  %y = anemil.exp %x : tensor<3xf32>
  return %y : tensor<3xf32>
}
