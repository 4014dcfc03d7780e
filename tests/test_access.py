"""Every route, enumerated from the URL and websocket routers themselves: anonymous users get
nothing, and a member allowed one camera gets nothing of another. A new route is covered the
day it is added, and one that fits no rule below fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from cameras.models import Camera
from events.models import MotionEvent
from surveillance.asgi import alert_urls, application, live_urls
from tests.conftest import session_cookie, socket_for

PUBLIC = {"/accounts/login/", "/admin/login/", "/healthz"}
# Logging out: POST only on the site; the admin's sends an anonymous visitor to its index,
# which asks for a login.
LOGOUT = {"/accounts/logout/": (405, None), "/admin/logout/": (302, "/admin/")}
LOGIN_PAGES = ("/accounts/login/", "/admin/login/")
# URL names a GET is refused on whoever asks: revoking a token, and a browser's push
# subscription (sent, never fetched).
POST_ONLY = {"token-revoke", "push-subscribe", "push-unsubscribe"}


def routes(resolver: URLResolver | None = None, prefix: str = "") -> Iterator[str]:
    """Every URL pattern as one string, e.g. 'cameras/<slug:slug>/stream.mjpg'."""
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern, prefix + str(pattern.pattern))
        else:
            assert isinstance(pattern, URLPattern)
            yield prefix + str(pattern.pattern)


def concrete(route: str, values: dict[str, str]) -> str:
    """A path for a route: each parameter replaced by the value for its name."""
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], path)
    return "/" + path.replace("^", "").replace("$", "")


def paths_for(camera: Camera, event: MotionEvent) -> list[str]:
    values = {
        "slug": camera.slug, "pk": str(event.pk), "object_id": str(event.pk),
        "content_type_id": "1", "id": "1", "app_label": "events", "url": "anything/",
    }  # fmt: skip
    return sorted({concrete(route, values) for route in routes()})


@pytest.fixture
def garage_event(garage: Camera) -> MotionEvent:
    event = MotionEvent.objects.create(camera=garage)
    event.save_snapshots(b"\xff\xd8a\xff\xd9", b"\xff\xd8c\xff\xd9")
    return event


def refused(response: object, login_pages: tuple[str, ...] = LOGIN_PAGES) -> bool:
    if response.status_code == 403:
        return True
    return response.status_code == 302 and response["Location"].startswith(login_pages)


def test_every_route_is_enumerated(garage_event: MotionEvent) -> None:
    paths = paths_for(garage_event.camera, garage_event)
    assert len(paths) == len(set(routes())) > 50  # each route gave a path of its own
    assert {"/cameras/garage/stream.mjpg", f"/events/{garage_event.pk}/snapshot.jpg"} <= set(paths)


def accepts_tokens(path: str) -> bool:
    """Whether the view behind a path takes API tokens: stream, image and clip views are marked
    by accounts.auth.token_or_session, and every /api/ operation authenticates through it."""
    match = resolve(path)
    return getattr(match.func, "accepts_tokens", False) or match.namespace == "api"


def test_anonymous_users_are_refused_on_every_route_but_login_and_healthz(
    redis_server: str, garage_event: MotionEvent
) -> None:
    client, own_page = Client(), Client(headers={"Sec-Fetch-Site": "same-origin"})
    for path in paths_for(garage_event.camera, garage_event):
        response = client.get(path)
        if accepts_tokens(path):  # other clients are asked for credentials; our pages are not
            assert response.status_code == 401, path
            assert response["WWW-Authenticate"].startswith('Basic realm="Surveillance"'), path
            assert own_page.get(path).status_code == 403, path
        elif path in PUBLIC:
            assert response.status_code == 200, path
        elif path in LOGOUT:
            status, location = LOGOUT[path]
            assert response.status_code == status, path
            assert response.get("Location") == location, path
        else:
            assert refused(response), f"{path}: {response.status_code}"


def test_a_member_gets_nothing_of_a_camera_they_may_not_view_on_any_route(
    member: object, front_door: Camera, garage_event: MotionEvent
) -> None:
    front_door.viewers.add(member)
    client = Client()
    client.force_login(member)
    garage = garage_event.camera
    for path in paths_for(garage, garage_event):
        if path in PUBLIC or path in LOGOUT:
            continue
        response = client.get(path, follow=resolve(path).url_name == "api-home")
        names_the_garage = garage.slug in path or str(garage_event.pk) in path
        if resolve(path).url_name in POST_ONLY:
            assert response.status_code == 405, path
            continue
        if path.startswith("/admin/"):  # staff only: the admin's login page, whatever the path
            assert refused(response, ("/admin/login/",)), path
        elif names_the_garage:
            assert response.status_code == 403, f"{path}: {response.status_code}"
        else:  # their own pages, which list what they may see
            assert response.status_code == 200, path
            page = response.content.decode()
            assert "Garage" not in page and f"/events/{garage_event.pk}/" not in page, path


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.usefixtures("close_thread_connections")
@pytest.mark.parametrize("route", [str(r.pattern) for r in alert_urls + live_urls])
async def test_anonymous_websockets_are_refused_on_every_route(
    redis_server: str, route: str
) -> None:
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    socket = WebsocketCommunicator(application, "/" + route, headers=headers)
    connected, _ = await socket.connect()
    assert not connected


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.usefixtures("close_thread_connections")
@pytest.mark.parametrize("route", [str(r.pattern) for r in alert_urls + live_urls])
async def test_websockets_from_a_foreign_origin_are_refused_on_every_route(
    redis_server: str, owner: object, route: str
) -> None:
    _, cookie = await sync_to_async(session_cookie)(owner)
    headers = [(b"origin", b"http://evil.example"), (b"host", b"127.0.0.1"), (b"cookie", cookie)]
    socket = WebsocketCommunicator(application, "/" + route, headers=headers)
    connected, _ = await socket.connect()
    assert not connected
    same_origin = socket_for(cookie, "/" + route)  # the control: the page's own origin
    assert (await same_origin.connect())[0]
    await same_origin.disconnect()


def test_every_route_refuses_a_post_without_the_csrf_token(
    owner: object, garage_event: MotionEvent
) -> None:
    """A page on another site cannot make a logged-in browser change anything here."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    for path in paths_for(garage_event.camera, garage_event):
        response = client.post(path, {"username": "owner", "action": "delete_selected"})
        # The API takes no POST at all: 405 before any CSRF check.
        expected = {403, 405} if path.startswith("/api/") else {403}
        assert response.status_code in expected, f"{path}: {response.status_code}"
    assert MotionEvent.objects.filter(pk=garage_event.pk).exists()
