"""Reads finetune's stderr on stdin and checks that the loss over the
training text fell to at most FRACTION of where it started.

usage: loss-halves.py FRACTION < finetune.err
"""
import re
import sys

fraction = float(sys.argv[1])
text = sys.stdin.read()
m = re.search(r"loss over the training text: ([0-9.]+) -> ([0-9.]+)", text)
assert m, "no text loss in the output:\n" + text[-2000:]
before, after = float(m.group(1)), float(m.group(2))
assert after <= fraction * before, f"{before} -> {after}: not below {fraction}x"
print(f"text loss {before} -> {after} (<= {fraction}x)")
