"""The notifier's CPU while nothing happens: % of one core, from /proc/PID/stat.

    .venv/bin/python bench/notifier_idle.py [--seconds 120] [--cameras 4]

Two runs: with MQTT (Mosquitto, Home Assistant discovery, its state poll every 2 s) and a
webhook configured, and with nothing configured (as `runsurveillance` starts it by default).
The first 10 s after start are not counted (imports, the first connection, the first state).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.notify_rig import Rig, say  # first: it sets Django up
from cameras.models import Camera
from tests.processes import stop_process

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def measure(pid: int, seconds: float) -> float:
    time.sleep(10)
    before, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - before) / (time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--cameras", type=int, default=4)
    args = parser.parse_args()
    rig = Rig()
    try:
        for n in range(1, args.cameras):
            Camera.objects.create(slug=f"cam-{n}", name=f"Camera {n}", source="demo")
        rig.add_webhook()
        for mqtt in (True, False):
            notifier = rig.start_notifier(mqtt=mqtt)
            percent = measure(notifier.pid, args.seconds)
            what = "MQTT + a webhook" if mqtt else "nothing configured"
            verdict = "ok" if percent <= 0.5 else "OVER BUDGET"
            say(f"notifier idle, {what}, {args.cameras} cameras: {percent:.2f} % of a core over "
                f"{args.seconds:.0f} s (budget 0.5 %) {verdict}")  # fmt: skip
            stop_process(notifier)
    finally:
        rig.close()


if __name__ == "__main__":
    main()
