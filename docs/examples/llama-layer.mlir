// One Llama layer, the token embedding and the classifier head of a model
// shaped like stories260K (dim 64, 8 heads, 4 KV heads, hidden 172, vocab
// 512), for a 4-token prefill chunk over a 256-entry KV cache. Weights are
// role-tagged arguments: the runtime binds layer L's tensors to @layer.
module attributes {llama.config = #llama.config<dim = 64, n_layers = 5, n_heads = 8, n_kv_heads = 4, head_dim = 8, hidden_dim = 172, vocab_size = 512, rope_theta = 10000.0, norm_eps = 1.0e-05, max_seq_len = 512>} {
  func.func @embed(%tokens: tensor<4xi32>,
                   %table: tensor<512x64xf32> {llama.role = #llama.role<token_embd>}) -> tensor<4x64xf32> {
    %h = llama.embedding %tokens, %table : tensor<4xi32>, tensor<512x64xf32> -> tensor<4x64xf32>
    return %h : tensor<4x64xf32>
  }

  func.func @layer(%x: tensor<4x64xf32>, %pos: tensor<4xi32>,
                   %kc: tensor<4x256x8xf32>, %vc: tensor<4x256x8xf32>,
                   %attn_norm: tensor<64xf32> {llama.role = #llama.role<attn_norm>},
                   %wq: tensor<64x64xf32> {llama.role = #llama.role<attn_q>},
                   %wk: tensor<32x64xf32> {llama.role = #llama.role<attn_k>},
                   %wv: tensor<32x64xf32> {llama.role = #llama.role<attn_v>},
                   %wo: tensor<64x64xf32> {llama.role = #llama.role<attn_out>},
                   %ffn_norm: tensor<64xf32> {llama.role = #llama.role<ffn_norm>},
                   %wg: tensor<172x64xf32> {llama.role = #llama.role<ffn_gate>},
                   %wu: tensor<172x64xf32> {llama.role = #llama.role<ffn_up>},
                   %wd: tensor<64x172xf32> {llama.role = #llama.role<ffn_down>})
      -> (tensor<4x64xf32>, tensor<4x256x8xf32>, tensor<4x256x8xf32>) {
    %n = llama.rms_norm %x, %attn_norm {eps = 1.0e-05 : f32} : tensor<4x64xf32>, tensor<64xf32>
    %q = llama.linear %n, %wq : tensor<4x64xf32>, tensor<64x64xf32> -> tensor<4x64xf32>
    %k = llama.linear %n, %wk : tensor<4x64xf32>, tensor<32x64xf32> -> tensor<4x32xf32>
    %v = llama.linear %n, %wv : tensor<4x64xf32>, tensor<32x64xf32> -> tensor<4x32xf32>
    %qr = llama.rope %q, %pos {head_dim = 8 : i64, theta = 10000.0 : f64} : tensor<4x64xf32>, tensor<4xi32>
    %kr = llama.rope %k, %pos {head_dim = 8 : i64, theta = 10000.0 : f64} : tensor<4x32xf32>, tensor<4xi32>
    %a, %kc2, %vc2 = llama.gqa_attention %qr, %kr, %v cache(%kc, %vc) positions(%pos)
        {n_heads = 8 : i64, n_kv_heads = 4 : i64, head_dim = 8 : i64, causal = true}
        : tensor<4x64xf32>, tensor<4x32xf32>, tensor<4x256x8xf32>, tensor<4xi32>
    %o = llama.linear %a, %wo : tensor<4x64xf32>, tensor<64x64xf32> -> tensor<4x64xf32>
    %h = llama.add %x, %o : tensor<4x64xf32>
    %n2 = llama.rms_norm %h, %ffn_norm {eps = 1.0e-05 : f32} : tensor<4x64xf32>, tensor<64xf32>
    %g = llama.linear %n2, %wg : tensor<4x64xf32>, tensor<172x64xf32> -> tensor<4x172xf32>
    %u = llama.linear %n2, %wu : tensor<4x64xf32>, tensor<172x64xf32> -> tensor<4x172xf32>
    %s = llama.swiglu %g, %u : tensor<4x172xf32>
    %d = llama.linear %s, %wd : tensor<4x172xf32>, tensor<64x172xf32> -> tensor<4x64xf32>
    %out = llama.add %h, %d : tensor<4x64xf32>
    return %out, %kc2, %vc2 : tensor<4x64xf32>, tensor<4x256x8xf32>, tensor<4x256x8xf32>
  }

  func.func @head(%x: tensor<1x64xf32>,
                  %norm: tensor<64xf32> {llama.role = #llama.role<output_norm>},
                  %w: tensor<512x64xf32> {llama.role = #llama.role<output>}) -> tensor<1x512xf32> {
    %n = llama.rms_norm %x, %norm {eps = 1.0e-05 : f32} : tensor<1x64xf32>, tensor<64xf32>
    %logits = llama.lm_head %n, %w : tensor<1x64xf32>, tensor<512x64xf32> -> tensor<1x512xf32>
    return %logits : tensor<1x512xf32>
  }
}
