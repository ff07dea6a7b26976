"""Reads one JSON object from stdin and checks conditions such as
'top1_rate >= 0.99'; prints the object and the failed condition, and exits
non-zero, when one does not hold."""
import json
import operator
import sys

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt,
       "<": operator.lt, "==": operator.eq}

obj = json.load(sys.stdin)
failed = False
for cond in sys.argv[1:]:
    key, op, value = cond.split()
    if key not in obj:
        print(f"missing key {key} in {obj}")
        failed = True
    elif not OPS[op](obj[key], type(obj[key])(value)):
        print(f"failed: {cond} (it is {obj[key]}) in {obj}")
        failed = True
sys.exit(1 if failed else 0)
