"""The alert socket through the real ASGI stack (origin check, sessions) and the real Redis."""

from __future__ import annotations

import datetime as dt

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from cameras import permissions
from cameras.models import Camera
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
    monkeypatch.setattr(permissions, "RECHECK_EVERY", 0.2)
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
    monkeypatch.setattr(permissions, "RECHECK_EVERY", 0.2)
    client, cookie = await sync_to_async(session_cookie)(member)
    socket = await connected(socket_for(cookie))
    await sync_to_async(client.logout)()
    closed = await socket.receive_output(timeout=3)
    assert closed["type"] == "websocket.close"


async def event_at(camera: Camera, seconds_ago: float, lasted: float | None) -> MotionEvent:
    started = timezone.now() - dt.timedelta(seconds=seconds_ago)
    ended = started + dt.timedelta(seconds=lasted) if lasted is not None else None
    return await MotionEvent.objects.acreate(camera=camera, started_at=started, ended_at=ended)


async def messages_until_quiet(socket: object) -> list[dict]:
    messages = []
    while not await socket.receive_nothing(timeout=0.3):
        messages.append(await socket.receive_json_from())
    return messages


async def test_a_reconnecting_page_catches_up_on_what_it_missed(
    redis_server: str, member: object, front_door: Camera, garage: Camera
) -> None:
    await front_door.viewers.aadd(member)
    since = timezone.now() - dt.timedelta(minutes=10)
    await event_at(front_door, 3600, 5)  # long before: not missed
    finished = await event_at(front_door, 300, 10)
    ongoing = await event_at(front_door, 30, None)
    await event_at(garage, 200, 5)  # not theirs
    _, cookie = await sync_to_async(session_cookie)(member)
    socket = await connected(socket_for(cookie))
    await socket.send_json_to({"since": since.isoformat()})
    messages = await messages_until_quiet(socket)
    assert [(m["type"], m["event"]["id"]) for m in messages] == [
        ("motion.start", finished.pk),
        ("motion.end", finished.pk),
        ("motion.start", ongoing.pk),
    ]
    assert messages[1]["event"]["ended_at"] is not None
    await socket.disconnect()


async def test_catch_up_includes_events_that_ended_after_the_page_last_heard(
    redis_server: str, owner: object, front_door: Camera
) -> None:
    since = timezone.now() - dt.timedelta(minutes=5)
    long_one = await event_at(front_door, 3600, 3590)  # began an hour ago, ended 10 s ago
    _, cookie = await sync_to_async(session_cookie)(owner)
    socket = await connected(socket_for(cookie))
    await socket.send_json_to({"since": since.isoformat()})
    messages = await messages_until_quiet(socket)
    assert [m["type"] for m in messages] == ["motion.start", "motion.end"]
    assert {m["event"]["id"] for m in messages} == {long_one.pk}
    await socket.disconnect()


@pytest.mark.parametrize(
    "message",
    [{"since": "yesterday"}, {"since": "2026-13-45T10:00:00+00:00"}, {"since": 5}, [1], {}],
)
async def test_a_malformed_catch_up_request_closes_the_socket(
    redis_server: str, owner: object, message: object
) -> None:
    _, cookie = await sync_to_async(session_cookie)(owner)
    socket = await connected(socket_for(cookie))
    await socket.send_json_to(message)
    closed = await socket.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4400}


async def test_text_that_is_not_json_closes_the_socket(redis_server: str, owner: object) -> None:
    _, cookie = await sync_to_async(session_cookie)(owner)
    socket = await connected(socket_for(cookie))
    await socket.send_to(text_data="{not json")
    closed = await socket.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4400}


async def test_an_idle_socket_outlives_the_channel_layers_blocking_reads(
    redis_server: str, owner: object, front_door: Camera
) -> None:
    """channels-redis waits for messages in 5 s blocking reads; a Redis client whose own read
    timeout is no longer than that kills an idle consumer (redis-py 8's default is 5 s)."""
    _, cookie = await sync_to_async(session_cookie)(owner)
    socket = await connected(socket_for(cookie))
    assert await socket.receive_nothing(timeout=12)  # more than two blocking reads
    sent = await announce(front_door)
    assert await socket.receive_json_from(timeout=3) == sent
    await socket.disconnect()
