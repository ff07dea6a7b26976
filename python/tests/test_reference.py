"""The NumPy reference on its own: llama2.c's golden story, its tokenizer
against llama2.c's ids, and GGUF and llama2.c files of the same weights
agreeing."""

import os
import struct

import numpy as np
import pytest

from ane_mlir import reference


def test_greedy_story_equals_llama2c_golden(models, golden):
    cfg, w = reference.load(os.path.join(models, "stories260K.bin"))
    tok = reference.Llama2cTokenizer(os.path.join(models, "tok512.bin"))
    text = reference.Reference(cfg, w).generate_greedy(
        tok, "Once upon a time", steps=200)
    assert text == golden


def test_tokenizer_matches_llama2c(shared, models):
    tok = reference.Llama2cTokenizer(os.path.join(models, "tok512.bin"))
    with open(os.path.join(shared, "golden", "tokenize_tok512.tsv"),
              encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    assert len(rows) >= 3
    for text, ids in rows:
        assert tok.encode(text) == [int(i) for i in ids.split()], text


def test_gguf_f32_and_llama2c_hold_the_same_model(models):
    cfg_bin, w_bin = reference.load(os.path.join(models, "stories260K.bin"))
    cfg_gguf, w_gguf = reference.load(
        os.path.join(models, "stories260K-f32.gguf"))
    assert (cfg_gguf.dim, cfg_gguf.n_layers, cfg_gguf.n_heads,
            cfg_gguf.n_kv_heads, cfg_gguf.vocab_size) == (64, 5, 8, 4, 512)
    ids = [1, 403, 407, 261, 378]
    a = reference.Reference(cfg_bin, w_bin).logits(ids)
    b = reference.Reference(cfg_gguf, w_gguf).logits(ids)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)


def test_gguf_f16_reads_as_its_f32_original(models):
    _, w32 = reference.load(os.path.join(models, "stories260K-f32.gguf"))
    _, w16 = reference.load(os.path.join(models, "stories260K-f16.gguf"))
    q32, q16 = w32["layers"][0]["attn_q"], w16["layers"][0]["attn_q"]
    np.testing.assert_allclose(q16, q32.astype(np.float16), rtol=0, atol=0)


def test_incremental_forward_equals_one_pass(models):
    cfg, w = reference.load(os.path.join(models, "tiny-random-gqa-f16.gguf"))
    assert (cfg.n_heads, cfg.n_kv_heads) == (8, 4)  # grouped-query
    ref = reference.Reference(cfg, w)
    ids = [1, 450, 4996, 17354, 1701, 29916]
    whole = ref.logits(ids)
    ref.reset()
    parts = np.concatenate([ref.forward(ids[:4]), ref.forward(ids[4:5]),
                            ref.forward(ids[5:])])
    np.testing.assert_allclose(parts, whole, rtol=0, atol=1e-10)


def test_quantized_gguf_is_refused_by_name(models):
    with pytest.raises(reference.FormatError, match="blk.0.attn_q.weight|type"):
        reference.load(os.path.join(models, "tiny-random-gqa-q4_0.gguf"))


def test_damaged_files_are_refused_with_the_offset(tmp_path, models):
    with open(os.path.join(models, "stories260K-f32.gguf"), "rb") as f:
        data = f.read()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[:1000])
    with pytest.raises(reference.FormatError, match="cut.gguf.*offset"):
        reference.load(str(cut))
    lying = tmp_path / "lying.gguf"
    # The first key's length says it runs far past the end.
    lying.write_bytes(data[:24] + struct.pack("<Q", 1 << 40) + data[32:])
    with pytest.raises(reference.FormatError, match="lying.gguf.*offset 24"):
        reference.load(str(lying))
    short = tmp_path / "short.bin"
    with open(os.path.join(models, "stories260K.bin"), "rb") as f:
        short.write_bytes(f.read(5000))
    with pytest.raises(reference.FormatError, match="short.bin.*past the end"):
        reference.load(str(short))
