"""How soon an event's clip plays after the event ends, asked for through the real web server.

    .venv/bin/python bench/clip_latency.py --video PATH [--events 10] [--only NAME ...]

Each camera plays footage made from --video (bench/recording_streams.py): 12 s of its motion, then
its last frame held 20 s with a sensor's grain, looped, so that every loop is one event that
starts and ends. Cameras: an H.264 640x480 file (the camera's packets copied) and an MJPEG 640x480
camera over HTTP (encoded to H.264), each with record events and the default pre- and post-roll,
their workers side by side with one web server (Daphne, as runsurveillance starts it).

For each event, once its row has an end (polled every 0.1 s), /events/<id>/clip.mp4 is asked for
every 0.2 s by a logged-in client until it answers 200 with an MP4 whose video lasts at least the
event plus its post-roll (less one frame): that moment less the row's ended_at (the last motion)
is the latency; what the MP4 holds beyond the event and its post-roll is the pre-roll served. Target
(issue 16): at most post_roll + 2 s. Prints a markdown table, written to
bench/out/clip_latency.md.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.capture_streams import STREAMS, Server, Stream, make_video
from bench.install import PASSWORD, USERNAME, install
from bench.proc import load_average
from bench.recording_streams import stop_and_go
from bench.tables import publish
from tests.harness import (
    bench_site,
    log_in,
    manage,
    start_web_server,
    start_worker,
    stop_process,
)  # fmt: skip

MOVING, STILL = 12.0, 20.0
DEFAULT_STREAMS = ["H.264 640x480 file", "MJPEG 640x480 HTTP"]
POLL_ROW, POLL_CLIP = 0.1, 0.2
GIVE_UP = 60.0  # seconds after the end: a clip not playable by then counts as never
SLACK = 2.0  # the target: post_roll + this


@dataclass
class Sample:
    event: int
    length: float  # the event's, seconds
    latency: float  # from ended_at to a playable clip, seconds
    after_row: float  # from the end row being seen to a playable clip
    served: float  # the MP4's video, seconds
    finished: bool  # the clip's own file (else an export of a clip still being written)
    asks: int


class Watcher(threading.Thread):
    """One camera's events: each clip fetched until it plays."""

    def __init__(self, slug: str, url: str, events: int, tmp: Path) -> None:
        super().__init__(name=f"watch {slug}", daemon=True)
        self.slug, self.url, self.wanted, self.tmp = slug, url, events, tmp
        self.samples: list[Sample] = []
        self.missed: list[int] = []
        self.done = threading.Event()

    def run(self) -> None:
        from django.db import connection

        from events.models import MotionEvent

        client = log_in(self.url, USERNAME, PASSWORD, timeout=30)
        seen: set[int] = set()
        try:
            while len(self.samples) + len(self.missed) < self.wanted and not self.done.is_set():
                ended = MotionEvent.objects.filter(camera__slug=self.slug, ended_at__isnull=False)
                for event in ended.exclude(pk__in=seen).select_related("camera"):
                    seen.add(event.pk)
                    self.fetch(client, event, time.time())
                time.sleep(POLL_ROW)
        finally:
            client.close()
            connection.close()

    def fetch(self, client: object, event: object, row_seen: float) -> None:
        from recordings.models import Recording
        from recordings.recovery import length

        camera = event.camera
        ended = event.ended_at.timestamp()
        needed = (ended - event.started_at.timestamp()) + camera.post_roll - 1 / 15
        path, asks = self.tmp / f"{self.slug}-{event.pk}.mp4", 0
        while time.time() - ended < GIVE_UP:
            asks += 1
            response = client.get(f"/events/{event.pk}/clip.mp4")
            if response.status_code == 200:
                path.write_bytes(response.content)
                served = length(path)
                if served >= needed:
                    at = time.time()
                    clip = Recording.objects.filter(events=event).first()
                    finished = clip is not None and clip.kind == "clip" and not clip.ongoing
                    span = ended - event.started_at.timestamp()
                    sample = Sample(
                        event.pk, span, at - ended, at - row_seen, served, finished, asks
                    )
                    self.samples.append(sample)
                    print(f"  {self.slug} event {event.pk}: playable {at - ended:.2f} s after "
                          f"its end ({served:.1f} s of video for {span:.1f} s of event, "
                          f"{asks} ask(s)); load {load_average()}", flush=True)  # fmt: skip
                    return
            time.sleep(POLL_CLIP)
        self.missed.append(event.pk)
        print(f"  {self.slug} event {event.pk}: no playable clip {GIVE_UP:.0f} s after its end")


