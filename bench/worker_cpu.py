"""CPU of the real capture worker (`manage.py capture SLUG`) on a 640x480 15 fps file source.

    .venv/bin/python bench/worker_cpu.py [--seconds 30] [--video PATH]

--video is the file to capture (the figures in docs/benchmarks.md are of
../shared/testdata/highway-640x480-15fps.mp4); without it, a generated 640x480 scene. Everything
lives in a temp dir: the data dir (SQLite), and a redis-server of our own on a unix socket there.
Each scenario starts a fresh worker, waits until it reports itself online plus a warm-up, then
reads the worker's utime+stime from /proc over the window:

- idle: nobody watching (the worker still reads, detects and publishes its status);
- viewer: what the web process does for one full-size viewer — a `stream.demand` message to the
  worker's channel every second — while this process consumes the frames group.

With --forked, each scenario runs four times, in turn: a worker exec'd (`manage.py capture`) and
one forked from the fork server as runsurveillance starts them (capture/forkserver.py), twice.

Prints a markdown table and writes it to bench/out/worker_cpu.md (worker_cpu_forked.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.install import video_or_synthetic
from bench.proc import cpu_seconds, load_average
from bench.tables import publish
from tests.harness import manage, setup_django, start_redis, start_worker, stop_process

SLUG = "bench"
WARMUP = 5.0  # seconds after the worker is online before measuring
ONLINE_TIMEOUT = 60.0  # a loaded machine can take a while to import Django and OpenCV
PROGRESS_EVERY = 5.0


@dataclass
class Result:
    scenario: str
    wall: float
    worker_cpu: float  # seconds of CPU over the window
    redis_cpu: float
    captured_fps: list[float]
    frames: int | None
    log_problems: list[str]

    def row(self) -> str:
        fps = f"{sum(self.captured_fps) / len(self.captured_fps):.1f}" if self.captured_fps else "?"
        delivered = "-" if self.frames is None else f"{self.frames / self.wall:.1f}"
        return (
            f"| {self.scenario} | {100 * self.worker_cpu / self.wall:.1f} | {fps} | {delivered} "
            f"| {100 * self.redis_cpu / self.wall:.1f} |"
        )


@dataclass
class Listener:
    """This process's end of the channel layer: the camera's status, and frames when watching."""

    layer: Any
    watch: bool
    online: asyncio.Event = field(default_factory=asyncio.Event)
    counting: bool = False
    frames: int = 0
    fps_reports: list[float] = field(default_factory=list)

    async def run(self) -> None:
        from cameras.models import Camera

        camera = Camera(slug=SLUG)
        channel = await self.layer.new_channel()
        groups = [camera.group_name] + ([camera.frames_group(0)] if self.watch else [])
        for group in groups:
            await self.layer.group_add(group, channel)
        demand = asyncio.create_task(self.ask_for_frames(camera.worker_channel))
        try:
            while True:
                self.handle(await self.layer.receive(channel))
        finally:
            demand.cancel()
            for group in groups:
                with contextlib.suppress(Exception):
                    await self.layer.group_discard(group, channel)

    async def ask_for_frames(self, worker_channel: str) -> None:
        """What LiveFeed does in the web process for one full-size viewer."""
        from channels.exceptions import ChannelFull

        while self.watch:
            with contextlib.suppress(ChannelFull):
                await self.layer.send(worker_channel, {"type": "stream.demand", "width": 0})
            await asyncio.sleep(1)

    def handle(self, message: dict) -> None:
        if message.get("type") == "frame" and self.counting:
            self.frames += 1
        elif message.get("type") == "camera.status" and message.get("status") == "online":
            self.online.set()
            if self.counting and message.get("fps") is not None:
                self.fps_reports.append(message["fps"])


class Worker:
    """One `manage.py capture` process, its stderr in a log file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.process = start_worker(env, SLUG, log, detached=True)

    def stop(self) -> int:
        stop_process(self.process, 10)
        return self.process.returncode

    def problems(self) -> list[str]:
        markers = ("WARNING", "ERROR", "CRITICAL", "Traceback")
        lines = self.log.read_text(errors="replace").splitlines()
        return [line for line in lines if any(m in line for m in markers)]


class ForkedProcess:
    """A worker forked from the fork server, as runsurveillance starts it, with Popen's face."""

    def __init__(self, env: dict[str, str]) -> None:
        from capture import forkserver

        forkserver.start(env)
        self.child = forkserver.context().Process(
            target=forkserver.run_command, args=(["capture", SLUG],)
        )
        self.child.start()
        self.pid = self.child.pid

    @property
    def returncode(self) -> int | None:
        return self.child.exitcode

    def poll(self) -> int | None:
        return None if self.child.is_alive() else self.child.exitcode


