"""A client process of bench/soak.py: MJPEG viewers, or alert sockets, that reconnect on failure.

    python bench/soak_clients.py viewers|alerts SPEC

SPEC is JSON: host, port, cookie, and paths (viewers: one each) or sockets (how many). Prints
"ready" once every watch is up, then answers stdin: "start EPOCH" sets the time the soak's
minutes count from, "report" / "summary" print a JSON line, end of input stops.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.mjpeg_client import Body, open_stream

READY_TIMEOUT = 90.0  # a loaded machine can take a while to import Django and OpenCV


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


if __name__ == "__main__":
    asyncio.run(client(sys.argv[1], json.loads(sys.argv[2])))
