"""ane_mlir.Model (libane through ctypes) against the golden outputs and
the NumPy reference."""

import os
import subprocess
import sys

import numpy as np
import pytest

from ane_mlir import AneError, Model, reference


@pytest.fixture(scope="module")
def stories(models):
    with Model(os.path.join(models, "stories260K.bin"),
               tokenizer=os.path.join(models, "tok512.bin")) as m:
        yield m


def test_config(stories):
    c = stories.config
    assert (c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim,
            c.vocab_size, c.max_seq_len) == (64, 5, 8, 4, 8, 512, 512)
    assert c.context == 512 and (c.bos, c.eos) == (1, 2)
    assert (c.dtype, c.backend) == ("fp16", "cpu")


def test_tokenize_matches_llama2c(stories, shared):
    with open(os.path.join(shared, "golden", "tokenize_tok512.tsv"),
              encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    for text, ids in rows:
        assert stories.tokenize(text) == [int(i) for i in ids.split()], text
    assert stories.tokenize("Once", bos=False) == stories.tokenize("Once")[1:]


@pytest.mark.parametrize("text", ["Once upon a time", "Hello, world! 123",
                                  "ünïcödé 🙂 \t\n end", ""])
def test_detokenize_round_trips(stories, text):
    assert stories.detokenize(stories.tokenize(text)) == text


def test_detokenize_keeps_bytes_that_are_not_utf8(stories):
    # <0xFF> and <0xC3> (ids 258, 198): byte tokens, not UTF-8 on their own.
    assert stories.detokenize_bytes([258, 198]) == b"\xff\xc3"
    assert stories.detokenize([258]) == "\ufffd"


def test_generate_equals_llama2c_golden(stories, golden):
    text = stories.generate("Once upon a time", max_tokens=196)
    assert "Once upon a time" + text + "\n" == golden
    g = stories.last_generation
    assert (g.prompt_tokens, g.new_tokens, g.stop_reason) == (5, 196,
                                                              "max_tokens")
    assert stories.position == 201


def test_stream_yields_what_generate_returns(stories):
    whole = stories.generate("The dog", max_tokens=40, temperature=0.8,
                             seed=7)
    pieces = list(stories.stream("The dog", max_tokens=40, temperature=0.8,
                                 seed=7))
    assert len(pieces) > 10 and "".join(pieces) == whole
    other = stories.generate("The dog", max_tokens=40, temperature=0.8,
                             seed=8)
    assert other != whole  # the seed matters


def test_closing_a_stream_stops_generation(stories):
    stream = stories.stream("Once upon a time", max_tokens=150)
    first = [next(stream) for _ in range(3)]
    stream.close()
    assert len(first) == 3
    g = stories.last_generation
    assert g.stop_reason == "stopped" and g.new_tokens < 10


def test_continuing_the_sequence(stories):
    whole = stories.generate("Once upon a time", max_tokens=12)
    head = stories.generate("Once upon a time", max_tokens=5)
    tail = stories.generate("", max_tokens=7, fresh=False)
    assert head + tail == whole


def test_eval_truncate_and_position(stories):
    ids = stories.tokenize("One day, a cat")
    all_rows = stories.logits(ids)
    assert all_rows.shape == (len(ids), 512) and all_rows.dtype == np.float32
    assert stories.position == len(ids)
    stories.truncate(2)
    again = stories.eval(ids[2:], all_positions=True)
    np.testing.assert_array_equal(again, all_rows[2:])
    stories.reset()
    last = stories.eval(ids)
    assert last.shape == (512,) and int(last.argmax()) == int(
        all_rows[-1].argmax())


def _assert_fp32_close(ours, ref):
    # fp32 arithmetic in a different order: within 1e-5 of the logits' scale.
    scale = np.abs(ref).max()
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5 * scale)
    assert (ours.argmax(axis=1) == ref.argmax(axis=1)).all()


@pytest.mark.parametrize("name,tokenizer", [
    ("stories260K.bin", "tok512.bin"),
    ("tiny-random-gqa-f16.gguf", None),
])
def test_logits_match_the_numpy_reference(models, name, tokenizer):
    path = os.path.join(models, name)
    tok = os.path.join(models, tokenizer) if tokenizer else None
    cfg, w = reference.load(path)
    ref = reference.Reference(cfg, w)
    with Model(path, tokenizer=tok, dtype="fp32") as m:
        ids = m.tokenize("Once upon a time, in a small town by the sea")
        assert len(ids) > 8
        _assert_fp32_close(m.logits(ids), ref.logits(ids))


def test_errors_carry_the_library_message(models, tmp_path):
    with pytest.raises(AneError, match="no-such.gguf") as e:
        Model(os.path.join(models, "no-such.gguf"))
    assert e.value.status == "load failed"
    with pytest.raises(AneError, match="quant") as e:
        Model(os.path.join(models, "stories260K-f32.gguf"), quant="q5")
    assert e.value.status == "invalid argument"
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 40)
    with pytest.raises(AneError, match="bad.gguf"):
        Model(str(bad))


def test_model_errors_and_closing(models):
    m = Model(os.path.join(models, "stories260K-f32.gguf"))
    with pytest.raises(AneError, match="outside the vocabulary"):
        m.eval([5, 512])
    with pytest.raises(AneError, match="context") as e:
        m.eval([5] * (m.config.context + 1))
    assert e.value.status == "context full"
    memory = m.memory()
    assert memory["weight_bytes"] > 0 and memory["peak_resident_bytes"] > 0
    m.close()
    m.close()
    with pytest.raises(AneError, match="closed"):
        m.tokenize("x")


def test_module_runs_like_ane_exec_run(models, golden):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    out = subprocess.run(
        [sys.executable, "-m", "ane_mlir", "Once upon a time", "-n", "196",
         "-m", os.path.join(models, "stories260K.bin"),
         "-z", os.path.join(models, "tok512.bin")],
        capture_output=True, text=True, env=env, check=True)
    assert out.stdout == golden
    assert "tok/s" in out.stderr and "peak RSS" in out.stderr
    bad = subprocess.run([sys.executable, "-m", "ane_mlir", "x", "-m",
                          "/nonexistent.gguf"], capture_output=True,
                         text=True, env=env)
    assert bad.returncode == 1 and "/nonexistent.gguf" in bad.stderr
