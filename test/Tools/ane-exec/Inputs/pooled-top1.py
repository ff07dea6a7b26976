"""Pools the top-1 agreement of several `ane-exec eval --json` reports (one
file each) over all their positions and checks it against a threshold:
pooled-top1.py MIN FILE... exits non-zero, saying why, when it is below."""
import json
import sys

minimum = float(sys.argv[1])
agree = positions = 0
for path in sys.argv[2:]:
    with open(path) as f:
        report = json.load(f)
    agree += report["top1_rate"] * report["positions"]
    positions += report["positions"]
rate = agree / positions if positions else 0.0
print(f"pooled top-1 {rate:.3f} over {positions} positions (minimum {minimum})")
sys.exit(0 if positions and rate >= minimum else 1)
