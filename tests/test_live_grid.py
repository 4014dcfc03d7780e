"""Live frames inside the web process, through the real ASGI stack and the real Redis: the
dashboard's websocket grid, and what a viewer holds once it has gone.

Frames are published to the camera's frames group as a capture worker does (tests/test_worker.py
covers the worker's side of that message)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator

import cv2
import numpy as np
import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User

from cameras.live import LiveFeed
from cameras.models import Camera
from surveillance.asgi import application
from tests.conftest import connected, eventually, session_cookie, socket_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.asyncio,
    pytest.mark.usefixtures("close_thread_connections"),
]


def jpeg(shade: int) -> bytes:
    image = np.full((60, 80, 3), shade, np.uint8)
    return cv2.imencode(".jpg", image)[1].tobytes()


async def publish(camera: Camera, width: int, t: float, shade: int = 128) -> None:
    message = {"type": "frame", "jpeg": jpeg(shade), "t": t}
    await get_channel_layer().group_send(camera.frames_group(width), message)


async def open_grid(user: User) -> WebsocketCommunicator:
    """The dashboard's live socket, logged in as this user."""
    _, cookie = await sync_to_async(session_cookie)(user)
    return await connected(socket_for(cookie, "/ws/live/"))


def parse(message: bytes) -> tuple[dict, bytes]:
    head, _, body = message.partition(b"\n")
    return json.loads(head), body


def watching(camera: Camera, width: int) -> bool:
    """Whether a viewer in this process holds the camera's feed at this width."""
    feed = LiveFeed.feeds.get((camera.slug, width))
    return feed is not None and feed.viewers > 0


async def released(camera: Camera, width: int) -> bool:
    return not watching(camera, width)


@contextlib.asynccontextmanager
async def publishing(camera: Camera, width: int) -> AsyncIterator[None]:
    """Frames every 0.1 s while the block runs: the feed subscribes to Redis asynchronously, so
    the first frames may come before anyone listens."""

    async def keep_publishing() -> None:
        while True:
            await publish(camera, width, time.time())
            await asyncio.sleep(0.1)

    task = asyncio.create_task(keep_publishing())
    try:
        yield
    finally:
        task.cancel()


async def frame_from(socket: WebsocketCommunicator, camera: Camera, width: int) -> dict:
    async with publishing(camera, width):
        head, body = parse(await socket.receive_from(timeout=5))
    assert body.startswith(b"\xff\xd8")
    return head


async def test_grid_streams_only_cameras_the_user_may_view(
    redis_server: str, member: object, front_door: Camera, garage: Camera
) -> None:
    await front_door.viewers.aadd(member)
    socket = await open_grid(member)
    await socket.send_json_to({"watch": ["front-door", "garage"], "width": 320, "fps": 15})

    head = await frame_from(socket, front_door, 320)
    assert head["camera"] == "front-door"
    assert not watching(garage, 320)
    await socket.send_json_to({"shown": "front-door"})
    await publish(garage, 320, time.time() + 1)
    await publish(front_door, 320, time.time() + 1)  # a frame interval later
    head, _ = parse(await socket.receive_from(timeout=3))
    assert head["camera"] == "front-door"
    await socket.disconnect()


async def test_grid_sends_a_cameras_next_frame_only_once_the_last_was_shown_and_the_newest(
    redis_server: str, owner: object, front_door: Camera
) -> None:
    socket = await open_grid(owner)
    await socket.send_json_to({"watch": ["front-door"], "width": 320, "fps": 30})
    await frame_from(socket, front_door, 320)

    newest = time.time() + 10
    for t in (newest - 2, newest - 1, newest):  # a slow browser has not shown the first yet
        await publish(front_door, 320, t)
    assert await socket.receive_nothing(timeout=0.5)
    await socket.send_json_to({"shown": "front-door"})
    head, _ = parse(await socket.receive_from(timeout=3))
    assert head["t"] == round(newest, 3)
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


async def test_grid_asks_for_the_tier_below_the_width_the_page_shows(
    redis_server: str, owner: object, front_door: Camera
) -> None:
    socket = await open_grid(owner)
    await socket.send_json_to({"watch": ["front-door"], "width": 500, "fps": 5})
    await frame_from(socket, front_door, 480)
    assert watching(front_door, 480)
    await socket.disconnect()


@pytest.mark.parametrize("message", ["not json", "[1, 2]", '{"watch": ["a"], "width": "huge"}'])
async def test_grid_closes_on_a_malformed_message(
    redis_server: str, owner: object, message: str
) -> None:
    socket = await open_grid(owner)
    await socket.send_to(text_data=message)
    closed = await socket.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4400}


async def test_grid_refuses_anonymous_sockets(redis_server: str, db: None) -> None:
    socket = socket_for(b"", "/ws/live/")
    connected, _ = await socket.connect()
    assert not connected


async def test_grid_releases_its_feeds_when_the_page_closes(
    redis_server: str, owner: object, front_door: Camera
) -> None:
    socket = await open_grid(owner)
    await socket.send_json_to({"watch": ["front-door"], "width": 320, "fps": 5})
    await frame_from(socket, front_door, 320)
    await socket.disconnect()
    await eventually(lambda: released(front_door, 320), seconds=1)


async def test_mjpeg_viewer_that_disconnects_is_released_within_a_second(
    redis_server: str, owner: object, front_door: Camera
) -> None:
    _, cookie = await sync_to_async(session_cookie)(owner)
    scope = {
        "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/cameras/front-door/stream.mjpg", "raw_path": b"/cameras/front-door/stream.mjpg",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000), "headers": [(b"host", b"127.0.0.1"), (b"cookie", cookie)],
    }  # fmt: skip
    viewer = ApplicationCommunicator(application, scope)
    await viewer.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await viewer.receive_output(timeout=5)
    assert start["status"] == 200
    async with publishing(front_door, 0):
        part = await viewer.receive_output(timeout=5)
    assert part["more_body"] and b"X-Timestamp: " in part["body"]
    assert watching(front_door, 0)

    await viewer.send_input({"type": "http.disconnect"})
    await eventually(lambda: released(front_door, 0), seconds=1)
    await viewer.wait(timeout=1)
