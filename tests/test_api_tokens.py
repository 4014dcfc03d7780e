"""API tokens with the real clients that need them, through the real server: ffmpeg and curl read
the stream and snapshots with a token (never with the account password), a revoked token or a
deactivated user stops at once and ends running streams, and a token never shows again."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from accounts.models import ApiToken
from cameras.models import Camera
from events.models import MotionEvent
from tests.conftest import (
    PASSWORD,
    QUICK_RECHECK,
    LiveServer,
    logged_in_page,
    outside_the_browser_loop,
)
from tests.test_access import (  # noqa: F401 (garage_event: a fixture)
    PUBLIC,
    accepts_tokens,
    garage_event,
    paths_for,
)
from tests.test_socket_abuse import LoggedServer, server  # noqa: F401 (a fixture)
from tests.web import logged_in_client

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

STREAM = "/cameras/front-door/stream.mjpg"
SNAPSHOT = "/cameras/front-door/snapshot.jpg"


def needs(program: str) -> None:
    if shutil.which(program) is None:
        pytest.skip(f"needs the {program} package (apt install {program})")


@pytest.fixture
def viewer(member: User, front_door: Camera) -> tuple[User, str]:
    """The member, allowed the front door, with a token of theirs."""
    front_door.viewers.add(member)
    return member, ApiToken.issue(member, "test")[1]


def with_credentials(url: str, username: str, secret: str) -> str:
    return url.replace("http://", f"http://{username}:{secret}@", 1)


def test_ffmpeg_decodes_the_stream_with_the_token_in_its_url(
    web_server: LiveServer, viewer: tuple[User, str], start_worker: Callable
) -> None:
    needs("ffmpeg")
    start_worker("front-door")
    url = with_credentials(web_server.url + STREAM, "member", viewer[1])
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", url, "-frames:v", "5", "-f", "rawvideo",
         "-pix_fmt", "gray", "-s", "64x48", "-"],
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert decoded.returncode == 0, decoded.stderr.decode()
    assert len(decoded.stdout) == 5 * 64 * 48  # five frames decoded
    refused = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", with_credentials(web_server.url + STREAM, "member",
         PASSWORD), "-frames:v", "1", "-f", "null", "-"],
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode != 0 and b"401" in refused.stderr  # never the account password


def test_curl_fetches_a_snapshot_with_basic_and_with_a_bearer_token(
    web_server: LiveServer, viewer: tuple[User, str], start_worker: Callable
) -> None:
    needs("curl")
    start_worker("front-door")
    _, token = viewer

    def curl(*args: str, url: str = web_server.url + SNAPSHOT) -> tuple[int, bytes]:
        done = subprocess.run(
            ["curl", "-s", "--max-time", "20", "-o", "-", "-w", "\n%{http_code}", *args, url],
            capture_output=True, timeout=30,
        )  # fmt: skip
        body, _, status = done.stdout.rpartition(b"\n")
        return int(status), body

    status, jpeg = curl("-u", f"member:{token}")
    assert status == 200 and jpeg.startswith(b"\xff\xd8")
    status, jpeg = curl("-H", f"Authorization: Bearer {token}")
    assert status == 200 and jpeg.startswith(b"\xff\xd8")
    assert curl("-u", f"member:{PASSWORD}")[0] == 401  # the password never works here
    assert curl("-u", f"owner:{token}")[0] == 401  # someone else's name with it
    in_query = f"{web_server.url}{SNAPSHOT}?token={token}"
    assert curl(url=in_query)[0] == 401  # nor in a query string


class Watcher(threading.Thread):
    """An MJPEG viewer reading until the server ends the stream."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.url, self.token = url, token
        self.parts, self.ended_at = 0, 0.0

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            with httpx.stream("GET", self.url, headers=headers, timeout=15) as response:
                assert response.status_code == 200
                for chunk in response.iter_bytes():
                    self.parts += chunk.count(b"--frame")
        except httpx.HTTPError:
            pass
        self.ended_at = time.monotonic()


