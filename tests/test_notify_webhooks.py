"""Webhooks end to end: the notifier subprocess posting to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import time

import pytest
from django.core.exceptions import ValidationError

from cameras.models import Camera
from notifications.models import Delivery, Webhook
from tests import notify_parts
from tests.notify_parts import Receiver, end_motion, start_motion
from tests.processes import wait_until

pytestmark = pytest.mark.e2e
receiver, start_notifier = notify_parts.receiver, notify_parts.start_notifier  # fixtures


@pytest.fixture
def porch(transactional_db: None) -> Camera:
    return Camera.objects.create(slug="porch", name="Porch", source="demo")


def hook(receiver: Receiver, **fields: object) -> Webhook:
    """A webhook to the test's receiver: on 127.0.0.1, so local targets must be allowed."""
    webhook = Webhook(name="home", url=f"{receiver.url}/hook", allow_local=True, **fields)
    webhook.full_clean()
    webhook.save()
    return webhook


def verified(webhook: Webhook, request: notify_parts.Request) -> dict:
    """What a receiver does: check the signature over the body, then read it."""
    expected = (
        "sha256=" + hmac.new(webhook.secret.encode(), request.body, hashlib.sha256).hexdigest()
    )
    assert hmac.compare_digest(request.headers["X-Surveillance-Signature"], expected)
    return json.loads(request.body)


def test_each_alert_is_posted_signed_with_its_id_and_time(
    receiver: Receiver, start_notifier: object, porch: Camera
) -> None:
    webhook = hook(receiver)
    start_notifier()
    event = start_motion(porch)
    end_motion(event)
    wait_until(lambda: len(receiver.requests) == 2, 5, "two posts")
    start, end = (verified(webhook, request) for request in receiver.requests)
    assert (start["type"], end["type"]) == ("motion.start", "motion.end")
    assert start["event"]["id"] == event.pk and end["event"]["ended_at"] is not None
    request = receiver.requests[0]
    assert request.headers["X-Surveillance-Delivery"] == start["id"]
    assert request.headers["X-Surveillance-Timestamp"] == str(start["timestamp"])
    assert abs(start["timestamp"] - time.time()) < 10
    assert start["links"] == {}  # no SURVEILLANCE_PUBLIC_URL: no links to 127.0.0.1


def test_a_receiver_answering_500_gets_it_again_until_it_takes_it(
    receiver: Receiver, start_notifier: object, porch: Camera
) -> None:
    hook(receiver, on_end=False)
    receiver.answers.extend([(500, 0), (500, 0)])
    start_notifier()
    start_motion(porch)
    wait_until(lambda: Delivery.objects.filter(status="sent").exists(), 10, "the delivery")
    delivery = Delivery.objects.get()
    assert (delivery.tries, delivery.last_error) == (3, "")
    assert len({json.loads(r.body)["id"] for r in receiver.requests}) == 1  # one id, three tries


def test_a_receiver_that_never_answers_is_given_up_on_and_tried_again(
    receiver: Receiver, start_notifier: object, porch: Camera
) -> None:
    hook(receiver, on_end=False)
    receiver.answers.append((200, 30))  # hangs far past the notifier's timeout
    start_notifier()
    start_motion(porch)
    wait_until(lambda: Delivery.objects.filter(tries=1).exists(), 10, "the first try to fail")
    assert "timed out" in Delivery.objects.get().last_error
    wait_until(lambda: Delivery.objects.filter(status="sent").exists(), 10, "the second try")


def test_a_notifier_killed_mid_delivery_delivers_after_its_restart(
    receiver: Receiver, start_notifier: object, porch: Camera
) -> None:
    hook(receiver, on_end=False)
    receiver.answers.append((200, 3))  # received, answered too late for the killed notifier
    notifier = start_notifier()
    start_motion(porch)
    wait_until(lambda: receiver.requests, 5, "the post")
    notifier.send_signal(signal.SIGKILL)
    notifier.wait()
    start_notifier()
    wait_until(lambda: Delivery.objects.filter(status="sent").exists(), 10, "the delivery")
    ids = [json.loads(r.body)["id"] for r in receiver.requests]
    assert len(ids) == 2 and len(set(ids)) == 1  # at least once; the id tells the repeat


def test_a_disarmed_camera_posts_nothing_but_still_records(
    receiver: Receiver, start_notifier: object, porch: Camera
) -> None:
    hook(receiver)
    porch.set_armed(False)
    start_notifier()
    event = start_motion(porch)
    wait_until(lambda: event.alerts.filter(dispatched_at__isnull=False).exists(), 5, "dispatch")
    time.sleep(0.5)
    assert receiver.requests == [] and not Delivery.objects.exists()
    assert event.alerts.get().armed is False


def test_a_webhook_for_other_cameras_posts_nothing(
    receiver: Receiver, start_notifier: object, porch: Camera
) -> None:
    garden = Camera.objects.create(slug="garden", name="Garden", source="demo")
    webhook = hook(receiver)
    webhook.cameras.set([garden])
    start_notifier()
    start_motion(porch)
    start_motion(garden)
    wait_until(lambda: receiver.requests, 5, "the garden's post")
    time.sleep(0.5)
    assert [json.loads(r.body)["event"]["camera"] for r in receiver.requests] == ["garden"]


def test_a_loopback_target_is_refused_at_delivery_without_the_allowance(
    receiver: Receiver, start_notifier: object, porch: Camera
) -> None:
    Webhook.objects.create(name="sneaky", url=f"{receiver.url}/hook")  # past the admin's check
    start_notifier()
    start_motion(porch)
    wait_until(lambda: Delivery.objects.filter(status="failed").exists(), 5, "the refusal")
    assert "127.0.0.1 is a loopback address" in Delivery.objects.get().last_error
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://192.168.1.20/hook", "must start with http:// or https://"),
        ("http://127.0.0.1:8123/api/webhook/x", "127.0.0.1 is a loopback address"),
        ("http://localhost/hook", "is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata address"),
        ("http://[fe80::1]/hook", "link-local address"),
        ("http://0.0.0.0/hook", "not a routable address"),
        ("http://user:pw@192.168.1.20/hook", "no user or password"),
    ],
)
def test_a_webhook_url_is_refused_where_it_is_entered(url: str, says: str, db: None) -> None:
    with pytest.raises(ValidationError, match=says):
        Webhook(name="x", url=url).full_clean()


def test_a_home_lan_target_is_allowed(db: None) -> None:
    Webhook(name="home assistant", url="http://192.168.1.20:8123/api/webhook/cams").full_clean()
