"""The report of bench/soak.py: what a run collected, and its verdict on memory, events, alerts,
viewers and logs (each section gives its markdown and what fails)."""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise

from tests.harness import REPO

LOGS = REPO / "bench" / "out" / "soak-logs"
CAMERAS, VIEWERS, SOCKETS = 4, 50, 20
LOOP, MOTION = 20.0, (5.0, 8.0)  # the video: seconds, and when the box crosses
END_AFTER = 4.0  # quiet seconds that end an event: well under the 17 s between crossings
SAMPLE_EVERY = 30.0  # seconds between memory samples
FLAT_MB, FLAT_MB_PER_HOUR = 10.0, 5.0
MARKERS = ("ERROR", "Traceback", "CRITICAL")


@dataclass
class Run:
    seconds: float = 0.0
    interrupted: str = ""
    samples: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # (s, MB)
    cpu: dict[str, float] = field(default_factory=dict)  # % of one core over the run
    viewers: list[dict] = field(default_factory=list)
    sockets: list[dict] = field(default_factory=list)
    events: list[tuple[int, str, datetime, datetime | None]] = field(default_factory=list)
    started: dict[str, float] = field(default_factory=dict)  # camera -> worker connected
    stopped: dict[str, float] = field(default_factory=dict)  # camera -> SIGTERM sent
    loads: list[str] = field(default_factory=list)


