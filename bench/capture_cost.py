"""What watching one camera costs: our capture worker against the decode floor and `motion`.

    .venv/bin/python bench/capture_cost.py [--seconds 20] [--rounds 5] [--only NAME ...] [--busy N]

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

The videos are made from ../shared/testdata/highway-640x480-15fps.mp4 (real traffic footage;
without it, from a synthetic scene) and kept in bench/out/streams/. Prints progress and a
markdown table, and writes the table to bench/out/capture_cost.md (-busyN.md with --busy).
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.worker_cpu import (  # noqa: E402
    cpu_seconds,
    load_average,
    manage,
    setup_django,
    start_redis,
)  # fmt: skip
from tests import rtsp_server  # noqa: E402
from tests.processes import free_port, stop_process  # noqa: E402

SOURCE_VIDEO = REPO.parent / "shared" / "testdata" / "highway-640x480-15fps.mp4"
STREAMS_DIR = REPO / "bench" / "out" / "streams"
OUT = REPO / "bench" / "out" / "capture_cost.md"
WARMUP = 5.0
PROGRESS_EVERY = 5.0
FLOOR_LIMIT = 1.3  # the target: worker CPU at most this times the decode floor
# A busy machine for --busy: a loop over 64 MB, evicting the caches every consumer shares.
BUSY = "import numpy\nbig = numpy.ones(8 << 20)\nwhile True:\n    big += 1.0"


@dataclass
class Stream:
    name: str
    size: tuple[int, int]
    transport: str  # file, rtsp or http


STREAMS = [
    Stream("H.264 640x480 file", (640, 480), "file"),
    Stream("H.264 640x480 RTSP", (640, 480), "rtsp"),
    Stream("H.264 1920x1080 file", (1920, 1080), "file"),
    Stream("H.264 1920x1080 RTSP", (1920, 1080), "rtsp"),
    Stream("MJPEG 640x480 HTTP", (640, 480), "http"),
]


def make_video(size: tuple[int, int], seconds: float) -> Path:
    """An H.264 15 fps file of at least `seconds`, encoded like a camera (2 s GOP), cached."""
    width, height = size
    path = STREAMS_DIR / f"h264-{width}x{height}-{int(seconds)}s.mp4"
    if path.is_file():
        return path
    STREAMS_DIR.mkdir(parents=True, exist_ok=True)
    if SOURCE_VIDEO.is_file():
        source, described = SOURCE_VIDEO, SOURCE_VIDEO.name
    else:
        from tests.videos import write_video

        source = write_video(STREAMS_DIR / "synthetic.mp4", 30, moving=(5, 9), size=(640, 480))
        described = "a synthetic scene"
    print(f"encoding {path.name} from {described} (once; kept in {STREAMS_DIR})", flush=True)
    bitrate = "4M" if width > 1000 else "1M"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(source),
         "-t", str(seconds), "-an", "-vf", f"scale={width}:{height},fps=15",
         "-c:v", "libx264", "-preset", "veryfast", "-b:v", bitrate, "-g", "30",
         "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


def make_mjpeg(video: Path) -> Path:
    """The video as a camera's JPEGs (ffmpeg's -q:v 5), cached beside it: the MJPEG server is
    started once per consumer and should not encode it again each time."""
    path = video.with_suffix(".mjpeg")
    if not path.is_file():
        print(f"encoding {path.name} (once)", flush=True)
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(video), "-an", "-c:v", "mjpeg",
             "-q:v", "5", "-f", "mjpeg", str(path)],
            check=True,
        )  # fmt: skip
    return path


class Server:
    """A camera on 127.0.0.1 serving `video` over RTSP or MJPEG/HTTP (None for a file)."""

    def __init__(self, stream: Stream, video: Path) -> None:
        self.stream, self.video = stream, video
        self.process: subprocess.Popen | None = None
        self.url = str(video)

    def __enter__(self) -> Server:
        port = free_port()
        if self.stream.transport == "rtsp":
            self.url = f"rtsp://127.0.0.1:{port}/cam"
            argv = rtsp_server.command(self.video, port)
        elif self.stream.transport == "http":
            self.url = f"http://127.0.0.1:{port}/cam.mjpg"
            argv = [sys.executable, str(REPO / "bench" / "mjpeg_server.py"),
                    str(make_mjpeg(self.video)), str(port)]  # fmt: skip
        else:
            return self
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        line = self.process.stdout.readline()  # "ready" once it listens
        if b"ready" not in line:
            raise RuntimeError(f"the {self.stream.transport} server did not start: {line!r}")
        return self

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            stop_process(self.process, 5)


def floor_argv(stream: Stream, url: str) -> list[str]:
    argv = ["ffmpeg", "-v", "error", "-nostdin"]
    if stream.transport == "file":
        argv += ["-re", "-stream_loop", "-1"]
    elif stream.transport == "rtsp":
        argv += ["-rtsp_transport", "tcp"]
    return [*argv, "-i", url, "-an", "-f", "null", "-"]


def motion_argv(stream: Stream, url: str, tmp: Path) -> list[str]:
    """`motion` detecting on the stream with its defaults, saving nothing, serving nothing."""
    netcam = f"file://{url}" if stream.transport == "file" else url
    config = tmp / "motion.conf"
    config.write_text(
        "daemon off\nsetup_mode off\nlog_level 4\n"
        f"target_dir {tmp}\npid_file {tmp / 'motion.pid'}\n"
        f"netcam_url {netcam}\nframerate 15\n"
        "picture_output off\nmovie_output off\nstream_port 0\nwebcontrol_port 0\n"
    )
    return ["motion", "-n", "-c", str(config)]


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
    def __init__(self, tmp: Path, env: dict[str, str], seconds: float) -> None:
        self.tmp, self.env, self.seconds = tmp, env, seconds

    def round(self, stream: Stream, video: Path, slug: str) -> dict[str, Run]:
        """All consumers at once, each on its own server, measured over the same window."""
        with contextlib.ExitStack() as stack:
            consumers = []
            for kind in CONSUMERS:
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

    def spawn(self, kind: str, argv: list[str], env: dict | None = None) -> Consumer:
        log = self.tmp / f"{kind}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        return Consumer(kind, process, log)

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
        consumer = self.spawn("worker", argv, env=self.env)
        consumer.ready, consumer.observe = online, health
        return consumer

    def stream(self, stream: Stream, video: Path, slug: str, rounds: int) -> list[dict[str, Run]]:
        runs = []
        for round_ in range(rounds):
            print(f"\n{stream.name}, round {round_ + 1}/{rounds}", flush=True)
            runs.append(self.round(stream, video, slug))
        return runs


CONSUMERS = ["floor", "motion", "read", "worker"]


def cell(values: list[float], digits: int = 1) -> str:
    """The median, and the range when there was more than one round."""
    values = sorted(values)
    low, median, high = (
        f"{v:.{digits}f}" for v in (values[0], statistics.median(values), values[-1])
    )
    return median if len(values) == 1 else f"{median} ({low} to {high})"


def report(
    results: dict[str, list[dict[str, Run]]], args: argparse.Namespace, loads: list[str]
) -> str:
    seconds, rounds = args.seconds, args.rounds
    busy = f" {args.busy} memory-bound process(es) ran beside them (--busy)." if args.busy else ""
    lines = [
        f"# Capture cost per camera — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"% of one core over the same {seconds:.0f} s for all four consumers, side by side, after "
        f"{WARMUP:.0f} s of warm-up; {rounds} round(s): median (range), and the median (range) of "
        f"each round's ratio; {os.cpu_count()} cores; load average {' → '.join(loads)}.{busy} "
        f"Nobody watching the live view. Target: worker ≤ {FLOOR_LIMIT} times the floor and "
        "below `motion`.",
        "",
        "| stream | decode floor (ffmpeg) | `motion` | our read path | our worker "
        "| worker / floor | worker / `motion` | worker saw |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, runs in results.items():
        cpus = " | ".join(cell([run[kind].cpu for run in runs]) for kind in CONSUMERS)
        ratios = " | ".join(
            cell([run["worker"].cpu / run[kind].cpu for run in runs], 2)
            for kind in ("floor", "motion")
        )
        lines.append(f"| {name} | {cpus} | {ratios} | {runs[-1]['worker'].note} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per run")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per stream")
    parser.add_argument("--only", nargs="*", help="streams whose name contains one of these")
    parser.add_argument(
        "--busy", type=int, default=0, help="memory-bound processes to run beside the consumers"
    )
    args = parser.parse_args()
    for tool, package in (("ffmpeg", "ffmpeg"), ("motion", "motion")):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt install {package}")
    if not Path(rtsp_server.SYSTEM_PYTHON).is_file():
        sys.exit(f"{rtsp_server.SYSTEM_PYTHON} not found: the RTSP server needs python3-gi")
    streams = [s for s in STREAMS if not args.only or any(o in s.name for o in args.only)]
    length = args.seconds + WARMUP + 40  # every client gets a file from its start: no loop
    videos = {size: make_video(size, length) for size in {s.size for s in streams}}
    with tempfile.TemporaryDirectory(prefix="capture-cost-") as name:
        tmp = Path(name)
        sock = tmp / "redis.sock"
        env = setup_django(tmp / "data", sock)
        loads = [load_average()]
        redis = start_redis(sock, env)
        busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.busy)]
        try:
            manage(env, "migrate", "--noinput", "--verbosity", "0")
            bench = Bench(tmp, env, args.seconds)
            results = {
                s.name: bench.stream(s, videos[s.size], f"cam{index}", args.rounds)
                for index, s in enumerate(streams)
            }
        finally:
            for process in busy:
                stop_process(process, 5)
            redis.terminate()
            redis.wait(time.monotonic() + 10)
        loads.append(load_average())
    table = report(results, args, loads)
    out = OUT.with_stem(f"{OUT.stem}-busy{args.busy}") if args.busy else OUT
    out.parent.mkdir(exist_ok=True)
    out.write_text(table)
    print(f"\n{table}\n(written to {out.relative_to(REPO)})")


if __name__ == "__main__":
    main()
