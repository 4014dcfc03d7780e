"""Live view at scale (issue 4): many viewers of one MJPEG stream, ours against the seed's design.

    .venv/bin/python bench/live_viewers.py [--seconds 20] [--stall-seconds 60] [--only NAME ...]

Scenarios (names for --only; `ours` or `seed` alone selects all of that server's), run in this
order, each with servers started fresh:

- ours-1, ours-10, ours-50, ours-100: one camera (640x480 15 fps, the highway video looping)
  watched by that many viewers through our web process (`python -m surveillance.server`, Daphne
  with backpressure) and a `manage.py capture` worker, with a Redis of our own;
- seed-1 ... seed-100: the same counts against bench/seed_server.py, the seed's Flask design (a
  capture thread, and a loop per client encoding the shared frame without pause). Needs Flask:
  `.venv/bin/pip install flask`;
- ours-4x10: four cameras (four workers), ten viewers each;
- ours-stall: ten viewers plus one that sends its request and never reads (SO_RCVBUF 4096) for
  --stall-seconds: the web process's RSS growth over the stall, and whether the others lose
  frames.

Viewers are real HTTP/1.1 clients in up to four processes of their own (this script with
--client), each running its viewers as asyncio connections and parsing the multipart stream by
Content-Length. After every viewer has its first frame and a warm-up, a window of --seconds
starts: for each viewer, the new frames received (by X-Timestamp) and their latency (the time the
whole part arrived minus X-Timestamp, the capture time); for the processes, CPU from /proc
(utime+stime over the window) of the web process, the capture worker(s) (for the seed: its
capture thread, and the rest of the process as "web"), redis-server, and the clients themselves,
and the web process's RSS. Prints progress and a markdown table with the targets, and writes them
to bench/out/live_viewers.md.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import math
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.worker_cpu import (  # noqa: E402
    CLK_TCK,
    cpu_seconds,
    load_average,
    manage,
    pick_video,
    setup_django,
    start_redis,
)  # fmt: skip
from tests.processes import free_port, stop_process, wait_until  # noqa: E402

OUT = REPO / "bench" / "out" / "live_viewers.md"
USERNAME, PASSWORD = "bench", "bench-password"
MAX_CLIENTS = 4  # client processes: the machine has two cores, the clients must stay cheap
STALL_RCVBUF = 4096
WARMUP = 5.0
READY_TIMEOUT = 90.0  # a loaded machine can take a while to import Django and OpenCV
PROGRESS_EVERY = 5.0
TARGET_SHARE = 0.95  # of the camera's frames, each viewer, with 100 viewers
TARGET_P95_MS = 150.0
TARGET_STALL_MB = 2.0
TARGET_WORKER_CHANGE = 0.10  # worker CPU with 100 viewers against 1
TARGET_WEB_CORES = 1.0


@dataclass
class Scenario:
    name: str
    server: str  # "ours" or "seed"
    cameras: int
    viewers: int  # per camera
    stall: bool = False

    @property
    def shape(self) -> str:
        return f"{self.cameras} x {self.viewers}" + (" + 1 stalled" if self.stall else "")


SCENARIOS = [
    *(Scenario(f"{server}-{n}", server, 1, n)
      for n in (1, 10, 50, 100) for server in ("ours", "seed")),
    Scenario("ours-4x10", "ours", 4, 10),
    Scenario("ours-stall", "ours", 1, 10, stall=True),
]  # fmt: skip


# --- the clients (run as `live_viewers.py --client SPEC`) ---------------------------------------


@dataclass
class Window:
    start: float = math.inf
    end: float = math.inf


class Body:
    """A response body, chunked or not, parsed as multipart parts with a Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, chunked: bool) -> None:
        self.reader, self.chunked = reader, chunked
        self.buffer = bytearray()
        self.chunk_left = 0

    async def fill(self) -> None:
        if self.chunked and not self.chunk_left:
            self.chunk_left = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if not self.chunk_left:
                raise ConnectionError("the server ended the stream")
        data = await self.reader.read(self.chunk_left if self.chunked else 1 << 16)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data
        if self.chunked:
            self.chunk_left -= len(data)
            if not self.chunk_left:
                await self.reader.readexactly(2)  # the CRLF after each chunk

    async def part(self) -> tuple[float, int]:
        """The next part's X-Timestamp and length, once all of it has arrived."""
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            await self.fill()
        boundary, *lines = bytes(self.buffer[:end]).split(b"\r\n")
        if boundary.strip() != b"--frame":
            raise ValueError(f"expected a part boundary, got {boundary[:40]!r}")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(b":") for h in lines)}
        length = int(headers[b"content-length"])
        total = end + 4 + length + 2  # the part ends with CRLF
        while len(self.buffer) < total:
            await self.fill()
        del self.buffer[:total]
        return float(headers[b"x-timestamp"]), length


