"""E-mail: one message per motion.start to each person who opted in, with the snapshot attached
and links to the event (and its clip) when SURVEILLANCE_PUBLIC_URL says where the site is."""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from notifications.config import Server, absolute_links, email_server
from notifications.dispatch import may_view
from notifications.lanes import Lane
from notifications.models import Delivery

logger = logging.getLogger(__name__)

TIMEOUT = 20.0  # seconds for the mail server, per command


def message_for(delivery: Delivery) -> EmailMessage:
    event = delivery.alert.message["event"]
    started = timezone.localtime(parse_datetime(event["started_at"]))
    subject = f"Motion: {event['camera_name']} at {started:%H:%M:%S}"
    lines = [f"Motion on {event['camera_name']} at {started:%Y-%m-%d %H:%M:%S %Z}."]
    links = absolute_links(event)
    if "url" in links:
        lines.append(f"The event: {links['url']}")
    if "clip_url" in links:
        lines.append(f"Its clip: {links['clip_url']}")
    lines += ["", "You get this because you chose e-mail notifications; change that on the "
              "site's Notifications page."]  # fmt: skip
    message = EmailMessage(subject, "\n".join(lines), settings.EMAIL_FROM, [delivery.user.email])
    message.extra_headers["X-Surveillance-Delivery"] = str(delivery.alert.uuid)
    snapshot = delivery.alert.event.snapshot
    if snapshot:
        try:
            with snapshot.open("rb") as f:
                message.attach(f"{event['camera']}-{event['id']}.jpg", f.read(), "image/jpeg")
        except OSError:
            pass  # gone (retention) or unreadable: the text still goes
    return message


def backend(server: Server) -> EmailBackend:
    return EmailBackend(
        host=server.host, port=server.port, username=server.username,
        password=server.password, use_ssl=server.tls, use_tls=server.starttls,
        timeout=TIMEOUT, fail_silently=False,
    )  # fmt: skip


def permanent(exc: smtplib.SMTPException) -> bool:
    """A 5xx answer (no such mailbox, relaying refused) will not change by trying again."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


class MailLane(Lane):
    channel = Delivery.Channel.EMAIL
    related = ("alert__event", "user")

    def deliver(self, delivery: Delivery) -> None:
        server = email_server()
        if server is None:
            delivery.failed("SURVEILLANCE_EMAIL_URL is not set", permanent=True)
            return
        user = delivery.user
        if not user.is_active or not may_view(user, delivery.alert.camera_id):
            delivery.failed(f"{user} may no longer view this camera", permanent=True)
            return
        try:
            backend(server).send_messages([message_for(delivery)])
        except smtplib.SMTPException as exc:
            delivery.failed(f"SMTP: {exc}", permanent=permanent(exc))
            logger.info("e-mail to %s: %s (try %d)", user, exc, delivery.tries)
        except OSError as exc:
            delivery.failed(f"{type(exc).__name__}: {exc}")
            logger.info("e-mail to %s: %s (try %d)", user, exc, delivery.tries)
        else:
            delivery.sent()
