"""What keeps notifications honest at the edges: the MQTT last will (on a kill, and after a
silent disappearance), snapshots turned off, webhook redirects not followed, the 6-hour give-up,
the admin's "Try again now", the webhook connection pinned to the checked address, and mqtts://.

Webhook deliveries are driven here through the lane's own step, in this process, against real
HTTP servers on 127.0.0.1; MQTT runs the notifier subprocess against the suite's Mosquitto."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.contrib.auth.models import User
from django.utils import timezone

from cameras.models import Camera
from events.models import Alert, MotionEvent
from notifications.dispatch import dispatch_new
from notifications.models import GIVE_UP_AFTER, Delivery, Webhook
from notifications.webhooks import WebhookLane
from tests import notify_parts
from tests.conftest import client_for
from tests.notify_parts import Broker, Listener, Receiver, Request, end_motion, start_motion
from tests.processes import free_port, wait_until

pytestmark = pytest.mark.e2e
broker, receiver = notify_parts.broker, notify_parts.receiver  # fixtures
start_notifier = notify_parts.start_notifier  # fixture
JPEG = b"\xff\xd8\xff\xe0 a snapshot \xff\xd9"
DELIVERIES = "/admin/notifications/delivery/"


@pytest.fixture
def porch(transactional_db: None) -> Camera:
    return Camera.objects.create(slug="porch", name="Porch", source="demo")


def hook(url: str, **fields: object) -> Webhook:
    """A webhook for motion.start to `url` on 127.0.0.1: local targets allowed."""
    webhook = Webhook(name="home", url=url, allow_local=True, on_end=False, **fields)
    webhook.full_clean()
    webhook.save()
    return webhook


def queued_alert(camera: Camera, age: dt.timedelta | None = None) -> Alert:
    """A motion.start in the outbox, fanned out to its deliveries, made `age` ago."""
    alert = MotionEvent.objects.create(camera=camera).queue_alert("motion.start")
    if age is not None:
        make_old(alert, age)
    dispatch_new()
    return alert


def make_old(alert: Alert, age: dt.timedelta) -> None:
    Alert.objects.filter(pk=alert.pk).update(created_at=timezone.now() - age)


def posted_ids(receiver: Receiver) -> list[str]:
    return [json.loads(request.body)["id"] for request in receiver.requests]


# -- 1. the MQTT last will --


def test_a_notifier_that_dies_is_marked_offline_by_the_broker(
    broker: Broker, start_notifier: Callable[..., subprocess.Popen]
) -> None:
    """SIGKILL leaves no chance to say goodbye: Home Assistant learns of it only through the
    last will, which the broker publishes when the connection drops."""
    listener = Listener(broker, "surveillance/available")
    notifier = start_notifier(SURVEILLANCE_MQTT_URL=broker.url)
    wait_until(lambda: listener.last("surveillance/available") == b"online", 10, "online")
    notifier.send_signal(signal.SIGKILL)
    notifier.wait()
    wait_until(lambda: listener.last("surveillance/available") == b"offline", 10, "the will")
    assert notify_parts.retained(broker, "surveillance/available") == {
        "surveillance/available": b"offline"
    }  # retained: a Home Assistant that starts later sees it too
    listener.close()


def test_a_notifier_that_vanishes_silently_is_marked_offline_after_its_keepalive(
    broker: Broker, start_notifier: Callable[..., subprocess.Popen]
) -> None:
    """A frozen machine or a cut cable closes no connection: the broker notices the missing
    pings after 1.5 keep-alives and publishes the will; a notifier that wakes says online."""
    listener = Listener(broker, "surveillance/available")
    notifier = start_notifier(SURVEILLANCE_MQTT_URL=broker.url, SURVEILLANCE_MQTT_KEEPALIVE="2")
    wait_until(lambda: listener.last("surveillance/available") == b"online", 10, "online")
    notifier.send_signal(signal.SIGSTOP)  # alive, connected, and silent
    try:
        wait_until(lambda: listener.last("surveillance/available") == b"offline", 10, "the will")
        assert notifier.poll() is None  # the broker decided, not a closed socket
    finally:
        notifier.send_signal(signal.SIGCONT)
    wait_until(lambda: listener.last("surveillance/available") == b"online", 15, "online again")
    listener.close()


# -- 2. webhook redirects --


def answering_every_request(receiver: Receiver, status: int, location: str) -> Receiver:
    """The receiver answers every POST with `status` and a Location header."""
    receiver.handle = lambda request: status
    base = receiver.server.RequestHandlerClass

    class Redirect(base):
        def send_response(self, code: int, message: str | None = None) -> None:
            super().send_response(code, message)
            self.send_header("Location", location)

    receiver.server.RequestHandlerClass = Redirect
    return receiver


def keeping_every_method(receiver: Receiver) -> Receiver:
    """The receiver keeps GETs too: a client that follows a 302 usually turns it into one."""
    base = receiver.server.RequestHandlerClass

    class AnyMethod(base):
        def do_GET(self) -> None:
            receiver.requests.append(Request(self.path, dict(self.headers.items()), b""))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    receiver.server.RequestHandlerClass = AnyMethod
    return receiver


@pytest.mark.parametrize(("status", "reason"), [(302, "Found"), (307, "Temporary Redirect")])
def test_a_webhook_redirect_is_not_followed_and_the_delivery_is_tried_again(
    receiver: Receiver, porch: Camera, status: int, reason: str
) -> None:
    """A redirect could send the signed message past the target check (to 127.0.0.1, to a
    metadata service): it is an answer that failed, kept for a retry, with the reason."""
    elsewhere = keeping_every_method(Receiver())
    answering_every_request(receiver, status, f"{elsewhere.url}/stolen")
    hook(f"{receiver.url}/hook")
    alert = queued_alert(porch)
    WebhookLane().step()
    assert posted_ids(receiver) == [str(alert.uuid)]  # the first one was asked
    assert elsewhere.requests == []
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.tries) == ("pending", 1)
    assert delivery.last_error == f"HTTP {status} {reason}"
    assert delivery.next_try_at > timezone.now()
    elsewhere.close()


# -- 3. SURVEILLANCE_MQTT_SNAPSHOTS=0 --


@pytest.mark.parametrize("snapshots", ["1", "0"])
def test_snapshots_turned_off_are_never_published(
    broker: Broker,
    start_notifier: Callable[..., subprocess.Popen],
    porch: Camera,
    snapshots: str,
) -> None:
    """A broker may be open to the whole LAN: with SURVEILLANCE_MQTT_SNAPSHOTS=0 no picture goes
    there, nor a discovery config for a camera entity showing it. ("1" is the control.)"""
    listener = Listener(broker, "#")
    start_notifier(SURVEILLANCE_MQTT_URL=broker.url, SURVEILLANCE_MQTT_SNAPSHOTS=snapshots)
    wait_until(lambda: listener.last("surveillance/porch/motion") == b"OFF", 10, "the state")
    event = start_motion(porch, JPEG)
    wait_until(lambda: listener.last("surveillance/porch/motion") == b"ON", 5, "motion ON")
    end_motion(event)
    # the snapshot goes out with motion ON, in the same step: once OFF is here it would be too
    wait_until(lambda: listener.last("surveillance/porch/motion") == b"OFF", 5, "motion OFF")
    wait_until(lambda: len(listener.events()) == 2, 5, "both alerts on the events topic")
    with listener.lock:
        topics = {topic for topic, _, _ in listener.messages}
    assert "homeassistant/binary_sensor/surveillance/porch/config" in topics
    if snapshots == "1":
        assert listener.last("surveillance/porch/snapshot") == JPEG
        assert "homeassistant/camera/surveillance/porch/config" in topics
    else:
        assert "surveillance/porch/snapshot" not in topics
        assert "homeassistant/camera/surveillance/porch/config" not in topics
    listener.close()


# -- 4. the give-up after GIVE_UP_AFTER --


def test_a_delivery_still_failing_six_hours_after_its_alert_is_marked_failed(
    receiver: Receiver, porch: Camera
) -> None:
    """Retries go on with back-off for hours, then stop: the admin's log shows it failed."""
    assert GIVE_UP_AFTER.total_seconds() == 6 * 3600
    receiver.handle = lambda request: 500
    hook(f"{receiver.url}/hook")
    alert = queued_alert(porch, age=GIVE_UP_AFTER - dt.timedelta(minutes=1))
    lane = WebhookLane()
    lane.step()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.tries) == ("pending", 1)  # still within the window
    assert delivery.next_try_at > timezone.now()
    # two minutes later the retry is due, and the alert is older than the window
    make_old(alert, GIVE_UP_AFTER + dt.timedelta(minutes=1))
    Delivery.objects.update(next_try_at=timezone.now())
    lane.step()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.tries) == ("failed", 2)
    assert delivery.last_error == "HTTP 500 Internal Server Error"
    lane.step()
    assert len(receiver.requests) == 2  # failed is final: no third try


