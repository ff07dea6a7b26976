"""A Llama forward pass in plain NumPy: the independent oracle.

Written from the model's definition (RMSNorm, rotary embeddings,
grouped-query attention, SwiGLU, Qwen2's q/k/v biases), not from ane-mlir's
C++: it reads the weights itself, from llama2.c checkpoints, GGUF files
holding F32/F16 tensors and Hugging Face folders (config.json and
safetensors), and tokenizes with llama2.c's tokenizer.bin by itself.
Everything is computed in float64.

    cfg, w = load_llama2c("stories260K.bin")
    ref = Reference(cfg, w)
    logits = ref.logits([1, 403, 407])          # [3, vocab]
    tok = Llama2cTokenizer("tok512.bin")
    text = ref.generate_greedy(tok, "Once upon a time", steps=200)

llama2.c's export and GGUF's llama architecture keep q and k rows in the
order where rotary embeddings turn adjacent pairs (x[2i], x[2i+1]);
Hugging Face folders and GGUF's qwen2 keep them in rotate-half order, where
the pairs are (x[i], x[i + head_dim/2]). Each is rotated in its own order
here, never permuted.
"""

import dataclasses
import json
import mmap
import os
import struct

import numpy as np


@dataclasses.dataclass
class Config:
    dim: int
    hidden_dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int
    max_seq_len: int
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    # Per-frequency divisors (Llama 3.1's rope scaling); None: none.
    rope_factors: object = None
    # Which elements RoPE pairs: "adjacent" (2i, 2i+1) or "halves"
    # (i, i + head_dim/2).
    rope_pairs: str = "adjacent"

    @property
    def head_dim(self):
        return self.dim // self.n_heads


class FormatError(ValueError):
    """A file this module cannot read; the message names file and offset."""


# -- llama2.c ---------------------------------------------------------------


