"""Live frames in the web process: one channel-layer subscription per camera and width, shared by
every viewer in this process.

Latest frame wins. The feed keeps only the newest frame, with its multipart part built once for
all viewers; each viewer asks for a frame newer than the one it sent last, so a viewer that asks
slowly gets fewer frames, never older ones. A viewer asks when its last frame is sent: an MJPEG
viewer when the server's send() returns (surveillance.server makes it wait while the client's
socket is full), a dashboard grid when the browser says it has shown the frame. While the feed has
viewers it tells the capture worker, once a second, which width it wants; the worker encodes
nothing for widths nobody asks for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer, get_channel_layer

from cameras.models import Camera

logger = logging.getLogger(__name__)


BOUNDARY = "frame"


@dataclass(frozen=True)
class LiveFrame:
    """One frame of a feed, with the bytes each kind of viewer is sent built once for all of
    them, on first use."""

    camera: str
    jpeg: bytes
    captured_at: float
    seq: int

    @cached_property
    def part(self) -> bytes:
        """The frame as one part of a multipart/x-mixed-replace stream."""
        head = (
            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(self.jpeg)}\r\n"
            f"X-Timestamp: {self.captured_at:.3f}\r\n\r\n"
        )
        return head.encode() + self.jpeg + b"\r\n"

    @cached_property
    def tile(self) -> bytes:
        """The frame as a message of the dashboard's live socket (see LiveGrid)."""
        head = json.dumps({"camera": self.camera, "t": round(self.captured_at, 3)})
        return head.encode() + b"\n" + self.jpeg


class LiveFeed:
    feeds: ClassVar[dict[tuple[str, int], LiveFeed]] = {}
    linger = 5.0  # seconds a feed stays subscribed after its last viewer left (page reloads)
    demand_every = 1.0
    regroup_every = 3600.0  # group membership expires in Redis; renew it long before

    def __init__(self, camera: Camera, width: int) -> None:
        self.key = (camera.slug, width)
        self.group = camera.frames_group(width)
        self.worker_channel = camera.worker_channel
        self.width = width
        self.frame: LiveFrame | None = None
        self.changed = asyncio.Event()
        self.viewers = 0
        self.idle_since = time.monotonic()
        self.task: asyncio.Task | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def watch(cls, camera: Camera, width: int = 0) -> AsyncIterator[LiveFeed]:
        """The camera's feed at this width, subscribed while the block runs.

        Looking the feed up and counting the viewer happen with no await between them, so a feed
        that is just shutting down is never handed out.
        """
        feed = cls.feeds.get((camera.slug, width))
        if feed is None:
            feed = cls.feeds[(camera.slug, width)] = cls(camera, width)
        async with feed.watching():
            yield feed

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[LiveFeed]:
        self.viewers += 1
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self.run())
        try:
            yield self
        finally:
            self.viewers -= 1
            self.idle_since = time.monotonic()

    async def next_frame(self, after: int = 0) -> LiveFrame:
        """The newest frame, once there is one newer than sequence number `after`."""
        while self.frame is None or self.frame.seq <= after:
            await self.changed.wait()
        return self.frame

    async def frames(self, fps: float | None = None) -> AsyncIterator[LiveFrame]:
        """Each newer frame as it comes; with `fps`, frames closer together are skipped."""
        seq, next_at = 0, 0.0
        while True:
            frame = await self.next_frame(after=seq)
            seq = frame.seq
            if fps and frame.captured_at < next_at:
                continue
            next_at = frame.captured_at + 0.95 / fps if fps else 0.0
            yield frame

    def put(self, jpeg: bytes, captured_at: float) -> None:
        seq = self.frame.seq + 1 if self.frame else 1
        self.frame = LiveFrame(self.key[0], jpeg, captured_at, seq)
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    def wanted(self) -> bool:
        return self.viewers > 0 or time.monotonic() - self.idle_since < self.linger

    async def run(self) -> None:
        layer = get_channel_layer()
        try:
            while self.wanted():
                try:
                    await self.pump(layer)
                except Exception as exc:  # Redis restarting: the viewers wait, we retry
                    logger.warning("live feed %s: %s; retrying", self.group, exc)
                    await asyncio.sleep(1)
        finally:
            if self.feeds.get(self.key) is self:
                del self.feeds[self.key]
            self.frame = None

    async def pump(self, layer: BaseChannelLayer) -> None:
        channel = await layer.new_channel()
        await layer.group_add(self.group, channel)
        demand = asyncio.create_task(self.ask_for_frames(layer, channel))
        try:
            while self.wanted() and not demand.done():
                try:
                    message = await asyncio.wait_for(layer.receive(channel), self.demand_every)
                except TimeoutError:
                    continue
                if message.get("type") == "frame":
                    self.put(message["jpeg"], message["t"])
        finally:
            demand.cancel()
            with contextlib.suppress(Exception):
                await layer.group_discard(self.group, channel)

    async def ask_for_frames(self, layer: BaseChannelLayer, channel: str) -> None:
        renew_at = time.monotonic() + self.regroup_every
        while True:
            with contextlib.suppress(ChannelFull):  # worker down: its channel fills, fine
                await layer.send(
                    self.worker_channel, {"type": "stream.demand", "width": self.width}
                )
            if time.monotonic() > renew_at:
                await layer.group_add(self.group, channel)
                renew_at = time.monotonic() + self.regroup_every
            await asyncio.sleep(self.demand_every)


class LiveGrid:
    """One dashboard's live tiles over one websocket, however many cameras it shows.

    A browser opens only about six HTTP/1.1 connections per host, so a grid of MJPEG <img> tags
    stalls after the sixth camera and takes the rest of the page with it. Here every camera's
    frames share the page's websocket. Each camera has one frame in flight: its next frame, the
    newest, is sent when the browser reports (`shown`) that it has displayed the last one, so a
    slow phone gets fewer frames, never a backlog.

    Each message is binary: a line of JSON (`{"camera": slug, "t": capture time}`), a newline,
    and the JPEG.
    """

    def __init__(self, send: Callable[[bytes], Awaitable[None]], width: int, fps: float) -> None:
        self.send, self.width, self.fps = send, width, fps
        self.tasks: dict[str, asyncio.Task] = {}
        self.ready: dict[str, asyncio.Event] = {}

    def watch(self, cameras: list[Camera]) -> None:
        """Stream exactly these cameras from now on."""
        wanted = {camera.slug: camera for camera in cameras}
        for slug in set(self.tasks) - set(wanted):
            self.tasks.pop(slug).cancel()
            self.ready.pop(slug)
        for slug, camera in wanted.items():
            if slug not in self.tasks:
                self.ready[slug] = asyncio.Event()
                self.ready[slug].set()
                self.tasks[slug] = asyncio.create_task(self.stream(camera))

    def shown(self, slug: str) -> None:
        if slug in self.ready:
            self.ready[slug].set()

    async def stream(self, camera: Camera) -> None:
        ready = self.ready[camera.slug]
        async with LiveFeed.watch(camera, self.width) as feed:
            frames = feed.frames(self.fps)
            while True:
                await ready.wait()  # first: the frame to send is the newest once it is shown
                ready.clear()
                await self.send((await anext(frames)).tile)

    async def close(self) -> None:
        tasks = list(self.tasks.values())
        self.tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
