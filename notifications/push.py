"""Web Push: each message encrypted for its browser (RFC 8291, aes128gcm) and signed for the
push service with our VAPID key (RFC 8292). The key is made once and kept in the data dir.

A push service answers 404 or 410 for a subscription the browser dropped: it is deleted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import struct
import time
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from notifications.dispatch import may_view
from notifications.lanes import Lane
from notifications.models import Delivery, PushSubscription
from notifications.targets import Policy, TargetRefused, post

logger = logging.getLogger(__name__)

TIMEOUT = 10.0
TTL = 12 * 3600  # seconds a push service keeps a message for a browser that is offline
RECORD_SIZE = 4096


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def vapid_key() -> ec.EllipticCurvePrivateKey:
    """Our VAPID private key: made once, kept in the data dir, readable by us only (0600)."""
    path = settings.VAPID_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return serialization.load_pem_private_key(path.read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))  # fmt: skip
    return key


def raw_public(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def application_server_key() -> str:
    """What the page hands pushManager.subscribe(): our public key, base64url."""
    return b64url(raw_public(vapid_key()))


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()[:length]  # length <= 32


def encrypt(plaintext: bytes, p256dh: str, auth: str, salt: bytes | None = None) -> bytes:
    """RFC 8291: the body for one browser, a single aes128gcm record."""
    ua_public = unb64url(p256dh)
    browser = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), ua_public)
    ours = ec.generate_private_key(ec.SECP256R1())
    as_public = raw_public(ours)
    shared = ours.exchange(ec.ECDH(), browser)
    prk_key = hmac.new(unb64url(auth), shared, hashlib.sha256).digest()
    ikm = hkdf_expand(prk_key, b"WebPush: info\x00" + ua_public + as_public, 32)
    salt = salt or os.urandom(16)
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    cek = hkdf_expand(prk, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = hkdf_expand(prk, b"Content-Encoding: nonce\x00", 12)
    ciphertext = AESGCM(cek).encrypt(nonce, plaintext + b"\x02", None)  # \x02: the last record
    header = salt + struct.pack("!IB", RECORD_SIZE, len(as_public)) + as_public
    return header + ciphertext


def vapid_header(endpoint: str, subject: str, now: float | None = None) -> str:
    """RFC 8292: `vapid t=<JWT signed ES256>, k=<our public key>` for this push service."""
    parts = urlsplit(endpoint)
    claims = {"aud": f"{parts.scheme}://{parts.netloc}",
              "exp": int((now or time.time()) + TTL), "sub": subject}  # fmt: skip
    header = {"typ": "JWT", "alg": "ES256"}
    signing_input = ".".join(b64url(json.dumps(x, separators=(",", ":")).encode())
                             for x in (header, claims))  # fmt: skip
    key = vapid_key()
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    token = f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
    return f"vapid t={token}, k={b64url(raw_public(key))}"


def subject() -> str:
    """Who runs this site, for the push services (a mailto: or https: URL)."""
    if settings.PUBLIC_URL.startswith("https://"):
        return settings.PUBLIC_URL
    return f"mailto:{settings.EMAIL_FROM}"


def endpoint_policy() -> Policy:
    """Push services are on the internet: never this machine or the LAN (a browser could hand
    us any URL as its endpoint), unless the test suite's local push receiver is allowed."""
    local = settings.PUSH_ALLOW_LOCAL
    return Policy(allow_local=local, allow_private=local)


def notification_for(delivery: Delivery) -> dict:
    """What the service worker shows: the event's own dict, and the words for it."""
    message = delivery.alert.message
    event = message["event"]
    return {"id": str(delivery.alert.uuid), "type": message["type"], "event": event,
            "title": f"Motion: {event['camera_name']}", "url": event["url"]}  # fmt: skip


class PushLane(Lane):
    channel = Delivery.Channel.PUSH
    related = ("alert", "user", "subscription")

    def deliver(self, delivery: Delivery) -> None:
        subscription, user = delivery.subscription, delivery.user
        if not user.is_active or not may_view(user, delivery.alert.camera_id):
            delivery.failed(f"{user} may no longer view this camera", permanent=True)
            return
        body = encrypt(json.dumps(notification_for(delivery)).encode(),
                       subscription.p256dh, subscription.auth)  # fmt: skip
        headers = {
            "Content-Encoding": "aes128gcm", "Content-Type": "application/octet-stream",
            "TTL": str(TTL), "Urgency": "high",
            "Authorization": vapid_header(subscription.endpoint, subject()),
        }  # fmt: skip
        try:
            answer = post(subscription.endpoint, body, headers, endpoint_policy(), TIMEOUT)
        except TargetRefused as exc:
            delivery.failed(f"refused: {exc}", permanent=True)
            return
        except OSError as exc:
            delivery.failed(f"{type(exc).__name__}: {exc}")
            return
        if answer.status in {404, 410}:
            logger.info("push subscription of %s is gone (%s): removed", user, answer.status)
            PushSubscription.objects.filter(pk=subscription.pk).delete()  # its deliveries too
        elif 200 <= answer.status < 300:
            delivery.sent()
        else:
            delivery.failed(f"HTTP {answer.status} {answer.reason}",
                            permanent=answer.status in {400, 401, 403, 413})  # fmt: skip
