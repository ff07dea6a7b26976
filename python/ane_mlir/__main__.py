"""python3 -m ane_mlir "prompt": generates like `ane-exec run`.

The prompt and the generated text on stdout (llama2.c's print rule: a lone
byte that is neither printable nor whitespace is dropped, unless
--all-bytes), then a newline; the summary on stderr.
"""

import argparse
import sys

from .model import AneError, Model


def _printable(piece):
    if len(piece) != 1:
        return len(piece) > 0
    return piece.isprintable() or piece.isspace()


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python3 -m ane_mlir",
        description="generate text: the prompt, then -n new tokens")
    p.add_argument("prompt", nargs="?", default="", help="the prompt")
    p.add_argument("-m", "--model", default=None,
                   help="a .gguf, llama2.c .bin, .anepak or synthetic:NAME "
                   "(default: stories260K from ../shared, else synthetic:tiny)")
    p.add_argument("-z", "--tokenizer", default=None,
                   help="llama2.c tokenizer.bin, for checkpoints that carry none")
    p.add_argument("-n", "--n-predict", type=int, default=128,
                   help="new tokens to generate")
    p.add_argument("--temp", type=float, default=0.0,
                   help="sampling temperature; 0 is greedy")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("-s", "--seed", type=int, default=0)
    p.add_argument("--backend", default=None)
    p.add_argument("--quant", default=None)
    p.add_argument("--dtype", default=None)
    p.add_argument("-c", "--ctx", type=int, default=0)
    p.add_argument("-t", "--threads", type=int, default=0)
    p.add_argument("--all-bytes", action="store_true",
                   help="print every piece, byte tokens too")
    a = p.parse_args(argv)
    if a.n_predict < 0:
        p.error("-n must be >= 0")
    try:
        with Model(a.model, tokenizer=a.tokenizer, backend=a.backend,
                   quant=a.quant, dtype=a.dtype, context=a.ctx,
                   threads=a.threads, verbose=True) as model:
            sys.stdout.write(a.prompt)
            for piece in model.stream(a.prompt, a.n_predict, a.temp, a.top_p,
                                      a.seed, top_k=a.top_k):
                if a.all_bytes or _printable(piece):
                    sys.stdout.write(piece)
                    sys.stdout.flush()
            sys.stdout.write("\n")
            sys.stdout.flush()
            g = model.last_generation
            rate = g.new_tokens / g.decode_seconds if g.decode_seconds else 0.0
            peak = model.memory()["peak_resident_bytes"] / 2**20
            print(f"prompt: {g.prompt_tokens} tokens in {g.prompt_seconds:.3f} "
                  f"s; generated {g.new_tokens} tokens, {rate:.2f} tok/s "
                  f"(stop: {g.stop_reason}); peak RSS {peak:.1f} MiB",
                  file=sys.stderr)
    except AneError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
