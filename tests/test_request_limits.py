"""What a client may make the real web server hold before the application runs: request bodies
over the limit are refused as their head arrives (and counted as a chunked body arrives), and a
request head must arrive whole in a few seconds. Raw sockets, as an attacker sends them."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import pytest
from django.test import override_settings

from surveillance.limits import HEAD_TIMEOUT, body_limit
from tests.conftest import LiveServer
from tests.web import connect, read_response, rss_mb, status_of

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MB = 1024 * 1024
LOGIN_HEAD = (
    "POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    "Content-Type: application/x-www-form-urlencoded\r\n"
)


def send_in_background(send: Callable[[], None]) -> threading.Thread:
    """What a client that does not wait for an answer keeps sending; stops when refused."""

    def run() -> None:
        with contextlib.suppress(OSError):  # the server closed the connection: as it should
            send()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_body_over_the_limit_is_refused_before_it_is_read(web_server: LiveServer) -> None:
    before = rss_mb(web_server.process.pid)
    with connect(web_server.url) as conn:
        conn.sendall(f"{LOGIN_HEAD}Content-Length: {200 * MB}\r\n\r\n".encode())
        chunk = b"a" * MB
        sender = send_in_background(lambda: [conn.sendall(chunk) for _ in range(50)])
        response = read_response(conn)
    sender.join(10)
    assert status_of(response) == 413
    assert b"at most 262144 bytes" in response
    assert rss_mb(web_server.process.pid) - before < 10


def test_a_chunked_body_is_counted_as_it_arrives(web_server: LiveServer) -> None:
    before = rss_mb(web_server.process.pid)
    with connect(web_server.url) as conn:
        conn.sendall(f"{LOGIN_HEAD}Transfer-Encoding: chunked\r\n\r\n".encode())
        chunk = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"  # 64 KB each
        sender = send_in_background(lambda: [conn.sendall(chunk) for _ in range(800)])
        response = read_response(conn)
    sender.join(10)
    assert status_of(response) == 413
    assert rss_mb(web_server.process.pid) - before < 10


def test_a_client_that_waits_for_100_continue_gets_the_refusal_instead(
    web_server: LiveServer,
) -> None:
    with connect(web_server.url) as conn:
        head = f"{LOGIN_HEAD}Content-Length: {50 * MB}\r\nExpect: 100-continue\r\n\r\n"
        conn.sendall(head.encode())
        response = read_response(conn)
    assert response.startswith(b"HTTP/1.1 413 ")


def test_a_body_within_the_limit_reaches_the_application(web_server: LiveServer) -> None:
    body = b"username=owner&password=" + b"x" * 200_000
    with connect(web_server.url) as conn:
        head = f"{LOGIN_HEAD}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        conn.sendall(head.encode())
        conn.sendall(body)
        response = read_response(conn)
    assert status_of(response) == 403  # Django's answer: no CSRF token
    assert b"CSRF" in response


def test_a_larger_limit_can_be_given_to_a_path_of_its_own() -> None:
    limits = {"/": 1000, "/analysis/": 2 * 10**9, "/analysis/status/": 10}
    with override_settings(REQUEST_BODY_LIMITS=limits):
        assert body_limit(b"/accounts/login/") == 1000
        assert body_limit(b"/analysis/upload/?x=1") == 2 * 10**9
        assert body_limit(b"/analysis/status/") == 10  # the longest prefix decides
        assert body_limit(b"/analysi") == 1000
        assert body_limit(b"http://127.0.0.1/analysis/upload/") == 2 * 10**9  # absolute form


def test_a_request_head_sent_slowly_is_cut_off(web_server: LiveServer) -> None:
    """Slowloris: one header line every two seconds, for a minute if allowed."""
    with connect(web_server.url, timeout=90) as conn:
        started = time.monotonic()
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")

        def trickle() -> None:
            for n in range(30):
                time.sleep(2)
                conn.sendall(f"X-Slow-{n}: {n}\r\n".encode())

        send_in_background(trickle)
        response = read_response(conn)
        held = time.monotonic() - started
    assert status_of(response) == 408
    assert HEAD_TIMEOUT <= held < HEAD_TIMEOUT + 5


def test_a_kept_alive_connection_may_idle_before_its_next_request(web_server: LiveServer) -> None:
    """The deadline runs from a request's first byte, not from the last answer."""
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with connect(web_server.url, timeout=30) as conn:
        conn.sendall(request)
        assert conn.recv(65536).startswith(b"HTTP/1.1 200 ")
        time.sleep(HEAD_TIMEOUT + 1)
        conn.sendall(request)
        assert conn.recv(65536).startswith(b"HTTP/1.1 200 ")
