"""The outbox: alerts written with the event, in one transaction; who gets which delivery; the
camera's notify switch on the dashboard."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError
from django.test import Client
from django.utils import timezone

from cameras.models import Camera
from cameras.motion.detector import Detection
from cameras.sources.base import Frame
from events.models import Alert, MotionEvent
from events.recorder import EventRecorder
from notifications.dispatch import dispatch
from notifications.models import Preference, PushSubscription, Webhook
from tests.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)
T0 = 1_800_000_000.0
MOVING, QUIET = Detection(boxes=[(0.1, 0.1, 0.3, 0.3)], area=0.09), Detection(boxes=[], area=0)


@pytest.fixture
def yard(db: None) -> Camera:
    return Camera.objects.create(
        slug="yard", name="Yard", source="demo:yard", start_after=0.0, end_after=1.0
    )


class Published(list):
    def __call__(self, group: str, message: dict) -> bool:
        self.append((group, message["type"]))
        return True


def record(recorder: EventRecorder, steps: list[tuple[float, Detection]]) -> None:
    for at, detection in steps:
        image = np.full((240, 320, 3), 90, np.uint8)
        recorder.update(Frame(image=image, captured_at=T0 + at), detection)


def test_each_start_and_end_queues_one_alert_carrying_the_wire_dict(yard: Camera) -> None:
    published = Published()
    record(EventRecorder(yard, published), [(0, MOVING), (0.5, MOVING), (2, QUIET), (3, QUIET)])
    start, end = Alert.objects.order_by("pk")
    event = MotionEvent.objects.get()
    assert (start.kind, end.kind) == ("motion.start", "motion.end")
    assert start.message["event"]["snapshot_url"] == f"/events/{event.pk}/snapshot.jpg"
    assert start.message["event"]["ended_at"] is None
    assert end.message == {"type": "motion.end", "event": event.to_dict()}
    assert start.uuid != end.uuid
    # the notifier is woken after each commit, besides the dashboards' announcements
    assert published.count(("notifier", "alert.queued")) == 2


def test_an_event_whose_alert_cannot_be_written_is_not_written_either(
    yard: Camera, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise DatabaseError("disk I/O error")

    monkeypatch.setattr(Alert.objects, "create", refuse)
    with pytest.raises(DatabaseError):
        record(EventRecorder(yard, Published()), [(0, MOVING)])
    assert not MotionEvent.objects.exists()


def test_an_event_left_open_by_a_crash_gets_its_end_alert(yard: Camera) -> None:
    MotionEvent.objects.create(camera=yard)
    EventRecorder(yard, Published()).recover()
    assert list(Alert.objects.values_list("kind", flat=True)) == ["motion.end"]


def test_a_disarmed_camera_records_and_tells_mqtt_only(
    yard: Camera, owner: User, settings: object
) -> None:
    Webhook.objects.create(name="hook", url="http://192.168.1.20/hook")
    PushSubscription.objects.create(user=owner, endpoint="https://push.example/x", p256dh="k",
                                    auth="a")  # fmt: skip
    yard.set_armed(False)
    record(EventRecorder(yard, Published()), [(0, MOVING)])
    alert = Alert.objects.get()
    assert alert.armed is False
    settings.MQTT_URL = "mqtt://127.0.0.1:1883"
    assert [d.channel for d in dispatch(alert)] == ["mqtt"]


def test_pushes_go_to_those_who_may_view_outside_quiet_hours_once_per_cooldown(
    yard: Camera, owner: User, member: User, stranger: User
) -> None:
    yard.viewers.add(member)
    for user in (owner, member, stranger):
        PushSubscription.objects.create(user=user, endpoint=f"https://push.example/{user}",
                                        p256dh="k", auth="a")  # fmt: skip
    now = timezone.localtime()
    Preference.objects.create(user=owner, quiet_from=(now - dt.timedelta(hours=1)).time(),
                              quiet_until=(now + dt.timedelta(hours=1)).time())  # fmt: skip
    first = alert_for(yard)
    assert [d.user for d in dispatch(first)] == [member]
    assert dispatch(alert_for(yard)) == []  # within the member's 60 s
    later = alert_for(yard, at=first.created_at + dt.timedelta(seconds=61))
    assert [d.user for d in dispatch(later)] == [member]


def alert_for(camera: Camera, at: dt.datetime | None = None) -> Alert:
    event = MotionEvent.objects.create(camera=camera)
    alert = event.queue_alert("motion.start")
    if at is not None:
        Alert.objects.filter(pk=alert.pk).update(created_at=at)
        alert.refresh_from_db()
    return alert


# -- the notify switch on the dashboard --


def test_a_household_member_can_disarm_a_camera_they_may_view(yard: Camera, member: User) -> None:
    yard.viewers.add(member)
    client = client_for(member)
    assert "Armed" in client.get("/").content.decode()
    response = client.post("/cameras/yard/armed", {"armed": "off", "next": "/"})
    assert (response.status_code, response["Location"]) == (302, "/")
    assert Camera.objects.get(pk=yard.pk).armed is False
    assert "Disarmed" in client.get("/").content.decode()
    client.post("/cameras/yard/armed", {"armed": "on", "next": "https://elsewhere.example/"})
    assert Camera.objects.get(pk=yard.pk).armed is True


def test_nobody_else_can_switch_it_and_it_takes_a_csrf_token(
    yard: Camera, stranger: User, member: User
) -> None:
    assert client_for(stranger).post("/cameras/yard/armed", {"armed": "off"}).status_code == 403
    yard.viewers.add(member)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member)
    assert strict.post("/cameras/yard/armed", {"armed": "off"}).status_code == 403
    assert client_for(member).get("/cameras/yard/armed").status_code == 405
    assert Camera.objects.get(pk=yard.pk).armed is True
