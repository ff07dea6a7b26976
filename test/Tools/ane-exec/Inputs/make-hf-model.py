"""Writes a Hugging Face checkpoint folder from a llama2.c checkpoint.

make-hf-model.py SRC.bin OUT [--dtype f32|f16|bf16] [--shards N]
                 [--untied] [--damage KIND] [--rope-llama3 F,LOW,HIGH,ORIG]
                 [--qwen2 SEED] [--gguf]

config.json (LlamaForCausalLM) and model.safetensors (or N shards and
model.safetensors.index.json), with q and k rows turned into Hugging Face's
rotate-half order, as its converters store them. The weights are read by
python/ane_mlir/reference.py, not by ane-mlir's C++. --damage writes a
broken folder: lying-offsets, short-data, missing-shard, wrong-config,
big-header. --qwen2 makes it a Qwen2ForCausalLM with q, k and v biases
drawn from SEED (and a sliding_window that use_sliding_window=false turns
off); --gguf writes OUT as a GGUF file instead (F32; architecture qwen2 with
--qwen2, whose q/k rows llama.cpp's converter keeps in rotate-half order,
else llama, in adjacent-pair order).
"""

import argparse
import json
import os
import struct

import numpy as np

from ane_mlir import reference


def rotate_half_rows(w, heads):
    """Rows (elements of a bias) of each head from adjacent-pair order
    (2i + j) to rotate-half order (j * half + i)."""
    rows, rest = w.shape[0], w.shape[1:]
    hd = rows // heads
    return w.reshape(heads, hd // 2, 2, *rest).swapaxes(1, 2).reshape(w.shape)


def gguf_tensors(path, cfg, w, qwen2):
    """The model as a GGUF of F32 tensors with llama.cpp's names."""
    tensors = [("token_embd.weight", w["token_embd"]),
               ("output_norm.weight", w["output_norm"])]
    for l, layer in enumerate(w["layers"]):
        for name, t in layer.items():
            kind = "bias" if name.endswith("_bias") else "weight"
            base = name[:-5] if kind == "bias" else name
            if qwen2 and base in ("attn_q", "attn_k"):
                t = rotate_half_rows(
                    t, cfg.n_heads if base == "attn_q" else cfg.n_kv_heads)
            tensors.append((f"blk.{l}.{base}.{kind}", t))
    write_gguf(path, "qwen2" if qwen2 else "llama", cfg, tensors)


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


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def write_gguf(path, arch, cfg, tensors):
    """GGUF v3: header, metadata (strings, uint32, float32), tensor infos
    (dims innermost first), then F32 data at 32-byte alignment."""
    meta = [("general.architecture", 8, arch)]
    for key, value in [("context_length", cfg.max_seq_len),
                       ("embedding_length", cfg.dim),
                       ("block_count", cfg.n_layers),
                       ("feed_forward_length", cfg.hidden_dim),
                       ("attention.head_count", cfg.n_heads),
                       ("attention.head_count_kv", cfg.n_kv_heads)]:
        meta.append((f"{arch}.{key}", 4, value))
    meta += [(f"{arch}.rope.freq_base", 6, 10000.0),
             (f"{arch}.attention.layer_norm_rms_epsilon", 6, 1e-5)]
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta)))
    for key, kind, value in meta:
        out += gguf_string(key) + struct.pack("<I", kind)
        out += (gguf_string(value) if kind == 8 else
                struct.pack("<I" if kind == 4 else "<f", value))
    data, at = [], 0
    for name, array in tensors:
        out += gguf_string(name) + struct.pack("<I", array.ndim)
        out += b"".join(struct.pack("<Q", d) for d in array.shape[::-1])
        out += struct.pack("<IQ", 0, at)
        blob = np.ascontiguousarray(array, dtype="<f4").tobytes()
        blob += b"\0" * (-len(blob) % 32)
        data.append(blob)
        at += len(blob)
    out += b"\0" * (-len(out) % 32)
    with open(path, "wb") as f:
        f.write(bytes(out) + b"".join(data))


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
    p.add_argument("--qwen2", type=int, default=None, metavar="SEED",
                   help="Qwen2ForCausalLM with random q/k/v biases")
    p.add_argument("--gguf", action="store_true")
    a = p.parse_args()
    cfg, w = reference.load_llama2c(a.src)
    if a.qwen2 is not None:
        # Biases as large as the projections' outputs, so leaving one out
        # shows in the logits.
        rng = np.random.default_rng(a.qwen2)
        for layer in w["layers"]:
            for r in ("attn_q", "attn_k", "attn_v"):
                layer[r + "_bias"] = rng.normal(0, 0.5, layer[r].shape[0])
    if a.gguf:
        gguf_tensors(a.out, cfg, w, a.qwen2 is not None)
        return
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
    if a.qwen2 is not None:
        config.update({"architectures": ["Qwen2ForCausalLM"],
                       "use_sliding_window": False, "sliding_window": 64})
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
            for kind in ("weight", "bias"):
                key = ours if kind == "weight" else ours + "_bias"
                if key not in layer:
                    continue
                t = layer[key]
                if ours == "attn_q":
                    t = rotate_half_rows(t, cfg.n_heads)
                if ours == "attn_k":
                    t = rotate_half_rows(t, cfg.n_kv_heads)
                tensors.append((f"model.layers.{l}.{theirs}.{kind}", t))
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
