"""What recording costs a capture worker: record off, events and continuous, side by side.

    .venv/bin/python bench/recording_cost.py --video PATH [--seconds 20] [--rounds 4]
        [--only NAME ...] [--consumers KIND ...] [--before REV]

The model is bench/capture_cost.py: every consumer on its own copy of the stream, measured from
/proc over the same window, in interleaved rounds (each round runs every stream and scene once).
Streams: H.264 640x480 and 1920x1080 files at 15 fps, and MJPEG 640x480 over HTTP, each in two
scenes made from --video (bench/recording_streams.py): its own motion (real traffic: an event all
the time) and a still scene (one frame held, with a sensor's grain: between events). Consumers:

- floor, motion: the ffmpeg decode floor and the `motion` daemon detecting, nothing saved;
- motion-rec (MJPEG only): `motion` saving movies (movie_output on, H.264 in MP4, its defaults
  otherwise) into a throwaway dir;
- before: the worker as it was before recordings (git revision --before, run from a copy in the
  temp dir with its own database): "today's worker";
- off, events, continuous: our worker (`manage.py capture`) with that camera's `record`.

Targets (issue 16): events ≤ 1.1 x off, continuous ≤ 1.15 x off, off ≤ before. Prints progress
and two markdown tables, written to bench/out/recording_cost.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.capture_cost import WARMUP, Bench, Consumer, Run, cell, check_tools
from bench.capture_streams import STREAMS, Stream, make_video, motion_argv
from bench.proc import load_average
from bench.recording_streams import still_scene
from bench.tables import publish
from tests.harness import REPO, manage, setup_django, spawn, start_redis, stop_process

CONSUMERS = ["floor", "motion", "motion-rec", "before", "off", "events", "continuous"]
MODES = ("off", "events", "continuous")
DEFAULT_STREAMS = ["H.264 640x480 file", "H.264 1920x1080 file", "MJPEG 640x480 HTTP"]
MOVIES_ON = {"http"}  # motion re-encodes every camera's movies: at 1080p it would take a core
BEFORE = "f08af69"  # main before recordings and the PyAV sources
LIMITS = {"events": 1.1, "continuous": 1.15}


class RecordingBench(Bench):
    """capture_cost's rounds, with more consumers and a camera per worker."""

    def __init__(self, *args: object, before: Path | None) -> None:
        super().__init__(*args)
        self.before = before

    def kinds_for(self, stream: Stream) -> list[str]:
        return [k for k in self.all_kinds if k != "motion-rec" or stream.transport in MOVIES_ON]

    def start(self, kind: str, stream: Stream, url: str, slug: str) -> Consumer:
        if kind in MODES:
            return self.recording_worker(kind, url, f"{slug}-{kind}")
        if kind == "motion-rec":
            return self.motion_movies(stream, url)
        if kind == "before":
            return self.old_worker(url, f"{slug}-before")
        return super().start(kind, stream, url, slug)

    def recording_worker(self, mode: str, url: str, slug: str) -> Consumer:
        from cameras.models import Camera
        from events.models import MotionEvent

        Camera.objects.filter(slug=slug).delete()
        manage(self.env, "addcamera", slug, url, "--record", mode)
        camera = Camera.objects.get(slug=slug)
        media = Path(self.env["SURVEILLANCE_DATA_DIR"]) / "media" / "recordings"

        def online() -> bool:
            camera.refresh_from_db()
            return camera.status == Camera.Status.ONLINE

        def saw() -> str:
            camera.refresh_from_db()
            files = list(media.rglob(f"{slug}-*.mp4"))
            megabytes = sum(f.stat().st_size for f in files) / 1e6
            events = MotionEvent.objects.filter(camera=camera).count()
            fps = f"{camera.fps:.1f} fps" if camera.fps else "fps ?"
            return (f"{fps}, {camera.dropped_frames} dropped, {events} event(s), "
                    f"{len(files)} file(s) {megabytes:.1f} MB")  # fmt: skip

        argv = [sys.executable, str(REPO / "manage.py"), "capture", slug]
        consumer = self.spawn(mode, argv)
        consumer.ready, consumer.observe = online, saw
        return consumer

    def motion_movies(self, stream: Stream, url: str) -> Consumer:
        target = self.tmp / "motion-movies"  # this round's movies only
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        argv = motion_argv(stream, url, target)
        config = target / "motion.conf"
        config.write_text(config.read_text().replace(
            "movie_output off", "movie_output on\nmovie_codec mp4"))  # fmt: skip
        consumer = self.spawn("motion-rec", argv)

        def saw() -> str:
            movies = list(target.rglob("*.mp4"))
            megabytes = sum(f.stat().st_size for f in movies) / 1e6
            return f"{len(movies)} movie(s) {megabytes:.1f} MB"

        consumer.observe = saw
        return consumer

    def old_worker(self, url: str, slug: str) -> Consumer:
        code, data = self.before, self.tmp / "before-data"
        env = {**self.env, "SURVEILLANCE_DATA_DIR": str(data), "PYTHONPATH": str(code)}
        old_manage = [sys.executable, str(code / "manage.py")]
        subprocess.run([*old_manage, "addcamera", slug, url], env=env, cwd=code, check=True,
                       capture_output=True)  # fmt: skip

        def status() -> tuple:
            with sqlite3.connect(data / "db.sqlite3", timeout=5) as db:
                return db.execute("SELECT status, fps, dropped_frames FROM cameras_camera "
                                  "WHERE slug = ?", (slug,)).fetchone()  # fmt: skip

        log = self.tmp / "before.log"
        process = spawn([*old_manage, "capture", slug], env, log, detached=True)
        consumer = Consumer("before", process, log)
        consumer.ready = lambda: status()[0] == "online"
        consumer.observe = lambda: "{1:.1f} fps, {2} dropped".format(*status())
        return consumer


