"""Ten two-stream cameras on one machine (issue 20): does every worker keep 15 fps with no
dropped frame, and what do they cost together?

    .venv/bin/python bench/ten_cameras.py [--video PATH] [--cameras 10] [--seconds 60]

Each camera is a 1920x1080 main stream over RTSP (GStreamer, tests/rtsp_server.py) and a 640x360
sub-stream over HTTP MPEG-TS (ffmpeg), both H.264 15 fps with a 2 s GOP, encoded once from --video
(without it, a synthetic scene) into bench/out/streams/ and served with `-c copy`, so that the
machine does not spend its cores encoding twenty streams for the test. One `manage.py capture`
per camera with the defaults: detecting on the sub-stream, recording events from the main one,
nobody watching.

Once every worker is online on both streams and WARMUP seconds have passed, CPU is read from
/proc over --seconds: each worker, their total, and the camera servers apart (they stand in for
the cameras). Each camera's health is read from the database at the start and the end of the
window: `fps`, and the dropped frames and reconnects during it (the worker counts a frame missing
from the camera's own timestamps, a read its main-stream thread had to drop, and a frame it could
not hand to the live view). Events and clips recorded during the run are counted too.

Prints progress and a markdown table, written to bench/out/ten_cameras.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.capture_cost import WARMUP, cell, check_tools
from bench.capture_streams import (
    TWO_STREAMS,
    MpegTs,
    Server,
    two_stream_videos,
)
from bench.proc import cpu_seconds, load_average
from bench.tables import publish
from tests.harness import bench_site, manage, start_worker, stop_process, tail, wait_until

MAIN = TWO_STREAMS[0]
FPS = 15.0
PROGRESS_EVERY = 10.0


def health() -> dict[str, tuple[float, int, int]]:
    """Each camera's fps, dropped frames and reconnects, as its worker last saved them."""
    from cameras.models import Camera

    rows = Camera.objects.values_list("slug", "fps", "dropped_frames", "reconnects")
    return {slug: (fps or 0.0, dropped, reconnects) for slug, fps, dropped, reconnects in rows}


def all_online(count: int) -> bool:
    from cameras.models import Camera

    cameras = Camera.objects.filter(status=Camera.Status.ONLINE)
    return sum("main" in camera.streams and (camera.fps or 0) > 0 for camera in cameras) == count


def recorded(since: datetime) -> tuple[int, int]:
    """Events going on at some time in the window (busy footage makes long ones), and of
    those, the ones with their clip."""
    from django.db.models import Q

    from events.models import MotionEvent

    events = MotionEvent.objects.filter(Q(ended_at__isnull=True) | Q(ended_at__gte=since))
    return events.count(), events.with_clip(True).count()


def cpu_over(pids: dict[str, int], seconds: float) -> dict[str, float]:
    """% of one core of each process over the next `seconds`, with progress."""
    cpu0, t0 = {name: cpu_seconds(pid) for name, pid in pids.items()}, time.monotonic()

    def so_far() -> dict[str, float]:
        wall = time.monotonic() - t0
        return {name: 100 * (cpu_seconds(pid) - cpu0[name]) / wall for name, pid in pids.items()}

    while (elapsed := time.monotonic() - t0) < seconds:
        time.sleep(min(PROGRESS_EVERY, seconds - elapsed))
        cpus = so_far()
        workers = sum(v for k, v in cpus.items() if k.startswith("worker"))
        print(f"  {time.monotonic() - t0:3.0f}/{seconds:.0f} s: workers {workers:.0f} % of a core "
              f"together; load {load_average()}", flush=True)  # fmt: skip
    return so_far()


