"""The alert socket through the real ASGI stack (origin check, sessions) and the real Redis."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from cameras.models import Camera
from events import consumers
from events.models import MotionEvent
from tests.conftest import connected, eventually, session_cookie, socket_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.asyncio,
    pytest.mark.usefixtures("close_thread_connections"),
]


async def announce(camera: Camera) -> dict:
    event = await MotionEvent.objects.acreate(camera=camera)
    message = {"type": "motion.start", "event": await sync_to_async(event.to_dict)()}
    await get_channel_layer().group_send(camera.group_name, message)
    return message


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
