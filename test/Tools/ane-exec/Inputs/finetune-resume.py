"""Interrupts `ane-exec finetune` with SIGINT, resumes it, and checks that
the resumed run's loss curve and adapter equal an uninterrupted run's.

usage: finetune-resume.py ANE_EXEC WORKDIR FINETUNE-ARGS...
"""
import csv
import filecmp
import os
import signal
import subprocess
import sys
import time

exe, work, args = sys.argv[1], sys.argv[2], sys.argv[3:]
os.makedirs(work, exist_ok=True)


def finetune(out, log, steps, *extra):
    return [exe, "finetune", *args, "-o", out, "--loss-log", log,
            "--steps", str(steps), *extra]


def curve(path):
    with open(path) as f:
        return [(r["step"], r["loss"]) for r in csv.DictReader(f)]


def steps_logged(path):
    try:
        return len(curve(path))
    except (OSError, KeyError):
        return 0


stopped, stopped_log = f"{work}/stopped.gguf", f"{work}/stopped.csv"
whole, whole_log = f"{work}/whole.gguf", f"{work}/whole.csv"
for path in (stopped, stopped_log, stopped + ".state"):
    if os.path.exists(path):
        os.remove(path)

run = subprocess.Popen(finetune(stopped, stopped_log, 1000000),
                       stderr=subprocess.DEVNULL)
deadline = time.time() + 120
while steps_logged(stopped_log) < 3 and time.time() < deadline:
    time.sleep(0.05)
run.send_signal(signal.SIGINT)
rc = run.wait(timeout=120)
assert rc == 130, f"an interrupted run exits 130, not {rc}"
done = steps_logged(stopped_log)
assert done >= 3 and os.path.exists(stopped + ".state"), "no checkpoint"

target = done + 4
subprocess.run(finetune(stopped, stopped_log, target, "--resume"),
               check=True, stderr=subprocess.DEVNULL)
subprocess.run(finetune(whole, whole_log, target), check=True,
               stderr=subprocess.DEVNULL)
resumed, straight = curve(stopped_log), curve(whole_log)
assert len(straight) == target, straight
assert resumed == straight, f"curves differ:\n{resumed}\n{straight}"
assert filecmp.cmp(stopped, whole, shallow=False), "adapters differ"
assert filecmp.cmp(stopped + ".state", whole + ".state", shallow=False), \
    "optimizer states differ"
print(f"interrupted after step {done}, resumed to {target}: same curve and "
      "adapter")
