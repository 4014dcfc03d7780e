"""One websocket cannot flood the web process or its log, through the real server: a flood of
messages or catch-ups is closed with 4429, and malformed frames are refused with a code that
says why and one short log line, never a traceback. On both sockets."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.utils import timezone
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from cameras.models import Camera
from capture.supervisor import web_server_argv
from events.models import MotionEvent
from tests.conftest import ROOT, LiveServer, wait_for_database_sessions_to_close
from tests.processes import free_port, stop_process, wait_until
from tests.web import logged_in_client, rss_mb

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SOCKETS = ("/ws/live/", "/ws/alerts/")
CATCH_UP = '{"since": "2020-01-01T00:00:00+00:00"}'


@dataclass
class LoggedServer(LiveServer):
    log: Path = Path()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def server(
    child_env: dict[str, str], django_db_blocker: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LoggedServer]:
    """The web server with its log in a file of its own, for the test to read."""
    port, log = free_port(), tmp_path_factory.mktemp("daphne") / "stderr.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            web_server_argv("127.0.0.1", port), cwd=ROOT, stderr=stderr, stdout=subprocess.DEVNULL,
            env={**child_env, "PGAPPNAME": "test-daphne-abuse"},
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return process.poll() is not None

    wait_until(healthy, 30, "Daphne to serve /healthz")
    served = LoggedServer(url, process, log)
    yield served
    stop_process(process)
    with django_db_blocker.unblock():
        wait_for_database_sessions_to_close("test-daphne-abuse")


@pytest.fixture
def cookie(server: LoggedServer, member: object, front_door: Camera) -> str:
    front_door.viewers.add(member)
    client = logged_in_client(server.url, "member")
    return f"sessionid={client.cookies['sessionid']}"


def open_socket(server: LiveServer, path: str, cookie: str) -> ClientConnection:
    return connect(
        server.url.replace("http", "ws") + path,
        origin=server.url, additional_headers={"Cookie": cookie}, open_timeout=10,
        max_size=None,
    )  # fmt: skip


def close_code(socket: ClientConnection, seconds: float = 10) -> int | None:
    """The code the server closed with, once it has (messages before it are read and dropped)."""
    try:
        while True:
            socket.recv(timeout=seconds)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None


def flood(socket: ClientConnection, message: str, count: int) -> int:
    """Send as fast as the connection takes them; how many went before the server closed it."""
    for sent in range(count):
        try:
            socket.send(message)
        except ConnectionClosed:
            return sent
    return count


@pytest.mark.parametrize("path", SOCKETS)
def test_a_flood_of_messages_closes_the_socket_with_4429(
    server: LoggedServer, cookie: str, path: str
) -> None:
    before = rss_mb(server.process.pid)
    message = '{"shown": ["front-door"]}' if path == "/ws/live/" else CATCH_UP
    with open_socket(server, path, cookie) as socket:
        sent = flood(socket, message, 200_000)
        assert close_code(socket) == 4429
    assert sent < 200_000  # it stopped taking them
    assert rss_mb(server.process.pid) - before < 20
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    assert "Traceback" not in server.log_text()


def test_a_page_showing_many_tiles_is_not_taken_for_a_flood(
    server: LoggedServer, cookie: str
) -> None:
    """64 tiles' frames acknowledged together, 50 times a second, as the page does."""
    with open_socket(server, "/ws/live/", cookie) as socket:
        shown = json.dumps({"shown": [f"cam-{n}" for n in range(64)]})
        for _ in range(250):  # five seconds
            socket.send(shown)
            with pytest.raises(TimeoutError):
                socket.recv(timeout=0.02)


def test_catch_ups_more_often_than_every_few_seconds_close_the_socket(
    server: LoggedServer, cookie: str, front_door: Camera
) -> None:
    for _ in range(3):
        MotionEvent.objects.create(camera=front_door, ended_at=timezone.now())
    with open_socket(server, "/ws/alerts/", cookie) as socket:
        socket.send(CATCH_UP)
        replies = [socket.recv(timeout=5) for _ in range(6)]  # a start and an end each
        socket.send(CATCH_UP)
        assert close_code(socket) == 4429
    assert all('"motion.' in reply for reply in replies)


# A frame, and the code it is refused with.
MALFORMED = [
    (b"\x01\x02\x03", 4415),  # a 3-byte binary frame: no page sends binary
    ("[" * 50_000 + "]" * 50_000, 1009),  # JSON nested 50 000 deep: over the server's 64 KB
    ("[" * 5_000 + "]" * 5_000, 4413),  # longer than any message a page sends
    ("[" * 3_000 + "]" * 3_000, 4400),  # deeper than Python's JSON parser goes, and short
    ('{"a": ' * 1000 + "1" + "}" * 1000, 4400),
    ("hello", 4400),
    ("[]", 4400),
    ('{"watch": ["front-door"], "width": "wide"}', 4400),
]


@pytest.mark.parametrize("path", SOCKETS)
def test_malformed_frames_are_refused_with_a_clear_code_and_a_short_log_line(
    server: LoggedServer, cookie: str, path: str
) -> None:
    logged = len(server.log_text())
    codes = []
    for frame, _ in MALFORMED:
        with open_socket(server, path, cookie) as socket:
            socket.send(frame)
            codes.append(close_code(socket))
    expected = [code for _, code in MALFORMED]
    if path == "/ws/alerts/":
        expected[-1] = 4400  # not a catch-up either
    assert codes == expected
    log = server.log_text()[logged:]
    assert "Traceback" not in log and "Exception inside application" not in log
    assert len(log.splitlines()) <= 3, log  # one line per kind, at most every 10 s
    assert all(len(line) < 300 for line in log.splitlines()), log


@pytest.mark.parametrize("path", SOCKETS)
def test_invalid_utf8_in_a_text_frame_is_refused_by_the_protocol(
    server: LoggedServer, cookie: str, path: str
) -> None:
    with open_socket(server, path, cookie) as socket:
        socket.send(b'{"since": "\xff\xfe"}', text=True)
        assert close_code(socket) == 1007
    assert "Traceback" not in server.log_text()
