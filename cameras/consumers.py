"""The dashboard's live tiles over a websocket: /ws/live/."""

from __future__ import annotations

import asyncio
import contextlib

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from cameras.forms import StreamForm
from cameras.live import LiveGrid
from cameras.models import Camera
from cameras.permissions import Recheck, socket_user
from cameras.sockets import BAD_MESSAGE, Pacer, Refusal, Refuses, parse_message

MAX_CAMERAS = 64  # cameras one page may watch at once
DEFAULT_WIDTH, DEFAULT_FPS = 320, 10.0
# A page scrolling through a grid sends a watch list for every step; the permissions for the
# newest one are read at most this often (seconds), not once per message.
WATCH_EVERY = 0.5


class LiveConsumer(Refuses, AsyncWebsocketConsumer):
    """The browser sends `{"watch": [slugs], "mp4": [slugs], "width": W, "fps": N}` for the
    tiles it shows (those in `mp4` played as fragmented MP4) and
    `{"shown": [slugs]}` after displaying frames (a slug alone is fine too); it gets frames as
    cameras.live.LiveGrid says."""

    grid: LiveGrid | None = None
    watching: asyncio.Task | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept(): Daphne answers the handshake with 403
            return
        self.wanted: list[str] = []
        self.stale, self.pacer = False, Pacer(WATCH_EVERY)
        self.as_mp4: frozenset[str] = frozenset()
        self.refresher = asyncio.create_task(self.keep_checking())
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for task in (getattr(self, "refresher", None), self.watching):
            if task is not None:
                task.cancel()
        if self.grid is not None:
            await self.grid.close()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = parse_message(text_data, bytes_data)
            if "shown" in message:
                self.shown(message["shown"])
            elif isinstance(message.get("watch"), list):
                await self.watch(message)
        except Refusal as refusal:
            await self.refuse(refusal)

    def shown(self, slugs: object) -> None:
        slugs = [slugs] if isinstance(slugs, str) else slugs
        if not isinstance(slugs, list) or len(slugs) > MAX_CAMERAS:
            raise Refusal(BAD_MESSAGE, "a shown list that no page sends")
        if self.grid is not None:
            for slug in slugs:
                self.grid.shown(str(slug))

    async def watch(self, message: dict) -> None:
        form = StreamForm(
            {"width": message.get("width", DEFAULT_WIDTH), "fps": message.get("fps", DEFAULT_FPS)}
        )
        if not form.is_valid():
            raise Refusal(BAD_MESSAGE, "a watch message with a bad width or fps")
        width, fps = form.tier(), form.cleaned_data["fps"]
        if self.grid is None or (self.grid.width, self.grid.fps) != (width, fps):
            if self.grid is not None:
                await self.grid.close()
            self.grid = LiveGrid(self.send_frame, width, fps)
        self.wanted = [str(slug) for slug in message["watch"][:MAX_CAMERAS]]
        mp4 = message.get("mp4")  # the tiles this browser plays as MP4 (Media Source Extensions)
        if isinstance(mp4, list):
            self.as_mp4 = frozenset(str(slug) for slug in mp4[:MAX_CAMERAS])
        self.stale = True
        if self.watching is None or self.watching.done():
            self.watching = asyncio.create_task(self.follow_watch_lists())

    async def follow_watch_lists(self) -> None:
        """Stream the newest watch list, read at most every WATCH_EVERY seconds."""
        while self.stale:
            await asyncio.sleep(self.pacer.wait())
            self.pacer.ready()
            self.stale = False
            with contextlib.suppress(Exception):  # the database briefly away: the recheck will do
                await self.update()

    async def update(self) -> None:
        cameras = await self.visible_cameras(self.wanted)
        if cameras is None:
            await self.close()
        elif self.grid is not None:
            self.grid.watch(cameras, self.as_mp4)

    @database_sync_to_async
    def visible_cameras(self, slugs: list[str]) -> list[Camera] | None:
        user = socket_user(self.scope)
        if user is None:
            return None
        return list(Camera.objects.visible_to(user).filter(slug__in=slugs, enabled=True))

    async def keep_checking(self) -> None:
        recheck = Recheck()
        while True:
            await recheck.wait()
            with contextlib.suppress(Exception):  # the database briefly away: next time
                await self.update()

    async def send_frame(self, data: bytes) -> None:
        await self.send(bytes_data=data)
