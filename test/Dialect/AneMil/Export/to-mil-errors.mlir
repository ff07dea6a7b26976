// RUN: ane-translate --to-mil %s -split-input-file -verify-diagnostics

func.func @big() -> tensor<16xf16> {
  // expected-error @+1 {{a constant of 16 elements goes to weight.bin: pass --weights-dir}}
  %w = anemil.const dense<0.5> : tensor<16xf16>
  return %w : tensor<16xf16>
}

// -----

func.func @other(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

func.func @foreign(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{only anemil ops can be exported to MIL}}
  %y = func.call @other(%x) : (tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// expected-error @+1 {{cannot export a function without a body}}
func.func private @declaration(tensor<4xf32>) -> tensor<4xf32>
