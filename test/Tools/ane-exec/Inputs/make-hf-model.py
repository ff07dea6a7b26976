"""Writes a Hugging Face checkpoint folder from a llama2.c checkpoint.

make-hf-model.py SRC.bin OUT_DIR [--dtype f32|f16|bf16] [--shards N]
                 [--untied] [--damage KIND] [--rope-llama3 F,LOW,HIGH,ORIG]

config.json (LlamaForCausalLM) and model.safetensors (or N shards and
model.safetensors.index.json), with q and k rows turned into Hugging Face's
rotate-half order, as its converters store them. The weights are read by
python/ane_mlir/reference.py, not by ane-mlir's C++. --damage writes a
broken folder: lying-offsets, short-data, missing-shard, wrong-config,
big-header.
"""

import argparse
import json
import os
import struct

import numpy as np

from ane_mlir import reference


def rotate_half_rows(w, heads):
    """Rows of each head from adjacent-pair order (2i + j) to rotate-half
    order (j * half + i)."""
    rows, cols = w.shape
    hd = rows // heads
    return w.reshape(heads, hd // 2, 2, cols).swapaxes(1, 2).reshape(rows, cols)


def encode(array, dtype):
    a = np.ascontiguousarray(array, dtype=np.float32)
    if dtype == "f32":
        return "F32", a.tobytes()
    if dtype == "f16":
        return "F16", a.astype("<f2").tobytes()
    bits = a.view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16  # round to nearest even
    return "BF16", bits.astype("<u2").tobytes()


def write_safetensors(path, tensors, dtype, damage=None):
    header, blobs, at = {}, [], 0
    for name, array in tensors:
        kind, data = encode(array, dtype)
        header[name] = {"dtype": kind, "shape": list(array.shape),
                        "data_offsets": [at, at + len(data)]}
        blobs.append(data)
        at += len(data)
    if damage == "lying-offsets":
        first = next(iter(header))
        header[first]["data_offsets"][1] = at + 4096
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    length = len(text) if damage != "big-header" else 1 << 40
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", length) + text)
        data = b"".join(blobs)
        f.write(data[:len(data) // 2] if damage == "short-data" else data)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--dtype", default="f32", choices=["f32", "f16", "bf16"])
    p.add_argument("--shards", type=int, default=1)
    p.add_argument("--untied", action="store_true")
    p.add_argument("--damage", default=None)
    p.add_argument("--rope-llama3", default=None,
                   help="FACTOR,LOW,HIGH,ORIGINAL: Llama 3.1 rope scaling")
    a = p.parse_args()
    cfg, w = reference.load_llama2c(a.src)
    os.makedirs(a.out, exist_ok=True)
    config = {
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": cfg.dim, "intermediate_size": cfg.hidden_dim,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.n_kv_heads,
        "vocab_size": cfg.vocab_size,
        "max_position_embeddings": cfg.max_seq_len,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "tie_word_embeddings": not a.untied,
    }
    if a.rope_llama3:
        factor, low, high, original = a.rope_llama3.split(",")
        config["rope_scaling"] = {
            "rope_type": "llama3", "factor": float(factor),
            "low_freq_factor": float(low), "high_freq_factor": float(high),
            "original_max_position_embeddings": int(original)}
    if a.damage == "wrong-config":
        config["intermediate_size"] += 1
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    tensors = [("model.embed_tokens.weight", w["token_embd"]),
               ("model.norm.weight", w["output_norm"])]
    if a.untied:
        tensors.append(("lm_head.weight", w["output"]))
    names = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj",
             "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
             "attn_output": "self_attn.o_proj",
             "ffn_norm": "post_attention_layernorm",
             "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
             "ffn_down": "mlp.down_proj"}
    for l, layer in enumerate(w["layers"]):
        for ours, theirs in names.items():
            t = layer[ours]
            if ours == "attn_q":
                t = rotate_half_rows(t, cfg.n_heads)
            if ours == "attn_k":
                t = rotate_half_rows(t, cfg.n_kv_heads)
            tensors.append((f"model.layers.{l}.{theirs}.weight", t))
    if a.shards == 1:
        write_safetensors(os.path.join(a.out, "model.safetensors"), tensors,
                          a.dtype, a.damage)
        return
    weight_map = {}
    per = (len(tensors) + a.shards - 1) // a.shards
    for s in range(a.shards):
        shard = f"model-{s + 1:05d}-of-{a.shards:05d}.safetensors"
        part = tensors[s * per:(s + 1) * per]
        for name, _ in part:
            weight_map[name] = shard
        if a.damage == "missing-shard" and s == a.shards - 1:
            continue
        write_safetensors(os.path.join(a.out, shard), part, a.dtype, a.damage)
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=1)


if __name__ == "__main__":
    main()
