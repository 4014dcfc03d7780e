"""Labelled events and the camera's "alert on" setting: what goes on the wire, which events
alert (and through which notifications), and the event list's and admin's filter by label."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.test import override_settings

from cameras.models import Camera, parse_alert_objects
from cameras.motion.detector import Detection
from cameras.sources.base import Frame
from events.models import Alert, MotionEvent
from events.recorder import EventRecorder
from notifications.dispatch import tells_people
from tests.conftest import client_for
from tests.test_admin import camera_form

pytestmark = pytest.mark.django_db(transaction=True)

NOON = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
PERSON = {"person": {"score": 0.91, "box": [0.1, 0.2, 0.3, 0.5]}}


class Published(list):
    """What the model hands to the channel layer: (group, type) in order."""

    def __call__(self, group: str, message: dict) -> bool:
        self.append((group, message["type"]))
        return True


@pytest.fixture
def porch(db: None) -> Camera:
    """Alerts only on a person of at least 0.8."""
    return Camera.objects.create(
        slug="porch",
        name="Porch",
        source="demo",
        alert_on="objects",
        alert_objects="person:0.8",
        start_after=0.0,
    )


@pytest.fixture
def door(db: None) -> Camera:
    return Camera.objects.create(slug="door", name="Door", source="demo", start_after=0.0)


def event_of(camera: Camera, quiet: bool, **fields: object) -> MotionEvent:
    return MotionEvent.objects.create(camera=camera, started_at=NOON, quiet=quiet, **fields)


def test_the_event_dict_has_objects_by_best_score_and_none_before_any_is_found(
    door: Camera,
) -> None:
    event = event_of(door, quiet=False)
    assert event.to_dict()["objects"] == {} and event.to_dict()["alert"] is True
    event.add_found(PERSON, Published())
    event.add_found({"person": {"score": 0.7, "box": [0, 0, 1, 1]}}, Published())  # worse: kept
    event.refresh_from_db()
    assert event.to_dict()["objects"] == {"person": 0.91}
    assert event.found["person"]["box"] == [0.1, 0.2, 0.3, 0.5]


def test_alert_objects_are_labels_with_optional_scores() -> None:
    assert parse_alert_objects("person") == {"person": 0.5}
    assert parse_alert_objects(" Person:0.7, car ") == {"person": 0.7, "car": 0.5}
    for wrong in ("person:2", "person:0.3", "person:x", "pe$on"):
        camera = Camera(slug="c", name="C", source="demo", alert_objects=wrong)
        with pytest.raises(ValidationError):
            camera.full_clean()


def test_a_camera_alerts_on_any_motion_by_default_and_on_its_objects_when_set(
    door: Camera, porch: Camera
) -> None:
    assert door.wants_alert({}) is True
    assert porch.wants_alert({}) is False
    assert porch.wants_alert({"person": 0.79}) is False  # under its own minimum of 0.8
    assert porch.wants_alert({"person": 0.8}) is True
    assert porch.wants_alert({"car": 0.99}) is False


def moving_in_front_of(camera: Camera, published: Published) -> EventRecorder:
    """A recorder of the camera whose first frame moves: its event has started."""
    recorder = EventRecorder(camera, published)
    image = np.zeros((240, 320, 3), np.uint8)
    moving = Detection(boxes=[(0.1, 0.1, 0.3, 0.3)], area=0.09)
    recorder.update(Frame(image=image, captured_at=1_800_000_000.0), moving)
    return recorder


@override_settings(OBJECT_DETECTION=False)
def test_without_a_detector_every_camera_alerts_on_any_motion(porch: Camera) -> None:
    assert porch.wants_alert({}) is True


def test_a_camera_for_people_stores_motion_quiet_and_alerts_when_a_person_is_found(
    porch: Camera,
) -> None:
    published = Published()
    recorder = moving_in_front_of(porch, published)

    event = MotionEvent.objects.get()
    assert event.quiet and not Alert.objects.exists()  # stored, but no alert yet
    assert (porch.group_name, "motion.start") in published  # the pages still list it

    event.add_found({"person": {"score": 0.6, "box": [0, 0, 1, 1]}}, published)
    assert MotionEvent.objects.get().quiet  # 0.6 is under the camera's 0.8
    assert not Alert.objects.exists()
    event.add_found(PERSON, published)
    assert not MotionEvent.objects.get().quiet
    [alert] = Alert.objects.all()
    assert alert.kind == "motion.update" and alert.message["event"]["objects"] == {"person": 0.91}
    assert tells_people(alert)  # this update is the event's alert: e-mail and push go out
    assert published[-1] == (porch.group_name, "motion.update")

    recorder.close()
    assert [a.kind for a in Alert.objects.order_by("pk")] == ["motion.update", "motion.end"]


def test_a_camera_for_any_motion_tells_people_at_the_start_and_only_describes_after(
    door: Camera,
) -> None:
    published = Published()
    moving_in_front_of(door, published)
    MotionEvent.objects.get().add_found(PERSON, published)

    start, update = Alert.objects.order_by("pk")
    assert (start.kind, update.kind) == ("motion.start", "motion.update")
    assert tells_people(start) and not tells_people(update)  # no second e-mail for the person


def test_a_quiet_event_that_ends_queues_no_alert_at_all(porch: Camera) -> None:
    recorder = EventRecorder(porch, Published())
    image = np.zeros((240, 320, 3), np.uint8)
    moving = Detection(boxes=[(0.1, 0.1, 0.3, 0.3)], area=0.09)
    recorder.update(Frame(image=image, captured_at=1_800_000_000.0), moving)
    recorder.close()
    event = MotionEvent.objects.get()
    assert event.ended_at is not None and event.quiet
    assert not Alert.objects.exists()


def test_the_admin_sets_a_camera_to_alert_on_people_and_refuses_a_wrong_label(
    owner: User, door: Camera
) -> None:
    url = f"/admin/cameras/camera/{door.pk}/change/"
    client = client_for(owner)
    wrong = client.post(url, camera_form(door, alert_on="objects", alert_objects="person:7"))
    assert wrong.status_code == 200 and "must be in 0.5..1" in wrong.content.decode()
    saved = client.post(url, camera_form(door, alert_on="objects", alert_objects="person:0.7"))
    assert saved.status_code == 302
    door.refresh_from_db()
    assert door.alert_rules() == {"person": 0.7}


def listed(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<a href="/events/(\d+)/"><time', page)]


def test_the_event_list_filters_by_label_and_marks_quiet_events(owner: User, porch: Camera) -> None:
    person = event_of(porch, quiet=False, found=PERSON)
    nobody = event_of(porch, quiet=True)
    client = client_for(owner)
    assert listed(client.get("/events/?object=person").content.decode()) == [person.pk]
    assert listed(client.get("/events/?object=none").content.decode()) == [nobody.pk]
    page = client.get("/events/").content.decode()
    assert "person 91%" in page
    assert page.count('class="quiet"') == 1
    assert client.get("/events/?object=dragon").status_code == 400


def test_the_admin_filters_events_by_label_and_by_quiet(owner: User, porch: Camera) -> None:
    person = event_of(porch, quiet=False, found=PERSON)
    nobody = event_of(porch, quiet=True)
    client = client_for(owner)

    def admin_listed(query: str) -> list[int]:
        page = client.get(f"/admin/events/motionevent/?{query}").content.decode()
        return [int(pk) for pk in re.findall(r'name="_selected_action" value="(\d+)"', page)]

    assert admin_listed("object=person") == [person.pk]
    assert admin_listed("object=none") == [nobody.pk]
    assert admin_listed("quiet__exact=1") == [nobody.pk]
    assert "person 91%" in client.get("/admin/events/motionevent/").content.decode()


def test_an_event_deleted_while_it_runs_is_neither_labelled_nor_a_new_kind_of_crash(
    porch: Camera,
) -> None:
    recorder = EventRecorder(porch, Published())
    image = np.zeros((240, 320, 3), np.uint8)
    moving = Detection(boxes=[(0.1, 0.1, 0.3, 0.3)], area=0.09)
    recorder.update(Frame(image=image, captured_at=1_800_000_000.0), moving)
    event = MotionEvent.objects.get()
    MotionEvent.objects.all().delete()  # the admin deletes it mid-event

    assert event.add_found(PERSON, Published()) is False
    with pytest.raises(DatabaseError):  # what the worker catches and logs, as before
        recorder.close()
