"""Websocket origins are the site's own (scheme, host and port), as the HTTP CSRF check has it:
another web app on the same host, on another port or scheme, cannot watch the cameras through a
logged-in browser. Through the real server, on both sockets."""

from __future__ import annotations

import socket as sockets
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from cameras.models import Camera
from tests.conftest import (
    LiveServer,
    start_web_server,
    wait_for_database_sessions_to_close,
)
from tests.processes import free_port, stop_process
from tests.web import logged_in_client

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SOCKETS = ("/ws/live/", "/ws/alerts/")


def open_socket(
    server_url: str, path: str, origin: str, cookie: str, host: str | None = None, **headers: str
) -> ClientConnection:
    """A websocket to the server as a browser at `origin` opens it, for `host` (the Host the
    browser sends: the server's own unless a proxy stands between)."""
    parts = urlsplit(server_url)
    conn = sockets.create_connection((parts.hostname, parts.port), timeout=10)
    uri = f"ws://{host or parts.netloc}{path}"
    return connect(
        uri, sock=conn, origin=origin, additional_headers={"Cookie": cookie, **headers},
        open_timeout=10,
    )  # fmt: skip


def refused(server_url: str, path: str, origin: str, cookie: str, **options: str) -> int:
    """The handshake's HTTP status when refused, 101 when the socket opened."""
    try:
        with open_socket(server_url, path, origin, cookie, **options):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def session_of(client: httpx.Client) -> str:
    return f"sessionid={client.cookies['sessionid']}"


@pytest.fixture
def members_cookie(web_server: LiveServer, member: object, front_door: Camera) -> str:
    front_door.viewers.add(member)
    return session_of(logged_in_client(web_server.url, "member"))


FOREIGN = [
    "http://127.0.0.1:9999",  # another app on this host
    "https://127.0.0.1",
    "http://localhost:3000",
    "http://127.0.0.1",  # the right host, the wrong port
    "null",
]


@pytest.mark.parametrize("path", SOCKETS)
def test_origins_on_another_port_scheme_or_host_are_refused(
    web_server: LiveServer, members_cookie: str, path: str
) -> None:
    port = urlsplit(web_server.url).port
    foreign = [*FOREIGN, f"https://127.0.0.1:{port}", f"http://localhost:{port}"]
    for origin in foreign:
        assert refused(web_server.url, path, origin, members_cookie) == 403, origin
    # The control: the site's own origin, and the same written with its port's default form.
    assert refused(web_server.url, path, web_server.url, members_cookie) == 101
    assert refused(web_server.url, path, web_server.url.upper(), members_cookie) == 101


@pytest.fixture(scope="module")
def site_behind_a_proxy(
    child_env: dict[str, str], django_db_blocker: object
) -> Iterator[LiveServer]:
    """The server as the README sets it up behind an HTTPS reverse proxy on this machine."""
    env = {
        **child_env,
        "DJANGO_ALLOWED_HOSTS": "cams.example.org,127.0.0.1",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://cams.example.org,https://other.example.org",
        "SURVEILLANCE_TRUSTED_PROXIES": "127.0.0.1",
    }
    server = start_web_server(env, free_port(), "test-daphne-origins")
    yield server
    stop_process(server.process)
    with django_db_blocker.unblock():
        wait_for_database_sessions_to_close("test-daphne-origins")


@pytest.mark.parametrize("path", SOCKETS)
def test_behind_a_proxy_the_sites_https_origin_and_the_trusted_ones_are_accepted(
    site_behind_a_proxy: LiveServer, member: object, front_door: Camera, path: str
) -> None:
    front_door.viewers.add(member)
    cookie = session_of(logged_in_client(site_behind_a_proxy.url, "member"))
    url, host = site_behind_a_proxy.url, "cams.example.org"
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
    assert refused(url, path, "https://cams.example.org", cookie, host=host, **https) == 101
    assert refused(url, path, "https://other.example.org", cookie, host=host, **https) == 101
    wrong = ["http://cams.example.org", "https://cams.example.org:8443",
             "https://evil.example.org", "https://cams.example.org.evil.example"]  # fmt: skip
    for origin in wrong:
        assert refused(url, path, origin, cookie, host=host, **https) == 403, origin
    # Without X-Forwarded-Proto the proxy says the browser used plain http.
    assert refused(url, path, "http://cams.example.org", cookie, host=host) == 101
    assert refused(url, path, "https://evil.example.org", cookie, host=host) == 403


def test_a_host_the_site_does_not_serve_is_refused(
    web_server: LiveServer, members_cookie: str
) -> None:
    origin = "http://rebound.example:80"  # DNS rebinding: the origin matches the Host sent
    status = refused(web_server.url, "/ws/alerts/", origin, members_cookie, host="rebound.example")
    assert status == 403
