// RUN: ane-opt %s --anemil-legalize-ane="family=m2 axis-limit=16" -split-input-file -verify-diagnostics

// A wide conv consumed inside the kernel cannot become stacked tiles.
func.func @consumed(%x: tensor<1x8x1x2xf16>) -> tensor<1x40x1x2xf16> {
  %w = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<40x8x1x1xf16>
  // expected-error @below {{only a conv returned by its kernel (or split right after) can be tiled over the axis limit}}
  %y = anemil.conv %x, %w {pad_type = #anemil.pad_type<valid>} : (tensor<1x8x1x2xf16>, tensor<40x8x1x1xf16>) -> tensor<1x40x1x2xf16>
  %z = anemil.sigmoid %y : tensor<1x40x1x2xf16>
  return %z : tensor<1x40x1x2xf16>
}

// -----

// A deep contraction whose gradient is computed, not a kernel input.
func.func @computed(%g: tensor<1x40x1x2xf16>) -> tensor<8x2xf16> {
  %w = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<40x8x1x1xf16>
  %wm = anemil.reshape %w {shape = array<i64: 40, 8>} : (tensor<40x8x1x1xf16>) -> tensor<40x8xf16>
  %r = anemil.sigmoid %g : tensor<1x40x1x2xf16>
  %gm = anemil.reshape %r {shape = array<i64: 40, 2>} : (tensor<1x40x1x2xf16>) -> tensor<40x2xf16>
  // expected-error @below {{only W^T g with g a kernel input can be tiled along a contraction axis over the limit}}
  %y = anemil.matmul %wm, %gm {transpose_x = true} : (tensor<40x8xf16>, tensor<40x2xf16>) -> tensor<8x2xf16>
  return %y : tensor<8x2xf16>
}

// -----

// Split conv parts each still over the limit.
func.func @parts(%x: tensor<1x8x1x2xf16>) -> (tensor<1x20x1x2xf16>, tensor<1x20x1x2xf16>) {
  %w = anemil.const #anemil.blob<"@model_path/weights/weight.bin", 64> : tensor<40x8x1x1xf16>
  %y = anemil.conv %x, %w {pad_type = #anemil.pad_type<valid>} : (tensor<1x8x1x2xf16>, tensor<40x8x1x1xf16>) -> tensor<1x40x1x2xf16>
  // expected-error @below {{a part of 20 channels is still over the limit}}
  %a, %b = anemil.split %y {axis = 1 : i64, split_sizes = array<i64: 20, 20>} : (tensor<1x40x1x2xf16>) -> (tensor<1x20x1x2xf16>, tensor<1x20x1x2xf16>)
  return %a, %b : tensor<1x20x1x2xf16>, tensor<1x20x1x2xf16>
}

// -----

// A weight that travels as an input (weight-binding=input) is passed whole
// by the host: no pass can tile it.
func.func @wide_weight_input(%x: tensor<1x8x1x2xf16> {anemil.name = "x"}, %w: tensor<1x8x1x40xf16> {anemil.name = "w_output"}) -> tensor<1x1x40x2xf16> attributes {anemil.kernel = "lm_head"} {
  // expected-error @-1 {{input 'w_output' 'tensor<1x8x1x40xf16>' has an axis of 40, over the 16 an ANE axis takes, and weight inputs are not tiled}}
  %wm = anemil.reshape %w {shape = array<i64: 1, 1, 8, 40>} : (tensor<1x8x1x40xf16>) -> tensor<1x1x8x40xf16>
  %xm = anemil.reshape %x {shape = array<i64: 1, 1, 8, 2>} : (tensor<1x8x1x2xf16>) -> tensor<1x1x8x2xf16>
  %y = anemil.matmul %wm, %xm {transpose_x = true} : (tensor<1x1x8x40xf16>, tensor<1x1x8x2xf16>) -> tensor<1x1x40x2xf16>
  return %y : tensor<1x1x40x2xf16>
}
