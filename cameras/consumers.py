"""The dashboard's live tiles over a websocket: /ws/live/."""

from __future__ import annotations

import asyncio
import contextlib
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from cameras.forms import StreamForm
from cameras.live import LiveGrid
from cameras.models import Camera
from cameras.permissions import Recheck, current_user

MAX_CAMERAS = 64  # cameras one page may watch at once
DEFAULT_WIDTH, DEFAULT_FPS = 320, 10.0


class LiveConsumer(AsyncWebsocketConsumer):
    """The browser sends `{"watch": [slugs], "width": W, "fps": N}` for the tiles it shows and
    `{"shown": slug}` after displaying each frame; it gets frames as cameras.live.LiveGrid says."""

    grid: LiveGrid | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept(): Daphne answers the handshake with 403
            return
        self.wanted: list[str] = []
        self.as_mp4: frozenset[str] = frozenset()
        self.refresher = asyncio.create_task(self.keep_checking())
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if refresher := getattr(self, "refresher", None):
            refresher.cancel()
        if self.grid is not None:
            await self.grid.close()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = json.loads(text_data or "")
        except ValueError:
            message = None
        if not isinstance(message, dict):
            await self.close(code=4400)  # not our page talking
            return
        if "shown" in message and self.grid is not None:
            self.grid.shown(str(message["shown"]))
        elif isinstance(message.get("watch"), list):
            await self.watch(message)

    async def watch(self, message: dict) -> None:
        form = StreamForm(
            {"width": message.get("width", DEFAULT_WIDTH), "fps": message.get("fps", DEFAULT_FPS)}
        )
        if not form.is_valid():
            await self.close(code=4400)
            return
        width, fps = form.tier(), form.cleaned_data["fps"]
        if self.grid is None or (self.grid.width, self.grid.fps) != (width, fps):
            if self.grid is not None:
                await self.grid.close()
            self.grid = LiveGrid(self.send_frame, width, fps)
        self.wanted = [str(slug) for slug in message["watch"][:MAX_CAMERAS]]
        mp4 = message.get("mp4")  # the tiles this browser plays as MP4 (Media Source Extensions)
        self.as_mp4 = (
            frozenset(str(s) for s in mp4[:MAX_CAMERAS]) if isinstance(mp4, list) else frozenset()
        )
        await self.update()

    async def update(self) -> None:
        cameras = await self.visible_cameras(self.wanted)
        if cameras is None:
            await self.close()
        elif self.grid is not None:
            self.grid.watch(cameras, self.as_mp4)

    @database_sync_to_async
    def visible_cameras(self, slugs: list[str]) -> list[Camera] | None:
        user = current_user(self.scope.get("session"), self.scope.get("user"))
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
