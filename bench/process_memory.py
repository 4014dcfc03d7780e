"""Memory of the whole product per camera: runsurveillance with 4, 8 and 16 demo cameras, then a
long run at 16 to see whether anything grows.

    .venv/bin/python bench/process_memory.py [--steps 4,8,16] [--settle 90]
        [--warmup-minutes 15] [--soak-minutes 60] [--sample-every 30]

Everything runs as a user runs it: a temp data dir (SQLite), `manage.py runsurveillance` with its
own Redis, web process, fork server, notifier, retention, and one capture worker per camera, each
a demo camera (640x480, 15 fps, someone crossing every 20-40 s) with the defaults: events
recorded with pre-roll, snapshots, the live view's JPEGs only while watched. Memory is read as
`manage.py processes --json` reads it (PSS: shared pages divided among the processes that map
them, so the sum is what they take together).

1. For each step, cameras are enabled up to that count, and after --settle seconds (each camera
   has had at least one event and its clip by then) the sum of PSS is sampled for 30 s: the
   median is the step's figure. The slope of a least-squares line through the steps is the
   memory one more camera costs.
2. At the last step it runs on: --warmup-minutes, then --soak-minutes, sampling every
   --sample-every seconds. Growth compares the mean of the soak's first 5 minutes with its last 5;
   each process also gets its least-squares slope over the soak, in MB per hour.
3. A worker is killed (SIGKILL): the time until its replacement is connected to its camera.

Prints progress, then a markdown report (bench/out/process_memory.md) and a picture of the sum of
PSS over time (bench/out/process_memory.png).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench.memory_picture import picture
from bench.proc import load_average
from bench.soak_report import slope as slope_per_hour
from bench.tables import OUT, publish
from tests.harness import REPO, child_env, manage, spawn, stop_process, tail
from tests.processes import free_port

MB = 1024 * 1024
SAMPLE_WINDOW = 30.0  # seconds of samples per step
SAMPLE_STEP = 5.0


class Product:
    """runsurveillance on a data dir of its own, and what it says of its processes."""

    def __init__(self, tmp: Path, cameras: int) -> None:
        self.env = child_env(tmp / "data")
        self.log = tmp / "runsurveillance.log"
        manage(self.env, "migrate", "--noinput", "--verbosity", "0")
        for n in range(1, cameras + 1):
            manage(self.env, "addcamera", self.slug(n), "demo", "--disabled")
        self.enabled = 0
        port = free_port()
        argv = [sys.executable, "manage.py", "runsurveillance", "--bind", f"127.0.0.1:{port}"]
        self.process = spawn(argv, self.env, self.log, detached=True)

    @staticmethod
    def slug(n: int) -> str:
        return f"cam-{n:02d}"

    def enable(self, count: int) -> None:
        for n in range(self.enabled + 1, count + 1):
            manage(self.env, "addcamera", self.slug(n), "demo")
        self.enabled = count

    def processes(self) -> dict[str, dict[str, int]]:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"runsurveillance exited ({self.process.returncode}):\n{tail(self.log)}"
            )
        argv = [sys.executable, "manage.py", "processes", "--json"]
        result = subprocess.run(argv, cwd=REPO, env=self.env, capture_output=True, text=True,
                                timeout=60)  # fmt: skip
        return json.loads(result.stdout) if result.returncode == 0 else {}

    def wait_for_workers(self, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            workers = [name for name in self.processes() if name.startswith("worker ")]
            if len(workers) == count:
                return
            time.sleep(1)
        raise RuntimeError(f"{count} workers not running after {timeout:.0f} s")

    def events(self) -> int:
        query = "from events.models import MotionEvent; print(MotionEvent.objects.count())"
        return int(manage(self.env, "shell", "--no-imports", "-c", query).strip())

    def connected_lines(self, slug: str) -> int:
        return len(re.findall(rf"{slug}: connected to", self.log.read_text(errors="replace")))

    def stop(self) -> None:
        stop_process(self.process, 30)


def total(report: dict[str, dict[str, int]]) -> int:
    return sum(row["pss"] for row in report.values())


def workers(report: dict[str, dict[str, int]]) -> list[dict[str, int]]:
    return [row for name, row in report.items() if name.startswith("worker ")]


def sample_step(product: Product, count: int, settle: float) -> dict:
    product.enable(count)
    product.wait_for_workers(count)
    print(
        f"[{count} cameras] workers running; settling {settle:.0f} s (load {load_average()})",
        flush=True,
    )
    time.sleep(settle)
    samples = []
    while len(samples) < SAMPLE_WINDOW / SAMPLE_STEP:
        samples.append(product.processes())
        time.sleep(SAMPLE_STEP)
    middle = sorted(samples, key=total)[len(samples) // 2]
    row = {
        "cameras": count,
        "total": total(middle),
        "events": product.events(),
        "worker_pss": statistics.mean(w["pss"] for w in workers(middle)),
        "worker_uss": statistics.mean(w["uss"] for w in workers(middle)),
        "others": {name: r["pss"] for name, r in middle.items() if not name.startswith("worker ")},
    }
    print(
        f"[{count} cameras] sum of PSS {row['total'] / MB:.0f} MB, a worker "
        f"{row['worker_pss'] / MB:.1f} MB PSS / {row['worker_uss'] / MB:.1f} MB USS, "
        f"{row['events']} events so far",
        flush=True,
    )
    return row


def slope(rows: list[dict]) -> tuple[float, float]:
    """Least squares: MB per camera, and MB at no camera."""
    x = np.array([r["cameras"] for r in rows], float)
    y = np.array([r["total"] / MB for r in rows], float)
    per_camera, base = np.polyfit(x, y, 1)
    return float(per_camera), float(base)


Sample = tuple[float, dict[str, dict[str, int]]]  # seconds since the warm-up ended, processes


def soak(product: Product, warmup: float, minutes: float, every: float) -> list[Sample]:
    """Every process's memory over the warm-up (negative times) and the soak."""
    samples = []
    start = time.monotonic() + warmup
    end = start + minutes * 60
    while (now := time.monotonic()) < end:
        report = product.processes()
        if report:
            samples.append((now - start, report))
            phase = "warm-up" if now < start else "soak"
            print(
                f"[{phase} {(now - start) / 60:+6.1f} min] sum of PSS {total(report) / MB:.0f} MB,"
                f" {len(workers(report))} workers, load {load_average()}",
                flush=True,
            )
        time.sleep(every)
    return samples


