"""Prints what OpenClaw would read from a provider entry and a SKILL.md.

Usage: check-openclaw.py CONFIG.json SKILL.md
"""
import json
import os
import re
import sys

config = json.load(open(sys.argv[1]))
for name, p in config["models"]["providers"].items():
    assert p["baseUrl"].endswith("/v1"), p["baseUrl"]
    print(f"provider {name}: {p['baseUrl']} {p['apiKey']} {p['api']}")
    for m in p["models"]:
        assert "/" not in m["id"] and m["input"] == ["text"], m
        print(f"model {m['id']}: contextWindow {m['contextWindow']} maxTokens {m['maxTokens']}")

text = open(sys.argv[2]).read()
front = re.match(r"---\n(.*?)\n---\n", text, re.S)
assert front, "SKILL.md starts with YAML front matter"
lines = front.group(1).splitlines()
name = next(l.split(":", 1)[1].strip() for l in lines if l.startswith("name:"))
assert any(l.startswith("description: ") and len(l) > 20 for l in lines)
assert "<" not in front.group(1), "no angle brackets in the front matter"
folder = os.path.basename(os.path.dirname(os.path.abspath(sys.argv[2])))
assert name == folder, (name, folder)
# metadata: / openclaw: / requires: / bins: / - ane-exec, nested in order.
nest = ["metadata:", "  openclaw:", "    requires:", "      bins:"]
at = [lines.index(n) for n in nest]
assert at == sorted(at), at
bins = [l.strip()[2:] for l in lines[at[-1] + 1:] if l.startswith("        - ")]
print(f"skill {name}: bins {' '.join(bins)}")
