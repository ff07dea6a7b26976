"""Reads `ane-exec bench --profile --json` from stdin and checks the profile:
every op entry is well formed, the ops of a phase take no longer than the
phase, and `kernel op` ran as often as given per phase, e.g.
'ffn_up conv prefill=2 decode=8'."""
import json
import sys

obj = json.load(sys.stdin)
failed = []
phases = obj["profile"]
for phase in ("prefill", "decode"):
    p = phases[phase]
    total = sum(e["seconds"] for e in p["ops"])
    if not p["ops"]:
        failed.append(f"{phase}: no ops")
    if any(e["calls"] < 1 or e["seconds"] < 0 for e in p["ops"]):
        failed.append(f"{phase}: an entry with no calls or negative time")
    if total > p["seconds"] * 1.001 or p["outside_ops_s"] < -1e-6:
        failed.append(f"{phase}: ops take {total} s of {p['seconds']} s")
for want in sys.argv[1:]:
    kernel, op, *counts = want.split()
    for count in counts:
        phase, calls = count.split("=")
        got = [e["calls"] for e in phases[phase]["ops"]
               if e["kernel"] == kernel and e["op"] == op]
        if got != [int(calls)]:
            failed.append(f"{phase}: {kernel} {op} ran {got} times, not {calls}")
for f in failed:
    print(f"failed: {f}")
sys.exit(1 if failed else 0)
