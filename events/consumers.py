from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from cameras.models import Camera


class AlertConsumer(AsyncJsonWebsocketConsumer):
    """Pushes motion alerts and camera status for the cameras this user may view."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept(): Daphne answers the handshake with 403
            return
        self.groups = await self.camera_groups(user)
        for group in self.groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    @database_sync_to_async
    def camera_groups(self, user: object) -> list[str]:
        return [camera.group_name for camera in Camera.objects.visible_to(user)]

    async def motion_start(self, message: dict) -> None:
        await self.send_json(message)

    async def motion_end(self, message: dict) -> None:
        await self.send_json(message)

    async def camera_status(self, message: dict) -> None:
        await self.send_json(message)
