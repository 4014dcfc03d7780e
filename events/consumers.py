"""Motion alerts and camera status for the dashboard: /ws/alerts/."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cameras.models import Camera
from cameras.permissions import Recheck, socket_user
from cameras.sockets import BAD_MESSAGE, TOO_MANY, Pacer, Refusal, Refuses, parse_message
from events.models import MotionEvent

# A reconnecting page asks for what it missed since the last event it heard of. An event is
# stamped with its capture time, a moment before its row is committed and announced, so the
# answer reaches back a little further; the page drops the ids it already has.
CATCH_UP_MARGIN = dt.timedelta(seconds=60)
CATCH_UP_LIMIT = dt.timedelta(days=1)
CATCH_UP_MAX_EVENTS = 200
# A page asks once per connection; more often is a flood of queries and replies.
CATCH_UP_EVERY = 5.0  # seconds


def _since(content: object) -> dt.datetime | None:
    """The aware datetime in `{"since": ...}`, or None for anything else."""
    if not isinstance(content, dict) or not isinstance(content.get("since"), str):
        return None
    try:
        since = parse_datetime(content["since"])
    except ValueError:  # well-formed but impossible, such as month 13
        return None
    return since if since is not None and since.tzinfo is not None else None


class AlertConsumer(Refuses, AsyncJsonWebsocketConsumer):
    """Pushes motion alerts and camera status for the cameras this user may view.

    The page may send `{"since": "<ISO time>"}` (on every connect): the events that started or
    ended since then come back as motion.start / motion.end messages, oldest first."""

    allowed: frozenset[str] = frozenset()  # slugs this user may view, as last checked

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept(): Daphne answers the handshake with 403
            return
        if not await self.refresh():
            await self.close()
            return
        self.catch_ups = Pacer(CATCH_UP_EVERY)
        self.refresher = asyncio.create_task(self.keep_fresh())
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if refresher := getattr(self, "refresher", None):
            refresher.cancel()

    async def refresh(self) -> bool:
        """Re-read what the user may view and (re)join those groups; False once they're gone."""
        cameras = await self.allowed_cameras()
        if cameras is None:
            return False
        self.allowed = frozenset(camera.slug for camera in cameras)
        groups = [camera.group_name for camera in cameras]
        for group in set(self.groups) - set(groups):
            await self.channel_layer.group_discard(group, self.channel_name)
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups = groups
        return True

    @database_sync_to_async
    def allowed_cameras(self) -> list[Camera] | None:
        user = socket_user(self.scope)
        if user is None:
            return None
        return list(Camera.objects.visible_to(user).only("slug"))

    async def keep_fresh(self) -> None:
        recheck = Recheck()
        while True:
            # Re-reading permissions and joining the groups again also renews them in Redis
            # (which forgets members after a day, and all of them when it restarts).
            await recheck.wait()
            with contextlib.suppress(Exception):  # Redis or the database briefly away: next time
                if not await self.refresh():
                    await self.close()
                    return

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            since = _since(parse_message(text_data, bytes_data))
            if since is None:
                raise Refusal(BAD_MESSAGE, "a message that is not a catch-up")
            if not self.catch_ups.ready():
                raise Refusal(TOO_MANY, f"catch-ups more often than every {CATCH_UP_EVERY:g} s")
        except Refusal as refusal:
            await self.refuse(refusal)
            return
        for message in await self.missed_since(since):
            await self.send_json(message)

    @database_sync_to_async
    def missed_since(self, since: dt.datetime) -> list[dict]:
        user = socket_user(self.scope)
        if user is None:
            return []
        since = max(since, timezone.now() - CATCH_UP_LIMIT) - CATCH_UP_MARGIN
        newest = (
            MotionEvent.objects.for_user(user)
            .changed_since(since)
            .select_related("camera")
            .order_by("-started_at")[:CATCH_UP_MAX_EVENTS]
        )
        messages = []
        for event in reversed(list(newest)):
            messages.append({"type": "motion.start", "event": event.to_dict()})
            if event.ended_at:
                messages.append({"type": "motion.end", "event": event.to_dict()})
        return messages

    # Group messages: passed on only for cameras the user may still view (checked every
    # RECHECK_EVERY, without a query per message).

    async def motion_start(self, message: dict) -> None:
        if message["event"]["camera"] in self.allowed:
            await self.send_json(message)

    async def motion_end(self, message: dict) -> None:
        if message["event"]["camera"] in self.allowed:
            await self.send_json(message)

    async def motion_update(self, message: dict) -> None:
        if message["event"]["camera"] in self.allowed:
            await self.send_json(message)

    async def camera_status(self, message: dict) -> None:
        if message["camera"] in self.allowed:
            await self.send_json(message)
