from __future__ import annotations

import asyncio
import contextlib

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from cameras.consumers import current_user
from cameras.models import Camera

# Redis forgets group members after a day (channels_redis group_expiry); checking well before
# also ends the alerts of a user who logged out, was deactivated or lost a camera meanwhile.
REFRESH_EVERY = 600.0


class AlertConsumer(AsyncJsonWebsocketConsumer):
    """Pushes motion alerts and camera status for the cameras this user may view."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept(): Daphne answers the handshake with 403
            return
        groups = await self.allowed_groups()
        if groups is None:
            await self.close()
            return
        await self.join(groups)
        self.refresher = asyncio.create_task(self.keep_groups_fresh())
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if refresher := getattr(self, "refresher", None):
            refresher.cancel()

    async def join(self, groups: list[str]) -> None:
        for group in set(self.groups) - set(groups):
            await self.channel_layer.group_discard(group, self.channel_name)
        for group in groups:  # adding again renews the membership's expiry
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups = groups

    @database_sync_to_async
    def allowed_groups(self) -> list[str] | None:
        """Groups of the cameras the user may view now; None once the session or user is gone."""
        user = current_user(self.scope)
        if user is None:
            return None
        return [camera.group_name for camera in Camera.objects.visible_to(user)]

    async def keep_groups_fresh(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_EVERY)
            with contextlib.suppress(Exception):  # Redis or the database briefly away: next time
                groups = await self.allowed_groups()
                if groups is None:
                    await self.close()
                    return
                await self.join(groups)

    async def motion_start(self, message: dict) -> None:
        await self.send_json(message)

    async def motion_end(self, message: dict) -> None:
        await self.send_json(message)

    async def camera_status(self, message: dict) -> None:
        await self.send_json(message)
