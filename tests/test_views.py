"""Pages and images through Django's test client (the live-server tests cover streaming)."""

from __future__ import annotations

import pytest
from django.test import Client

from cameras.models import Camera
from events.models import MotionEvent
from tests.conftest import client_for
from tests.test_admin import camera_form


@pytest.fixture
def event(front_door: Camera) -> MotionEvent:
    event = MotionEvent.objects.create(camera=front_door)
    event.save_snapshots(b"\xff\xd8annotated\xff\xd9", b"\xff\xd8clean\xff\xd9")
    return event


def test_dashboard_needs_login(db: None) -> None:
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_dashboard_lists_only_cameras_the_user_may_view(
    member: object, front_door: Camera, garage: Camera
) -> None:
    front_door.viewers.add(member)
    page = client_for(member).get("/").content.decode()
    assert "Front door" in page and "/cameras/front-door/stream.mjpg" in page
    assert "Garage" not in page and "garage" not in page


def test_group_membership_grants_viewing(member: object, garage: Camera) -> None:
    from django.contrib.auth.models import Group

    household = Group.objects.create(name="household")
    member.groups.add(household)
    garage.viewer_groups.add(household)
    assert list(Camera.objects.visible_to(member)) == [garage]


def test_staff_see_every_camera(owner: object, front_door: Camera, garage: Camera) -> None:
    page = client_for(owner).get("/").content.decode()
    assert "Front door" in page and "Garage" in page


def test_healthz_answers_without_login_and_names_nothing(redis_server: str, db: None) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_stream_rejects_malformed_query(owner: object, front_door: Camera) -> None:
    client = client_for(owner)
    assert client.get("/cameras/front-door/stream.mjpg?width=abc").status_code == 400
    assert client.get("/cameras/front-door/stream.mjpg?fps=1000").status_code == 400


def test_unknown_camera_is_404_for_staff(owner: object, db: None) -> None:
    assert client_for(owner).get("/cameras/nope/snapshot.jpg").status_code == 404


def test_others_cannot_tell_missing_cameras_and_events_from_forbidden_ones(
    member: object, garage: Camera
) -> None:
    client = client_for(member)
    hidden = MotionEvent.objects.create(camera=garage)
    assert client.get("/cameras/nope/snapshot.jpg").status_code == 403
    assert client.get("/cameras/garage/snapshot.jpg").status_code == 403
    assert client.get("/events/999999/snapshot.jpg").status_code == 403
    assert client.get(f"/events/{hidden.pk}/snapshot.jpg").status_code == 403


def test_only_login_and_logout_of_django_auth_are_routed(db: None) -> None:
    for path in ("/accounts/password_reset/", "/accounts/password_change/", "/accounts/reset/x/y/"):
        assert Client().get(path).status_code == 404
    assert Client().get("/accounts/login/").status_code == 200


def test_event_snapshot_is_served_to_viewers_of_its_camera(
    member: object, front_door: Camera, event: MotionEvent
) -> None:
    front_door.viewers.add(member)
    client = client_for(member)
    response = client.get(event.snapshot_url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content) == b"\xff\xd8annotated\xff\xd9"
    clean = client.get(event.snapshot_url + "?clean=1")
    assert b"".join(clean.streaming_content) == b"\xff\xd8clean\xff\xd9"


def test_event_snapshot_is_refused_to_others(stranger: object, event: MotionEvent) -> None:
    assert client_for(stranger).get(event.snapshot_url).status_code == 403
    assert Client().get(event.snapshot_url).status_code == 401
    assert (
        Client(headers={"Sec-Fetch-Site": "same-origin"}).get(event.snapshot_url).status_code == 403
    )


def test_replacing_snapshots_removes_the_old_files(event: MotionEvent) -> None:
    storage, old = event.snapshot.storage, event.snapshot.name
    event.save_snapshots(b"new", b"new-clean")
    assert not storage.exists(old) and storage.exists(event.snapshot.name)


def test_camera_admin_hides_the_source_password(owner: object, db: None) -> None:
    camera = Camera.objects.create(
        slug="porch", name="Porch", source="rtsp://u:hunter2@192.0.2.1/s"
    )
    client = client_for(owner)
    listed = client.get("/admin/cameras/camera/").content.decode()
    assert "hunter2" not in listed and "rtsp://u:***@192.0.2.1/s" in listed
    form = client.get(f"/admin/cameras/camera/{camera.pk}/change/").content.decode()
    assert "hunter2" not in form and 'value="rtsp://u@192.0.2.1/s"' in form


def test_saving_the_source_as_listed_in_admin_keeps_the_password(owner: object, db: None) -> None:
    """user:***@ is how the list shows it: pasted into the form, it stands for the password."""
    camera = Camera.objects.create(
        slug="porch", name="Porch", source="rtsp://u:hunter2@192.0.2.1/s"
    )
    form = camera_form(camera, name="Porch light")
    response = client_for(owner).post(f"/admin/cameras/camera/{camera.pk}/change/", form)
    assert response.status_code == 302
    camera.refresh_from_db()
    assert camera.name == "Porch light"
    assert (camera.source, camera.password) == ("rtsp://u@192.0.2.1/s", "hunter2")


def test_event_admin_lists_events_with_thumbnails(owner: object, event: MotionEvent) -> None:
    page = client_for(owner).get("/admin/events/motionevent/").content.decode()
    assert event.snapshot_url in page


def test_recorded_events_cannot_be_made_or_edited_in_admin(
    owner: object, event: MotionEvent
) -> None:
    client = client_for(owner)
    assert client.get("/admin/events/motionevent/add/").status_code == 403
    page = client.get(f"/admin/events/motionevent/{event.pk}/change/").content.decode()
    assert 'name="started_at' not in page and 'name="camera"' not in page


def test_the_admin_shows_the_measured_frame_rate_as_people_read_it(owner: object, db: None) -> None:
    camera = Camera.objects.create(slug="porch", name="Porch", source="demo")
    camera.set_status(Camera.Status.ONLINE, fps=15.000127393928123)
    camera.fps = 14.95812
    camera.save_health()
    assert Camera.objects.get().fps == 15.0
    client = client_for(owner)
    for url in ("/admin/cameras/camera/", f"/admin/cameras/camera/{camera.pk}/change/"):
        page = client.get(url).content.decode()
        assert "15.0" in page and "14.958" not in page and "15.000" not in page