@dataclass
class Viewer:
    """One connection to a stream: what arrived inside the window."""

    path: str
    parts: int = 0
    bytes: int = 0
    latencies: list[float] = field(default_factory=list)  # ms, of each new frame
    stamps: list[float] = field(default_factory=list)  # X-Timestamp of each new frame
    error: str = ""
    first: asyncio.Event = field(default_factory=asyncio.Event)

    async def watch(self, reader: asyncio.StreamReader, chunked: bool, window: Window) -> None:
        body, newest = Body(reader, chunked), 0.0
        try:
            while True:
                stamp, length = await body.part()
                now = time.time()
                self.first.set()
                if now >= window.end:
                    return
                if now >= window.start:
                    self.parts += 1
                    self.bytes += length
                    if stamp > newest:  # the seed sends the same frame again and again
                        self.latencies.append(round(1000 * (now - stamp), 1))
                        self.stamps.append(stamp)
                newest = max(newest, stamp)
        except (OSError, EOFError, ValueError, KeyError, asyncio.LimitOverrunError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            self.first.set()

    def to_dict(self) -> dict:
        keys = ("path", "parts", "bytes", "latencies", "stamps", "error")
        return {key: getattr(self, key) for key in keys}


def request(spec: dict, path: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {spec['host']}:{spec['port']}",
             "Accept: multipart/x-mixed-replace, image/jpeg", "User-Agent: bench"]  # fmt: skip
    if spec["cookie"]:
        lines.append(f"Cookie: {spec['cookie']}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def open_stream(
    spec: dict, path: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
    """The connection after the response's headers, and whether the body is chunked. (Hold on
    to the writer: once garbage, it closes the connection.)"""
    reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
    writer.write(request(spec, path))
    status, *lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
    if status.split()[1] != "200" or "multipart" not in headers.get("content-type", ""):
        raise ConnectionError(f"{path}: {status}, {headers.get('content-type')}")
    return reader, writer, "chunked" in headers.get("transfer-encoding", "").lower()


async def stall(spec: dict, path: str) -> socket.socket:
    """A connection that sends its request and never reads: a tiny receive buffer, no reader."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALL_RCVBUF)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (spec["host"], spec["port"]))
    await loop.sock_sendall(sock, request(spec, path))
    return sock


async def connect_all(spec: dict, window: Window) -> tuple[list[Viewer], list]:
    """Viewers connected one after another (a burst would overflow the listen backlog)."""
    viewers, held = [], []
    for path in spec["paths"]:
        viewer = Viewer(path)
        viewers.append(viewer)
        if spec["stalled"]:
            held.append(await stall(spec, path))
            viewer.first.set()
        else:
            reader, writer, chunked = await open_stream(spec, path)
            held += [writer, asyncio.create_task(viewer.watch(reader, chunked, window))]
    return viewers, held


async def client(spec: dict) -> None:
    """Prints "ready" once every viewer has a frame, reads the window ("START END") from stdin,
    counts over it, waits for a line saying the CPU is measured, then prints the results."""
    window, loop = Window(), asyncio.get_running_loop()
    try:
        viewers, held = await connect_all(spec, window)
        await asyncio.wait_for(asyncio.gather(*(v.first.wait() for v in viewers)), READY_TIMEOUT)
    except (OSError, EOFError, TimeoutError, ValueError, IndexError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", flush=True)
        return
    if errors := [v.error for v in viewers if v.error]:
        print(f"error: {errors[0]}", flush=True)
        return
    print("ready", flush=True)
    line = await loop.run_in_executor(None, sys.stdin.readline)
    window.start, window.end = map(float, line.split())
    tasks = [task for task in held if isinstance(task, asyncio.Task)]
    if tasks:
        await asyncio.wait(tasks, timeout=window.end - time.time() + 5)
    else:
        await asyncio.sleep(max(0.0, window.end - time.time()))
    await loop.run_in_executor(None, sys.stdin.readline)
    print(json.dumps([viewer.to_dict() for viewer in viewers]), flush=True)
    for task in tasks:
        task.cancel()


# --- the servers ----------------------------------------------------------------------------------


def spawn(argv: list[str], env: dict[str, str], log: Path, **kwargs: object) -> subprocess.Popen:
    from capture.supervisor import die_with_parent

    kwargs.setdefault("stdin", subprocess.DEVNULL)
    with log.open("ab") as out:
        kwargs.setdefault("stdout", out)
        return subprocess.Popen(argv, cwd=REPO, env=env, stderr=out, start_new_session=True,
                                preexec_fn=die_with_parent, **kwargs)  # fmt: skip


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def thread_cpu_seconds(pid: int, tid: int) -> float:
    fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tail(log: Path) -> str:
    return f"--- {log.name} ---\n{log.read_text(errors='replace')[-2000:]}"


class Ours:
    """A Redis of its own, capture workers, the web process and a logged-in session."""

    def __init__(self, bench: Bench, cameras: int) -> None:
        self.bench, self.cameras = bench, cameras
        self.logs = [bench.tmp / f"worker-cam{i}.log" for i in range(cameras)] + [
            bench.tmp / "web.log"
        ]
        self.port, self.processes = free_port(), []

    def __enter__(self) -> Ours:
        env, python = self.bench.env, sys.executable
        self.redis = start_redis(self.bench.tmp / "redis.sock", env)  # no groups left over
        for i in range(self.cameras):
            argv = [python, str(REPO / "manage.py"), "capture", f"cam{i}"]
            self.processes.append(spawn(argv, env, self.logs[i]))
        from capture.supervisor import web_server_argv  # needs Django set up

        self.web = spawn(web_server_argv("127.0.0.1", self.port), env, self.logs[-1])
        self.processes.append(self.web)
        try:
            wait_until(self.healthy, READY_TIMEOUT, "the web process to serve /healthz")
            self.cookie = self.bench.session_cookie(f"http://127.0.0.1:{self.port}")
        except (AssertionError, RuntimeError) as exc:
            self.__exit__()
            raise RuntimeError(f"{exc}\n{tail(self.logs[-1])}") from None
        return self

    def __exit__(self, *_: object) -> None:
        for process in self.processes:
            stop_process(process, 15)
        self.redis.terminate()
        self.redis.wait(time.monotonic() + 10)

    def healthy(self) -> bool:
        import httpx

        if self.web.poll() is not None:
            raise RuntimeError(f"the web process exited with {self.web.returncode}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def paths(self) -> list[str]:
        return [f"/cameras/cam{i}/stream.mjpg" for i in range(self.cameras)]

    def probes(self) -> dict[str, Callable[[], float]]:
        workers = [process.pid for process in self.processes[:-1]]
        return {
            "web": lambda: cpu_seconds(self.web.pid),
            "capture": lambda: sum(cpu_seconds(pid) for pid in workers),
            "redis": lambda: cpu_seconds(self.redis.process.pid),
        }

    def rss(self) -> float:
        return rss_mb(self.web.pid)

    def dead(self) -> str:
        exited = [p for p in self.processes if p.poll() is not None]
        return "\n".join(tail(log) for log in self.logs) if exited else ""


class Seed:
    """bench/seed_server.py on the same video."""

    def __init__(self, bench: Bench) -> None:
        self.bench, self.port, self.cookie = bench, free_port(), ""
        self.log = bench.tmp / "seed.log"

    def __enter__(self) -> Seed:
        argv = [sys.executable, str(REPO / "bench" / "seed_server.py"), str(self.bench.video),
                str(self.port)]  # fmt: skip
        self.process = spawn(argv, self.bench.env, self.log, stdout=subprocess.PIPE)
        ready, _, _ = select.select([self.process.stdout], [], [], READY_TIMEOUT)
        line = self.process.stdout.readline().decode() if ready else ""
        if not line.startswith("ready"):
            stop_process(self.process)
            raise RuntimeError(f"the seed server did not start: {line!r}\n{tail(self.log)}")
        self.capture_tid = int(line.split()[1])
        return self

    def __exit__(self, *_: object) -> None:
        stop_process(self.process)

    def paths(self) -> list[str]:
        return ["/stream.mjpg"]

    def probes(self) -> dict[str, Callable[[], float]]:
        pid, tid = self.process.pid, self.capture_tid
        return {
            "web": lambda: cpu_seconds(pid) - thread_cpu_seconds(pid, tid),
            "capture": lambda: thread_cpu_seconds(pid, tid),
        }

    def rss(self) -> float:
        return rss_mb(self.process.pid)

    def dead(self) -> str:
        return tail(self.log) if self.process.poll() is not None else ""


class Client:
    """One client process running some of the viewers."""

    def __init__(self, spec: dict, log: Path, env: dict[str, str]) -> None:
        argv = [sys.executable, __file__, "--client", json.dumps(spec)]
        self.log = log
        self.process = spawn(
            argv, env, log, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
        )

    def wait_ready(self, deadline: float) -> None:
        ready, _, _ = select.select([self.process.stdout], [], [], max(0, deadline - time.time()))
        line = self.process.stdout.readline().decode().strip() if ready else "no answer"
        if line != "ready":
            raise RuntimeError(f"a client is not ready: {line}\n{tail(self.log)}")

    def say(self, line: str) -> None:
        self.process.stdin.write(line.encode() + b"\n")

    def results(self) -> list[dict]:
        self.say("done")
        out, _ = self.process.communicate(timeout=30)
        try:
            return json.loads(out)
        except ValueError:
            raise RuntimeError(
                f"a client gave no results: {out[:200]!r}\n{tail(self.log)}"
            ) from None


# --- the measurement ------------------------------------------------------------------------------


@dataclass
class Outcome:
    scenario: Scenario
    wall: float
    cpu: dict[str, float]  # % of one core by role
    rss: float  # web process, MB, at the end of the window
    viewers: list[dict]
    camera_fps: float
    stall_growth: tuple[float, float] | None = None  # RSS MB: at the end, at the peak

    def fps(self) -> list[float]:
        return [len(v["stamps"]) / self.wall for v in self.viewers]

    def seen(self) -> float:
        """Frames per second each camera made, as far as any of its viewers saw."""
        stamps: dict[str, set[float]] = {}
        for viewer in self.viewers:
            stamps.setdefault(viewer["path"], set()).update(viewer["stamps"])
        return sum(len(s) for s in stamps.values()) / len(stamps) / self.wall

    def latency(self, q: float) -> float | None:
        pooled = sorted(ms for v in self.viewers for ms in v["latencies"])
        return pooled[min(len(pooled) - 1, int(q * len(pooled)))] if pooled else None

    def lost(self) -> int:
        """Frames missing between the frames each viewer received, all viewers together."""
        gaps = (b - a for v in self.viewers for a, b in pairwise(v["stamps"]))
        return sum(max(0, round(gap * self.camera_fps) - 1) for gap in gaps)

    def row(self) -> str:
        fps, n = self.fps(), len(self.viewers)
        share = [f / self.camera_fps for f in fps]
        parts = sum(v["parts"] for v in self.viewers)
        kb = sum(v["bytes"] for v in self.viewers) / max(1, parts) / 1024
        ms = [self.latency(q) for q in (0.5, 0.95, 1.0)]
        cpu = [f"{self.cpu[role]:.1f}" if role in self.cpu else "-"
               for role in ("web", "capture", "redis", "clients")]  # fmt: skip
        return (
            f"| {self.scenario.name} | {self.scenario.shape} | {sum(fps) / n:.1f} / {min(fps):.1f} "
            f"| {100 * sum(share) / n:.0f} / {100 * min(share):.0f} | {self.seen():.1f} "
            f"| {parts / n / self.wall:.1f} "
            f"| {' / '.join('-' if m is None else f'{m:.0f}' for m in ms)} "
            f"| {' | '.join(cpu)} | {self.rss:.0f} | {kb:.0f} |"
        )


class Bench:
    def __init__(self, tmp: Path, env: dict[str, str], video: Path,
                 args: argparse.Namespace) -> None:  # fmt: skip
        import cv2

        self.tmp, self.env, self.video, self.args = tmp, env, video, args
        self.camera_fps = cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FPS) or 15.0
        self.cookie = ""

    def session_cookie(self, url: str) -> str:
        """Logs in once; the session lives in the database, so later web processes take it."""
        import httpx

        if not self.cookie:
            with httpx.Client(base_url=url, timeout=10) as http:
                http.get("/accounts/login/")
                data = {"username": USERNAME, "password": PASSWORD,
                        "csrfmiddlewaretoken": http.cookies["csrftoken"]}  # fmt: skip
                response = http.post("/accounts/login/", data=data,
                                     headers={"Referer": f"{url}/accounts/login/"})  # fmt: skip
                if response.status_code != 302:
                    raise RuntimeError(f"login failed: HTTP {response.status_code}")
                self.cookie = f"sessionid={http.cookies['sessionid']}"
        return self.cookie

    def start_clients(self, servers: Ours | Seed, paths: list[str], clients: list[Client],
                      stalled: bool = False) -> None:  # fmt: skip
        """Adds client processes for these viewers to `clients`; returns once all are ready."""
        count, first = min(MAX_CLIENTS, len(paths)), len(clients)
        for i in range(count):
            spec = {"host": "127.0.0.1", "port": servers.port, "cookie": servers.cookie,
                    "paths": paths[i::count], "stalled": stalled}  # fmt: skip
            log = self.tmp / f"client-{'stalled' if stalled else i}.log"
            clients.append(Client(spec, log, self.env))
        deadline = time.time() + READY_TIMEOUT
        for client in clients[first:]:
            client.wait_ready(deadline)

    def run(self, scenario: Scenario) -> Outcome:
        print(f"\nscenario {scenario.name} ({scenario.shape}): starting the servers", flush=True)
        started = time.monotonic()
        servers = Ours(self, scenario.cameras) if scenario.server == "ours" else Seed(self)
        clients: list[Client] = []
        with servers:
            try:
                paths = servers.paths() * scenario.viewers
                self.start_clients(servers, paths, clients)
                normal = list(clients)
                took = time.monotonic() - started
                print(f"  [{scenario.name}] {len(paths)} viewers have frames after {took:.1f} s; "
                      f"warming up {WARMUP:.0f} s", flush=True)  # fmt: skip
                time.sleep(WARMUP)
                before = servers.rss()
                if scenario.stall:
                    self.start_clients(servers, paths[:1], clients, stalled=True)
                seconds = self.args.stall_seconds if scenario.stall else self.args.seconds
                wall, cpu, rss, peak = self.measure(scenario.name, servers, clients, seconds)
                viewers = [viewer for client in normal for viewer in client.results()]
            except RuntimeError:
                print(servers.dead())
                raise
            finally:
                for client in clients:
                    stop_process(client.process, 5)
        growth = (rss - before, peak - before) if scenario.stall else None
        if errors := [v["error"] for v in viewers if v["error"]]:
            print(f"  [{scenario.name}] {len(errors)} viewers failed, e.g. {errors[0]}")
        return Outcome(scenario, wall, cpu, rss, viewers, self.camera_fps, growth)

    def measure(self, name: str, servers: Ours | Seed, clients: list[Client],
                seconds: float) -> tuple[float, dict[str, float], float, float]:  # fmt: skip
        """Wall time, CPU by role (% of one core), and the web process's RSS at the end and peak."""
        pids = [client.process.pid for client in clients]
        probes = {**servers.probes(), "clients": lambda: sum(cpu_seconds(pid) for pid in pids)}
        start = time.time() + 0.5
        for client in clients:
            client.say(f"{start} {start + seconds}")
        time.sleep(max(0.0, start - time.time()))
        before, t0 = {role: probe() for role, probe in probes.items()}, time.monotonic()
        peak, next_progress = servers.rss(), PROGRESS_EVERY
        while (wall := time.monotonic() - t0) < seconds:
            time.sleep(min(1.0, seconds - wall))
            if servers.dead():
                raise RuntimeError("a server process exited")
            rss, wall = servers.rss(), time.monotonic() - t0
            peak = max(peak, rss)
            if wall + 0.5 >= next_progress or wall >= seconds:
                self.progress(name, probes, before, wall, seconds, rss)
                next_progress += PROGRESS_EVERY
        wall = time.monotonic() - t0
        cpu = {role: 100 * (probe() - before[role]) / wall for role, probe in probes.items()}
        return wall, cpu, servers.rss(), max(peak, servers.rss())

    def progress(self, name: str, probes: dict[str, Callable[[], float]],
                 before: dict[str, float], wall: float, seconds: float,
                 rss: float) -> None:  # fmt: skip
        cpu = ", ".join(f"{role} {100 * (probe() - before[role]) / wall:.0f}"
                        for role, probe in probes.items())  # fmt: skip
        print(f"  [{name}] {wall:4.0f}/{seconds:.0f} s: CPU % of a core: {cpu}; "
              f"web RSS {rss:.1f} MB; load {load_average()}", flush=True)  # fmt: skip


# --- the report -----------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "**NOT met**"


def targets(outcomes: dict[str, Outcome], stall_seconds: float) -> list[str]:
    lines = []
    hundred = outcomes.get("ours-100")
    if hundred is not None:
        share = [f / hundred.camera_fps for f in hundred.fps()]
        mean = sum(share) / len(share)
        ok = verdict(min(share) >= TARGET_SHARE)
        lines.append(f"- Frames delivered with 100 viewers ≥ {100 * TARGET_SHARE:.0f} % of the "
                     f"camera's, every viewer: mean {100 * mean:.1f} %, min "
                     f"{100 * min(share):.1f} % — {ok}.")  # fmt: skip
    one = outcomes.get("ours-1")
    if hundred is not None:
        web = hundred.cpu["web"]
        lines.append(f"- Web process with 100 viewers ≤ {TARGET_WEB_CORES:.0f} core: {web:.1f} % — "
                     f"{verdict(web <= 100 * TARGET_WEB_CORES)}.")  # fmt: skip
    if hundred is not None and one is not None:
        change = hundred.cpu["capture"] / one.cpu["capture"] - 1
        lines.append(
            f"- Worker CPU with 100 viewers within {100 * TARGET_WORKER_CHANGE:.0f} % of its CPU "
            f"with 1: {one.cpu['capture']:.1f} → {hundred.cpu['capture']:.1f} % of a core "
            f"({100 * change:+.0f} %) — {verdict(abs(change) <= TARGET_WORKER_CHANGE)}."
        )
    ours = [o for o in outcomes.values() if o.scenario.server == "ours"]
    if ours:
        p95 = {o.scenario.name: o.latency(0.95) for o in ours}
        listed = ", ".join(
            f"{name} {'-' if ms is None else f'{ms:.0f}'}" for name, ms in p95.items()
        )
        ok = all(ms is not None and ms <= TARGET_P95_MS for ms in p95.values())
        lines.append(f"- Latency p95 ≤ {TARGET_P95_MS:.0f} ms (ms): {listed} — {verdict(ok)}.")
    if (stalled := outcomes.get("ours-stall")) is not None and stalled.stall_growth:
        end, peak = stalled.stall_growth
        share = [f / stalled.camera_fps for f in stalled.fps()]
        lines.append(
            f"- Stalled viewer for {stall_seconds:.0f} s: web RSS grew {end:+.1f} MB (peak "
            f"{peak:+.1f} MB) — target ≤ {TARGET_STALL_MB:.0f} MB: "
            f"{verdict(max(end, peak) <= TARGET_STALL_MB)}. The 10 normal viewers lost "
            f"{stalled.lost()} frames between frames they received (min "
            f"{100 * min(share):.1f} % of the camera's frames)."
        )
    return lines


def report(outcomes: dict[str, Outcome], failures: dict[str, str], args: argparse.Namespace,
           video: str, loads: list[str]) -> str:  # fmt: skip
    camera_fps = next(iter(outcomes.values())).camera_fps if outcomes else math.nan
    stall = f" ({args.stall_seconds:.0f} s for the stall)" if "ours-stall" in outcomes else ""
    lines = [
        f"# Live viewers — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Camera: {video} at {camera_fps:.0f} fps; window {args.seconds:.0f} s{stall} "
        f"after {WARMUP:.0f} s of warm-up; "
        f"{os.cpu_count()} cores shared by servers and clients (≤ {MAX_CLIENTS} client "
        f"processes); load average {' → '.join(loads)}.",
        "",
        "Frames are new frames (by X-Timestamp): the seed sends the same frame many times, so "
        "its parts/s is higher. Latency: capture → the whole part received, new frames only, "
        "all viewers pooled. CPU in % of one core; the seed's capture is its capture thread, "
        "its web is the rest of its process. Camera frames/s seen: distinct frames any viewer "
        "of the camera got. Web RSS at the end of the window; KB/part: the JPEGs sent (the seed "
        "encodes at OpenCV's default quality).",
        "",
        "| scenario | cameras x viewers | frames/s per viewer mean / min "
        "| % of camera's frames mean / min | camera frames/s seen | parts/s per viewer "
        "| latency ms p50 / p95 / max "
        "| web CPU | capture CPU | Redis CPU | clients CPU | web RSS MB | KB/part |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(outcome.row() for outcome in outcomes.values()),
        "",
        "Targets (ours):",
        *targets(outcomes, args.stall_seconds),
    ]
    lines += [f"\n{name} failed: `{message}`" for name, message in failures.items()]
    for outcome in outcomes.values():
        if errors := [v["error"] for v in outcome.viewers if v["error"]]:
            lines.append(f"\n{outcome.scenario.name}: {len(errors)} viewers failed: `{errors[0]}`")
    return "\n".join(lines) + "\n"


def selected(only: list[str] | None) -> list[Scenario]:
    if not only:
        return SCENARIOS
    scenarios = [s for s in SCENARIOS if s.name in only or s.server in only]
    if unknown := set(only) - {s.name for s in SCENARIOS} - {"ours", "seed"}:
        sys.exit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return scenarios


def prepare(env: dict[str, str], cameras: int, video: Path) -> None:
    from django.contrib.auth import get_user_model

    manage(env, "migrate", "--noinput", "--verbosity", "0")
    for i in range(cameras):
        manage(env, "addcamera", f"cam{i}", str(video))
    get_user_model().objects.create_user(USERNAME, password=PASSWORD, is_staff=True)


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        asyncio.run(client(json.loads(sys.argv[2])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per scenario")
    parser.add_argument("--stall-seconds", type=float, default=60.0, help="the stall's window")
    names = ", ".join(s.name for s in SCENARIOS)
    parser.add_argument("--only", nargs="*", help=f"of: {names}; or ours, seed")
    args = parser.parse_args()
    scenarios = selected(args.only)
    if any(s.server == "seed" for s in scenarios) and not importlib.util.find_spec("flask"):
        sys.exit("the seed baseline needs Flask: .venv/bin/pip install flask")
    with tempfile.TemporaryDirectory(prefix="live-viewers-") as name:
        tmp = Path(name)
        env = setup_django(tmp / "data", tmp / "redis.sock")
        logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per health check
        video, described = pick_video(None, tmp)
        loads = [load_average()]
        print(f"video {described}; load average {loads[0]}", flush=True)
        prepare(env, max(s.cameras for s in scenarios), video)
        bench = Bench(tmp, env, video, args)
        outcomes, failures = {}, {}
        for scenario in scenarios:
            try:
                outcomes[scenario.name] = bench.run(scenario)
            except RuntimeError as exc:  # the next scenario starts its own servers
                print(f"scenario {scenario.name} failed: {exc}", flush=True)
                failures[scenario.name] = str(exc).splitlines()[0]
        loads.append(load_average())
    table = report(outcomes, failures, args, described, loads)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(table)
    print(f"\n{table}\n(written to {OUT.relative_to(REPO)})")


if __name__ == "__main__":
    main()
