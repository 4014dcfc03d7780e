"""A push service and a browser's keys, on 127.0.0.1: the one stand-in of the Web Push tests.

It checks each message as a push service and a browser would, written from the RFCs apart from
the product's code: the VAPID JWT (RFC 8292: ES256 over header.claims, `aud` our origin, `exp`
in the next 24 h, `sub` a mailto: or https: contact, `k` the key the browser subscribed with),
then decrypts the body with the subscription's private key and auth secret (RFC 8291,
aes128gcm), and keeps the plaintext."""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tests.notify_parts import Receiver, Request


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(hashes.SHA256(), length, salt, info).derive(ikm)


@dataclass
class BrowserKeys:
    """What a browser makes when it subscribes: a P-256 key pair and a 16-byte auth secret."""

    private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def public(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def subscription(self, endpoint: str) -> dict:
        """PushSubscription.toJSON()."""
        return {"endpoint": endpoint, "keys": {"p256dh": b64(self.public), "auth": b64(self.auth)}}

    def decrypt(self, body: bytes) -> bytes:
        salt, record_size, id_length = body[:16], body[16:20], body[20]
        assert int.from_bytes(record_size, "big") >= 18
        sender = body[21 : 21 + id_length]
        shared = self.private.exchange(
            ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender)
        )
        ikm = hkdf(self.auth, shared, b"WebPush: info\x00" + self.public + sender, 32)
        cek = hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
        nonce = hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
        padded = AESGCM(cek).decrypt(nonce, body[21 + id_length :], None)
        text = padded.rstrip(b"\x00")
        assert text.endswith(b"\x02"), "the last record ends with the delimiter 2"
        return text[:-1]


def verify_vapid(request: Request, origin: str, server_key: str) -> dict:
    """The JWT's claims, once its signature and claims hold; AssertionError otherwise."""
    scheme, _, params = request.headers["Authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert fields["k"] == server_key, "signed with the key the browser subscribed with"
    header_b64, claims_b64, signature_b64 = fields["t"].split(".")
    header, claims = json.loads(unb64(header_b64)), json.loads(unb64(claims_b64))
    assert header == {"typ": "JWT", "alg": "ES256"}
    signature = unb64(signature_b64)
    assert len(signature) == 64
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(fields["k"]))
    der = encode_dss_signature(int.from_bytes(signature[:32]), int.from_bytes(signature[32:]))
    try:
        public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AssertionError("the VAPID signature does not verify") from None
    assert claims["aud"] == origin
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    assert claims["sub"].startswith(("mailto:", "https://"))
    return claims


class PushService(Receiver):
    """Receives pushes for one browser; `pushes` holds the decrypted payloads, in order. A
    message that fails a check is answered 400 (as a push service would) and kept in `refused`."""

    def __init__(self, keys: BrowserKeys, server_key: str) -> None:
        self.keys, self.server_key = keys, server_key
        self.pushes: list[dict] = []
        self.refused: list[str] = []
        super().__init__(self.check)

    @property
    def endpoint(self) -> str:
        return f"{self.url}/push/browser-1"

    def check(self, request: Request) -> int:
        try:
            assert request.headers["Content-Encoding"] == "aes128gcm"
            assert int(request.headers["TTL"]) > 0
            verify_vapid(request, self.url, self.server_key)
            self.pushes.append(json.loads(self.keys.decrypt(request.body)))
        except (AssertionError, KeyError, ValueError) as exc:
            self.refused.append(repr(exc))
            return 400
        return 201