def load_llama2c(path):
    """(Config, weights) of a llama2.c checkpoint (version 0: a header of
    seven int32, then float32 tensors; a negative vocab_size means the
    classifier follows instead of sharing the embedding)."""
    data = np.fromfile(path, dtype=np.uint8)
    if data.size < 28:
        raise FormatError(f"{path}: {data.size} bytes, shorter than the header")
    dim, hidden, layers, heads, kv_heads, vocab, seq = struct.unpack(
        "<7i", data[:28].tobytes())
    shared = vocab > 0
    vocab = abs(vocab)
    cfg = Config(dim, hidden, layers, heads, kv_heads, vocab, seq)
    floats = data[28:28 + (data.size - 28) // 4 * 4].view("<f4")
    head = dim // heads
    kv = kv_heads * head
    shapes = [
        ("tok_embeddings", (vocab, dim)),
        ("rms_att", (layers, dim)),
        ("wq", (layers, dim, dim)),
        ("wk", (layers, kv, dim)),
        ("wv", (layers, kv, dim)),
        ("wo", (layers, dim, dim)),
        ("rms_ffn", (layers, dim)),
        ("w1", (layers, hidden, dim)),
        ("w2", (layers, dim, hidden)),
        ("w3", (layers, hidden, dim)),
        ("rms_final", (dim,)),
        ("freq_cis", (2, seq, head // 2)),  # not used: recomputed
    ]
    if not shared:
        shapes.append(("wcls", (vocab, dim)))
    raw, at = {}, 0
    for name, shape in shapes:
        n = int(np.prod(shape))
        if at + n > floats.size:
            raise FormatError(f"{path}: {name} at offset {28 + 4 * at} runs "
                              f"past the end of the file")
        raw[name] = floats[at:at + n].reshape(shape).astype(np.float64)
        at += n
    w = {"token_embd": raw["tok_embeddings"], "output_norm": raw["rms_final"],
         "output": raw["tok_embeddings"] if shared else raw["wcls"]}
    names = {"attn_norm": "rms_att", "attn_q": "wq", "attn_k": "wk",
             "attn_v": "wv", "attn_output": "wo", "ffn_norm": "rms_ffn",
             "ffn_gate": "w1", "ffn_down": "w2", "ffn_up": "w3"}
    w["layers"] = [{ours: raw[theirs][l] for ours, theirs in names.items()}
                   for l in range(layers)]
    return cfg, w


class Llama2cTokenizer:
    """llama2.c's tokenizer.bin: an int32 max token length, then per
    token a float32 score, an int32 length and the bytes."""

    def __init__(self, path):
        data = open(path, "rb").read()
        at, self.pieces, self.scores = 4, [], []
        while at < len(data):
            if at + 8 > len(data):
                raise FormatError(f"{path}: a token entry at offset {at} is cut")
            score, n = struct.unpack_from("<fi", data, at)
            if n < 0 or at + 8 + n > len(data):
                raise FormatError(f"{path}: token length {n} at offset {at}")
            self.pieces.append(data[at + 8:at + 8 + n])
            self.scores.append(score)
            at += 8 + n
        self.ids = {p: i for i, p in enumerate(self.pieces)}
        self.bos, self.eos = 1, 2

    def encode(self, text, bos=True):
        """llama2.c's encode: a leading space, one token per UTF-8
        character (<0xNN> byte tokens, id byte + 3, for characters not in
        the vocabulary), then the best-scoring merge until none is left."""
        ids = [self.bos] if bos else []
        if text:
            ids.append(self.ids[b" "])
        for ch in text:
            b = ch.encode()
            if b in self.ids:
                ids.append(self.ids[b])
            else:
                ids.extend(x + 3 for x in b)
        while True:
            best, best_at = None, -1
            for i in range(1 if bos else 0, len(ids) - 1):
                merged = self.pieces[ids[i]] + self.pieces[ids[i + 1]]
                j = self.ids.get(merged)
                if j is not None and (best is None or
                                      self.scores[j] > self.scores[best]):
                    best, best_at = j, i
            if best is None:
                return ids
            ids[best_at:best_at + 2] = [best]

    def piece(self, prev, token):
        """The bytes llama2.c prints for `token` after `prev`."""
        p = self.pieces[token]
        if prev == self.bos and p.startswith(b" "):
            p = p[1:]
        if len(p) == 6 and p.startswith(b"<0x") and p.endswith(b">"):
            p = bytes([int(p[3:5], 16)])
        return p


# -- GGUF ---------------------------------------------------------------------

_GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i",
                 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_GGUF_F32, _GGUF_F16 = 0, 1


class _Reader:
    def __init__(self, path, data):
        self.path, self.data, self.at = path, data, 0

    def take(self, fmt):
        size = struct.calcsize(fmt)
        if self.at + size > len(self.data):
            raise FormatError(f"{self.path}: offset {self.at}: the file ends "
                              f"inside a {size}-byte field")
        value = struct.unpack_from(fmt, self.data, self.at)
        self.at += size
        return value[0] if len(value) == 1 else value

    def string(self):
        start = self.at
        n = self.take("<Q")
        if n > len(self.data) - self.at:
            raise FormatError(f"{self.path}: offset {start}: a string of "
                              f"{n} bytes runs past the end")
        s = bytes(self.data[self.at:self.at + n])
        self.at += n
        return s.decode("utf-8", errors="replace")

    def value(self, kind):
        if kind in _GGUF_SCALARS:
            return self.take(_GGUF_SCALARS[kind])
        if kind == 8:
            return self.string()
        if kind == 9:
            start = self.at
            item, n = self.take("<I"), self.take("<Q")
            if n > len(self.data) - self.at:
                raise FormatError(f"{self.path}: offset {start}: an array "
                                  f"of {n} items runs past the end")
            return [self.value(item) for _ in range(n)]
        raise FormatError(f"{self.path}: offset {self.at}: value type {kind}")


def read_gguf(path):
    """(metadata, tensors) of a GGUF file, F32/F16 tensors as float64
    arrays in NumPy's row-major order (GGUF's dims reversed)."""
    with open(path, "rb") as f:
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    r = _Reader(path, data)
    if r.take("<4s") != b"GGUF":
        raise FormatError(f"{path}: offset 0: not a GGUF file")
    version = r.take("<I")
    if version not in (2, 3):
        raise FormatError(f"{path}: offset 4: GGUF version {version}")
    n_tensors, n_kv = r.take("<Q"), r.take("<Q")
    meta = {}
    for _ in range(n_kv):
        key = r.string()
        meta[key] = r.value(r.take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        dims = [r.take("<Q") for _ in range(r.take("<I"))]
        kind, offset = r.take("<I"), r.take("<Q")
        infos.append((name, dims, kind, offset))
    align = int(meta.get("general.alignment", 32))
    base = (r.at + align - 1) // align * align
    tensors = {}
    for name, dims, kind, offset in infos:
        if kind not in (_GGUF_F32, _GGUF_F16):
            raise FormatError(f"{path}: tensor {name} has GGML type {kind}; "
                              "the reference reads F32 and F16 only")
        dtype = np.dtype("<f4") if kind == _GGUF_F32 else np.dtype("<f2")
        count = int(np.prod(dims))
        start = base + offset
        if start + count * dtype.itemsize > len(data):
            raise FormatError(f"{path}: tensor {name} at offset {start} runs "
                              "past the end of the file")
        array = np.frombuffer(data, dtype=dtype, count=count, offset=start)
        tensors[name] = array.reshape(dims[::-1]).astype(np.float64)
    return meta, tensors


def load_gguf(path):
    """(Config, weights) of a llama GGUF with F32/F16 tensors."""
    meta, t = read_gguf(path)
    arch = meta.get("general.architecture", "llama")

    def key(name, default=None):
        value = meta.get(f"{arch}.{name}", default)
        if value is None:
            raise FormatError(f"{path}: no {arch}.{name}")
        return value

    heads = int(key("attention.head_count"))
    cfg = Config(
        dim=int(key("embedding_length")),
        hidden_dim=int(key("feed_forward_length")),
        n_layers=int(key("block_count")),
        n_heads=heads,
        n_kv_heads=int(key("attention.head_count_kv", heads)),
        vocab_size=t["token_embd.weight"].shape[0],
        max_seq_len=int(key("context_length")),
        rope_theta=float(key("rope.freq_base", 10000.0)),
        norm_eps=float(key("attention.layer_norm_rms_epsilon", 1e-5)),
        rope_factors=t.get("rope_freqs.weight"),
        # llama.cpp's qwen2 is a NEOX-RoPE architecture.
        rope_pairs="halves" if arch == "qwen2" else "adjacent")
    w = {"token_embd": t["token_embd.weight"],
         "output_norm": t["output_norm.weight"],
         "output": t.get("output.weight", t["token_embd.weight"])}
    roles = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
             "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]
    w["layers"] = []
    for l in range(cfg.n_layers):
        try:
            layer = {r: t[f"blk.{l}.{r}.weight"] for r in roles}
        except KeyError as e:
            raise FormatError(f"{path}: no tensor {e.args[0]}") from None
        for r in ("attn_q", "attn_k", "attn_v"):
            if f"blk.{l}.{r}.bias" in t:
                layer[r + "_bias"] = t[f"blk.{l}.{r}.bias"]
        w["layers"].append(layer)
    return cfg, w


# -- Hugging Face folders -----------------------------------------------------


def read_safetensors(path):
    """{name: float64 array} of a safetensors file (F32, F16, BF16)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise FormatError(f"{path}: shorter than its header length")
    (n,) = struct.unpack_from("<Q", data)
    if n > len(data) - 8:
        raise FormatError(f"{path}: offset 0: a header of {n} bytes")
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        begin, end = (8 + n + o for o in t["data_offsets"])
        raw = np.frombuffer(data[begin:end], dtype="<u2" if t["dtype"] in
                            ("F16", "BF16") else "<f4")
        if t["dtype"] == "F16":
            raw = raw.view("<f2")
        elif t["dtype"] == "BF16":
            raw = (raw.astype(np.uint32) << 16).view("<f4")
        elif t["dtype"] != "F32":
            raise FormatError(f"{path}: tensor {name}: dtype {t['dtype']}")
        out[name] = raw.reshape(t["shape"]).astype(np.float64)
    return out


def load_hf(folder):
    """(Config, weights) of a Hugging Face folder: LlamaForCausalLM or
    Qwen2ForCausalLM, model.safetensors or shards, q/k rows as stored
    (rotate-half order)."""
    with open(os.path.join(folder, "config.json")) as f:
        c = json.load(f)
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    t = {}
    for name in files:
        t.update(read_safetensors(os.path.join(folder, name)))
    heads = c["num_attention_heads"]
    cfg = Config(
        dim=c["hidden_size"], hidden_dim=c["intermediate_size"],
        n_layers=c["num_hidden_layers"], n_heads=heads,
        n_kv_heads=c.get("num_key_value_heads", heads),
        vocab_size=c["vocab_size"],
        max_seq_len=c.get("max_position_embeddings", 2048),
        rope_theta=c.get("rope_theta", 10000.0),
        norm_eps=c.get("rms_norm_eps", 1e-6), rope_pairs="halves")
    scaling = c.get("rope_scaling")
    if scaling:
        cfg.rope_factors = llama3_rope_factors(
            cfg.rope_theta, cfg.head_dim, scaling["factor"],
            scaling["low_freq_factor"], scaling["high_freq_factor"],
            scaling["original_max_position_embeddings"])
    embed = t["model.embed_tokens.weight"]
    w = {"token_embd": embed, "output_norm": t["model.norm.weight"],
         "output": t.get("lm_head.weight", embed)}
    names = {"attn_norm": "input_layernorm.weight",
             "attn_q": "self_attn.q_proj.weight",
             "attn_k": "self_attn.k_proj.weight",
             "attn_v": "self_attn.v_proj.weight",
             "attn_output": "self_attn.o_proj.weight",
             "ffn_norm": "post_attention_layernorm.weight",
             "ffn_gate": "mlp.gate_proj.weight",
             "ffn_up": "mlp.up_proj.weight",
             "ffn_down": "mlp.down_proj.weight",
             "attn_q_bias": "self_attn.q_proj.bias",
             "attn_k_bias": "self_attn.k_proj.bias",
             "attn_v_bias": "self_attn.v_proj.bias"}
    w["layers"] = [{ours: t[f"model.layers.{l}.{theirs}"]
                    for ours, theirs in names.items()
                    if f"model.layers.{l}.{theirs}" in t}
                   for l in range(cfg.n_layers)]
    return cfg, w


def load(path):
    """load_hf for a folder, else load_gguf or load_llama2c by the file's
    first bytes."""
    if os.path.isdir(path):
        return load_hf(path)
    with open(path, "rb") as f:
        magic = f.read(4)
    return load_gguf(path) if magic == b"GGUF" else load_llama2c(path)


# -- the forward pass ---------------------------------------------------------


def rms_norm(x, weight, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def llama3_rope_factors(theta, head_dim, factor, low_freq_factor,
                        high_freq_factor, original_context):
    """Llama 3.1's rope scaling (Hugging Face's "llama3" rope_type) as the
    divisor of each frequency: long wavelengths are slowed by `factor`,
    short ones kept, the band between interpolated."""
    inv_freq = theta ** (-np.arange(0, head_dim, 2) / head_dim)
    wavelen = 2 * np.pi / inv_freq
    low_wavelen = original_context / low_freq_factor
    high_wavelen = original_context / high_freq_factor
    smooth = (original_context / wavelen - low_freq_factor) / (
        high_freq_factor - low_freq_factor)
    scaled = np.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    between = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
    blended = (1 - smooth) * inv_freq / factor + smooth * inv_freq
    scaled = np.where(between, blended, scaled)
    return inv_freq / scaled


def rotate(x, positions, theta, factors=None, pairs="adjacent"):
    """Rotary embedding of x [n, heads, head_dim] at `positions`: pair i,
    (2i, 2i+1) or with pairs="halves" (i, i + head_dim/2), turns by
    position * theta^(-2i/head_dim) (divided by its factor when scaled)."""
    head_dim = x.shape[-1]
    freq = theta ** (-np.arange(0, head_dim, 2) / head_dim)
    if factors is not None:
        freq = freq / np.asarray(factors, dtype=np.float64)
    angle = np.asarray(positions)[:, None] * freq[None, :]  # [n, head_dim/2]
    cos, sin = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
    first, second = ((x[..., 0::2], x[..., 1::2]) if pairs == "adjacent"
                     else (x[..., :head_dim // 2], x[..., head_dim // 2:]))
    turned = (first * cos - second * sin, first * sin + second * cos)
    if pairs == "adjacent":
        out = np.empty_like(x)
        out[..., 0::2], out[..., 1::2] = turned
        return out
    return np.concatenate(turned, axis=-1)


def silu(x):
    return x / (1.0 + np.exp(-x))


class Reference:
    """The model with a key/value cache: forward(ids) continues the
    sequence and returns the logits of each new position."""

    def __init__(self, config, weights):
        self.cfg, self.w = config, weights
        self.reset()

    def reset(self):
        c = self.cfg
        kv = c.n_kv_heads * c.head_dim
        self.keys = [np.zeros((0, kv)) for _ in range(c.n_layers)]
        self.values = [np.zeros((0, kv)) for _ in range(c.n_layers)]

    @property
    def position(self):
        return self.keys[0].shape[0]

    def _attention(self, l, x, positions):
        c, w = self.cfg, self.w["layers"][l]
        n, hd = x.shape[0], c.head_dim
        q, k, v = (x @ w[r].T + w.get(r + "_bias", 0.0)
                   for r in ("attn_q", "attn_k", "attn_v"))
        q = rotate(q.reshape(n, c.n_heads, hd), positions, c.rope_theta,
                   c.rope_factors, c.rope_pairs)
        k = rotate(k.reshape(n, c.n_kv_heads, hd), positions, c.rope_theta,
                   c.rope_factors, c.rope_pairs).reshape(n, -1)
        self.keys[l] = np.concatenate([self.keys[l], k])
        self.values[l] = np.concatenate([self.values[l], v])
        total = self.keys[l].shape[0]
        keys = self.keys[l].reshape(total, c.n_kv_heads, hd)
        values = self.values[l].reshape(total, c.n_kv_heads, hd)
        group = c.n_heads // c.n_kv_heads
        # Query i sees keys 0..positions[i].
        visible = np.arange(total)[None, :] <= np.asarray(positions)[:, None]
        out = np.empty((n, c.n_heads, hd))
        for h in range(c.n_heads):
            kh, vh = keys[:, h // group, :], values[:, h // group, :]
            scores = q[:, h, :] @ kh.T / np.sqrt(hd)
            scores = np.where(visible, scores, -np.inf)
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            out[:, h, :] = (scores / scores.sum(axis=1, keepdims=True)) @ vh
        return out.reshape(n, -1) @ w["attn_output"].T

    def forward(self, ids):
        c = self.cfg
        start = self.position
        if start + len(ids) > c.max_seq_len:
            raise ValueError(f"{start} + {len(ids)} positions exceed the "
                             f"context of {c.max_seq_len}")
        positions = list(range(start, start + len(ids)))
        x = self.w["token_embd"][np.asarray(ids)]
        for l, w in enumerate(self.w["layers"]):
            x = x + self._attention(l, rms_norm(x, w["attn_norm"], c.norm_eps),
                                    positions)
            h = rms_norm(x, w["ffn_norm"], c.norm_eps)
            x = x + (silu(h @ w["ffn_gate"].T) * (h @ w["ffn_up"].T)) @ \
                w["ffn_down"].T
        return rms_norm(x, self.w["output_norm"], c.norm_eps) @ \
            self.w["output"].T

    def logits(self, ids):
        """The logits of every position of `ids` in a fresh sequence."""
        self.reset()
        return self.forward(ids)

    def generate_greedy(self, tokenizer, prompt, steps):
        """llama2.c's `run -t 0 -n steps -i prompt`: positions up to
        `steps`, the prompt's forced, the rest the likeliest token, stopping
        at BOS; returns what it prints (its print rule, final newline)."""
        ids = tokenizer.encode(prompt, bos=True)
        self.reset()
        logits = self.forward(ids)[-1]
        out, prev = [], ids[0]
        for token in ids[1:]:
            out.append(tokenizer.piece(prev, token))
            prev = token
        while len(ids) < steps + 1:
            token = int(np.argmax(logits))
            if token == tokenizer.bos:
                break
            out.append(tokenizer.piece(prev, token))
            ids.append(token)
            prev = token
            if len(ids) == steps + 1:
                break
            logits = self.forward([token])[-1]
        printable = [p for p in out if len(p) != 1 or chr(p[0]).isprintable()
                     or chr(p[0]).isspace()]
        return b"".join(printable).decode("utf-8", errors="replace") + "\n"
