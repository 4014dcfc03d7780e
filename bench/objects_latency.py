"""The object detector's cost: time per call at 640x480 and 1920x1080, and the memory of the
detector process as runsurveillance runs it.

    .venv/bin/python bench/objects_latency.py [--calls 60]

1. In this process, one OpenCV thread (as `manage.py detector` sets), the bundled model on the
   astronaut picture (tests/data) scaled to each size: Detector.detect() on the whole frame, and
   on a crop around a motion region (what the live path does: the worker crops, the detector
   sees at most the square around the motion). Median and p95 of --calls calls after 5 warm-ups.
2. runsurveillance on a temp data dir with no camera: its `detector` process (a fork of the fork
   server) is read from /proc/PID/smaps_rollup once started, and again after 20 jobs of 640x480
   crops were pushed through its Redis list and done.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2

from capture.memory import Memory
from objects.detector import Detector, crop
from objects.model import load_network
from objects.queue import Job, JobQueue, connect
from tests.harness import REPO, child_env, manage, spawn, stop_process, tail
from tests.processes import free_port, wait_until

PICTURE = REPO / "tests" / "data" / "astronaut.jpg"
SIZES = [(640, 480), (1920, 1080)]
REGION = [(0.4, 0.3, 0.1, 0.3)]  # a person-sized motion box


def timed(call: object, calls: int) -> tuple[float, float]:
    """Median and p95 of `calls` timings of call(), in milliseconds, after 5 warm-ups."""
    for _ in range(5):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * len(times)) - 1)]


def latency(calls: int) -> list[str]:
    cv2.setNumThreads(1)
    detector = Detector(load_network(""))  # "": the bundled model, whatever the setting
    picture = cv2.imread(str(PICTURE))
    rows = ["| input | what | median ms | p95 ms |", "|---|---|---|---|"]
    for width, height in SIZES:
        frame = cv2.resize(picture, (width, height))
        for what, regions in (("whole frame", None), ("crop around motion", REGION)):
            median, p95 = timed(lambda f=frame, r=regions: detector.detect(f, r), calls)
            rows.append(f"| {width}x{height} | {what} | {median:.1f} | {p95:.1f} |")
    return rows


def megabytes(value: int) -> str:
    return f"{value / 2**20:.1f}"


def process_memory(tmp: Path) -> list[str]:
    env = child_env(tmp / "data")
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    log = tmp / "runsurveillance.log"
    argv = [sys.executable, "manage.py", "runsurveillance", "--bind", f"127.0.0.1:{free_port()}"]
    process = spawn(argv, env, log, detached=True)
    try:
        wait_until(lambda: "object detector running" in log.read_text(), 120, "the detector")
        time.sleep(3)
        table = __import__("json").loads(manage(env, "processes", "--json"))
        pid, server = table["detector"]["pid"], table["fork server"]["pid"]
        started = Memory.of(pid)
        queue = JobQueue(connect(f"unix://{tmp / 'data' / 'run' / 'redis.sock'}"))
        part, region = crop(cv2.resize(cv2.imread(str(PICTURE)), (640, 480)), REGION)
        jpeg = cv2.imencode(".jpg", part)[1].tobytes()
        for n in range(20):
            queue.push(Job(10_000 + n, jpeg, region), limit=100)
            time.sleep(0.2)
        wait_until(lambda: len(queue) == 0, 60, "the jobs to be done")
        time.sleep(2)
        worked, fork_server = Memory.of(pid), Memory.of(server)
    except Exception:
        print(tail(log), file=sys.stderr)
        raise
    finally:
        stop_process(process, timeout=20)
    rows = ["| process | when | RSS MB | PSS MB | USS MB |", "|---|---|---|---|---|"]
    for name, when, memory in (
        ("detector", "model loaded, idle", started),
        ("detector", "after 20 jobs", worked),
        ("fork server", "(what the detector shares)", fork_server),
    ):
        rows.append(f"| {name} | {when} | {megabytes(memory.rss)} | {megabytes(memory.pss)} | "
                    f"{megabytes(memory.uss)} |")  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60)
    args = parser.parse_args()
    print("## Detector.detect(), one thread\n")
    print("\n".join(latency(args.calls)))
    with tempfile.TemporaryDirectory() as tmp:
        print("\n## The detector process (runsurveillance, no camera)\n")
        print("\n".join(process_memory(Path(tmp))))


if __name__ == "__main__":
    main()
