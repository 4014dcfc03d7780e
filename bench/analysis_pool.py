"""`manage.py analyze` with 1 and 2 worker processes: frames per second, and the same events.

    .venv/bin/python bench/analysis_pool.py [--video PATH] [--runs 3] [--seconds 900] [--objects]

Each run is `manage.py analyze VIDEO --json --workers N` in a fresh process (spawned pool and
all), timed by the wall clock from start to exit; frames per second is the file's frames over
that time, the median of --runs. The issue's target: 2 workers give at least 1.7 times the frames
per second of 1 on a 2-core machine, with the events (times, areas; objects with --objects)
identical to the 1-worker run's, in order.

Without --video, a generated scene (tests/videos.py): --seconds of 640x480 at 15 fps with a box
crossing for 3 s of every 30. A file shorter than about twice the pieces' warm-up (77 s at the
default settings) is not cut, and then both runs are one process. Writes
bench/out/analysis_pool.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import av  # noqa: E402

from bench.tables import publish  # noqa: E402
from tests.videos import write_video  # noqa: E402

TARGET = 1.7


def frames_of(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.frames or sum(1 for p in container.demux(stream) if p.size)


def analyze(video: Path, workers: int, objects: bool) -> tuple[float, str]:
    """Seconds one `analyze` took, and what it printed."""
    argv = [sys.executable, "manage.py", "analyze", str(video), "--json", "--workers", str(workers)]
    if objects:
        argv.append("--objects")
    started = time.monotonic()
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode:
        raise SystemExit(f"analyze --workers {workers} failed:\n{done.stderr}")
    return seconds, done.stdout


def measure(video: Path, workers: int, runs: int, objects: bool) -> tuple[float, list]:
    """Median seconds over `runs`, and the events (every run must give the same)."""
    times, outputs = [], set()
    for _ in range(runs):
        seconds, output = analyze(video, workers, objects)
        times.append(seconds)
        outputs.add(output)
    if len(outputs) > 1:
        raise SystemExit(f"--workers {workers} gave different events from one run to the next")
    return statistics.median(times), json.loads(outputs.pop())


def report(video: Path, frames: int, runs: int, results: dict[int, tuple[float, list]]) -> str:
    one, two = results[1], results[2]
    ratio = one[0] / two[0]
    same = "yes" if one[1] == two[1] else "**no**"
    rows = [
        f"`analyze` on {video.name}: {frames} frames, {len(one[1])} events, median of {runs} "
        f"run(s), {os.cpu_count()} cores.",
        "",
        "| workers | seconds | frames/s |",
        "|---:|---:|---:|",
    ]
    for workers, (seconds, _) in sorted(results.items()):
        rows.append(f"| {workers} | {seconds:.2f} | {frames / seconds:.0f} |")
    verdict = "meets" if ratio >= TARGET else "misses"
    rows += [
        "",
        f"2 workers / 1 worker: **{ratio:.2f}x** ({verdict} the {TARGET}x target); "
        f"events identical, in order: {same}.",
    ]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, help="a video file (default: a generated scene)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=900, help="of the generated scene")
    parser.add_argument("--objects", action="store_true", help="analyze --objects")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video = args.video
        if video is None:
            video = Path(tmp) / "scene.mp4"
            print(f"writing {args.seconds:.0f} s of a generated scene...", flush=True)
            write_video(video, args.seconds, moving=(10, 13), size=(640, 480), crossings_every=30)
        frames = frames_of(video)
        results = {n: measure(video, n, args.runs, args.objects) for n in (1, 2)}
        publish(report(video, frames, args.runs, results), "analysis_pool.md")


if __name__ == "__main__":
    main()