def quantile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def report(watchers: dict[str, Watcher], post_roll: float, loads: list[str]) -> str:
    lines = [
        f"# Event clip latency — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Seconds from an event's end (its row's ended_at) to /events/<id>/clip.mp4 answering 200 "
        f"with at least the event plus its post-roll ({post_roll:g} s); {os.cpu_count()} cores; "
        f"load average {' → '.join(loads)}. Target: ≤ post_roll + {SLACK:g} s = "
        f"{post_roll + SLACK:g} s.",
        "",
        "| camera | events | p50 | p95 | max | after the end row, p50 / max | served from "
        "| pre-roll served, min / median | not playable |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for name, watcher in watchers.items():
        samples = watcher.samples
        if not samples:
            lines.append(f"| {name} | 0 | - | - | - | - | - | - | {len(watcher.missed)} |")
            continue
        late = [s.latency for s in samples]
        rows = [s.after_row for s in samples]
        mark = " ✓" if max(late) <= post_roll + SLACK and not watcher.missed else " ✗"
        finished = sum(s.finished for s in samples)
        spare = [s.served - s.length - post_roll for s in samples]  # what came before the motion
        lines.append(
            f"| {name} | {len(samples)} | {quantile(late, 0.5):.2f} | {quantile(late, 0.95):.2f} "
            f"| {max(late):.2f}{mark} | {quantile(rows, 0.5):.2f} / {max(rows):.2f} "
            f"| clip {finished}, export {len(samples) - finished} "
            f"| {min(spare):.1f} / {quantile(spare, 0.5):.1f} s "
            f"| {len(watcher.missed)} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, required=True, help="footage with motion")
    parser.add_argument("--events", type=int, default=10, help="events per camera")
    parser.add_argument("--only", nargs="*", help="cameras whose name contains one of these")
    args = parser.parse_args()
    names = [s.name for s in STREAMS if any(o in s.name for o in args.only)] if args.only \
        else DEFAULT_STREAMS  # fmt: skip
    streams: list[Stream] = [s for s in STREAMS if s.name in names]
    footage = stop_and_go(args.video.resolve(), MOVING, STILL)
    video = make_video(footage, (640, 480), MOVING + STILL)
    loads = [load_average()]
    with bench_site("clip-latency") as (tmp, env), ExitStack() as stack:
        install(env, 0, "")
        web = start_web_server(env, log=tmp / "web.log", detached=True)
        stack.callback(stop_process, web.process, 15)
        watchers: dict[str, Watcher] = {}
        for index, stream in enumerate(streams):
            slug = f"cam{index}"
            camera_url = stack.enter_context(Server(stream, video)).url
            manage(env, "addcamera", slug, camera_url, "--record", "events")
            worker = start_worker(env, slug, tmp / f"{slug}.log", detached=True)
            stack.callback(stop_process, worker, 15)
            watchers[stream.name] = Watcher(slug, web.url, args.events, tmp)
        for watcher in watchers.values():
            watcher.start()
        deadline = time.monotonic() + 60 + args.events * (MOVING + STILL + 10)
        for watcher in watchers.values():
            watcher.join(max(0.0, deadline - time.monotonic()))
            watcher.done.set()
        from cameras.models import Camera

        post_roll = Camera.objects.get(slug="cam0").post_roll
        loads.append(load_average())
        text = report(watchers, post_roll, loads)
    publish(text, "clip_latency.md")


if __name__ == "__main__":
    main()
