// RUN: ane-opt %s --anemil-pack-inputs --split-input-file -verify-diagnostics

// expected-error @+1 {{pack-inputs needs inputs of one element type, got 'f16' and 'i8'}}
func.func @mixed(%x: tensor<1x64x1x1xf16>, %w: tensor<64x64x1x1xi8>) attributes {anemil.kernel = "mixed"} {
  return
}

// -----

// expected-error @+1 {{pack-inputs needs static tensor inputs}}
func.func @dynamic(%x: tensor<1x?x1x1xf16>, %y: tensor<1x8x1x1xf16>) attributes {anemil.kernel = "dynamic"} {
  return
}
