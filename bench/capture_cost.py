"""What watching one camera costs: our capture worker against the decode floor and `motion`.

    .venv/bin/python bench/capture_cost.py [--video PATH] [--seconds 20] [--rounds 5]
        [--only NAME ...] [--consumers KIND ...] [--busy N]

For each stream — H.264 640x480 and 1920x1080 at 15 fps, each as a file and over RTSP, and MJPEG
over HTTP at 640x480 — four consumers run side by side, each on its own copy of the stream, and
are measured over the same window; again for each round. On a shared virtual machine the same
process costs a quarter more or less from one minute to the next: measured one after another,
the consumers were compared across that drift. Side by side, each round compares them under the
same conditions (all four together take an eighth of one core at 640x480, three-fifths of one at
1080p, on a 2-core machine). `--busy N` runs N memory-bound processes beside them, as on a machine
with other work to do. The table gives each consumer's median and range over the rounds, and the
median and range of the rounds' ratios:

- floor: `ffmpeg` decoding the stream to nothing (`-re` for files: real time);
- motion: the `motion` daemon (Debian package) detecting motion on it, nothing saved;
- read: our source read path alone (bench/read_loop.py: every frame read, 5 a second converted
  for detection, nothing detected), the least any worker built on it can cost;
- worker: `manage.py capture`, nobody watching the live view (it reads, detects, records
  events and reports health, as in production).

Each is measured from /proc (utime+stime of the process and all its threads) over a window that
starts after a warm-up. Servers: GStreamer's RTSP server (tests/rtsp_server.py, with Debian's
python3) and an MJPEG-over-HTTP camera (bench/mjpeg_server.py: `motion` needs one that takes
more than ffmpeg's single client), on 127.0.0.1, one per consumer and round.

The streams are encoded from --video (docs/benchmarks.md: real traffic footage,
../shared/testdata/highway-640x480-15fps.mp4; without it, a synthetic scene) and kept in
bench/out/streams/. --consumers measures only some of the four (e.g. without `motion` where it is
not installed). Prints progress and a markdown table, and writes the table to
bench/out/capture_cost.md (-busyN.md with --busy).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.capture_streams import (
    STREAMS,
    Server,
    Stream,
    floor_argv,
    make_video,
    motion_argv,
    synthetic_source,
)  # fmt: skip
from bench.proc import cpu_seconds, load_average
from bench.tables import publish
from tests import rtsp_server
from tests.harness import REPO, manage, setup_django, spawn, start_redis, stop_process

WARMUP = 5.0
PROGRESS_EVERY = 5.0
FLOOR_LIMIT = 1.3  # the target: worker CPU at most this times the decode floor
CONSUMERS = ["floor", "motion", "read", "worker"]
# A busy machine for --busy: a loop over 64 MB, evicting the caches every consumer shares.
BUSY = "import numpy\nbig = numpy.ones(8 << 20)\nwhile True:\n    big += 1.0"


@dataclass
class Run:
    cpu: float  # % of one core
    note: str = ""


@dataclass
class Consumer:
    """One process being measured, with how to tell it is up and what it saw."""

    kind: str
    process: subprocess.Popen
    log: Path
    ready: Callable[[], bool] = lambda: True
    observe: Callable[[], str] = lambda: ""


class Bench:
    def __init__(self, tmp: Path, env: dict[str, str], seconds: float,
                 consumers: list[str]) -> None:  # fmt: skip
        self.tmp, self.env, self.seconds, self.consumers = tmp, env, seconds, consumers

    def round(self, stream: Stream, video: Path, slug: str) -> dict[str, Run]:
        """All consumers at once, each on its own server, measured over the same window."""
        with contextlib.ExitStack() as stack:
            consumers = []
            for kind in self.consumers:
                url = stack.enter_context(Server(stream, video)).url
                consumer = self.start(kind, stream, url, slug)
                stack.callback(stop_process, consumer.process, 15)
                consumers.append(consumer)
            try:
                cpus = self.measure(consumers)
            except RuntimeError:
                for consumer in consumers:
                    print(f"--- {consumer.log.name}")
                    print(consumer.log.read_text(errors="replace")[-2000:])
                raise
            return {c.kind: Run(cpus[c.kind], c.observe()) for c in consumers}

    def measure(self, consumers: list[Consumer]) -> dict[str, float]:
        started = time.monotonic()
        waiting = list(consumers)
        while waiting:
            self.check(consumers)
            if time.monotonic() - started > 60:
                raise RuntimeError(f"not ready after 60 s: {', '.join(c.kind for c in waiting)}")
            waiting = [c for c in waiting if not c.ready()]
            time.sleep(0.5)
        time.sleep(WARMUP)
        cpu0 = {c.kind: cpu_seconds(c.process.pid) for c in consumers}
        t0 = time.monotonic()

        def cpus() -> dict[str, float]:
            wall = time.monotonic() - t0
            return {c.kind: 100 * (cpu_seconds(c.process.pid) - cpu0[c.kind]) / wall
                    for c in consumers}  # fmt: skip

        while (elapsed := time.monotonic() - t0) < self.seconds:
            time.sleep(min(PROGRESS_EVERY, self.seconds - elapsed))
            self.check(consumers)
            so_far = ", ".join(f"{kind} {cpu:.1f}" for kind, cpu in cpus().items())
            print(f"    {time.monotonic() - t0:3.0f}/{self.seconds:.0f} s: {so_far} % of a core; "
                  f"load {load_average()}", flush=True)  # fmt: skip
        return cpus()

    def check(self, consumers: list[Consumer]) -> None:
        for consumer in consumers:
            if consumer.process.poll() is not None:
                raise RuntimeError(f"{consumer.kind} exited with {consumer.process.returncode}")

    def start(self, kind: str, stream: Stream, url: str, slug: str) -> Consumer:
        if kind == "floor":
            return self.spawn(kind, floor_argv(stream, url))
        if kind == "motion":
            return self.spawn(kind, motion_argv(stream, url, self.tmp))
        if kind == "read":
            consumer = self.spawn(kind, [sys.executable, str(REPO / "bench" / "read_loop.py"), url])
            consumer.ready = lambda: b"ready" in consumer.log.read_bytes()
            return consumer
        return self.worker(url, slug)

    def spawn(self, kind: str, argv: list[str]) -> Consumer:
        log = self.tmp / f"{kind}.log"
        log.unlink(missing_ok=True)  # the read path's "ready" is looked for in its log
        return Consumer(kind, spawn(argv, self.env, log, detached=True), log)

    def worker(self, url: str, slug: str) -> Consumer:
        from cameras.models import Camera

        Camera.objects.filter(slug=slug).delete()
        manage(self.env, "addcamera", slug, url)
        camera = Camera.objects.get(slug=slug)

        def online() -> bool:
            camera.refresh_from_db()
            return camera.status == Camera.Status.ONLINE

        def health() -> str:
            camera.refresh_from_db()
            fps = f"{camera.fps:.1f} fps" if camera.fps else "fps unknown"
            return f"{fps}, {camera.dropped_frames} dropped, {camera.reconnects} reconnects"

        argv = [sys.executable, str(REPO / "manage.py"), "capture", slug]
        consumer = self.spawn("worker", argv)
        consumer.ready, consumer.observe = online, health
        return consumer

    def stream(self, stream: Stream, video: Path, slug: str, rounds: int) -> list[dict[str, Run]]:
        runs = []
        for round_ in range(rounds):
            print(f"\n{stream.name}, round {round_ + 1}/{rounds}", flush=True)
            runs.append(self.round(stream, video, slug))
        return runs


def cell(values: list[float], digits: int = 1) -> str:
    """The median, and the range when there was more than one round."""
    values = sorted(values)
    low, median, high = (
        f"{v:.{digits}f}" for v in (values[0], statistics.median(values), values[-1])
    )
    return median if len(values) == 1 else f"{median} ({low} to {high})"


def ratio(runs: list[dict[str, Run]], kind: str) -> str:
    """The worker's CPU over another consumer's, median (range) of the rounds."""
    if kind not in runs[0] or "worker" not in runs[0]:
        return "-"
    return cell([run["worker"].cpu / run[kind].cpu for run in runs], 2)


def report(
    results: dict[str, list[dict[str, Run]]], args: argparse.Namespace, loads: list[str]
) -> str:
    seconds, rounds = args.seconds, args.rounds
    busy = f" {args.busy} memory-bound process(es) ran beside them (--busy)." if args.busy else ""
    lines = [
        f"# Capture cost per camera — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"% of one core over the same {seconds:.0f} s for {', '.join(args.consumers)}, side by "
        f"side, after {WARMUP:.0f} s of warm-up; {rounds} round(s): median (range), and the median "
        f"(range) of each round's ratio; {os.cpu_count()} cores; load average "
        f"{' → '.join(loads)}.{busy} Source: {args.source}. Nobody watching the live view. "
        f"Target: worker ≤ {FLOOR_LIMIT} times the floor and below `motion`.",
        "",
        "| stream | decode floor (ffmpeg) | `motion` | our read path | our worker "
        "| worker / floor | worker / `motion` | worker saw |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, runs in results.items():
        cpus = " | ".join(
            cell([run[kind].cpu for run in runs]) if kind in runs[0] else "-" for kind in CONSUMERS
        )
        ratios = " | ".join(ratio(runs, kind) for kind in ("floor", "motion"))
        note = runs[-1]["worker"].note if "worker" in runs[-1] else ""
        lines.append(f"| {name} | {cpus} | {ratios} | {note} |")
    return "\n".join(lines) + "\n"


def check_tools(consumers: list[str], streams: list[Stream]) -> None:
    needed = [("ffmpeg", "ffmpeg")] + ([("motion", "motion")] if "motion" in consumers else [])
    for tool, package in needed:
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt install {package} (or leave it out: --consumers)")
    rtsp = any(s.transport == "rtsp" for s in streams)
    if rtsp and (missing := rtsp_server.packages_missing_here()):
        sys.exit(f"the RTSP camera needs: apt install {missing}")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, help="the footage to encode the streams from")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per run")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per stream")
    parser.add_argument("--only", nargs="*", help="streams whose name contains one of these")
    parser.add_argument("--consumers", nargs="+", choices=CONSUMERS, default=CONSUMERS)
    parser.add_argument(
        "--busy", type=int, default=0, help="memory-bound processes to run beside the consumers"
    )
    args = parser.parse_args()
    args.consumers = [kind for kind in CONSUMERS if kind in args.consumers]
    return args


def main() -> None:
    args = arguments()
    streams = [s for s in STREAMS if not args.only or any(o in s.name for o in args.only)]
    check_tools(args.consumers, streams)
    source = args.video.resolve() if args.video else synthetic_source()
    args.source = f"`{source.name}`" if args.video else "a synthetic scene"
    length = args.seconds + WARMUP + 40  # every client gets a file from its start: no loop
    videos = {size: make_video(source, size, length) for size in {s.size for s in streams}}
    with tempfile.TemporaryDirectory(prefix="capture-cost-") as name:
        tmp = Path(name)
        env = setup_django(tmp / "data", tmp / "redis.sock")
        loads = [load_average()]
        redis = start_redis(tmp / "redis.sock", log=tmp / "redis.log")
        busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.busy)]
        try:
            manage(env, "migrate", "--noinput", "--verbosity", "0")
            bench = Bench(tmp, env, args.seconds, args.consumers)
            results = {
                s.name: bench.stream(s, videos[s.size], f"cam{index}", args.rounds)
                for index, s in enumerate(streams)
            }
        finally:
            for process in [*busy, redis]:
                stop_process(process, 5)
        loads.append(load_average())
    suffix = f"-busy{args.busy}" if args.busy else ""
    publish(report(results, args, loads), f"capture_cost{suffix}.md")


if __name__ == "__main__":
    main()