class ForkedWorker(Worker):
    """The same command, forked (its log is the fork server's stderr: this terminal)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.process = ForkedProcess(env)

    def stop(self) -> int:
        self.process.child.terminate()
        self.process.child.join(10)
        if self.process.child.is_alive():
            self.process.child.kill()
            self.process.child.join()
        return self.process.returncode

    def problems(self) -> list[str]:
        return []


async def wait_online(worker: Worker, listener: Listener, name: str) -> None:
    started = time.monotonic()
    while not listener.online.is_set():
        if worker.process.poll() is not None:
            raise RuntimeError(f"worker exited with {worker.process.returncode}")
        if time.monotonic() - started > ONLINE_TIMEOUT:
            raise RuntimeError(f"worker not online after {ONLINE_TIMEOUT:.0f} s")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(listener.online.wait(), 1)
    print(f"  [{name}] worker online after {time.monotonic() - started:.1f} s; "
          f"warming up {WARMUP:.0f} s", flush=True)  # fmt: skip
    await asyncio.sleep(WARMUP)


async def measure(worker: Worker, redis_pid: int, listener: Listener, name: str,
                  seconds: float) -> tuple[float, float, float]:  # fmt: skip
    """Wall time, worker CPU seconds and Redis CPU seconds over the window."""
    pid = worker.process.pid
    cpu0, redis0, t0 = cpu_seconds(pid), cpu_seconds(redis_pid), time.monotonic()
    listener.counting = True
    while (elapsed := time.monotonic() - t0) < seconds:
        await asyncio.sleep(min(PROGRESS_EVERY, seconds - elapsed))
        if worker.process.poll() is not None:
            raise RuntimeError(f"worker exited with {worker.process.returncode}")
        wall = time.monotonic() - t0
        print(f"  [{name}] {wall:4.0f}/{seconds:.0f} s: worker "
              f"{100 * (cpu_seconds(pid) - cpu0) / wall:5.1f} % of a core, "
              f"{listener.frames} frames received, load {load_average()}", flush=True)  # fmt: skip
    wall = time.monotonic() - t0
    result = wall, cpu_seconds(pid) - cpu0, cpu_seconds(redis_pid) - redis0
    listener.counting = False
    return result


async def scenario(name: str, watch: bool, env: dict[str, str], redis_pid: int, tmp: Path,
                   seconds: float, forked: bool = False) -> Result:  # fmt: skip
    from channels.layers import get_channel_layer

    print(f"scenario {name}: starting a worker", flush=True)
    listener = Listener(get_channel_layer(), watch)
    listening = asyncio.create_task(listener.run())
    await asyncio.sleep(0.2)  # in the groups before the worker says it is online
    worker = (ForkedWorker if forked else Worker)(env, tmp / f"worker-{name}.log")
    try:
        await wait_online(worker, listener, name)
        wall, cpu, redis_cpu = await measure(worker, redis_pid, listener, name, seconds)
    except RuntimeError:
        print(f"--- end of the worker's log ---\n{worker.log.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        code = await asyncio.to_thread(worker.stop)
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
    print(f"  [{name}] worker stopped with exit code {code}", flush=True)
    return Result(name, wall, cpu, redis_cpu, listener.fps_reports,
                  listener.frames if watch else None, worker.problems())  # fmt: skip


def report(results: list[Result], video: str, seconds: float, loads: list[str]) -> str:
    lines = [
        f"# Capture worker CPU — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Video: {video}; window {seconds:.0f} s after {WARMUP:.0f} s of warm-up; "
        f"{os.cpu_count()} cores; load average (1/5/15 min) {' → '.join(loads)}.",
        "",
        "| scenario | worker CPU % of one core | frames/s captured (worker) "
        "| frames/s delivered | Redis CPU % |",
        "|---|---:|---:|---:|---:|",
        *(result.row() for result in results),
    ]
    for result in results:
        for line in result.log_problems[:10]:
            lines.append(f"\n{result.scenario} worker log: `{line}`")
    return "\n".join(lines) + "\n"


async def run_all(env: dict[str, str], redis_pid: int, tmp: Path, seconds: float,
                  forked: bool) -> list[Result]:  # fmt: skip
    from channels.layers import get_channel_layer

    try:
        if forked:  # exec'd and forked, in turn: what forking from a preloaded server costs
            results = []
            for round_ in (1, 2):
                for watch, what in ((False, "(a) nobody watching"), (True, "(b) one viewer")):
                    for fork in (False, True):
                        name = f"{what}, {'forked' if fork else 'exec'}, round {round_}"
                        results.append(
                            await scenario(name, watch, env, redis_pid, tmp, seconds, fork)
                        )
            return results
        return [
            await scenario("(a) nobody watching", False, env, redis_pid, tmp, seconds),
            await scenario("(b) one viewer, full size", True, env, redis_pid, tmp, seconds),
        ]
    finally:
        await get_channel_layer().close_pools()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window per run")
    parser.add_argument("--video", type=Path, help="the file to capture (default: generated)")
    parser.add_argument(
        "--forked", action="store_true", help="each scenario exec'd and forked, twice"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="worker-cpu-") as name:
        tmp = Path(name)
        env = setup_django(tmp / "data", tmp / "redis.sock")
        video, described = video_or_synthetic(args.video, tmp)
        loads = [load_average()]
        print(f"video {described}; load average {loads[0]}", flush=True)
        redis = start_redis(tmp / "redis.sock", log=tmp / "redis.log")
        try:
            manage(env, "migrate", "--noinput", "--verbosity", "0")
            manage(env, "addcamera", SLUG, str(video))
            results = asyncio.run(run_all(env, redis.pid, tmp, args.seconds, args.forked))
        finally:
            stop_process(redis)
        loads.append(load_average())
    name = "worker_cpu_forked.md" if args.forked else "worker_cpu.md"
    publish(report(results, described, args.seconds, loads), name)


if __name__ == "__main__":
    main()
