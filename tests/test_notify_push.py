"""Web Push end to end: a browser's subscription made through the site, the notifier posting to
a push service on 127.0.0.1 that verifies the VAPID signature and decrypts the message."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from cameras.models import Camera
from notifications.models import Delivery, PushSubscription
from notifications.push import application_server_key
from tests import notify_parts
from tests.conftest import client_for
from tests.notify_parts import start_motion
from tests.processes import wait_until
from tests.push_service import BrowserKeys, PushService

pytestmark = pytest.mark.e2e
start_notifier = notify_parts.start_notifier  # fixture
LOCAL = {"SURVEILLANCE_PUSH_ALLOW_LOCAL": "1"}  # the push service is on 127.0.0.1


@pytest.fixture
def push_service() -> Iterator[PushService]:
    service = PushService(BrowserKeys(), application_server_key())
    yield service
    service.close()


@pytest.fixture
def porch(transactional_db: None) -> Camera:
    return Camera.objects.create(slug="porch", name="Porch", source="demo")


def subscribe(user: User, subscription: dict) -> object:
    return client_for(user).post(
        "/notifications/push/subscribe", json.dumps(subscription), content_type="application/json"
    )


def test_a_push_is_signed_for_the_push_service_and_readable_only_by_the_browser(
    push_service: PushService, start_notifier: object, porch: Camera, member: User,
    settings: object,
) -> None:  # fmt: skip
    settings.PUSH_ALLOW_LOCAL = True
    porch.viewers.add(member)
    assert (
        subscribe(member, push_service.keys.subscription(push_service.endpoint)).status_code == 201
    )
    start_notifier(**LOCAL)
    event = start_motion(porch)
    wait_until(lambda: push_service.pushes or push_service.refused, 10, "the push")
    assert push_service.refused == []
    (push,) = push_service.pushes
    assert push["type"] == "motion.start"
    assert push["event"]["id"] == event.pk
    assert push["title"] == "Motion: Porch"
    assert push["id"] == str(event.alerts.get().uuid)
    wait_until(lambda: Delivery.objects.filter(status="sent").exists(), 5, "marked sent")


@pytest.mark.parametrize("gone", [404, 410])
def test_a_subscription_the_push_service_no_longer_knows_is_removed(
    gone: int, push_service: PushService, start_notifier: object, porch: Camera, owner: User
) -> None:
    PushSubscription.objects.create(user=owner, **flat(push_service))
    push_service.answers.append((gone, 0))
    start_notifier(**LOCAL)
    start_motion(porch)
    wait_until(lambda: not PushSubscription.objects.exists(), 10, "the subscription removed")
    assert not Delivery.objects.exists()


def test_nobody_is_pushed_about_a_camera_they_may_not_view(
    push_service: PushService, start_notifier: object, porch: Camera, stranger: User
) -> None:
    PushSubscription.objects.create(user=stranger, **flat(push_service))
    start_notifier(**LOCAL)
    event = start_motion(porch)
    wait_until(lambda: event.alerts.filter(dispatched_at__isnull=False).exists(), 5, "dispatch")
    time.sleep(0.5)
    assert push_service.requests == []


def test_permission_is_checked_again_when_the_push_goes(
    push_service: PushService, porch: Camera, member: User
) -> None:
    from notifications.dispatch import dispatch
    from notifications.push import PushLane

    porch.viewers.add(member)
    PushSubscription.objects.create(user=member, **flat(push_service))
    alert = start_motion(porch).alerts.get()
    (delivery,) = dispatch(alert)
    porch.viewers.remove(member)  # between the fan-out and the delivery
    PushLane().deliver(Delivery.objects.select_related("alert", "user", "subscription").get())
    assert Delivery.objects.get(pk=delivery.pk).status == "failed"
    assert push_service.requests == []


def test_a_push_endpoint_on_this_machine_or_the_lan_is_refused(member: User, db: None) -> None:
    keys = BrowserKeys()
    for endpoint, says in [
        ("http://127.0.0.1:9/push/x", "must be https://"),
        ("https://127.0.0.1:9/push/x", "loopback"),
        ("https://192.168.1.5/push/x", "private address"),
    ]:
        response = subscribe(member, keys.subscription(endpoint))
        assert response.status_code == 400
        assert says in response.json()["error"]
    assert not PushSubscription.objects.exists()


def test_the_vapid_key_is_made_once_and_readable_only_by_us() -> None:
    assert application_server_key() == application_server_key()
    assert stat.S_IMODE(settings.VAPID_KEY_FILE.stat().st_mode) == 0o600


def flat(service: PushService) -> dict:
    subscription = service.keys.subscription(service.endpoint)
    return {"endpoint": subscription["endpoint"], **subscription["keys"]}
