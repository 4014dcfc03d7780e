"""The alert socket through the real ASGI stack (origin check, sessions) and the real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from cameras.models import Camera
from events import consumers
from events.models import MotionEvent
from surveillance.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest_asyncio.fixture(autouse=True)
async def close_thread_connections() -> AsyncIterator[None]:
    """ORM calls here run in asgiref's shared worker thread, whose connection Django never closes:
    close it, or PostgreSQL refuses to drop the test database at the end."""
    yield
    await sync_to_async(connections.close_all)()


def session_cookie(user: object) -> tuple[Client, bytes]:
    client = Client()
    client.force_login(user)
    return client, f"sessionid={client.cookies['sessionid'].value}".encode()


def socket_for(cookie: bytes) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"), (b"cookie", cookie)]
    return WebsocketCommunicator(application, "/ws/alerts/", headers=headers)


async def announce(camera: Camera) -> dict:
    event = await MotionEvent.objects.acreate(camera=camera)
    message = {"type": "motion.start", "event": await sync_to_async(event.to_dict)()}
    await get_channel_layer().group_send(camera.group_name, message)
    return message


async def connected(socket: WebsocketCommunicator) -> WebsocketCommunicator:
    connected, _ = await socket.connect()
    assert connected
    return socket


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 3) -> None:
    async with asyncio.timeout(seconds):
        while not await check():
            await asyncio.sleep(0.05)


async def test_member_gets_alerts_of_their_camera_only(
    redis_server: str, member: object, front_door: Camera, garage: Camera
) -> None:
    await front_door.viewers.aadd(member)
    _, cookie = await sync_to_async(session_cookie)(member)
    socket = await connected(socket_for(cookie))
    await announce(garage)
    sent = await announce(front_door)
    assert await socket.receive_json_from(timeout=3) == sent
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()


async def test_alerts_stop_when_the_camera_is_taken_away(
    redis_server: str, member: object, front_door: Camera, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumers, "REFRESH_EVERY", 0.2)
    await front_door.viewers.aadd(member)
    _, cookie = await sync_to_async(session_cookie)(member)
    socket = await connected(socket_for(cookie))
    await front_door.viewers.aremove(member)

    async def left_group() -> bool:
        while not await socket.receive_nothing(timeout=0.05):
            await socket.receive_json_from()  # alerts sent while it was still a member
        await announce(front_door)
        return await socket.receive_nothing(timeout=0.3)

    await eventually(left_group)
    await socket.disconnect()


async def test_logging_out_closes_the_socket(
    redis_server: str, member: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumers, "REFRESH_EVERY", 0.2)
    client, cookie = await sync_to_async(session_cookie)(member)
    socket = await connected(socket_for(cookie))
    await sync_to_async(client.logout)()
    closed = await socket.receive_output(timeout=3)
    assert closed["type"] == "websocket.close"
