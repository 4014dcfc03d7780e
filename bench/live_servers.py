"""The two live-view servers bench/live_viewers.py compares, each started fresh per scenario:
ours (Redis, capture workers, the web process) and the seed's Flask design (bench/seed_server.py).

Both give the bench the same view: the port to connect to, a Cookie to send, the stream paths,
CPU probes by role, the web process's RSS, and why a process died ("" while all live)."""

from __future__ import annotations

import select
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bench.proc import cpu_seconds, rss_mb, thread_cpu_seconds
from tests.harness import (
    REPO,
    free_port,
    spawn,
    start_redis,
    start_web_server,
    start_worker,
    stop_process,
    tail,
)  # fmt: skip

READY_TIMEOUT = 90.0  # a loaded machine can take a while to import Django and OpenCV


class Ours:
    """A Redis of its own (no groups left over), capture workers cam0…, the web process, and a
    session cookie from `log_in(url)`."""

    def __init__(self, tmp: Path, env: dict[str, str], cameras: int,
                 log_in: Callable[[str], str]) -> None:  # fmt: skip
        self.tmp, self.env, self.cameras, self.log_in = tmp, env, cameras, log_in
        self.logs = [tmp / f"worker-cam{i}.log" for i in range(cameras)] + [tmp / "web.log"]
        self.port, self.processes = free_port(), []

    def __enter__(self) -> Ours:
        self.redis = start_redis(self.tmp / "redis.sock", log=self.tmp / "redis.log")
        for i in range(self.cameras):
            self.processes.append(start_worker(self.env, f"cam{i}", self.logs[i], detached=True))
        try:
            server = start_web_server(self.env, self.port, log=self.logs[-1], detached=True,
                                      timeout=READY_TIMEOUT)  # fmt: skip
            self.web = server.process
            self.processes.append(self.web)
            self.cookie = self.log_in(server.url)
        except (AssertionError, RuntimeError) as exc:
            self.__exit__()
            raise RuntimeError(f"{exc}\n{tail(self.logs[-1])}") from None
        return self

    def __exit__(self, *_: object) -> None:
        for process in self.processes:
            stop_process(process, 15)
        stop_process(self.redis)

    def paths(self) -> list[str]:
        return [f"/cameras/cam{i}/stream.mjpg" for i in range(self.cameras)]

    def probes(self) -> dict[str, Callable[[], float]]:
        workers = [process.pid for process in self.processes[:-1]]
        return {
            "web": lambda: cpu_seconds(self.web.pid),
            "capture": lambda: sum(cpu_seconds(pid) for pid in workers),
            "redis": lambda: cpu_seconds(self.redis.pid),
        }

    def rss(self) -> float:
        return rss_mb(self.web.pid)

    def dead(self) -> str:
        exited = [p for p in self.processes if p.poll() is not None]
        return "\n".join(tail(log) for log in self.logs) if exited else ""


class Seed:
    """bench/seed_server.py on the same video; it prints "ready CAPTURE_TID" once it serves."""

    def __init__(self, tmp: Path, env: dict[str, str], video: Path) -> None:
        self.env, self.video, self.port, self.cookie = env, video, free_port(), ""
        self.log = tmp / "seed.log"

    def __enter__(self) -> Seed:
        argv = [sys.executable, str(REPO / "bench" / "seed_server.py"), str(self.video),
                str(self.port)]  # fmt: skip
        self.process = spawn(argv, self.env, self.log, detached=True, stdout=subprocess.PIPE)
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