def install_before(revision: str, tmp: Path, env: dict[str, str]) -> Path:
    """The repository at `revision`, unpacked into the temp dir and migrated on a data dir of
    its own: the worker as it was, run beside today's."""
    code = tmp / "before"
    code.mkdir()
    archive = subprocess.run(["git", "archive", revision], cwd=REPO, capture_output=True,
                             check=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
    env = {**env, "SURVEILLANCE_DATA_DIR": str(tmp / "before-data"), "PYTHONPATH": str(code)}
    subprocess.run([sys.executable, str(code / "manage.py"), "migrate", "--noinput",
                    "--verbosity", "0"], env=env, cwd=code, check=True)  # fmt: skip
    return code


def ratio(runs: list[dict[str, Run]], top: str, bottom: str, limit: float | None = None) -> str:
    if top not in runs[0] or bottom not in runs[0]:
        return "-"
    values = [run[top].cpu / run[bottom].cpu for run in runs]
    mark = ""
    if limit is not None:
        mark = " ✓" if statistics.median(values) <= limit else " ✗"
    return cell(values, 2) + mark


def difference(runs: list[dict[str, Run]], top: str, bottom: str) -> str:
    if top not in runs[0] or bottom not in runs[0]:
        return "-"
    return cell([run[top].cpu - run[bottom].cpu for run in runs])


def report(results: dict[tuple[str, str], list[dict[str, Run]]], args: argparse.Namespace,
           loads: list[str]) -> str:  # fmt: skip
    lines = [
        f"# Recording cost per camera — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"% of one core over the same {args.seconds:.0f} s, side by side, after {WARMUP:.0f} s of "
        f"warm-up; {args.rounds} interleaved round(s): median (range); {os.cpu_count()} cores; "
        f"load average {' → '.join(loads)}. Source: `{args.video.name}`; `before` is "
        f"{args.before}. Targets: events ≤ {LIMITS['events']} x off, continuous ≤ "
        f"{LIMITS['continuous']} x off, off ≤ before.",
        "",
        "| stream | scene | floor | `motion` | `motion` saving movies | before | off | events "
        "| continuous |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (name, scene), runs in results.items():
        cpus = " | ".join(
            cell([run[k].cpu for run in runs]) if k in runs[0] else "-" for k in CONSUMERS
        )
        lines.append(f"| {name} | {scene} | {cpus} |")
    lines += [
        "",
        "Each round's ratios, median (range); events - off in points of a core:",
        "",
        "| stream | scene | off / floor | off / before | off / `motion` | events / off "
        "| continuous / off | events - off | events / `motion` saving |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (name, scene), runs in results.items():
        cells = [
            ratio(runs, "off", "floor"),
            ratio(runs, "off", "before", 1.0),
            ratio(runs, "off", "motion"),
            ratio(runs, "events", "off", LIMITS["events"]),
            ratio(runs, "continuous", "off", LIMITS["continuous"]),
            difference(runs, "events", "off"),
            ratio(runs, "events", "motion-rec"),
        ]
        lines.append(f"| {name} | {scene} | {' | '.join(cells)} |")
    lines += ["", "What each saw in the last round:", ""]
    for (name, scene), runs in results.items():
        seen = "; ".join(f"{k}: {run.note}" for k, run in runs[-1].items() if run.note)
        lines.append(f"- {name}, {scene}: {seen}")
    return "\n".join(lines) + "\n"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, required=True, help="footage with motion")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per run")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--only", nargs="*", help="streams whose name contains one of these")
    parser.add_argument("--consumers", nargs="+", choices=CONSUMERS, default=CONSUMERS)
    parser.add_argument("--before", default=BEFORE, help="git revision of `before`")
    args = parser.parse_args()
    args.consumers = [k for k in CONSUMERS if k in args.consumers]
    if not args.video.is_file():
        parser.error(f"no such video: {args.video}")
    return args


def main() -> None:
    args = arguments()
    names = [s.name for s in STREAMS if any(o in s.name for o in args.only)] if args.only \
        else DEFAULT_STREAMS  # fmt: skip
    streams = [s for s in STREAMS if s.name in names]
    check_tools(["motion"] if {"motion", "motion-rec"} & set(args.consumers) else [], streams)
    source = args.video.resolve()
    length = args.seconds + WARMUP + 40
    scenes = {"motion": source, "still": still_scene(source)}
    videos = {(scene, s.size): make_video(path, s.size, length)
              for scene, path in scenes.items() for s in streams}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="recording-cost-") as name:
        tmp = Path(name)
        env = setup_django(tmp / "data", tmp / "redis.sock")
        redis = start_redis(tmp / "redis.sock", log=tmp / "redis.log")
        loads = [load_average()]
        try:
            manage(env, "migrate", "--noinput", "--verbosity", "0")
            before = install_before(args.before, tmp, env) if "before" in args.consumers else None
            bench = RecordingBench(tmp, env, args.seconds, args.consumers, before=before)
            bench.all_kinds = args.consumers
            results: dict[tuple[str, str], list[dict[str, Run]]] = {}
            for round_ in range(args.rounds):
                for index, stream in enumerate(streams):
                    for scene in scenes:
                        print(f"\nround {round_ + 1}/{args.rounds}: {stream.name}, {scene}",
                              flush=True)  # fmt: skip
                        bench.consumers = bench.kinds_for(stream)
                        run = bench.round(stream, videos[scene, stream.size], f"cam{index}")
                        results.setdefault((stream.name, scene), []).append(run)
        finally:
            stop_process(redis, 5)
        loads.append(load_average())
    publish(report(results, args, loads), "recording_cost.md")


if __name__ == "__main__":
    main()
