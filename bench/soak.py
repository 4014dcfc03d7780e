"""Soak: 4 cameras, 50 stream viewers and 20 alert sockets for a long run; memory, logs, alerts.

    .venv/bin/python bench/soak.py [--minutes 30] [--warmup 120] [--database-url URL]

Everything is started here: a temp data dir (SQLite, or a fresh database made on the PostgreSQL
server of --database-url and dropped at the end), a redis-server on a unix socket, our web process
(`python -m surveillance.server`) and one `manage.py capture` worker per camera. Each camera plays
a generated 20 s video on a loop in which a box crosses at 5-8 s, so each camera should store one
event per 20 s. The alert sockets connect before the workers start, so they should hear every
event: motion.start once, motion.end once.

Clients are processes of their own (this script with --client): 50 MJPEG viewers spread over the
cameras in up to four processes (asyncio, parsed by Content-Length with bench/live_viewers.py's
Body), counting new frames (by X-Timestamp) per minute; 20 websocket clients on /ws/alerts/ in
one process, logged in, each keeping the ids of every motion.start and motion.end it hears.

Every 30 s the RSS (VmRSS) of every process is sampled and a progress line printed. At the end the
workers are stopped first (they close their open events), then the report is made: memory per
process (start after the warm-up, end, max, least-squares slope), events stored per camera
against crossings played, announcements per socket, frames per viewer, and the ERROR /
Traceback / CRITICAL lines of every process's log (kept in bench/out/soak-logs/). Markdown to
stdout and bench/out/soak.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.live_viewers import (  # noqa: E402
    MAX_CLIENTS,
    PASSWORD,
    READY_TIMEOUT,
    USERNAME,
    Body,
    open_stream,
    prepare,
    rss_mb,
    spawn,
    tail,
)  # fmt: skip
from bench.worker_cpu import cpu_seconds, load_average, start_redis  # noqa: E402
from tests.processes import free_port, stop_process, wait_until  # noqa: E402

OUT = REPO / "bench" / "out" / "soak.md"
LOGS = REPO / "bench" / "out" / "soak-logs"
CAMERAS, VIEWERS, SOCKETS = 4, 50, 20
LOOP, MOTION = 20.0, (5.0, 8.0)  # the video: seconds, and when the box crosses
END_AFTER = 4.0  # quiet seconds that end an event: well under the 17 s between crossings
SAMPLE_EVERY, CHECK_EVERY = 30.0, 5.0
SETTLE = 3.0  # seconds for the stopped workers' last motion.end to reach the sockets
FLAT_MB, FLAT_MB_PER_HOUR = 10.0, 5.0
MARKERS = ("ERROR", "Traceback", "CRITICAL")


# --- the clients (run as `soak.py --client viewers|alerts SPEC`) ----------------------------------


@dataclass
class Clock:
    origin: float | None = None  # time.time() the soak's minutes count from


@dataclass
class StreamWatch:
    """One MJPEG viewer: new frames per minute since the origin; reconnects after a failure."""

    path: str
    frames: int = 0
    minutes: list[int] = field(default_factory=list)
    latency_max: float = 0.0  # seconds from capture to the whole part received
    latency_sum: float = 0.0
    errors: list[str] = field(default_factory=list)
    reconnects: int = 0

    async def run(self, spec: dict, clock: Clock, ready: asyncio.Event) -> None:
        while True:
            writer = None
            try:
                reader, writer, chunked = await open_stream(spec, self.path)
                body, newest = Body(reader, chunked), 0.0
                while True:
                    stamp, _ = await body.part()
                    ready.set()
                    if stamp > newest:
                        self.count(stamp, clock)
                    newest = max(newest, stamp)
            except (OSError, EOFError, ValueError, KeyError, IndexError,
                    asyncio.LimitOverrunError) as exc:  # fmt: skip
                self.errors = [*self.errors, f"{type(exc).__name__}: {exc}"][:5]
                self.reconnects += 1
            finally:
                if writer is not None:
                    writer.close()
            await asyncio.sleep(1)

    def count(self, stamp: float, clock: Clock) -> None:
        now = time.time()
        if clock.origin is None or now < clock.origin:
            return
        minute = int((now - clock.origin) // 60)
        self.minutes += [0] * (minute + 1 - len(self.minutes))
        self.minutes[minute] += 1
        self.frames += 1
        self.latency_max = max(self.latency_max, now - stamp)
        self.latency_sum += now - stamp

    def report(self, full: bool) -> dict:
        return asdict(self)


@dataclass
class AlertWatch:
    """One /ws/alerts/ socket: every motion message it hears as [type, id, camera]."""

    heard: list[list] = field(default_factory=list)
    statuses: int = 0
    errors: list[str] = field(default_factory=list)
    reconnects: int = 0

    async def run(self, spec: dict, clock: Clock, ready: asyncio.Event) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException

        base = f"{spec['host']}:{spec['port']}"
        while True:
            try:
                async with connect(f"ws://{base}/ws/alerts/", origin=f"http://{base}",
                                   additional_headers={"Cookie": spec["cookie"]},
                                   open_timeout=30) as socket:  # fmt: skip
                    ready.set()
                    async for text in socket:
                        self.hear(json.loads(text))
                reason = "the server closed the socket"
            except (OSError, TimeoutError, ValueError, WebSocketException) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            self.errors = [*self.errors, reason][:5]
            self.reconnects += 1
            await asyncio.sleep(1)

    def hear(self, message: dict) -> None:
        if message.get("type") in ("motion.start", "motion.end"):
            event = message["event"]
            self.heard.append([message["type"], event["id"], event["camera"]])
        elif message.get("type") == "camera.status":
            self.statuses += 1

    def report(self, full: bool) -> dict:
        summary = {"heard": len(self.heard), "statuses": self.statuses,
                   "errors": self.errors, "reconnects": self.reconnects}  # fmt: skip
        return {**summary, "heard": self.heard} if full else summary


async def client(kind: str, spec: dict) -> None:
    """Prints "ready" once every watch is up, then answers stdin: "start EPOCH" sets the origin,
    "report" / "summary" print a JSON line, end of input stops."""
    clock, loop, tasks = Clock(), asyncio.get_running_loop(), []
    watches = ([StreamWatch(path) for path in spec["paths"]] if kind == "viewers"
               else [AlertWatch() for _ in range(spec["sockets"])])  # fmt: skip
    try:
        for watch in watches:  # one after another: a burst would overflow the listen backlog
            ready = asyncio.Event()
            tasks.append(asyncio.create_task(watch.run(spec, clock, ready)))
            await asyncio.wait_for(ready.wait(), READY_TIMEOUT)
    except TimeoutError:
        errors = [e for watch in watches for e in watch.errors]
        print(f"error: not ready after {READY_TIMEOUT:.0f} s: {errors[:1]}", flush=True)
        return
    print("ready", flush=True)
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        command, *rest = line.split()
        if command == "start":
            clock.origin = float(rest[0])
        elif command in ("report", "summary"):
            reports = [watch.report(full=command == "report") for watch in watches]
            print(json.dumps(reports), flush=True)
    for task in tasks:
        task.cancel()


# --- the servers ----------------------------------------------------------------------------------


class ClientProcess:
    def __init__(self, name: str, kind: str, spec: dict, env: dict[str, str]) -> None:
        self.name, self.log = name, LOGS / f"{name}.log"
        argv = [sys.executable, __file__, "--client", kind, json.dumps(spec)]
        self.process = spawn(argv, env, self.log, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def read_line(self, timeout: float) -> str:
        ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, timeout))
        return self.process.stdout.readline().decode().strip() if ready else ""

    def wait_ready(self, deadline: float) -> None:
        if (line := self.read_line(deadline - time.time())) != "ready":
            raise RuntimeError(f"{self.name} is not ready: {line or 'no answer'}\n{tail(self.log)}")

    def say(self, line: str) -> None:
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def ask(self, command: str = "report") -> list[dict]:
        self.say(command)
        line = self.read_line(60)
        if not line.startswith("["):
            raise RuntimeError(f"{self.name} gave no report: {line[:200]!r}\n{tail(self.log)}")
        return json.loads(line)


def log_in(url: str) -> str:
    import httpx

    with httpx.Client(base_url=url, timeout=10) as http:
        http.get("/accounts/login/")
        data = {"username": USERNAME, "password": PASSWORD,
                "csrfmiddlewaretoken": http.cookies["csrftoken"]}  # fmt: skip
        response = http.post("/accounts/login/", data=data)
        if response.status_code != 302:
            raise RuntimeError(f"login failed: HTTP {response.status_code}")
        return f"sessionid={http.cookies['sessionid']}"


def healthy(url: str, web: subprocess.Popen) -> bool:
    import httpx

    if web.poll() is not None:
        log = tail(LOGS / "web.log")
        raise RuntimeError(f"the web process exited with {web.returncode}\n{log}")
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


class Servers:
    """Redis, the web process, the alert sockets, the workers and the viewers, in that order:
    the sockets are listening before the first event can happen."""

    def __init__(self, tmp: Path, env: dict[str, str], query: str) -> None:
        self.tmp, self.env, self.query, self.port = tmp, env, query, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.products: dict[str, subprocess.Popen] = {}  # web and workers
        self.clients: dict[str, ClientProcess] = {}
        self.redis = None
        self.started: dict[str, float] = {}  # camera -> time.time() its worker was started

    def start(self) -> None:
        from capture.supervisor import web_server_argv

        self.redis = start_redis(self.tmp / "redis.sock", self.env)
        web = spawn(web_server_argv("127.0.0.1", self.port), self.env, LOGS / "web.log")
        self.products["web"] = web
        wait_until(lambda: healthy(self.url, web), READY_TIMEOUT, "the web process")
        spec = {"host": "127.0.0.1", "port": self.port, "cookie": log_in(self.url)}
        self.add_clients("alerts", [{**spec, "sockets": SOCKETS}])
        for i in range(CAMERAS):
            argv = [sys.executable, str(REPO / "manage.py"), "capture", f"cam{i}"]
            self.products[f"worker cam{i}"] = spawn(argv, self.env, LOGS / f"worker-cam{i}.log")
            self.started[f"cam{i}"] = time.time()
        paths = [f"/cameras/cam{i % CAMERAS}/stream.mjpg{self.query}" for i in range(VIEWERS)]
        count = min(MAX_CLIENTS, VIEWERS)
        self.add_clients("viewers", [{**spec, "paths": paths[i::count]} for i in range(count)])

    def add_clients(self, kind: str, specs: list[dict]) -> None:
        added = [ClientProcess(f"{kind}-{i}", kind, spec, self.env) for i, spec in enumerate(specs)]
        deadline = time.time() + READY_TIMEOUT + 15  # the clients give up first, and say why
        for process in added:
            self.clients[process.name] = process
            try:
                process.wait_ready(deadline)
            except RuntimeError as exc:
                dead = [f"{exc}", self.dead()] + [tail(LOGS / f"worker-{slug}.log")
                                                   for slug in self.started]  # fmt: skip
                raise RuntimeError("\n".join(dead)) from None

    def pids(self) -> dict[str, int]:
        """Every process to sample, by name."""
        pids = {name: p.pid for name, p in self.products.items()}
        pids["redis"] = self.redis.process.pid
        return pids | {name: c.process.pid for name, c in self.clients.items()}

    def dead(self) -> str:
        processes = {**self.products, **{n: c.process for n, c in self.clients.items()}}
        if self.redis is not None:
            processes["redis"] = self.redis.process
        exited = [f"{n} exited with code {p.returncode}" for n, p in processes.items()
                  if p.poll() is not None]  # fmt: skip
        return "; ".join(exited)

    def stop_clients(self, kind: str) -> None:
        for name, process in self.clients.items():
            if name.startswith(kind):
                stop_process(process.process, 5)

    def stop_workers(self) -> dict[str, float]:
        """SIGTERM to every worker at once, then wait: each closes its open event on the way."""
        stopped = {}
        for name, process in self.products.items():
            if name.startswith("worker") and process.poll() is None:
                process.terminate()
                stopped[name.split()[1]] = time.time()
        for name, process in self.products.items():
            if name.startswith("worker"):
                stop_process(process, 20)
        return stopped

    def stop_all(self) -> None:
        for process in self.clients.values():
            stop_process(process.process, 5)
        for process in self.products.values():
            stop_process(process, 20)
        if self.redis is not None:
            self.redis.terminate()
            self.redis.wait(time.monotonic() + 10)
            shutil.copy(self.tmp / "redis.log", LOGS / "redis.log")


# --- the run -------------------------------------------------------------------------------------


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


def events_so_far() -> Counter:
    from django.db import connection

    from events.models import MotionEvent

    try:
        return Counter(MotionEvent.objects.values_list("camera__slug", flat=True))
    finally:
        connection.close()


def sample(run: Run, pids: dict[str, int], elapsed: float) -> None:
    for name, pid in pids.items():
        with contextlib.suppress(OSError):  # exited: the liveness check says so
            run.samples.setdefault(name, []).append((elapsed, rss_mb(pid)))


def progress(run: Run, servers: Servers, elapsed: float, seconds: float) -> None:
    viewers = [v for name, c in servers.clients.items() if name.startswith("viewers")
               for v in c.ask("summary")]  # fmt: skip
    heard = [s["heard"] for s in servers.clients["alerts-0"].ask("summary")]
    frames = [v["frames"] for v in viewers]
    events = events_so_far()
    print(f"[{elapsed / 60:5.1f}/{seconds / 60:.0f} min] events {sum(events.values())} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(events.items()))}); frames per viewer "
          f"mean {sum(frames) / len(frames):.0f} min {min(frames)}; alerts heard per socket "
          f"{min(heard)}-{max(heard)}; web RSS {run.samples['web'][-1][1]:.1f} MB; "
          f"load {load_average()}", flush=True)  # fmt: skip


def soak(servers: Servers, run: Run, seconds: float) -> None:
    """The measured run: samples and progress every SAMPLE_EVERY, liveness every CHECK_EVERY."""
    pids = servers.pids()
    origin = time.time()
    for process in servers.clients.values():
        process.say(f"start {origin}")
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    next_sample = 0.0
    try:
        while (elapsed := time.time() - origin) < seconds:
            if dead := servers.dead():
                run.interrupted = f"after {elapsed / 60:.1f} min: {dead}"
                break
            if elapsed >= next_sample:
                sample(run, pids, elapsed)
                progress(run, servers, elapsed, seconds)
                next_sample += SAMPLE_EVERY
            time.sleep(min(CHECK_EVERY, max(0.0, seconds - elapsed)))
    except KeyboardInterrupt:
        run.interrupted = f"interrupted after {(time.time() - origin) / 60:.1f} min"
    run.seconds = time.time() - origin
    sample(run, pids, run.seconds)
    for name, pid in pids.items():
        with contextlib.suppress(OSError):
            run.cpu[name] = 100 * (cpu_seconds(pid) - cpu0[name]) / run.seconds


def finish(servers: Servers, run: Run) -> None:
    """Viewers' counts, then the workers stopped (closing their events), then what the sockets
    heard and what the database holds."""
    from django.db import connection

    from events.models import MotionEvent

    run.viewers = [v for name, c in servers.clients.items() if name.startswith("viewers")
                   for v in c.ask()]  # fmt: skip
    servers.stop_clients("viewers")
    run.stopped = servers.stop_workers()
    time.sleep(SETTLE)
    run.sockets = servers.clients["alerts-0"].ask()
    rows = MotionEvent.objects.order_by("started_at").values_list(
        "id", "camera__slug", "started_at", "ended_at"
    )
    run.events = list(rows)
    connection.close()


def connected_at(camera: str, fallback: float) -> float:
    """When the worker opened its video, from its log (its clock starts the loop)."""
    for line in (LOGS / f"worker-{camera}.log").read_text(errors="replace").splitlines():
        if f"{camera}: connected to" in line:
            stamp = " ".join(line.split()[:2])
            return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return fallback


# --- the report -----------------------------------------------------------------------------------

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


# --- setting up -----------------------------------------------------------------------------------


def fresh_postgres(url: str) -> tuple[str, Callable[[], None]]:
    """A new database on that server for this run, and how to drop it."""
    import psycopg

    name, parts = f"soak_{os.getpid()}", urlsplit(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def setup_django(tmp: Path, database_url: str) -> dict[str, str]:
    """bench.worker_cpu.setup_django, but with a database URL: the children's env."""
    os.environ.pop("DATABASE_URL", None)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.update(SURVEILLANCE_DATA_DIR=str(tmp / "data"), REDIS_URL=f"unix://{tmp}/redis.sock",
                      DJANGO_SETTINGS_MODULE="surveillance.settings")  # fmt: skip
    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per health check
    return dict(os.environ)


