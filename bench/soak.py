"""Soak: 4 cameras, 50 stream viewers and 20 alert sockets for a long run; memory, logs, alerts.

    .venv/bin/python bench/soak.py [--minutes 30] [--warmup 120] [--database-url URL]

Everything is started here: a temp data dir (SQLite, or a fresh database made on the PostgreSQL
server of --database-url and dropped at the end), a redis-server on a unix socket, our web process
(`python -m surveillance.server`) and one `manage.py capture` worker per camera. Each camera plays
a generated 20 s video on a loop in which a box crosses at 5-8 s, so each camera should store one
event per 20 s. The alert sockets connect before the workers start, so they should hear every
event: motion.start once, motion.end once.

Clients are processes of their own (bench/soak_clients.py): 50 MJPEG viewers spread over the
cameras in up to four processes (asyncio, parsed by Content-Length with bench/mjpeg_client.py),
counting new frames (by X-Timestamp) per minute; 20 websocket clients on /ws/alerts/ in
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
import contextlib
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.client_process import ClientProcess
from bench.install import PASSWORD, USERNAME, fresh_postgres, install
from bench.proc import cpu_seconds, load_average, rss_mb
from bench.soak_report import (
    CAMERAS,
    END_AFTER,
    LOGS,
    LOOP,
    MOTION,
    SAMPLE_EVERY,
    SOCKETS,
    VIEWERS,
    Run,
    connected_at,
    describe,
    report,
)
from bench.tables import publish
from tests.harness import (
    REPO,
    free_port,
    session_cookie,
    setup_django,
    start_redis,
    start_web_server,
    start_worker,
    stop_process,
    tail,
)

CLIENT = REPO / "bench" / "soak_clients.py"
MAX_CLIENTS = 4  # viewer processes: the machine has two cores, the clients must stay cheap
READY_TIMEOUT = 90.0  # a loaded machine can take a while to import Django and OpenCV
CHECK_EVERY = 5.0  # seconds between liveness checks
SETTLE = 3.0  # seconds for the stopped workers' last motion.end to reach the sockets


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
        self.redis = start_redis(self.tmp / "redis.sock", log=LOGS / "redis.log")
        web = start_web_server(self.env, self.port, log=LOGS / "web.log", detached=True,
                               timeout=READY_TIMEOUT)  # fmt: skip
        self.products["web"] = web.process
        spec = {"host": "127.0.0.1", "port": self.port,
                "cookie": session_cookie(self.url, USERNAME, PASSWORD)}  # fmt: skip
        self.add_clients("alerts", [{**spec, "sockets": SOCKETS}])
        for i in range(CAMERAS):
            log = LOGS / f"worker-cam{i}.log"
            self.products[f"worker cam{i}"] = start_worker(self.env, f"cam{i}", log, detached=True)
            self.started[f"cam{i}"] = time.time()
        paths = [f"/cameras/cam{i % CAMERAS}/stream.mjpg{self.query}" for i in range(VIEWERS)]
        count = min(MAX_CLIENTS, VIEWERS)
        self.add_clients("viewers", [{**spec, "paths": paths[i::count]} for i in range(count)])

    def add_clients(self, kind: str, specs: list[dict]) -> None:
        added = []
        for i, spec in enumerate(specs):
            argv, name = [sys.executable, str(CLIENT), kind, json.dumps(spec)], f"{kind}-{i}"
            added.append(ClientProcess(name, argv, self.env, LOGS / f"{name}.log"))
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
        pids["redis"] = self.redis.pid
        return pids | {name: c.process.pid for name, c in self.clients.items()}

    def dead(self) -> str:
        processes = {**self.products, **{n: c.process for n, c in self.clients.items()}}
        if self.redis is not None:
            processes["redis"] = self.redis
        exited = [f"{n} exited with code {p.returncode}" for n, p in processes.items()
                  if p.poll() is not None]  # fmt: skip
        return "; ".join(exited)

    def stop_clients(self, kind: str) -> None:
        for name, process in self.clients.items():
            if name.startswith(kind):
                process.stop()

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
            process.stop()
        for process in self.products.values():
            stop_process(process, 20)
        if self.redis is not None:
            stop_process(self.redis)


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
                   for v in c.ask("report")]  # fmt: skip
    servers.stop_clients("viewers")
    run.stopped = servers.stop_workers()
    time.sleep(SETTLE)
    run.sockets = servers.clients["alerts-0"].ask("report")
    rows = MotionEvent.objects.order_by("started_at").values_list(
        "id", "camera__slug", "started_at", "ended_at"
    )
    run.events = list(rows)
    connection.close()


def make_scene(tmp: Path, env: dict[str, str]) -> Path:
    from cameras.models import Camera
    from tests.videos import write_video

    video = write_video(tmp / "scene.mp4", LOOP, moving=MOTION, size=(640, 480))
    install(env, CAMERAS, str(video))
    Camera.objects.update(end_after=END_AFTER)
    return video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="the measured run")
    parser.add_argument("--warmup", type=float, default=120.0,
                        help="seconds before memory counts (≤ a third of the run)")  # fmt: skip
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
            url, drop = fresh_postgres(url, "soak")
        servers = None
        try:
            env = setup_django(tmp / "data", tmp / "redis.sock", url)
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
    publish(report(run, describe(args, MAX_CLIENTS), warmup), "soak.md")


if __name__ == "__main__":
    main()
