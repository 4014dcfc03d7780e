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


class Feed:
    """One channel-layer subscription in this process, shared by every viewer of it: it asks the
    worker for what it carries while anybody watches, and lingers a little after the last."""

    feeds: ClassVar[dict[tuple[str, object], Feed]]
    linger = 5.0  # seconds a feed stays subscribed after its last viewer left (page reloads)
    demand_every = 1.0
    regroup_every = 3600.0  # group membership expires in Redis; renew it long before

    def __init__(self, camera: Camera, key: object, group: str) -> None:
        self.key = (camera.slug, key)
        self.group = group
        self.worker_channel = camera.worker_channel
        self.changed = asyncio.Event()
        self.viewers = 0
        self.idle_since = time.monotonic()
        self.task: asyncio.Task | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def subscribed(cls, camera: Camera, key: object, *args: object) -> AsyncIterator[Feed]:
        """The feed, subscribed while the block runs. Looking it up and counting the viewer
        happen with no await between them: a feed just shutting down is never handed out."""
        feed = cls.feeds.get((camera.slug, key))
        if feed is None:
            feed = cls.feeds[(camera.slug, key)] = cls(camera, *args)
        async with feed.watching():
            yield feed

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[Feed]:
        self.viewers += 1
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self.run())
        try:
            yield self
        finally:
            self.viewers -= 1
            self.idle_since = time.monotonic()

    def demand(self) -> dict:
        raise NotImplementedError

    def take(self, message: dict) -> None:
        raise NotImplementedError

    def forget(self) -> None:
        """What the feed holds, let go once nobody watches."""

    def notify(self) -> None:
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
            self.forget()

    async def pump(self, layer: BaseChannelLayer) -> None:
        channel = await layer.new_channel()
        await layer.group_add(self.group, channel)
        demand = asyncio.create_task(self.ask(layer, channel))
        try:
            while self.wanted() and not demand.done():
                try:
                    message = await asyncio.wait_for(layer.receive(channel), self.demand_every)
                except TimeoutError:
                    continue
                self.take(message)
        finally:
            demand.cancel()
            with contextlib.suppress(Exception):
                await layer.group_discard(self.group, channel)

    async def ask(self, layer: BaseChannelLayer, channel: str) -> None:
        renew_at = time.monotonic() + self.regroup_every
        while True:
            with contextlib.suppress(ChannelFull):  # worker down: its channel fills, fine
                await layer.send(self.worker_channel, self.demand())
            if time.monotonic() > renew_at:
                await layer.group_add(self.group, channel)
                renew_at = time.monotonic() + self.regroup_every
            await asyncio.sleep(self.demand_every)


class LiveFeed(Feed):
    """A camera's JPEGs at one width. Latest frame wins: only the newest is kept."""

    feeds: ClassVar[dict[tuple[str, object], Feed]] = {}

    def __init__(self, camera: Camera, width: int) -> None:
        super().__init__(camera, width, camera.frames_group(width))
        self.width = width
        self.frame: LiveFrame | None = None

    @classmethod
    def watch(cls, camera: Camera, width: int = 0) -> contextlib.AbstractAsyncContextManager:
        """The camera's feed at this width, subscribed while the block runs."""
        return cls.subscribed(camera, width, width)

    def demand(self) -> dict:
        return {"type": "stream.demand", "width": self.width}

    def take(self, message: dict) -> None:
        if message.get("type") == "frame":
            self.put(message["jpeg"], message["t"])

    def forget(self) -> None:
        self.frame = None

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
        self.notify()


@dataclass(frozen=True)
class LiveFragment:
    """One frame of a camera's live MP4 (a moof and its mdat), as the worker muxed it."""

    camera: str
    seq: int
    data: bytes
    key: bool
    captured_at: float

    @cached_property
    def tile(self) -> bytes:
        head = json.dumps({"camera": self.camera, "t": round(self.captured_at, 3), "mp4": True})
        return head.encode() + b"\n" + self.data


MAX_GOP_BYTES = 8 * 1024 * 1024  # held per feed from its newest keyframe; more waits for the next


