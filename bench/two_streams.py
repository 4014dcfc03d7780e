"""What a camera's second stream buys (issue 20): the worker's CPU against decoding the main
stream, and what a stalled live.mp4 viewer costs the web process.

    .venv/bin/python bench/two_streams.py [--video PATH] [--rounds 3] [--seconds 20]
        [--stall-seconds 60]

The camera: a 1920x1080 main stream and a 640x360 sub-stream, both H.264 15 fps with a 2 s GOP,
encoded once from --video (one scene; without it, a synthetic one) into bench/out/streams/ and
served with `-c copy`: the main stream over RTSP (GStreamer, tests/rtsp_server.py), the sub over
HTTP MPEG-TS (ffmpeg -listen), as tests/test_two_streams.py does, on 127.0.0.1.

1. CPU, --rounds paired rounds: `manage.py capture` on that camera (recording events, the
   default; nobody watching) beside the decode floor of the main stream alone (ffmpeg decoding
   it to null, from its own RTSP server), measured from /proc over the same --seconds window
   after a warm-up (bench/capture_cost.py's Bench). The table gives each one's median (range),
   the median (range) of the rounds' worker / floor, and the camera's health fields `fps` and
   `dropped_frames` (from the database) at the end of each round.
2. A stalled viewer: the web server (Daphne, as runsurveillance starts it) and one worker; a raw
   socket client (bench/fmp4_client.py) sends GET live.mp4 with an API token (`createtoken`),
   reads for READ_SECONDS, stops reading for --stall-seconds, then reads again. The web process's
   RSS and PSS (smaps_rollup) with no viewer, while it reads, and through the stall (end, peak).
   live.mp4 carries no capture time: the decode time runs at the camera's pace, so the least
   (arrival - decode time) while reading is the live edge, and a fragment's age is how far its
   decode time is behind it when it arrives. After the stall the client first reads what its own
   kernel buffered (reported apart), then what the server sends next: a jump in the sequence
   numbers, which must start at a keyframe no older than 2 s.

Prints progress and a markdown table, written to bench/out/two_streams.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.capture_cost import WARMUP, Bench, Run, cell, check_tools
from bench.capture_streams import (
    TWO_STREAMS,
    MpegTs,
    Server,
    floor_argv,
    two_stream_videos,
)
from bench.install import PASSWORD, USERNAME
from bench.proc import load_average
from bench.stalled_viewer import READ_SECONDS, RESUME_SECONDS, Stall, stall_rows, watch_and_stall
from bench.tables import publish
from tests.harness import (
    REPO,
    bench_site,
    manage,
    start_web_server,
    start_worker,
    stop_process,
    tail,
    wait_until,
)

MAIN = TWO_STREAMS[0]
SLUG = "gate"
CPU_LIMIT = 0.35  # worker / decode floor of the main stream


def add_camera(env: dict[str, str], main_url: str, sub_url: str) -> tuple[Callable, Callable]:
    """The camera, fresh; whether its worker is online on both streams, and its health."""
    from cameras.models import Camera

    Camera.objects.filter(slug=SLUG).delete()
    manage(env, "addcamera", SLUG, main_url, "--detect-source", sub_url)
    camera = Camera.objects.get(slug=SLUG)

    def online() -> bool:
        camera.refresh_from_db()
        return camera.status == Camera.Status.ONLINE and "main" in camera.streams

    def health() -> str:
        camera.refresh_from_db()
        fps = f"{camera.fps:.1f} fps" if camera.fps else "fps ?"
        detail = f", “{camera.status_detail}”" if camera.status_detail else ""
        return f"{fps}, {camera.dropped_frames} dropped, {camera.reconnects} reconnects{detail}"

    return online, health


class TwoStreamBench(Bench):
    def pair(self, videos: dict[str, Path]) -> dict[str, Run]:
        """The worker on the two streams and the floor on the main one, in the same window."""
        with contextlib.ExitStack() as stack:
            floor_url = stack.enter_context(Server(MAIN, videos["main"])).url
            main_url = stack.enter_context(Server(MAIN, videos["main"])).url
            sub_url = stack.enter_context(MpegTs(videos["sub"])).url
            floor = self.spawn("floor", floor_argv(MAIN, floor_url))
            stack.callback(stop_process, floor.process, 15)
            online, health = add_camera(self.env, main_url, sub_url)
            argv = [sys.executable, str(REPO / "manage.py"), "capture", SLUG]
            worker = self.spawn("worker", argv)
            stack.callback(stop_process, worker.process, 15)
            worker.ready, worker.observe = online, health
            try:
                cpus = self.measure([floor, worker])
            except RuntimeError:
                print(tail(worker.log), tail(floor.log), sep="\n")
                raise
            return {c.kind: Run(cpus[c.kind], c.observe()) for c in (floor, worker)}


# -- the stalled viewer --


def stall_phase(env: dict[str, str], tmp: Path, videos: dict[str, Path], seconds: float) -> Stall:
    """One worker, the web server and a viewer of live.mp4 with an API token that stalls."""
    from django.contrib.auth import get_user_model

    print(f"\nstalled viewer: the web server, one worker, {seconds:.0f} s of stall", flush=True)
    get_user_model().objects.create_superuser(USERNAME, password=PASSWORD)
    token = manage(env, "createtoken", USERNAME, "--name", "bench").strip().splitlines()[-1]
    with contextlib.ExitStack() as stack:
        main_url = stack.enter_context(Server(MAIN, videos["main"])).url
        sub_url = stack.enter_context(MpegTs(videos["sub"])).url
        online, _ = add_camera(env, main_url, sub_url)
        worker = start_worker(env, SLUG, tmp / "stall-worker.log", detached=True)
        stack.callback(stop_process, worker, 15)
        web = start_web_server(env, log=tmp / "web.log", detached=True)
        stack.callback(stop_process, web.process, 15)
        try:
            wait_until(online, 60, "the worker online on both streams")
            time.sleep(WARMUP)
            return watch_and_stall(web.url, token, SLUG, seconds, web.process.pid)
        except (RuntimeError, AssertionError, OSError):
            print(tail(tmp / "stall-worker.log"), tail(tmp / "web.log"), sep="\n")
            raise


# -- the report --


def report(runs: list[dict[str, Run]], stall: Stall, args: argparse.Namespace,
           loads: list[str]) -> str:  # fmt: skip
    ratios = [run["worker"].cpu / run["floor"].cpu for run in runs]
    met = "✓" if statistics.median(ratios) <= CPU_LIMIT else "✗"
    lines = [
        f"# Two streams per camera — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Camera: 1920x1080 main (RTSP) + 640x360 sub (HTTP MPEG-TS), H.264 15 fps, 2 s GOP, "
        f"served with `-c copy`, encoded from {args.source}; recording events; "
        f"{os.cpu_count()} cores; load average {' → '.join(loads)}. CPU: {args.rounds} paired "
        f"round(s) of {args.seconds:.0f} s after {WARMUP:.0f} s of warm-up, % of one core, "
        "median (range). Memory: the web process, MB.",
        "",
        "| what | measured | target |",
        "|---|---|---|",
        f"| worker, nobody watching | {cell([r['worker'].cpu for r in runs])} % | |",
        f"| decode floor of the main stream alone (ffmpeg) | "
        f"{cell([r['floor'].cpu for r in runs])} % | |",
        f"| worker / floor | {cell(ratios, 2)} | ≤ {CPU_LIMIT} {met} |",
        f"| worker's health at the end of each round | "
        f"{'; '.join(r['worker'].note for r in runs)} | 15 fps, 0 dropped |",
        *stall_rows(stall, args.stall_seconds),
    ]
    return "\n".join(lines) + "\n"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, help="the scene to encode both streams from")
    parser.add_argument("--rounds", type=int, default=3, help="paired CPU rounds")
    parser.add_argument("--seconds", type=float, default=20.0, help="CPU window per round")
    parser.add_argument("--stall-seconds", type=float, default=60.0, help="the viewer's stall")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    check_tools(["floor"], [MAIN])
    length = max(args.seconds + WARMUP, READ_SECONDS + args.stall_seconds + RESUME_SECONDS) + 40
    videos, args.source = two_stream_videos(args.video, length)
    loads = [load_average()]
    with bench_site("two-streams") as (tmp, env):
        bench = TwoStreamBench(tmp, env, args.seconds, ["floor", "worker"])
        runs = []
        for round_ in range(args.rounds):
            print(f"\nround {round_ + 1}/{args.rounds}: worker and floor", flush=True)
            runs.append(bench.pair(videos))
        stall = stall_phase(env, tmp, videos, args.stall_seconds)
    loads.append(load_average())
    publish(report(runs, stall, args, loads), "two_streams.md")


if __name__ == "__main__":
    main()
