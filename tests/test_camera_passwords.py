"""A camera's password never leaves the server once entered: not to staff who may only view
cameras, not through admin lookups, not in the history, the form, logs or status details."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from cameras.models import Camera
from cameras.sources import open_source
from tests.conftest import PASSWORD, ROOT, LiveServer, client_for
from tests.processes import wait_until
from tests.test_admin import camera_form as admin_camera_form
from tests.test_mjpeg import camera_server, jpeg_of, with_length  # noqa: F401 (a fixture)
from tests.web import logged_in_client

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECRET = "hunter2-Xq7"
CAMERAS = "/admin/cameras/camera/"
MASK = "\u2022" * 8


@pytest.fixture
def porch(db: None) -> Camera:
    return Camera.objects.create(
        slug="porch", name="Porch", source=f"rtsp://admin:{SECRET}@192.0.2.1:554/s"
    )


@pytest.fixture
def camera_viewer(db: None) -> User:
    """Staff who may look at cameras in the admin, and change nothing."""
    user = User.objects.create_user("viewer", password=PASSWORD, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_camera"))
    return user


def test_staff_who_may_only_view_cameras_never_see_a_password(
    web_server: LiveServer, porch: Camera, camera_viewer: User
) -> None:
    client = logged_in_client(web_server.url, "viewer")
    for path in (CAMERAS, f"{CAMERAS}{porch.pk}/change/", f"{CAMERAS}{porch.pk}/history/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert SECRET not in response.text, path
    page = client.get(f"{CAMERAS}{porch.pk}/change/").text
    assert "rtsp://admin:***@192.0.2.1:554/s" in page  # what it is, and that it has a password
    assert "Save" not in page  # the control: this really is the read-only view


# Each would answer yes or no about the password, one guess at a time.
GUESSES = [
    f"source__contains={SECRET[:4]}",
    "source__startswith=rtsp://admin:h",
    "source__icontains=HUNTER",
    "source__lt=rtsp://admin:i",
    "source__gte=rtsp://admin:h",
    "source__regex=hunter",
    "source__endswith=s",
    "password__startswith=h",
    "password__exact=" + SECRET,
    "viewers__password__startswith=md5",
    "viewer_groups__user__password__startswith=md5",
]


def test_admin_lookups_on_sources_and_passwords_are_refused(
    web_server: LiveServer, porch: Camera, camera_viewer: User
) -> None:
    client = logged_in_client(web_server.url, "viewer")
    for guess in GUESSES:
        assert client.get(f"{CAMERAS}?{guess}").status_code == 400, guess
    for control in ("enabled__exact=1", "status__exact=offline", "q=porch"):
        assert client.get(f"{CAMERAS}?{control}").status_code == 200, control


def test_lookups_through_events_and_users_are_refused_too(
    web_server: LiveServer, porch: Camera, owner: User
) -> None:
    client = logged_in_client(web_server.url, "owner")
    refused = [
        "/admin/events/motionevent/?camera__source__contains=hunter",
        "/admin/events/motionevent/?camera__password__startswith=h",
        "/admin/events/motionevent/?snapshot__startswith=events/",
        "/admin/auth/user/?password__startswith=md5",
        "/admin/auth/user/?viewable_cameras__source__contains=hunter",
        "/admin/auth/user/?viewable_cameras__password__startswith=h",
        "/admin/auth/group/?user__password__startswith=md5",
    ]
    for path in refused:
        assert client.get(path).status_code == 400, path
    allowed = [
        f"/admin/events/motionevent/?camera__id__exact={porch.pk}",
        "/admin/events/motionevent/?started_at__from=2026-01-01&keep__exact=1",
        "/admin/events/motionevent/?duration=long&state=ongoing",
        "/admin/auth/user/?is_staff__exact=1",
    ]
    for path in allowed:
        assert client.get(path).status_code == 200, path


def camera_form(camera: Camera, **changes: object) -> dict:
    """The change form as the browser posts it untouched: the password box holds the mask."""
    page = client_for(User.objects.get(username="owner")).get(f"{CAMERAS}{camera.pk}/change/")
    assert f'value="{MASK}"' in page.content.decode()
    return admin_camera_form(camera, **{"source": camera.source, "password": MASK, **changes})


def test_the_form_shows_a_fixed_mask_and_replaces_the_password_only_when_one_is_typed(
    owner: User, porch: Camera
) -> None:
    client, change = client_for(owner), f"{CAMERAS}{porch.pk}/change/"
    page = client.get(change).content.decode()
    assert SECRET not in page and 'autocomplete="new-password"' in page
    assert client.post(change, camera_form(porch)).status_code == 302
    porch.refresh_from_db()
    assert (porch.source, porch.password) == ("rtsp://admin@192.0.2.1:554/s", SECRET)

    assert client.post(change, camera_form(porch, password="n3w-one")).status_code == 302
    porch.refresh_from_db()
    assert porch.password == "n3w-one"
    history = client.get(f"{CAMERAS}{porch.pk}/history/").content.decode()
    assert "Changed Password" in history and "n3w-one" not in history
    assert not any("n3w-one" in e.change_message for e in LogEntry.objects.all())

    assert client.post(change, camera_form(porch, password="")).status_code == 302
    porch.refresh_from_db()
    assert porch.password == ""  # emptied on purpose: no password


def test_a_password_typed_into_the_url_moves_to_its_own_field(owner: User, porch: Camera) -> None:
    change = f"{CAMERAS}{porch.pk}/change/"
    form = camera_form(porch, source="rtsp://cam:p%40ss:w0rd@192.0.2.9/live")
    assert client_for(owner).post(change, form).status_code == 302
    porch.refresh_from_db()
    assert (porch.source, porch.password) == ("rtsp://cam@192.0.2.9/live", "p@ss:w0rd")
    page = client_for(owner).get(change).content.decode()
    assert "w0rd" not in page


def test_addcamera_takes_the_password_inside_the_url_and_keeps_it_apart(db: None) -> None:
    output = io.StringIO()
    call_command("addcamera", "door", f"rtsp://user:{SECRET}@127.0.0.1/x", stdout=output)
    assert "rtsp://user:***@127.0.0.1/x" in output.getvalue()
    assert SECRET not in output.getvalue()
    camera = Camera.objects.get(slug="door")
    assert (camera.source, camera.password) == ("rtsp://user@127.0.0.1/x", SECRET)


def test_the_worker_opens_the_camera_with_its_password_and_logs_none(
    camera_server: Callable[..., str],
    child_env: dict[str, str],
) -> None:
    url = camera_server(with_length, [jpeg_of(60)] * 10_000, password=SECRET)
    wrong = Camera.objects.create(slug="wrong", name="Wrong", source=url.replace(SECRET, "nope"))
    right = Camera.objects.create(slug="right", name="Right", source=url)
    assert SECRET not in right.source
    source = open_source(right.source, password=right.password)
    source.open()
    try:
        assert source.read().jpeg == jpeg_of(60)
    finally:
        source.close()

    workers = {slug: capture_logging(slug, child_env) for slug in ("wrong", "right")}
    try:
        wait_until(lambda: _status("right") == "online" and _status("wrong") == "offline", 30,
                   "one worker online, the other refused")  # fmt: skip
        wrong.refresh_from_db()
    finally:
        for process in workers.values():
            process.terminate()
    logs = "".join(process.communicate(timeout=15)[1] for process in workers.values())
    assert "HTTP 401" in wrong.status_detail and "admin:***@" in wrong.status_detail
    assert "nope" not in wrong.status_detail and "nope" not in logs
    assert SECRET not in logs and "connected to http://admin:***@127.0.0.1" in logs


def capture_logging(slug: str, env: dict[str, str]) -> subprocess.Popen:
    """`manage.py capture SLUG` with its log kept for the test to read."""
    argv = [sys.executable, "manage.py", "capture", slug]
    return subprocess.Popen(argv, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)


def _status(slug: str) -> str:
    return Camera.objects.get(slug=slug).status


def test_existing_passwords_move_out_of_the_sources_when_migrating(db: None) -> None:
    executor = MigrationExecutor(connection)
    before, after = [("cameras", "0004_detection_width_160")], executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    executor.loader.build_graph()
    old = executor.loader.project_state(before[0]).apps.get_model("cameras", "Camera")
    old.objects.create(slug="a", name="A", source=f"rtsp://admin:{SECRET}@192.0.2.1/s")
    old.objects.create(slug="b", name="B", source="http://192.0.2.2/cgi?user=admin&pwd=x")
    old.objects.create(slug="c", name="C", source="demo")
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    moved = {c.slug: (c.source, c.password) for c in Camera.objects.all()}
    assert moved == {
        "a": ("rtsp://admin@192.0.2.1/s", SECRET),
        # Which query parameter is a password no one can tell: the query stays, and is shown
        # masked whole wherever the source is shown.
        "b": ("http://192.0.2.2/cgi?user=admin&pwd=x", ""),
        "c": ("demo", ""),
    }
    assert Camera.objects.get(slug="b").safe_source == "http://192.0.2.2/cgi?***"