def run(env: dict[str, str], tmp: Path, videos: dict[str, Path], args: argparse.Namespace) -> dict:
    with contextlib.ExitStack() as stack:
        servers: dict[str, int] = {}
        workers: dict[str, int] = {}
        for n in range(args.cameras):
            slug = f"cam{n}"
            main = stack.enter_context(Server(MAIN, videos["main"]))
            sub = stack.enter_context(MpegTs(videos["sub"]))
            servers[f"main {slug}"], servers[f"sub {slug}"] = main.process.pid, sub.process.pid
            manage(env, "addcamera", slug, main.url, "--detect-source", sub.url)
            worker = start_worker(env, slug, tmp / f"{slug}.log", detached=True)
            stack.callback(stop_process, worker, 15)
            workers[f"worker {slug}"] = worker.pid
        print(f"{args.cameras} cameras started; waiting for every worker online", flush=True)
        try:
            wait_until(lambda: all_online(args.cameras), 120, "every worker online")
        except AssertionError:
            print(tail(tmp / "cam0.log"))
            raise
        time.sleep(WARMUP)
        since, before = datetime.now(UTC), health()
        cpus = cpu_over({**workers, **servers}, args.seconds)
        time.sleep(2)  # the workers' last health save
        return {"cpu": cpus, "before": before, "after": health(), "recorded": recorded(since)}


def report(result: dict, args: argparse.Namespace, loads: list[str]) -> str:
    cpu, before, after = result["cpu"], result["before"], result["after"]
    slugs = sorted(after, key=lambda s: int(s.removeprefix("cam")))
    workers = [cpu[f"worker {s}"] for s in slugs]
    servers = sum(v for k, v in cpu.items() if not k.startswith("worker"))
    dropped = {s: after[s][1] - before[s][1] for s in slugs}
    reconnects = {s: after[s][2] - before[s][2] for s in slugs}
    fps = [after[s][0] for s in slugs]
    kept = min(fps) >= FPS * 0.97 and not any(dropped.values())
    events, clips = result["recorded"]
    rows = [f"| {s} | {cpu[f'worker {s}']:.1f} | {after[s][0]:.1f} | {dropped[s]} "
            f"| {reconnects[s]} |" for s in slugs]  # fmt: skip
    return "\n".join([
        f"# Ten cameras — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"{args.cameras} cameras, each a 1920x1080 main stream (RTSP) and a 640x360 sub-stream "
        f"(HTTP MPEG-TS), H.264 15 fps, 2 s GOP, served with `-c copy`, encoded from "
        f"{args.source}; one worker each, detecting on the sub-stream and recording events from "
        f"the main one, nobody watching. {os.cpu_count()} cores; load average "
        f"{' → '.join(loads)}. CPU over {args.seconds:.0f} s after {WARMUP:.0f} s of warm-up, "
        "% of one core.",
        "",
        "| camera | worker CPU (%) | fps | dropped frames | reconnects |",
        "|---|---:|---:|---:|---:|",
        *rows,
        "",
        f"All workers together: **{sum(workers):.0f} % of one core** (a worker: median "
        f"{statistics.median(workers):.1f} %, {cell(workers)}); the {2 * args.cameras} camera "
        f"servers: {servers:.0f} %. Every worker at 15 fps with no dropped frame: "
        f"**{'yes ✓' if kept else 'no ✗'}** (fps {min(fps):.1f} to {max(fps):.1f}, dropped "
        f"{sum(dropped.values())} in all). Events going on during the window: {events}, "
        f"{clips} of them with their clip.",
    ]) + "\n"  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, help="the scene to encode both streams from")
    parser.add_argument("--cameras", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured window")
    args = parser.parse_args()
    check_tools(["floor"], [MAIN])
    length = args.seconds + WARMUP + 120  # the start of ten workers, the window, and room
    videos, args.source = two_stream_videos(args.video, length)
    loads = [load_average()]
    with bench_site("ten-cameras") as (tmp, env):
        result = run(env, tmp, videos, args)
    loads.append(load_average())
    publish(report(result, args, loads), "ten_cameras.md")


if __name__ == "__main__":
    main()