def totals(samples: list[Sample]) -> list[tuple[float, int]]:
    return [(t, total(report)) for t, report in samples]


def growth(series: list[tuple[float, int]]) -> tuple[float, float, float]:
    """Mean MB over the soak's first 5 minutes, its last 5, and the change in percent."""
    soaked = [(t, v) for t, v in series if t >= 0]
    if not soaked:
        return float("nan"), float("nan"), float("nan")
    last_t = soaked[-1][0]
    first = [v for t, v in soaked if t < 300] or [soaked[0][1]]
    last = [v for t, v in soaked if t > last_t - 300] or [soaked[-1][1]]
    a, b = statistics.mean(first) / MB, statistics.mean(last) / MB
    return a, b, 100 * (b - a) / a


def per_process(samples: list[Sample]) -> list[tuple[str, float, float, float, float, int]]:
    """For each process over the soak: name, first and last 5-minute means (MB), change in
    percent, least-squares slope (MB/h), and how many pids it had (more: it was restarted)."""
    soaked = [(t, report) for t, report in samples if t >= 0]
    names = sorted({name for _, report in soaked for name in report} - {"prune"})
    rows = []
    for name in names:
        series = [(t, report[name]["pss"]) for t, report in soaked if name in report]
        pids = {report[name]["pid"] for _, report in soaked if name in report}
        per_hour = slope_per_hour([(t, pss / MB) for t, pss in series]) if len(series) > 1 else 0
        rows.append((name, *growth(series), per_hour, len(pids)))
    return rows