Section = tuple[list[str], list[str]]  # markdown lines, and what fails


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares MB per hour."""
    n = len(points)
    mean_t, mean_m = sum(t for t, _ in points) / n, sum(m for _, m in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    return 3600 * sum((t - mean_t) * (m - mean_m) for t, m in points) / var if var else 0.0


def is_product(name: str) -> bool:
    return name in ("web", "redis") or name.startswith("worker")


def memory(run: Run, warmup: float) -> Section:
    rows, growing = [], []
    for name, points in run.samples.items():
        after = [p for p in points if p[0] >= warmup] or points[-1:]
        start, end = after[0][1], after[-1][1]
        peak, rate = max(m for _, m in points), slope(after)
        flat = end - start < FLAT_MB and rate < FLAT_MB_PER_HOUR
        if is_product(name) and not flat:
            growing.append(f"{name} ({end - start:+.1f} MB, {rate:+.1f} MB/h)")
        role = "product" if is_product(name) else "bench client"
        rows.append(f"| {name} | {role}{'' if flat else ' **growing**'} | {start:.1f} | {end:.1f} "
                    f"| {peak:.1f} | {end - start:+.1f} | {rate:+.1f} "
                    f"| {run.cpu.get(name, 0):.1f} |")  # fmt: skip
    return [
        "## Memory (RSS, MB)", "",
        "| process | role | start | end | max | growth | slope MB/h | CPU % of a core |",
        "|---|---|---:|---:|---:|---:|---:|---:|", *rows, "",
        f"Start: the first sample at or after the warm-up; growth: end minus start; max over the "
        f"whole run; slope: a least-squares fit over the samples after the warm-up. Flat means "
        f"growth < {FLAT_MB:.0f} MB and slope < {FLAT_MB_PER_HOUR:.0f} MB/h; judged for the "
        f"product's processes (web, workers, redis), shown for the benchmark's clients.",
    ], growing  # fmt: skip


def crossings(start: float, stop: float) -> int:
    """Crossings whose event could start (motion persisting half a second) before the stop."""
    first = start + MOTION[0] + 0.5
    return 0 if stop < first else int((stop - first) // LOOP) + 1


def stored(run: Run) -> Section:
    rows, problems = [], []
    for camera in (f"cam{i}" for i in range(CAMERAS)):
        events = [e for e in run.events if e[1] == camera]
        gaps = [(b[2] - a[2]).total_seconds() for a, b in pairwise(events)]
        lengths = [(e[3] - e[2]).total_seconds() for e in events if e[3]] or [0.0]
        played = crossings(run.started[camera], run.stopped.get(camera, time.time()))
        ended = sum(1 for e in events if e[3])
        split = any(gap < LOOP / 2 for gap in gaps)  # one crossing stored as two events
        gaps = gaps or [0.0]
        if abs(len(events) - played) > 1 or split:
            problems.append(f"{camera}: {len(events)} events for {played} crossings, starts "
                            f"{min(gaps):.1f}-{max(gaps):.1f} s apart")  # fmt: skip
        if ended != len(events):
            problems.append(f"{camera}: {len(events) - ended} events never ended")
        rows.append(f"| {camera} | {len(events)} | {ended} | {played} | {min(gaps):.1f} / "
                    f"{max(gaps):.1f} | {min(lengths):.1f} / {max(lengths):.1f} |")  # fmt: skip
    return [
        "## Motion events", "",
        "| camera | rows | ended | crossings played | s between starts min / max "
        "| length s min / max |", "|---|---:|---:|---:|---:|---:|", *rows, "",
        f"Crossings played: crossings the worker's loop reached between opening the video and "
        f"SIGTERM ({LOOP:.0f} s loop, box crossing at {MOTION[0]:.0f}-{MOTION[1]:.0f} s). "
        f"Stored: rows within ±1 of it and no two starts closer than {LOOP / 2:.0f} s.",
    ], problems  # fmt: skip


def announced(run: Run) -> Section:
    ids = {e[0]: e[1] for e in run.events}
    ended = {e[0] for e in run.events if e[3]}
    rows, problems = [], []
    for n, socket in enumerate(run.sockets):
        starts = Counter(i for kind, i, _ in socket["heard"] if kind == "motion.start")
        ends = Counter(i for kind, i, _ in socket["heard"] if kind == "motion.end")
        missing = len(ids.keys() - starts.keys()) + len(ended - ends.keys())
        twice = sum(c - 1 for c in starts.values()) + sum(c - 1 for c in ends.values())
        unknown = sum(1 for _, i, camera in socket["heard"] if ids.get(i) != camera)
        if missing or twice or unknown or socket["reconnects"]:
            problems.append(f"socket {n}: {missing} missing, {twice} repeated, {unknown} "
                            f"unknown, {socket['reconnects']} reconnects "
                            f"{socket['errors'][:1]}")  # fmt: skip
        rows.append(f"| {n} | {sum(starts.values())} | {sum(ends.values())} | {missing} "
                    f"| {twice} | {unknown} | {socket['statuses']} "
                    f"| {socket['reconnects']} |")  # fmt: skip
    if not run.events:
        problems.append("no events at all")
    return [
        f"## Alerts ({len(run.sockets)} sockets on /ws/alerts/)", "",
        "| socket | motion.start | motion.end | missing | repeated | unknown id | camera.status "
        "| reconnects |", "|---:|---:|---:|---:|---:|---:|---:|---:|", *rows, "",
        f"Of {len(run.events)} event rows ({len(ended)} ended). Missing: a row, or its end, not "
        f"heard; unknown: an id with no row, or on another camera.",
    ], problems  # fmt: skip


def watched(run: Run) -> Section:
    full_minutes = int(run.seconds // 60)
    rows, problems = [], []
    for camera in (f"cam{i}" for i in range(CAMERAS)):
        viewers = [v for v in run.viewers if f"/{camera}/" in v["path"]]
        frames = [v["frames"] for v in viewers]
        stalled = [v for v in viewers if 0 in (v["minutes"] + [0] * full_minutes)[:full_minutes]]
        failed = [v for v in viewers if v["reconnects"]]
        mean_ms = 1000 * sum(v["latency_sum"] for v in viewers) / max(1, sum(frames))
        max_ms = 1000 * max(v["latency_max"] for v in viewers)
        if stalled or failed:
            problems.append(
                f"{camera}: {len(stalled)} viewers had a minute without frames, "
                f"{len(failed)} reconnected {[v['errors'][:1] for v in failed][:2]}"
            )
        mean = sum(frames) / len(frames)
        rows.append(f"| {camera} | {len(viewers)} | {min(frames)} / {mean:.0f} / {max(frames)} "
                    f"| {mean / run.seconds:.2f} | {mean_ms:.0f} / {max_ms:.0f} | {len(stalled)} "
                    f"| {len(failed)} |")  # fmt: skip
    return [
        f"## Viewers ({len(run.viewers)})", "",
        "| camera | viewers | new frames per viewer min / mean / max | frames/s per viewer "
        "| latency ms mean / max | with a minute without frames | reconnected |",
        "|---|---:|---:|---:|---:|---:|---:|", *rows, "",
        f"Latency: capture (X-Timestamp) to the whole part received. Minutes: the "
        f"{full_minutes} full minutes of the run.",
    ], problems  # fmt: skip


def logged() -> Section:
    """ERROR / Traceback / CRITICAL lines of every log; warnings are counted, not judged."""
    found, warnings, logs = [], 0, sorted(LOGS.glob("*.log"))
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if any(marker in line for marker in MARKERS):
                found.append(f"{log.name}: {line.strip()[:300]}")
            warnings += "WARNING" in line
    return [
        "## Logs", "",
        f"{len(found)} ERROR / Traceback / CRITICAL lines and {warnings} warnings in {len(logs)} "
        f"logs (bench/out/soak-logs/).", *(f"- `{line}`" for line in found[:10]),
    ], found  # fmt: skip


def report(run: Run, setup: str, warmup: float) -> str:
    sections = {
        "memory flat": memory(run, warmup),
        "every crossing stored as one event": stored(run),
        "every event announced exactly once to each socket": announced(run),
        "every viewer kept getting frames, in every full minute": watched(run),
        "no errors in the logs": logged(),
    }
    lines = [
        f"# Soak — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "", setup, "",
        f"Measured {run.seconds / 60:.1f} min after every client was ready; memory from "
        f"{warmup / 60:.1f} min (warm-up) on, sampled every {SAMPLE_EVERY:.0f} s. "
        f"{os.cpu_count()} cores; load average (1/5/15 min) {' → '.join(run.loads)}.",
        *([f"\n**Run ended early: {run.interrupted}.**"] if run.interrupted else []),
    ]  # fmt: skip
    for section, _ in sections.values():
        lines += ["", *section]
    lines += ["", "## Verdict", ""]
    for check, (_, problems) in sections.items():
        failed = bool(problems) or (check == "memory flat" and bool(run.interrupted))
        detail = f": {'; '.join(problems[:5])}" if problems else ""
        if check == "no errors in the logs":
            detail = f" ({len(problems)} lines)"
        lines.append(f"- {'FAIL' if failed else 'PASS'} {check}{detail}")
    return "\n".join(lines) + "\n"


def describe(args: argparse.Namespace, clients: int) -> str:
    """The run's setup, for the report's head."""
    database = "SQLite in the temp data dir"
    if args.database_url:
        database = f"PostgreSQL (a fresh database on the server of `{args.database_url}`)"
    return (
        f"{CAMERAS} cameras (one `manage.py capture` process each) playing a generated "
        f"{LOOP:.0f} s 640x480 15 fps video on a loop, a box crossing at "
        f"{MOTION[0]:.0f}-{MOTION[1]:.0f} s (end_after {END_AFTER:.0f} s); {VIEWERS} MJPEG viewers "
        f"(`/cameras/camN/stream.mjpg{args.query}`, spread evenly, in {clients} client "
        f"processes); {SOCKETS} `/ws/alerts/` sockets (one client process), all logged in as a "
        f"staff user; our web process (`python -m surveillance.server`, Daphne); a private "
        f"redis-server on a unix socket; {database}."
    )


def connected_at(camera: str, fallback: float) -> float:
    """When the worker opened its video, from its log (its clock starts the loop)."""
    for line in (LOGS / f"worker-{camera}.log").read_text(errors="replace").splitlines():
        if f"{camera}: connected to" in line:
            stamp = " ".join(line.split()[:2])
            return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return fallback