# -- 5. Admin → Deliveries → "Try again now" --


def test_try_again_now_in_admin_requeues_failed_and_waiting_deliveries(
    receiver: Receiver, porch: Camera, owner: User
) -> None:
    """After fixing a receiver, staff need not wait up to 15 minutes (or for ever, once given
    up): the action makes the chosen deliveries due now; a sent one stays sent."""
    webhook = hook(f"{receiver.url}/hook")
    alerts = [MotionEvent.objects.create(camera=porch).queue_alert("motion.start")
              for _ in range(4)]  # fmt: skip
    later = timezone.now() + dt.timedelta(minutes=15)
    failed, waiting, sent, other = (
        Delivery.objects.create(alert=alert, channel="webhook", webhook=webhook, **fields)
        for alert, fields in zip(alerts, [
            {"status": "failed", "tries": 30, "last_error": "HTTP 500 Internal Server Error"},
            {"status": "pending", "tries": 3, "next_try_at": later},
            {"status": "sent", "tries": 1, "sent_at": timezone.now()},
            {"status": "failed", "tries": 30},
        ], strict=True)
    )  # fmt: skip
    response = client_for(owner).post(
        DELIVERIES,
        {"action": "retry_now", "index": "0",
         "_selected_action": [failed.pk, waiting.pk, sent.pk]},
        follow=True,
    )  # fmt: skip
    assert "2 deliveries will be tried again." in response.content.decode()
    WebhookLane().step()
    assert sorted(posted_ids(receiver)) == sorted([str(alerts[0].uuid), str(alerts[1].uuid)])
    statuses = dict(Delivery.objects.values_list("pk", "status"))
    assert statuses == {failed.pk: "sent", waiting.pk: "sent", sent.pk: "sent", other.pk: "failed"}
    assert Delivery.objects.get(pk=sent.pk).tries == 1  # not sent again