def restart_time(product: Product) -> float:
    """SIGKILL a worker: seconds until its replacement is connected to its camera."""
    slug = product.slug(1)
    before = product.connected_lines(slug)
    pid = product.processes()[f"worker {slug}"]["pid"]
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    while product.connected_lines(slug) == before:
        if time.monotonic() - killed > 30:
            raise RuntimeError(f"{slug}'s worker not back after 30 s")
        time.sleep(0.05)
    return time.monotonic() - killed


def report(rows: list[dict], samples: list[Sample], restart: float, args) -> str:
    per_camera, base = slope(rows)
    series = totals(samples)
    first, last, change = growth(series)
    lines = [
        f"# Memory per camera — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"runsurveillance with demo cameras (640x480, 15 fps, events recorded with pre-roll); "
        f"{os.cpu_count()} cores; load average at the end {load_average()}.",
        "",
        "| cameras | sum of PSS (MB) | a worker, PSS (MB) | a worker, USS (MB) | events stored |",
        "|---:|---:|---:|---:|---:|",
        *(
            f"| {r['cameras']} | {r['total'] / MB:.0f} | {r['worker_pss'] / MB:.1f} "
            f"| {r['worker_uss'] / MB:.1f} | {r['events']} |"
            for r in rows
        ),
        "",
        f"Least squares over the steps: **{per_camera:.1f} MB per camera** on top of "
        f"{base:.0f} MB for the rest.",
        "",
        "The rest, at the last step (PSS, MB): "
        + ", ".join(f"{name} {pss / MB:.0f}" for name, pss in rows[-1]["others"].items()),
        "",
    ]
    if series:
        lines += [
            f"Long run at {rows[-1]['cameras']} cameras: {args.warmup_minutes:.0f} min warm-up, "
            f"then {args.soak_minutes:.0f} min; mean sum of PSS over the first 5 min "
            f"{first:.0f} MB, over the last 5 min {last:.0f} MB: **{change:+.1f} %**; "
            f"highest sample {max(v for t, v in series if t >= 0) / MB:.0f} MB.",
            "",
            "| process | first 5 min (MB PSS) | last 5 min | change | slope (MB/h) | pids seen |",
            "|---|---:|---:|---:|---:|---:|",
            *(
                f"| {name} | {a:.1f} | {b:.1f} | {change:+.1f} % | {per_hour:+.2f} | {pids} |"
                for name, a, b, change, per_hour, pids in per_process(samples)
            ),
            "",
        ]
        changes = [row[3] for row in per_process(samples)]
        lines.append(f"The most any process grew: **{max(changes):+.1f} %**.\n")
    lines.append(
        f"A worker killed with SIGKILL was connected to its camera again after **{restart:.2f} s**."
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="4,8,16", help="camera counts, ascending")
    parser.add_argument("--settle", type=float, default=90.0, help="seconds before sampling")
    parser.add_argument("--warmup-minutes", type=float, default=15.0)
    parser.add_argument("--soak-minutes", type=float, default=60.0)
    parser.add_argument("--sample-every", type=float, default=30.0)
    args = parser.parse_args()
    steps = [int(n) for n in args.steps.split(",")]
    with tempfile.TemporaryDirectory(prefix="process-memory-") as name:
        product = Product(Path(name), steps[-1])
        try:
            rows = [sample_step(product, count, args.settle) for count in steps]
            samples = []
            if args.soak_minutes > 0:
                samples = soak(
                    product, args.warmup_minutes * 60, args.soak_minutes, args.sample_every
                )
            restart = restart_time(product)
            print(f"worker back after {restart:.2f} s", flush=True)
        finally:
            product.stop()
    OUT.mkdir(parents=True, exist_ok=True)
    picture(totals(samples), rows, OUT / "process_memory.png")
    publish(report(rows, samples, restart, args), "process_memory.md")


if __name__ == "__main__":
    main()
