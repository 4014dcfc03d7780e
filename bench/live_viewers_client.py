"""A client process of bench/live_viewers.py: some of the viewers, as asyncio connections.

    python bench/live_viewers_client.py SPEC

SPEC is JSON: host, port, cookie, paths (one viewer each) and stalled (viewers that send their
request and never read). Prints "ready" once every viewer has a frame, reads the window
("START END", time.time()) from stdin, counts over it, waits for a line saying the CPU is
measured, then prints one JSON line: each viewer's parts, bytes, latencies and frame stamps.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.mjpeg_client import Body, open_stream, stall

READY_TIMEOUT = 90.0  # a loaded machine can take a while to import Django and OpenCV


@dataclass
class Window:
    start: float = math.inf
    end: float = math.inf


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
                    self.count(stamp, length, now, newest)
                newest = max(newest, stamp)
        except (OSError, EOFError, ValueError, KeyError, asyncio.LimitOverrunError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            self.first.set()

    def count(self, stamp: float, length: int, now: float, newest: float) -> None:
        self.parts += 1
        self.bytes += length
        if stamp > newest:  # the seed sends the same frame again and again
            self.latencies.append(round(1000 * (now - stamp), 1))
            self.stamps.append(stamp)

    def to_dict(self) -> dict:
        keys = ("path", "parts", "bytes", "latencies", "stamps", "error")
        return {key: getattr(self, key) for key in keys}


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


if __name__ == "__main__":
    asyncio.run(client(json.loads(sys.argv[1])))