# -- 6. the connection goes to the checked address --


@dataclass
class Resolver:
    """A name server whose answers for one name change between questions (DNS rebinding):
    `answers` are given one per question, then `rebound` for ever. Other names resolve as the
    system resolves them. The only stand-in here: the system's resolver cannot be told to
    rebind a name, and the test must not change /etc/hosts."""

    name: str
    answers: list[str]
    rebound: str
    real: Callable[..., list] = socket.getaddrinfo

    def __call__(self, host: str, port: object, *args: object, **kwargs: object) -> list:
        if host != self.name:
            return self.real(host, port, *args, **kwargs)
        address = self.answers.pop(0) if self.answers else self.rebound
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, int(port)))]


def test_a_webhook_posts_to_the_address_it_checked_not_to_a_later_answer(
    receiver: Receiver, porch: Camera, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked, then resolved again to connect, a name could pass the check with one address
    and be reached at another: the post goes to the checked one, named in Host."""
    port = receiver.server.server_address[1]
    resolver = Resolver("hooks.home.test", ["127.0.0.1", "127.0.0.1"], rebound="127.0.0.2")
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    hook(f"http://hooks.home.test:{port}/hook")  # the admin's check asks once
    alert = queued_alert(porch)
    WebhookLane().step()  # the delivery's check asks once more; connecting must not
    assert Delivery.objects.get().status == "sent", Delivery.objects.get().last_error
    assert posted_ids(receiver) == [str(alert.uuid)]
    assert receiver.requests[0].headers["Host"] == f"hooks.home.test:{port}"
    # the control: a further question gets the rebound address, where nothing answers
    assert resolver(resolver.name, port)[0][4] == ("127.0.0.2", port)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", port), 2).close()


def test_a_name_rebound_to_loopback_after_its_check_is_refused_at_delivery(
    receiver: Receiver, porch: Camera, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check is made again at every delivery, on what the name resolves to then."""
    port = receiver.server.server_address[1]
    resolver = Resolver("hooks.home.test", ["192.168.1.20"], rebound="127.0.0.1")
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    webhook = Webhook(name="home", url=f"http://hooks.home.test:{port}/hook", on_end=False)
    webhook.full_clean()  # a home LAN address: fine
    webhook.save()
    queued_alert(porch)
    WebhookLane().step()
    delivery = Delivery.objects.get()
    assert delivery.status == "failed"
    assert "hooks.home.test: 127.0.0.1 is a loopback address" in delivery.last_error
    assert receiver.requests == []


# -- TLS, with a CA of the test's own --


def write_certificates(directory: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA, and a certificate it signs for `name` (a host name or an IP address): the CA's,
    the certificate's and its key's PEM files."""
    now = dt.datetime.now(dt.UTC)

    def certificate(subject: str, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
        )

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        certificate("test CA", ca_key)
        .issuer_name(ca_name)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    try:
        alternative: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        alternative = x509.DNSName(name)
    server = (
        certificate(name, key)
        .issuer_name(ca_name)
        .add_extension(x509.SubjectAlternativeName([alternative]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def serving_https(receiver: Receiver, certificate: Path, key: Path) -> Receiver:
    """The receiver answers over TLS only, with this certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    return receiver


@pytest.mark.parametrize(
    ("certified", "outcome"),
    [("hooks.home.test", "sent"), ("other.home.test", "not valid for 'hooks.home.test'")],
)
def test_an_https_webhook_at_the_checked_address_verifies_the_urls_host_name(
    receiver: Receiver,
    porch: Camera,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    certified: str,
    outcome: str,
) -> None:
    """Connecting to an IP address must not weaken TLS: the certificate is checked for the
    URL's name, not for the address connected to. ("other.home.test" is the control.)"""
    ca, certificate, key = write_certificates(tmp_path, certified)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the system's CAs, as the lane loads them
    serving_https(receiver, certificate, key)
    port = receiver.server.server_address[1]
    resolver = Resolver("hooks.home.test", ["127.0.0.1", "127.0.0.1"], rebound="127.0.0.2")
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    hook(f"https://hooks.home.test:{port}/hook")
    alert = queued_alert(porch)
    WebhookLane().step()
    delivery = Delivery.objects.get()
    if outcome == "sent":
        assert delivery.status == "sent", delivery.last_error
        assert posted_ids(receiver) == [str(alert.uuid)]
    else:
        assert delivery.status == "pending" and receiver.requests == []
        assert outcome in delivery.last_error


# -- 7. mqtts:// --


@dataclass
class TlsBroker(Broker):
    """The suite's Mosquitto with a second listener that speaks only TLS."""

    tls_port: int = field(default_factory=free_port)

    def start(self) -> TlsBroker:
        self.ca, certificate, key = write_certificates(self.directory / "tls", "127.0.0.1")
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", "log_type error",
                 "log_dest stderr", f"listener {self.tls_port} 127.0.0.1",
                 f"cafile {self.ca}", f"certfile {certificate}", f"keyfile {key}"]  # fmt: skip
        if os.geteuid() == 0:  # as Broker does: Mosquitto would become the mosquitto user
            lines.append("user root")
        config = self.directory / "mosquitto.conf"
        config.write_text("\n".join(lines) + "\n")
        self.process = subprocess.Popen(["mosquitto", "-c", str(config)])
        wait_until(self.listening, 10, "mosquitto to listen")
        return self


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[TlsBroker]:
    if shutil.which("mosquitto") is None:
        pytest.skip("needs the mosquitto package (apt install mosquitto)")
    broker = TlsBroker(tmp_path).start()
    yield broker
    broker.stop()


def test_an_mqtts_url_connects_over_tls(
    tls_broker: TlsBroker, start_notifier: Callable[..., subprocess.Popen], porch: Camera
) -> None:
    """mqtts:// is TLS with the host name checked against the system's CAs (here ours, through
    SSL_CERT_FILE): the notifier knows only the TLS port, which refuses plain MQTT."""
    context = ssl.create_default_context(cafile=str(tls_broker.ca))
    raw = socket.create_connection(("127.0.0.1", tls_broker.tls_port), 5)
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.version()  # the control: that port speaks TLS, with our CA
    listener = Listener(tls_broker, "surveillance/#")  # on the plain port
    start_notifier(
        SURVEILLANCE_MQTT_URL=f"mqtts://127.0.0.1:{tls_broker.tls_port}",
        SSL_CERT_FILE=str(tls_broker.ca),
    )
    wait_until(lambda: listener.last("surveillance/available") == b"online", 15, "online")
    event = start_motion(porch)
    wait_until(lambda: listener.events(), 5, "motion.start over TLS")
    assert listener.events()[0]["id"] == str(event.alerts.get().uuid)
    listener.close()