class Mp4Feed(Feed):
    """A camera's stream as live fragmented MP4: the init segment and the fragments from the
    newest keyframe, so that a viewer can start at once, at a keyframe no older than the GOP."""

    feeds: ClassVar[dict[tuple[str, object], Feed]] = {}

    def __init__(self, camera: Camera, stream: str) -> None:
        super().__init__(camera, f"mp4:{stream}", camera.mp4_group(stream))
        self.stream = stream
        self.init, self.mime = b"", ""
        self.gop: list[LiveFragment] = []
        self.gop_bytes = 0
        self.seq = 0

    @classmethod
    def watch(cls, camera: Camera, stream: str = "main") -> contextlib.AbstractAsyncContextManager:
        return cls.subscribed(camera, f"mp4:{stream}", stream)

    def demand(self) -> dict:
        return {"type": "stream.demand", "mp4": self.stream}

    def take(self, message: dict) -> None:
        if message.get("type") == "fragment":
            self.put(message)

    def forget(self) -> None:
        self.gop, self.gop_bytes = [], 0

    def put(self, message: dict) -> None:
        key = bool(message.get("key"))
        if key:
            self.init, self.mime = message.get("init", self.init), message.get("mime", "")
            self.gop, self.gop_bytes = [], 0
        elif not self.gop or self.gop_bytes > MAX_GOP_BYTES:
            return  # joined between keyframes, or a GOP too long to hold: wait for the next
        self.seq += 1
        fragment = LiveFragment(self.key[0], self.seq, message["data"], key, message["t"])
        self.gop.append(fragment)
        self.gop_bytes += len(fragment.data)
        self.notify()

    async def fragments(self) -> AsyncIterator[LiveFragment]:
        """From the newest keyframe on, every fragment as it comes. A viewer that falls behind
        the next keyframe skips to it: it never gets old video, and holds nothing here."""
        while not self.gop:
            await self.changed.wait()
        position = self.gop[0].seq
        while True:
            while not self.gop or self.gop[-1].seq < position:
                await self.changed.wait()
            first = self.gop[0].seq
            position = max(position, first)
            yield self.gop[position - first]
            position += 1


class LiveGrid:
    """One dashboard's live tiles over one websocket, however many cameras it shows.

    A browser opens only about six HTTP/1.1 connections per host, so a grid of MJPEG <img> tags
    stalls after the sixth camera and takes the rest of the page with it. Here every camera's
    video shares the page's websocket: the camera's own H.264 (its sub-stream, if it has one) as
    fragmented MP4 for the browser's Media Source Extensions where both can, else JPEGs. Each
    camera has one message in flight: the next goes when the browser reports (`shown`) that it
    has taken the last, so a slow phone gets fewer frames (JPEG) or skips to the next keyframe
    (MP4), never a backlog.

    Each message is binary: a line of JSON (`{"camera": slug, "t": capture time}`, with `"mp4":
    true` for a fragment, or `"init": true` and `"mime"` for an MP4's init segment), a newline,
    and the JPEG, fragment or init segment.
    """

    def __init__(self, send: Callable[[bytes], Awaitable[None]], width: int, fps: float) -> None:
        self.send, self.width, self.fps = send, width, fps
        self.tasks: dict[tuple[str, bool], asyncio.Task] = {}  # (slug, as MP4) -> its stream
        self.ready: dict[str, asyncio.Event] = {}

    def watch(self, cameras: list[Camera], mp4: frozenset[str] = frozenset()) -> None:
        """Stream exactly these cameras from now on; those in `mp4` as fragmented MP4."""
        wanted = {(c.slug, c.slug in mp4 and bool(c.live_mime("sub"))): c for c in cameras}
        for key in set(self.tasks) - set(wanted):
            self.tasks.pop(key).cancel()
        self.ready = {slug: self.ready.get(slug) or asyncio.Event() for slug, _ in wanted}
        for key, camera in wanted.items():
            if key not in self.tasks:
                self.ready[camera.slug].set()
                stream = self.stream_mp4 if key[1] else self.stream_jpeg
                self.tasks[key] = asyncio.create_task(stream(camera))

    def shown(self, slug: str) -> None:
        if slug in self.ready:
            self.ready[slug].set()

    async def stream_jpeg(self, camera: Camera) -> None:
        ready = self.ready[camera.slug]
        async with LiveFeed.watch(camera, self.width) as feed:
            frames = feed.frames(self.fps)
            while True:
                await ready.wait()  # first: the frame to send is the newest once it is shown
                ready.clear()
                await self.send((await anext(frames)).tile)

    async def stream_mp4(self, camera: Camera) -> None:
        ready, sent_init = self.ready[camera.slug], b""
        async with Mp4Feed.watch(camera, "sub") as feed:
            async for fragment in feed.fragments():
                await ready.wait()
                ready.clear()
                if fragment.key and feed.init != sent_init:  # the first, or the camera's anew
                    head = json.dumps({"camera": camera.slug, "init": True, "mime": feed.mime})
                    await self.send(head.encode() + b"\n" + feed.init)
                    sent_init = feed.init
                    await ready.wait()
                    ready.clear()
                await self.send(fragment.tile)

    async def close(self) -> None:
        tasks = list(self.tasks.values())
        self.tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