def make_scene(tmp: Path, env: dict[str, str]) -> Path:
    from cameras.models import Camera
    from tests.videos import write_video

    video = write_video(tmp / "scene.mp4", LOOP, moving=MOTION, size=(640, 480))
    prepare(env, CAMERAS, video)
    Camera.objects.update(end_after=END_AFTER)
    return video


def describe(args: argparse.Namespace) -> str:
    database = "SQLite in the temp data dir"
    if args.database_url:
        database = f"PostgreSQL (a fresh database on the server of `{args.database_url}`)"
    return (
        f"{CAMERAS} cameras (one `manage.py capture` process each) playing a generated "
        f"{LOOP:.0f} s 640x480 15 fps video on a loop, a box crossing at "
        f"{MOTION[0]:.0f}-{MOTION[1]:.0f} s (end_after {END_AFTER:.0f} s); {VIEWERS} MJPEG viewers "
        f"(`/cameras/camN/stream.mjpg{args.query}`, spread evenly, in {MAX_CLIENTS} client "
        f"processes); {SOCKETS} `/ws/alerts/` sockets (one client process), all logged in as a "
        f"staff user; our web process (`python -m surveillance.server`, Daphne); a private "
        f"redis-server on a unix socket; {database}."
    )


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        asyncio.run(client(sys.argv[2], json.loads(sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="the measured run")
    parser.add_argument(
        "--warmup",
        type=float,
        default=120.0,
        help="seconds before memory counts (at most a third of the run)",
    )
    parser.add_argument("--database-url", default="", help="postgres://…: a server to use")
    parser.add_argument("--query", default="",
                        help="the viewers' query string, e.g. ?width=640&fps=5 (default: every "
                        "frame at full size)")  # fmt: skip
    args = parser.parse_args()
    # SIGTERM stops like Ctrl-C; SIGINT too when started in the background (which ignores it).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    seconds = 60 * args.minutes
    warmup = min(args.warmup, seconds / 3)
    shutil.rmtree(LOGS, ignore_errors=True)
    LOGS.mkdir(parents=True)
    drop, run = None, Run(loads=[load_average()])
    with tempfile.TemporaryDirectory(prefix="soak-") as name:
        tmp = Path(name)
        url = args.database_url
        if url:
            url, drop = fresh_postgres(url)
        servers = None
        try:
            env = setup_django(tmp, url)
            make_scene(tmp, env)
            servers = Servers(tmp, env, args.query)
            print(f"starting the servers; logs in {LOGS.relative_to(REPO)}", flush=True)
            servers.start()
            print(f"all ready; soaking for {args.minutes:g} min", flush=True)
            soak(servers, run, seconds)
            run.started = {c: connected_at(c, t) for c, t in servers.started.items()}
            finish(servers, run)
        except KeyboardInterrupt:
            sys.exit("interrupted while starting or stopping: stopped everything, no report")
        finally:
            if servers is not None:
                servers.stop_all()
            if drop is not None:
                drop()
    run.loads.append(load_average())
    text = report(run, describe(args), warmup)
    OUT.write_text(text)
    print(f"\n{text}\n(written to {OUT.relative_to(REPO)})")


if __name__ == "__main__":
    main()
