"""Webhooks: a signed JSON POST of the alert to each webhook that wants it.

The body is {"id", "timestamp", "type", "event", "links"}; X-Surveillance-Signature is
"sha256=" and the hex HMAC-SHA256 of the body with the webhook's secret. The id (the alert's,
the same on every retry) and the timestamp (of this try) are in the body, so the signature
covers them: a receiver refuses old timestamps and ids it has seen, and so any replay."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

from notifications.config import absolute_links
from notifications.lanes import Lane
from notifications.models import Delivery
from notifications.targets import TargetRefused, post

logger = logging.getLogger(__name__)

TIMEOUT = 5.0  # seconds for a receiver to answer; longer is a failure, tried again later


def body_for(delivery: Delivery, now: float | None = None) -> bytes:
    alert = delivery.alert
    payload = {
        "id": str(alert.uuid),
        "timestamp": int(now if now is not None else time.time()),
        **alert.message,
        "links": absolute_links(alert.message["event"]),
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookLane(Lane):
    channel = Delivery.Channel.WEBHOOK
    related = ("alert", "webhook")

    def deliver(self, delivery: Delivery) -> None:
        webhook = delivery.webhook
        body = body_for(delivery)
        payload = json.loads(body)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "surveillance-webhook/1",
            "X-Surveillance-Event": payload["type"],
            "X-Surveillance-Delivery": payload["id"],
            "X-Surveillance-Timestamp": str(payload["timestamp"]),
            "X-Surveillance-Signature": signature(webhook.secret, body),
        }
        try:
            answer = post(webhook.url, body, headers, webhook.policy, TIMEOUT)
        except TargetRefused as exc:
            logger.warning("webhook %s refused: %s", webhook, exc)
            delivery.failed(f"refused: {exc}", permanent=True)
            return
        except OSError as exc:  # refused, reset, timed out, TLS
            delivery.failed(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            logger.info("webhook %s: %s (try %d)", webhook, delivery.last_error, delivery.tries)
            return
        if 200 <= answer.status < 300:
            delivery.sent()
        else:
            delivery.failed(f"HTTP {answer.status} {answer.reason}")
            logger.info("webhook %s answered %s (try %d)", webhook, answer.status, delivery.tries)
