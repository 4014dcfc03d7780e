"""End to end: a real Daphne, a real Redis and real capture workers, reached over HTTP and ws."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from cameras.models import Camera
from events.models import MotionEvent
from tests.conftest import PASSWORD
from tests.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(base_url: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=10)
    client.get("/accounts/login/")
    response = client.post(
        "/accounts/login/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
    )
    assert response.status_code == 302, "login failed"
    return client


def mjpeg_parts(response: httpx.Response) -> Iterator[tuple[dict[str, str], bytes]]:
    """(headers, body) of each part of a multipart/x-mixed-replace response."""
    buffer = b""
    chunks = response.iter_bytes()
    while True:
        while b"\r\n\r\n" not in buffer:
            buffer += next(chunks)
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        lines = head.decode().strip().split("\r\n")
        assert lines[0] == "--frame"
        headers = dict(line.split(": ", 1) for line in lines[1:])
        length = int(headers["Content-Length"])
        while len(buffer) < length + 2:
            buffer += next(chunks)
        yield headers, buffer[:length]
        buffer = buffer[length + 2 :]


def open_socket(base_url: str, client: httpx.Client | None = None) -> ClientConnection:
    headers = {"Origin": base_url}
    if client is not None:
        headers["Cookie"] = f"sessionid={client.cookies['sessionid']}"
    return connect(base_url.replace("http", "ws") + "/ws/alerts/", additional_headers=headers)


def receive_for(socket: ClientConnection, seconds: float, until: Callable[[dict], bool]) -> list:
    """Messages received until one satisfies `until` or the time is up."""
    messages, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            message = json.loads(socket.recv(timeout=max(0.01, deadline - time.monotonic())))
        except TimeoutError:
            break
        messages.append(message)
        if until(message):
            break
    return messages


def test_logged_in_user_reads_live_mjpeg_stream(
    live_server_url: str, owner: object, front_door: Camera, start_worker: Callable
) -> None:
    start_worker("front-door")
    client = log_in(live_server_url, "owner")
    with client.stream("GET", "/cameras/front-door/stream.mjpg", timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("multipart/x-mixed-replace")
        parts = []
        for headers, body in mjpeg_parts(response):
            parts.append((float(headers["X-Timestamp"]), body))
            if len(parts) == 10:
                break
    timestamps = [t for t, _ in parts]
    assert timestamps == sorted(timestamps) and len(set(timestamps)) == 10
    assert abs(timestamps[-1] - time.time()) < 10
    assert all(body.startswith(b"\xff\xd8") and body.endswith(b"\xff\xd9") for _, body in parts)

    snapshot = client.get("/cameras/front-door/snapshot.jpg")
    assert snapshot.status_code == 200
    assert snapshot.headers["content-type"] == "image/jpeg"
    assert snapshot.content.startswith(b"\xff\xd8")


def test_motion_in_a_scene_reaches_the_socket_as_start_then_end(
    live_server_url: str, owner: object, front_door: Camera, start_worker: Callable
) -> None:
    client = log_in(live_server_url, "owner")
    with open_socket(live_server_url, client) as socket:
        start_worker("front-door")
        messages = receive_for(socket, 45, lambda m: m["type"] == "motion.end")
    alerts = [m for m in messages if m["type"].startswith("motion.")]
    assert [m["type"] for m in alerts] == ["motion.start", "motion.end"]
    start, end = (m["event"] for m in alerts)
    assert start["id"] == end["id"]
    assert start["camera"] == "front-door" and start["camera_name"] == "Front door"
    assert start["ended_at"] is None and end["ended_at"] is not None
    assert 0 < end["area"] <= 1

    event = MotionEvent.objects.get(pk=end["id"])
    assert event.to_dict() == end
    image = client.get(end["snapshot_url"])
    assert image.status_code == 200 and image.content.startswith(b"\xff\xd8")


def test_anonymous_stream_snapshot_event_image_and_socket_are_refused(
    live_server_url: str, front_door: Camera
) -> None:
    event = MotionEvent.objects.create(camera=front_door)
    anonymous = httpx.Client(base_url=live_server_url, timeout=10)
    own_page = httpx.Client(
        base_url=live_server_url, timeout=10, headers={"Sec-Fetch-Site": "same-origin"}
    )
    for path in ("/cameras/front-door/stream.mjpg", "/cameras/front-door/snapshot.jpg",
                 f"/events/{event.pk}/snapshot.jpg"):  # fmt: skip
        challenged = anonymous.get(path)  # VLC, ffmpeg, Home Assistant: asked for credentials
        assert challenged.status_code == 401
        assert challenged.headers["www-authenticate"].startswith('Basic realm="Surveillance"')
        assert own_page.get(path).status_code == 403  # a browser must not ask for the password
    page = anonymous.get("/")
    assert page.status_code == 302 and page.headers["location"].startswith("/accounts/login/")
    with pytest.raises(InvalidStatus) as refused:
        open_socket(live_server_url)
    assert refused.value.response.status_code == 403


def test_socket_from_a_foreign_origin_is_refused(live_server_url: str, owner: object) -> None:
    client = log_in(live_server_url, "owner")
    headers = {
        "Origin": "http://evil.example",
        "Cookie": f"sessionid={client.cookies['sessionid']}",
    }
    with pytest.raises(InvalidStatus) as refused:
        connect(live_server_url.replace("http", "ws") + "/ws/alerts/", additional_headers=headers)
    assert refused.value.response.status_code == 403


def test_member_allowed_one_camera_is_refused_the_other_and_gets_no_alert_for_it(
    live_server_url: str,
    member: object,
    front_door: Camera,
    garage: Camera,
    start_worker: Callable,
) -> None:
    front_door.viewers.add(member)
    client = log_in(live_server_url, "member")
    with open_socket(live_server_url, client) as socket:
        start_worker("front-door")
        start_worker("garage")
        messages = receive_for(socket, 45, lambda m: m["type"] == "motion.end")
        # Garage saw motion too while this socket was open; its alerts had time to arrive.
        wait_until(
            lambda: MotionEvent.objects.filter(camera=garage, ended_at__isnull=False).exists(),
            30,
            "a finished garage event",
        )
        messages += receive_for(socket, 1, lambda m: False)

    assert any(m["type"] == "motion.start" for m in messages)
    assert all("garage" not in json.dumps(m) for m in messages)
    assert client.get("/cameras/garage/stream.mjpg").status_code == 403
    assert client.get("/cameras/garage/snapshot.jpg").status_code == 403
    garage_event = MotionEvent.objects.filter(camera=garage).first()
    assert client.get(f"/events/{garage_event.pk}/snapshot.jpg").status_code == 403
    dashboard = client.get("/")
    assert "Front door" in dashboard.text and "Garage" not in dashboard.text
