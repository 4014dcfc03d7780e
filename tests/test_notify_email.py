"""E-mail end to end: the notifier subprocess sending to a real SMTP server (aiosmtpd) on
127.0.0.1, to the people who chose it and may view the camera, with links to the event and its
clip on the public site."""

from __future__ import annotations

import collections
import email
import email.policy
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.models import User

from cameras.models import Camera
from cameras.sources.demux import FileSource
from capture.bus import Bus
from capture.worker import CaptureWorker
from events.models import MotionEvent
from notifications.forms import PreferenceForm
from notifications.models import Delivery, Preference
from tests import notify_parts
from tests.conftest import client_for, session_cookie
from tests.notify_parts import start_motion
from tests.processes import free_port, wait_until

pytestmark = pytest.mark.e2e
start_notifier = notify_parts.start_notifier  # fixture
JPEG = b"\xff\xd8\xff\xe0 the porch \xff\xd9"


class Mailbox:
    """aiosmtpd's handler: keeps each message; `refusals` are answered to DATA first, in turn."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.refusals: collections.deque[str] = collections.deque()
        self.tries = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.tries += 1
        if self.refusals:
            return self.refusals.popleft()
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parsed["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(parsed)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, str]]:
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, f"smtp://127.0.0.1:{port}"
    controller.stop()


@pytest.fixture
def porch(transactional_db: None) -> Camera:
    return Camera.objects.create(slug="porch", name="Porch", source="demo")


def opted_in(user: User, address: str) -> User:
    user.email = address
    user.save()
    Preference.objects.create(user=user, email=True)
    return user


def test_people_who_chose_email_and_may_view_the_camera_get_the_snapshot_and_a_link(
    smtp: tuple[Mailbox, str], start_notifier: object, porch: Camera,
    member: User, stranger: User,
) -> None:  # fmt: skip
    mailbox, url = smtp
    porch.viewers.add(opted_in(member, "member@example.org"))
    opted_in(stranger, "stranger@example.org")  # may not view the porch
    start_notifier(SURVEILLANCE_EMAIL_URL=url, SURVEILLANCE_EMAIL_FROM="cams@example.org",
                   SURVEILLANCE_PUBLIC_URL="https://cams.example.org")  # fmt: skip
    event = start_motion(porch, JPEG)
    wait_until(lambda: mailbox.messages, 10, "the e-mail")
    time.sleep(0.5)
    assert len(mailbox.messages) == 1
    message = mailbox.messages[0]
    assert message["X-Envelope-To"] == "member@example.org"
    assert message["From"] == "cams@example.org"
    assert message["Subject"].startswith("Motion: Porch at ")
    assert f"https://cams.example.org/events/{event.pk}/" in message.get_body().get_content()
    (attachment,) = message.iter_attachments()
    assert attachment.get_content_type() == "image/jpeg"
    assert attachment.get_content() == JPEG


@pytest.fixture
def yard(transactional_db: None, motion_video: Path) -> Camera:
    """A camera that records a clip per event (its default), over a file a box crosses."""
    return Camera.objects.create(slug="yard", name="Yard", source=str(motion_video), end_after=1)


def record_an_event(camera: Camera) -> MotionEvent:
    """The capture worker over the camera's whole file: its event, clip and alerts as a real
    camera's are made, the notifier woken through Redis (the worker's bus)."""
    files = lambda source, **_: FileSource(source, realtime=False, loop=False)  # noqa: E731
    CaptureWorker(camera, Bus(), source_factory=files).run()
    event = MotionEvent.objects.get()
    assert event.clip_id is not None
    return event


def test_the_email_links_to_the_event_and_its_clip_on_the_public_site(
    smtp: tuple[Mailbox, str], start_notifier: object, yard: Camera, owner: User,
    live_server_url: str,
) -> None:  # fmt: skip
    mailbox, url = smtp
    opted_in(owner, "owner@example.org")
    public = "https://cams.example.org/home"  # behind a proxy, under a path
    start_notifier(SURVEILLANCE_EMAIL_URL=url, SURVEILLANCE_PUBLIC_URL=public + "/")
    event = record_an_event(yard)
    wait_until(lambda: mailbox.messages, 10, "the e-mail")
    lines = mailbox.messages[0].get_body().get_content().splitlines()
    assert f"The event: {public}/events/{event.pk}/" in lines
    assert f"Its clip: {public}/events/{event.pk}/clip.mp4" in lines
    # ... which the site serves: the event's own clip.
    clip = next(line for line in lines if line.startswith("Its clip: ")).removeprefix("Its clip: ")
    _, cookie = session_cookie(owner)
    served = httpx.get(clip.replace(public, live_server_url), headers={"Cookie": cookie.decode()})
    assert served.status_code == 200 and served.headers["content-type"] == "video/mp4"
    assert served.content == Path(event.clip.file.path).read_bytes()


def test_without_a_public_url_the_email_has_no_links(
    smtp: tuple[Mailbox, str], start_notifier: object, yard: Camera, owner: User
) -> None:
    mailbox, url = smtp
    opted_in(owner, "owner@example.org")
    start_notifier(SURVEILLANCE_EMAIL_URL=url, SURVEILLANCE_PUBLIC_URL="")
    record_an_event(yard)  # with a clip to link to
    wait_until(lambda: mailbox.messages, 10, "the e-mail")
    body = mailbox.messages[0].get_body().get_content()
    assert body.startswith("Motion on Yard at ")
    # Not the address the notifier reaches the site at: no one reading the mail could open it.
    for link in ("http", "127.0.0.1", "localhost", "/events/", "clip.mp4"):
        assert link not in body


def test_a_burst_within_the_cooldown_is_one_email(
    smtp: tuple[Mailbox, str], start_notifier: object, porch: Camera, owner: User
) -> None:
    mailbox, url = smtp
    opted_in(owner, "owner@example.org")
    start_notifier(SURVEILLANCE_EMAIL_URL=url)
    for _ in range(3):
        start_motion(porch)
    wait_until(lambda: mailbox.messages, 10, "the e-mail")
    time.sleep(1)
    assert len(mailbox.messages) == 1


def test_a_mail_server_that_refuses_for_now_is_tried_again(
    smtp: tuple[Mailbox, str], start_notifier: object, porch: Camera, owner: User
) -> None:
    mailbox, url = smtp
    opted_in(owner, "owner@example.org")
    mailbox.refusals.extend(["451 4.3.0 try again later"] * 2)
    start_notifier(SURVEILLANCE_EMAIL_URL=url)
    start_motion(porch)
    wait_until(lambda: mailbox.messages, 10, "the e-mail, third time")
    delivery = Delivery.objects.get(channel="email")
    wait_until(lambda: Delivery.objects.get(pk=delivery.pk).status == "sent", 5, "sent")
    assert Delivery.objects.get(pk=delivery.pk).tries == 3


def test_a_mail_server_that_refuses_for_good_shows_the_failure(
    smtp: tuple[Mailbox, str], start_notifier: object, porch: Camera, owner: User
) -> None:
    mailbox, url = smtp
    opted_in(owner, "owner@example.org")
    mailbox.refusals.append("554 5.7.1 relaying denied")
    start_notifier(SURVEILLANCE_EMAIL_URL=url)
    start_motion(porch)
    wait_until(lambda: Delivery.objects.filter(status="failed").exists(), 10, "the failure")
    assert "relaying denied" in Delivery.objects.get().last_error
    assert mailbox.tries == 1


def test_an_invalid_address_is_refused_on_the_notifications_page(member: User) -> None:
    client = client_for(member)
    response = client.post("/notifications/", {"email": "on", "address": "not an address",
                                                "cooldown": "60"})  # fmt: skip
    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()
    assert User.objects.get(pk=member.pk).email == ""


def test_the_notifications_page_saves_a_persons_choices(member: User, db: None) -> None:
    porch = Camera.objects.create(slug="porch", name="Porch", source="demo")
    porch.viewers.add(member)
    form = PreferenceForm(
        {"email": "on", "address": "me@example.org", "cameras": [porch.pk], "cooldown": "120",
         "quiet_from": "23:00", "quiet_until": "07:00"},
        instance=Preference.of(member), user=member,
    )  # fmt: skip
    assert form.is_valid(), form.errors
    preference = form.save()
    assert (preference.email, preference.cooldown, member.email) == (True, 120, "me@example.org")
    assert list(preference.cameras.all()) == [porch]


@pytest.mark.parametrize(
    ("url", "says"),
    [("mailto:me@example.org", "must start with smtp:// or smtps://"),
     ("smtp://mail.example.org:0", "port must be a number")],
)  # fmt: skip
def test_a_wrong_email_url_is_refused_with_the_reason(url: str, says: str) -> None:
    from notifications.config import ConfigError, email_server

    with pytest.raises(ConfigError, match=says):
        email_server(url)
