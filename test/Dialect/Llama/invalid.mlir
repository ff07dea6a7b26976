// RUN: ane-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{dim must be positive, got 0}}
module attributes {llama.config = #llama.config<dim = 0, n_layers = 1, n_heads = 1, n_kv_heads = 1, head_dim = 2, hidden_dim = 8, vocab_size = 8, rope_theta = 10000.0, norm_eps = 1.0e-05, max_seq_len = 8>} {}

// -----

// expected-error @+1 {{n_heads (8) * head_dim (4) must equal dim (64)}}
module attributes {llama.config = #llama.config<dim = 64, n_layers = 1, n_heads = 8, n_kv_heads = 4, head_dim = 4, hidden_dim = 172, vocab_size = 512, rope_theta = 10000.0, norm_eps = 1.0e-05, max_seq_len = 8>} {}

// -----

// expected-error @+1 {{n_kv_heads (3) must divide n_heads (8)}}
module attributes {llama.config = #llama.config<dim = 64, n_layers = 1, n_heads = 8, n_kv_heads = 3, head_dim = 8, hidden_dim = 172, vocab_size = 512, rope_theta = 10000.0, norm_eps = 1.0e-05, max_seq_len = 8>} {}

// -----

// expected-error @+1 {{head_dim (7) must be even for RoPE}}
module attributes {llama.config = #llama.config<dim = 56, n_layers = 1, n_heads = 8, n_kv_heads = 4, head_dim = 7, hidden_dim = 172, vocab_size = 512, rope_theta = 10000.0, norm_eps = 1.0e-05, max_seq_len = 8>} {}

// -----

// expected-error @+1 {{rope_theta must be positive}}
module attributes {llama.config = #llama.config<dim = 64, n_layers = 1, n_heads = 8, n_kv_heads = 4, head_dim = 8, hidden_dim = 172, vocab_size = 512, rope_theta = 0.0, norm_eps = 1.0e-05, max_seq_len = 8>} {}

// -----

// expected-error @+1 {{norm_eps must be positive}}
module attributes {llama.config = #llama.config<dim = 64, n_layers = 1, n_heads = 8, n_kv_heads = 4, head_dim = 8, hidden_dim = 172, vocab_size = 512, rope_theta = 10000.0, norm_eps = -1.0, max_seq_len = 8>} {}

// -----

// expected-error @+1 {{'llama.config' must be a #llama.config attribute}}
module attributes {llama.config = 3 : i64} {}

// -----

// expected-error @+1 {{'llama.role' belongs on a function argument}}
module attributes {llama.role = #llama.role<attn_q>} {}

// -----

// expected-error @+1 {{unknown llama attribute 'llama.layer'}}
module attributes {llama.layer = 0 : i64} {}

// -----

// expected-error @+1 {{unknown llama argument attribute 'llama.weight'}}
func.func @f(%w: tensor<64x64xf32> {llama.weight = 1 : i64}) {
  return
}

// -----

// expected-error @+1 {{'llama.role' must be a #llama.role attribute}}
func.func @f(%w: tensor<64x64xf32> {llama.role = "attn_q"}) {
  return
}

// -----

// expected-error @+1 {{argument 0 with role attn_q must be a weight tensor, got 'i32'}}
func.func @f(%w: i32 {llama.role = #llama.role<attn_q>}) {
  return
}

// -----

module attributes {llama.config = #llama.config<dim = 64, n_layers = 1, n_heads = 8, n_kv_heads = 4, head_dim = 8, hidden_dim = 172, vocab_size = 512, rope_theta = 10000.0, norm_eps = 1.0e-05, max_seq_len = 8>} {
  // expected-error @+1 {{argument 0 with role attn_k has shape [64, 64], the config requires [32, 64]}}
  func.func @f(%w: tensor<64x64xf32> {llama.role = #llama.role<attn_k>}) {
    return
  }
}

// -----

module attributes {llama.config = #llama.config<dim = 64, n_layers = 1, n_heads = 8, n_kv_heads = 4, head_dim = 8, hidden_dim = 172, vocab_size = 512, rope_theta = 10000.0, norm_eps = 1.0e-05, max_seq_len = 8>} {
  // expected-error @+1 {{argument 0 with role ffn_down has shape [172, 64], the config requires [64, 172]}}
  func.func @f(%w: !llama.qweight<q4, group = 32, shape = [172, 64], scale = f16> {llama.role = #llama.role<ffn_down>}) {
    return
  }
}

// -----

module attributes {llama.config = #llama.config<dim = 64, n_layers = 1, n_heads = 8, n_kv_heads = 4, head_dim = 8, hidden_dim = 172, vocab_size = 512, rope_theta = 10000.0, norm_eps = 1.0e-05, max_seq_len = 8>} {
  // expected-error @+1 {{argument 0 with role token_embd has shape [500, 64], the config requires [512, 64]}}
  func.func @f(%w: tensor<500x64xf32> {llama.role = #llama.role<token_embd>}) {
    return
  }
}

// -----

module attributes {llama.config = #llama.config<dim = 64, n_layers = 1, n_heads = 8, n_kv_heads = 4, head_dim = 8, hidden_dim = 172, vocab_size = 512, rope_theta = 10000.0, norm_eps = 1.0e-05, max_seq_len = 8>} {
  // expected-error @+1 {{argument 0 with role ffn_norm has shape [172], the config requires [64]}}
  func.func @f(%w: tensor<172xf32> {llama.role = #llama.role<ffn_norm>}) {
    return
  }
}

// -----

// expected-error @+1 {{expects a rank-2 logical shape, got rank 1}}
func.func @f(%w: !llama.qweight<q4, group = 32, shape = [64], scale = f16>) {
  return
}

// -----

// expected-error @+1 {{shape dimensions must be positive}}
func.func @f(%w: !llama.qweight<q4, group = 32, shape = [0, 64], scale = f16>) {
  return
}

// -----

// expected-error @+1 {{group size must be non-negative, got -1}}
func.func @f(%w: !llama.qweight<q8, group = -1, shape = [64, 64], scale = f16>) {
  return
}

// -----

// expected-error @+1 {{group size 128 does not divide in-features 172}}
func.func @f(%w: !llama.qweight<q4, group = 128, shape = [64, 172], scale = f16>) {
  return
}

// -----

// expected-error @+1 {{scale type must be f16 or f32, got 'i8'}}
func.func @f(%w: !llama.qweight<q4, group = 32, shape = [64, 64], scale = i8>) {
  return
}

// -----

func.func @f(%t: tensor<4xi32>, %e: tensor<512x64xf32>) {
  // expected-error @+1 {{result has shape [4, 32], expected [4, 64]}}
  %h = llama.embedding %t, %e : tensor<4xi32>, tensor<512x64xf32> -> tensor<4x32xf32>
  return
}

// -----

func.func @f(%t: tensor<4xf32>, %e: tensor<512x64xf32>) {
  // expected-error @+1 {{operand #0 must be 1D tensor of 32-bit signless integer values}}
  %h = llama.embedding %t, %e : tensor<4xf32>, tensor<512x64xf32> -> tensor<4x64xf32>
  return
}

// -----

func.func @f(%x: tensor<4x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{weight has shape [32], expected [64]}}
  %n = llama.rms_norm %x, %w {eps = 1.0e-05 : f32} : tensor<4x64xf32>, tensor<32xf32>
  return
}

// -----

func.func @f(%x: tensor<4x64xf32>, %w: tensor<32x48xf32>) {
  // expected-error @+1 {{weight in-features 48 do not match input width 64}}
  %y = llama.linear %x, %w : tensor<4x64xf32>, tensor<32x48xf32> -> tensor<4x32xf32>
  return
}

// -----

func.func @f(%x: tensor<4x64xf32>, %w: tensor<32x64xf32>, %b: tensor<64xf32>) {
  // expected-error @+1 {{bias of 64 elements for 32 out-features}}
  %y = llama.linear %x, %w, %b : tensor<4x64xf32>, tensor<32x64xf32>, tensor<64xf32> -> tensor<4x32xf32>
  return
}

// -----

func.func @f(%x: tensor<4x64xf32>, %w: !llama.qweight<q4, group = 32, shape = [32, 64], scale = f16>) {
  // expected-error @+1 {{result has shape [4, 64], expected [4, 32]}}
  %y = llama.linear %x, %w : tensor<4x64xf32>, !llama.qweight<q4, group = 32, shape = [32, 64], scale = f16> -> tensor<4x64xf32>
  return
}

// -----

func.func @f(%x: tensor<4x64xf32>, %p: tensor<4xi32>) {
  // expected-error @+1 {{head_dim must be positive and even, got 7}}
  %r = llama.rope %x, %p {head_dim = 7 : i64, theta = 1.0e+04 : f64} : tensor<4x64xf32>, tensor<4xi32>
  return
}

// -----

func.func @f(%x: tensor<4x60xf32>, %p: tensor<4xi32>) {
  // expected-error @+1 {{input width 60 is not a multiple of head_dim 8}}
  %r = llama.rope %x, %p {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<4x60xf32>, tensor<4xi32>
  return
}

// -----

func.func @f(%x: tensor<4x64xf32>, %p: tensor<4xi32>) {
  // expected-error @+1 {{theta must be positive}}
  %r = llama.rope %x, %p {head_dim = 8 : i64, theta = -1.0 : f64} : tensor<4x64xf32>, tensor<4xi32>
  return
}

// -----

func.func @f(%x: tensor<4x64xf32>, %p: tensor<3xi32>) {
  // expected-error @+1 {{positions has shape [3], expected [4]}}
  %r = llama.rope %x, %p {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<4x64xf32>, tensor<3xi32>
  return
}

// -----

func.func @f(%q: tensor<4x64xf32>, %k: tensor<4x24xf32>, %c: tensor<3x16x8xf32>, %p: tensor<4xi32>) {
  // expected-error @+1 {{n_kv_heads (3) must divide n_heads (8)}}
  %o:3 = llama.gqa_attention %q, %k, %k cache(%c, %c) positions(%p)
      {n_heads = 8 : i64, n_kv_heads = 3 : i64, head_dim = 8 : i64, causal = true}
      : tensor<4x64xf32>, tensor<4x24xf32>, tensor<3x16x8xf32>, tensor<4xi32>
  return
}

// -----

func.func @f(%q: tensor<4x64xf32>, %k: tensor<4x32xf32>, %c: tensor<4x16x8xf32>, %p: tensor<4xi32>) {
  // expected-error @+1 {{n_heads, n_kv_heads and head_dim must be positive}}
  %o:3 = llama.gqa_attention %q, %k, %k cache(%c, %c) positions(%p)
      {n_heads = 0 : i64, n_kv_heads = 4 : i64, head_dim = 8 : i64, causal = true}
      : tensor<4x64xf32>, tensor<4x32xf32>, tensor<4x16x8xf32>, tensor<4xi32>
  return
}

// -----

func.func @f(%q: tensor<4x48xf32>, %k: tensor<4x32xf32>, %c: tensor<4x16x8xf32>, %p: tensor<4xi32>) {
  // expected-error @+1 {{q has shape [4, 48], expected [4, 64]}}
  %o:3 = llama.gqa_attention %q, %k, %k cache(%c, %c) positions(%p)
      {n_heads = 8 : i64, n_kv_heads = 4 : i64, head_dim = 8 : i64, causal = true}
      : tensor<4x48xf32>, tensor<4x32xf32>, tensor<4x16x8xf32>, tensor<4xi32>
  return
}

// -----

func.func @f(%q: tensor<4x64xf32>, %k: tensor<4x64xf32>, %c: tensor<4x16x8xf32>, %p: tensor<4xi32>) {
  // expected-error @+1 {{k has shape [4, 64], expected [4, 32]}}
  %o:3 = llama.gqa_attention %q, %k, %k cache(%c, %c) positions(%p)
      {n_heads = 8 : i64, n_kv_heads = 4 : i64, head_dim = 8 : i64, causal = true}
      : tensor<4x64xf32>, tensor<4x64xf32>, tensor<4x16x8xf32>, tensor<4xi32>
  return
}

// -----

func.func @f(%q: tensor<4x64xf32>, %k: tensor<4x32xf32>, %c: tensor<8x16x4xf32>, %p: tensor<4xi32>) {
  // expected-error @+1 {{k_cache has shape [8, 16, 4], expected [4, ?, 8]}}
  %o:3 = llama.gqa_attention %q, %k, %k cache(%c, %c) positions(%p)
      {n_heads = 8 : i64, n_kv_heads = 4 : i64, head_dim = 8 : i64, causal = true}
      : tensor<4x64xf32>, tensor<4x32xf32>, tensor<8x16x4xf32>, tensor<4xi32>
  return
}

// -----

func.func @f(%q: tensor<4x64xf32>, %k: tensor<4x32xf32>, %c: tensor<4x16x8xf32>, %p: tensor<1xi32>) {
  // expected-error @+1 {{positions has shape [1], expected [4]}}
  %o:3 = llama.gqa_attention %q, %k, %k cache(%c, %c) positions(%p)
      {n_heads = 8 : i64, n_kv_heads = 4 : i64, head_dim = 8 : i64, causal = true}
      : tensor<4x64xf32>, tensor<4x32xf32>, tensor<4x16x8xf32>, tensor<1xi32>
  return
}

// -----

func.func @f(%q: tensor<4x64xf32>, %k: tensor<4x32xf32>, %c: tensor<4x2x8xf32>, %p: tensor<4xi32>) {
  // expected-error @+1 {{cache length 2 is shorter than the 4 new tokens}}
  %o:3 = llama.gqa_attention %q, %k, %k cache(%c, %c) positions(%p)
      {n_heads = 8 : i64, n_kv_heads = 4 : i64, head_dim = 8 : i64, causal = true}
      : tensor<4x64xf32>, tensor<4x32xf32>, tensor<4x2x8xf32>, tensor<4xi32>
  return
}

// -----

func.func @f(%q: tensor<4x64xf32>, %k: tensor<4x32xf32>, %c: tensor<4x16x8xf16>, %p: tensor<4xi32>) {
  // expected-error @+1 {{cache element type differs from q}}
  %o:3 = llama.gqa_attention %q, %k, %k cache(%c, %c) positions(%p)
      {n_heads = 8 : i64, n_kv_heads = 4 : i64, head_dim = 8 : i64, causal = true}
      : tensor<4x64xf32>, tensor<4x32xf32>, tensor<4x16x8xf16>, tensor<4xi32>
  return
}

// -----

func.func @f(%x: tensor<1x64xf32>, %w: tensor<512x32xf32>) {
  // expected-error @+1 {{weight width 32 does not match hidden size 64}}
  %l = llama.lm_head %x, %w : tensor<1x64xf32>, tensor<512x32xf32> -> tensor<1x512xf32>
  return
}

// -----

func.func @f(%x: tensor<1x64xf32>, %w: tensor<512x64xf32>) {
  // expected-error @+1 {{logits has shape [1, 500], expected [1, 512]}}
  %l = llama.lm_head %x, %w : tensor<1x64xf32>, tensor<512x64xf32> -> tensor<1x500xf32>
  return
}

// -----

func.func @f(%a: tensor<4x64xf32>, %b: tensor<4x64xf16>) {
  // expected-error @+1 {{all of {gate, up, result} have same type}}
  %h = "llama.swiglu"(%a, %b) : (tensor<4x64xf32>, tensor<4x64xf16>) -> tensor<4x64xf32>
  return
}

// -----

func.func @f(%a: tensor<4x64xf32>, %b: tensor<4x32xf32>) {
  // expected-error @+1 {{all of {lhs, rhs, result} have same type}}
  %h = "llama.add"(%a, %b) : (tensor<4x64xf32>, tensor<4x32xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @f(%x: tensor<4x64xf32>, %w: tensor<32x64xf32>) {
  // expected-error @+1 {{result element type must equal the input's}}
  %y = llama.linear %x, %w : tensor<4x64xf32>, tensor<32x64xf32> -> tensor<4x32xf16>
  return
}

// -----

func.func @f(%x: tensor<1x64xf16>, %w: tensor<512x64xf16>) {
  // expected-error @+1 {{logits element type must equal the input's}}
  %l = llama.lm_head %x, %w : tensor<1x64xf16>, tensor<512x64xf16> -> tensor<1x512xf32>
  return
}

// -----

// expected-error @+1 {{'llama.kernel' must be a string}}
func.func @f() attributes {llama.kernel = 1 : i64} {
  return
}

// -----

func.func @f(%x: tensor<4x64xf32>) {
  // expected-error @+1 {{sizes sum to 96, the input has 64 features}}
  %a:2 = llama.split %x {sizes = array<i64: 32, 64>} : tensor<4x64xf32> -> tensor<4x32xf32>, tensor<4x64xf32>
  return
}

// -----

func.func @f(%x: tensor<4x64xf32>) {
  // expected-error @+1 {{has 1 results for 2 sizes}}
  %a = llama.split %x {sizes = array<i64: 32, 32>} : tensor<4x64xf32> -> tensor<4x32xf32>
  return
}

// -----

func.func @f(%x: tensor<4x64xf32>) {
  // expected-error @+1 {{result has shape [4, 16], expected [4, 32]}}
  %a:2 = llama.split %x {sizes = array<i64: 32, 32>} : tensor<4x64xf32> -> tensor<4x16xf32>, tensor<4x32xf32>
  return
}

// -----

func.func @f(%x: tensor<4x64xf32>) {
  // expected-error @+1 {{sizes must be positive}}
  %a:2 = llama.split %x {sizes = array<i64: 64, 0>} : tensor<4x64xf32> -> tensor<4x64xf32>, tensor<4x0xf32>
  return
}

// -----

func.func @f(%x: tensor<4x64xf32>) {
  // expected-error @+1 {{results must have the input's element type}}
  %a:2 = llama.split %x {sizes = array<i64: 32, 32>} : tensor<4x64xf32> -> tensor<4x32xf16>, tensor<4x32xf32>
  return
}

// -----

// expected-error @+1 {{'llama.fold_norm' must be a #llama.role}}
func.func @f(%w: tensor<64x64xf32> {llama.fold_norm = "attn_norm"}) {
  return
}

// -----

// expected-error @+1 {{'llama.fused_from' must be a list of #llama.role}}
func.func @f(%w: tensor<64x64xf32> {llama.fused_from = []}) {
  return
}
