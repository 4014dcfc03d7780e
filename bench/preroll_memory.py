"""What a camera's pre-roll holds in memory, on a 4 Mbit/s H.264 stream.

    .venv/bin/python bench/preroll_memory.py --video PATH [--mbits 4] [--seconds 60]
        [--rounds 3]

The stream is --video as a 1920x1080 15 fps camera sends it at a constant --mbits (x264 CBR,
a keyframe every 2 s; bench/recording_streams.py), measured two ways:

- the pre-roll itself: the product's source (FileSource, as fast as it reads, stamped with the
  stream's own times) feeds a PreRoll per pre-roll setting exactly as VideoRecorder does (the
  camera's packets, held from the keyframe before pre_roll + start_after + 1 s); sampled after
  every frame once it is full: PreRoll.size (the packets' bytes), and how far back its oldest
  keyframe reaches;
- real workers: `manage.py capture` with record off and with record events and a 10 s pre-roll,
  side by side on the same stream, nothing ever counted as motion (sensitivity 255: no event, so
  nothing but the pre-roll differs); VmRSS sampled every second over --seconds after 25 s
  online, in --rounds rounds; the median of each, and of each round's difference.

Target (issue 16): ≤ 8 MB per camera at 4 Mbit/s and a 10 s pre-roll. Prints two markdown
tables, written to bench/out/preroll_memory.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.capture_cost import cell
from bench.proc import load_average, rss_mb
from bench.recording_streams import bitrate, fixed_rate
from bench.tables import publish
from tests.harness import bench_site, manage, start_worker, stop_process, wait_until

SETTINGS = (5.0, 10.0, 30.0)  # pre-roll seconds: the default, the issue's, the most allowed
FILL = 25.0  # seconds online before RSS is sampled: the pre-roll is full by then
LIMIT_MB = 8.0
MB = 1024 * 1024


def preroll_table(video: Path, stream_seconds: float) -> list[str]:
    from cameras.models import Camera
    from cameras.sources.demux import FileSource
    from recordings.preroll import Item, PreRoll

    start_after = Camera._meta.get_field("start_after").default
    rolls = {s: PreRoll(s + start_after + 1.0) for s in SETTINGS}
    sizes: dict[float, list[int]] = {s: [] for s in SETTINGS}
    reach: dict[float, list[float]] = {s: [] for s in SETTINGS}
    source = FileSource(str(video), realtime=False, loop=True)
    source.open()
    first = None
    try:
        while True:
            frame = source.read()
            first = frame.captured_at if first is None else first
            for seconds, roll in rolls.items():
                for p in frame.packets:
                    roll.add(Item(p, frame.captured_at, p.is_keyframe, p.size))
                if frame.captured_at - first > seconds + start_after + 4:  # full by now
                    sizes[seconds].append(roll.size)
                    oldest = next((g for g in roll.groups if g.whole), None)
                    reach[seconds].append(frame.captured_at - oldest.at if oldest else 0.0)
            if frame.captured_at - first > stream_seconds:
                break
    finally:
        source.close()
    lines = [
        f"PreRoll fed by the product's FileSource for {stream_seconds:.0f} s of stream "
        f"(start_after {start_after:g} s); sampled after every frame once full:",
        "",
        "| pre-roll | held for | PreRoll.size median | max | oldest keyframe held "
        "(min, s ago) | needed (s ago) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for seconds in SETTINGS:
        held = seconds + start_after + 1.0
        median, top = statistics.median(sizes[seconds]) / MB, max(sizes[seconds]) / MB
        ok = "" if seconds != 10 else " ✓" if top <= LIMIT_MB else " ✗"  # the target's row
        lines.append(f"| {seconds:g} s | {held:g} s | {median:.2f} MB | {top:.2f} MB{ok} "
                     f"| {min(reach[seconds]):.1f} | {seconds + start_after:g} |")  # fmt: skip
    return lines


def rss_round(env: dict[str, str], video: Path, tmp: Path, name: str,
              seconds: float) -> dict[str, float]:  # fmt: skip
    """One round: the two workers side by side, each one's median VmRSS, MB."""
    from cameras.models import Camera

    slugs = {mode: f"{name}-{mode}" for mode in ("off", "events")}
    processes = {}
    try:
        for mode, slug in slugs.items():
            manage(env, "addcamera", slug, str(video), "--record", mode)
            Camera.objects.filter(slug=slug).update(pre_roll=10.0, sensitivity=255)
            processes[mode] = start_worker(env, slug, tmp / f"{slug}.log", detached=True)
        online = Camera.objects.filter(slug__in=slugs.values(), status="online")
        wait_until(lambda: online.count() == len(slugs), 60, "the workers online")
        time.sleep(FILL)
        samples: dict[str, list[float]] = {mode: [] for mode in processes}
        for tick in range(int(seconds)):
            for mode, process in processes.items():
                samples[mode].append(rss_mb(process.pid))
            time.sleep(1)
            if tick % 10 == 9:
                so_far = ", ".join(f"{m} {s[-1]:.1f} MB" for m, s in samples.items())
                print(f"  {name}, {tick + 1}/{seconds:.0f} s: {so_far}; load {load_average()}",
                      flush=True)  # fmt: skip
        return {mode: statistics.median(s) for mode, s in samples.items()}
    finally:
        for process in processes.values():
            stop_process(process, 15)


def worker_rss(env: dict[str, str], video: Path, tmp: Path, seconds: float,
               rounds: int) -> list[str]:  # fmt: skip
    from events.models import MotionEvent

    runs = [rss_round(env, video, tmp, f"r{i}", seconds) for i in range(rounds)]
    events = MotionEvent.objects.count()
    return [
        f"VmRSS of real workers side by side, median over {seconds:.0f} s after {FILL:.0f} s "
        f"online; {rounds} round(s): median (range); {events} event(s) in all:",
        "",
        "| worker | VmRSS |",
        "|---|---:|",
        f"| record off | {cell([r['off'] for r in runs])} MB |",
        f"| record events, 10 s pre-roll | {cell([r['events'] for r in runs])} MB |",
        f"| difference | {cell([r['events'] - r['off'] for r in runs])} MB |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, required=True, help="footage to encode")
    parser.add_argument("--mbits", type=float, default=4.0)
    parser.add_argument("--seconds", type=float, default=60.0, help="RSS sampled this long")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    stream = fixed_rate(args.video.resolve(), (1920, 1080), args.mbits, 60)
    rate = bitrate(stream)
    loads = [load_average()]
    with bench_site("preroll-memory") as (tmp, env):
        table = preroll_table(stream, 90.0)
        rss = worker_rss(env, stream, tmp, args.seconds, args.rounds)
    loads.append(load_average())
    text = "\n".join([
        f"# Pre-roll memory per camera — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Stream: `{stream.name}` ({rate:.2f} Mbit/s measured), looped; {os.cpu_count()} cores; "
        f"load average {' → '.join(loads)}. Target: ≤ {LIMIT_MB:g} MB at a 10 s pre-roll.",
        "", *table, "", *rss,
    ])  # fmt: skip
    publish(text + "\n", "preroll_memory.md")


if __name__ == "__main__":
    main()
