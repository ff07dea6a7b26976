"""Checks a --logits-out .npy from outside ane-exec.

check-logits.py reference NPY MODEL IDS [FACTOR,LOW,HIGH,ORIGINAL]
    the logits equal the NumPy reference's (python/ane_mlir/reference.py)
    within 1e-5 of their scale: fp32 agreement; with the four numbers, the
    reference applies Llama 3.1's rope scaling with them.
check-logits.py perplexity NPY IDS N_CTX PPL
    llama-perplexity's score recomputed from the logits (the second half
    of each N_CTX chunk predicts the next token) equals PPL to 1e-4.
IDS is a file of whitespace-separated token ids. Prints "ok: ..." or fails.
"""

import math
import sys

import numpy as np


def ids_of(path):
    with open(path) as f:
        return [int(t) for t in f.read().split()]


def reference(npy, model, ids_path, llama3=None):
    from ane_mlir import reference as ref

    logits = np.load(npy)
    ids = ids_of(ids_path)
    cfg, w = ref.load(model)
    if llama3:
        factor, low, high, original = (float(v) for v in llama3.split(","))
        cfg.rope_factors = ref.llama3_rope_factors(
            cfg.rope_theta, cfg.head_dim, factor, low, high, original)
    want = ref.Reference(cfg, w).logits(ids)
    assert logits.dtype == np.float32, logits.dtype
    assert logits.shape == want.shape, (logits.shape, want.shape)
    worst = float(np.abs(logits - want).max() / np.abs(want).max())
    assert worst < 1e-5, worst
    print(f"ok: {logits.shape[0]} x {logits.shape[1]} logits match the "
          f"reference (relative {worst:.1e})")


def perplexity(npy, ids_path, n_ctx, expected):
    logits = np.load(npy).astype(np.float64)
    ids, n_ctx = ids_of(ids_path), int(n_ctx)
    chunks = logits.shape[0] // n_ctx
    assert logits.shape[0] == chunks * n_ctx, logits.shape
    nll, count = 0.0, 0
    for c in range(chunks):
        for j in range(n_ctx // 2, n_ctx - 1):
            row = logits[c * n_ctx + j]
            top = row.max()
            log_sum = math.log(np.exp(row - top).sum())
            nll -= row[ids[c * n_ctx + j + 1]] - top - log_sum
            count += 1
    ppl = math.exp(nll / count)
    assert abs(ppl / float(expected) - 1) < 1e-4, (ppl, expected)
    print(f"ok: {chunks} chunks, {count} scored: PPL {ppl:.4f}")


if __name__ == "__main__":
    {"reference": reference, "perplexity": perplexity}[sys.argv[1]](
        *sys.argv[2:])