def test_a_revoked_token_or_a_deactivated_user_ends_running_streams_within_the_recheck(
    quick_rechecks: LiveServer, viewer: tuple[User, str], owner: User, start_worker: Callable
) -> None:
    web_server = quick_rechecks
    start_worker("front-door")
    member, kept = viewer
    revoked_row, revoked = ApiToken.issue(member, "to revoke")
    leaver = User.objects.create_user("leaver", password=PASSWORD)
    Camera.objects.get(slug="front-door").viewers.add(leaver)
    _, leavers = ApiToken.issue(leaver, "to deactivate")
    tokens = {"kept": kept, "revoked": revoked, "left": leavers}
    watchers = {name: Watcher(web_server.url + STREAM, token) for name, token in tokens.items()}
    for watcher in watchers.values():
        watcher.start()
    deadline = time.monotonic() + 30
    while not all(w.parts for w in watchers.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(w.parts for w in watchers.values()), "every stream started"

    revoked_row.revoke()
    User.objects.filter(pk=leaver.pk).update(is_active=False)
    changed = time.monotonic()
    headers = {"Authorization": f"Bearer {revoked}"}
    assert httpx.get(web_server.url + SNAPSHOT, headers=headers).status_code == 401  # at once
    for name in ("revoked", "left"):
        watchers[name].join(QUICK_RECHECK + 10)
        assert watchers[name].ended_at, f"the {name} stream still runs"
        assert watchers[name].ended_at - changed < QUICK_RECHECK + 5
    assert watchers["kept"].is_alive()  # the control: a token still good still streams


def test_every_url_that_takes_tokens_refuses_another_users_camera(
    member: User,
    front_door: Camera,
    garage_event: MotionEvent,
) -> None:
    """A token sees exactly what its user may: routes enumerated from the routers."""
    front_door.viewers.add(member)
    _, token = ApiToken.issue(member, "test")
    client = Client(headers={"Authorization": f"Bearer {token}"})
    garage = garage_event.camera
    taken = [path for path in paths_for(garage, garage_event) if accepts_tokens(path)]
    assert {"/cameras/garage/stream.mjpg", "/api/events/"} <= set(taken)
    for path in taken:
        response = client.get(path)
        names_the_garage = garage.slug in path or f"/{garage_event.pk}/" in path
        if names_the_garage:
            assert response.status_code == 403, f"{path}: {response.status_code}"
        else:
            assert response.status_code in (200, 302), path
            assert b"garage" not in response.content.lower(), path
    for path in paths_for(garage, garage_event):  # everywhere else a token is nobody
        pages = ("/admin/", "/events/", "/cameras/")
        if not accepts_tokens(path) and path.startswith(pages) and path not in PUBLIC:
            response = client.get(path)
            assert response.status_code in (302, 401, 403), path
            assert b"garage" not in response.content.lower(), path


def test_a_token_only_reads(viewer: tuple[User, str]) -> None:
    client = Client(headers={"Authorization": f"Bearer {viewer[1]}"})
    assert client.post(SNAPSHOT).status_code in (403, 405)
    assert client.post("/api/events/").status_code in (403, 405)


def test_wrong_tokens_are_throttled_by_address_but_not_a_token_that_worked_from_it(
    server: LoggedServer,
    viewer: tuple[User, str],
) -> None:
    user, token = viewer
    cameras = server.url + "/api/cameras/"
    assert httpx.get(cameras, auth=("member", token)).status_code == 200
    other = ApiToken.issue(user, "a new client")[1]  # never used from here yet
    stale = token[:-4] + "abcd"  # a token of ours, but not this one
    statuses = [
        httpx.get(server.url + SNAPSHOT, auth=("member", stale)).status_code for _ in range(25)
    ]
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
    # The token that has worked from here still does; a right guess is refused like a wrong one.
    assert httpx.get(cameras, auth=("member", token)).status_code == 200
    assert httpx.get(cameras, auth=("member", other)).status_code == 429
    # The login form keeps its own count: the stale token locked nobody out of it.
    assert logged_in_client(server.url, "member").get("/").status_code == 200
    log = server.log_text()
    assert f"token {stale[:12]}…" in log and stale not in log and token not in log


def test_createtoken_prints_the_token_alone_on_its_last_line(member: User) -> None:
    output = io.StringIO()
    call_command("createtoken", "member", "--name", "Home Assistant", stdout=output)
    *_, last = output.getvalue().strip().splitlines()
    row = ApiToken.objects.get()
    assert ApiToken.find(last) == row and row.name == "Home Assistant"
    assert re.fullmatch(r"svt_[0-9a-f]{8}_[A-Za-z0-9_-]{32}", last)  # 192 random bits
    assert last not in (row.digest, row.prefix) and len(row.digest) == 64


def test_the_tokens_page_shows_a_new_token_once_and_revokes(
    live_server_url: str, member: User, browser: object
) -> None:
    page = logged_in_page(browser, live_server_url, "member")
    page.goto("/accounts/tokens/")
    page.fill("input[name=name]", "Home Assistant")
    page.click("button.primary")
    token = page.locator("#new-token").inner_text()
    assert ApiToken.prefix_of(token)
    assert httpx.get(live_server_url + "/api/cameras/", auth=("member", token)).status_code == 200
    page.goto("/accounts/tokens/")
    html = page.content()
    assert token not in html and f"svt_{ApiToken.prefix_of(token)}…" in html
    page.click("text=Revoke")
    page.wait_for_selector("text=revoked")
    assert httpx.get(live_server_url + "/api/cameras/", auth=("member", token)).status_code == 401
    row = outside_the_browser_loop(lambda: ApiToken.objects.get())
    assert row.revoked_at is not None and row.last_used_at is not None


def test_no_admin_page_shows_a_token(owner: User, member: User) -> None:
    row, token = ApiToken.issue(member, "Home Assistant")
    client = Client()
    client.force_login(owner)
    for path in ("/admin/accounts/apitoken/", f"/admin/accounts/apitoken/{row.pk}/change/"):
        page = client.get(path).content.decode()
        assert token not in page and row.digest not in page and row.label in page, path
    guess = f"/admin/accounts/apitoken/?digest__startswith={row.digest[:4]}"
    assert client.get(guess).status_code == 400
