"""Real parts for the notification tests: Mosquitto, an MQTT listener, an HTTP receiver, the
notifier as a subprocess, and alerts made as the recorder makes them. All on 127.0.0.1."""

from __future__ import annotations

import atexit
import collections
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from django.db import transaction
from django.utils import timezone

from cameras.models import Camera
from capture.bus import Bus
from events.models import MotionEvent
from tests.conftest import ROOT, wait_for_database_sessions_to_close
from tests.processes import free_port, stop_process, wait_until

_bus: list[Bus] = []


def wake(group: str, message: dict) -> None:
    """The worker's own Bus.publish, from a test. One bus (one event loop, one Redis
    connection) for the whole session: a loop per call would leave channels-redis a layer per
    dead loop, which it closes at garbage collection, inside whatever test runs then."""
    if not _bus:
        _bus.append(Bus())
        _bus[0].start()
        atexit.register(_bus[0].stop)
    _bus[0].publish(group, message)


def start_motion(camera: Camera, snapshot: bytes | None = None) -> MotionEvent:
    """An event as the recorder starts one: row, snapshot and alert in one transaction."""
    with transaction.atomic():
        event = MotionEvent.objects.create(camera=camera, started_at=timezone.now(), peak_area=0.1)
        if snapshot is not None:
            event.save_snapshots(snapshot, snapshot)
        event.queue_alert("motion.start", wake)
    return event


def end_motion(event: MotionEvent) -> MotionEvent:
    with transaction.atomic():
        event.finish(timezone.now())
        event.queue_alert("motion.end", wake)
    return event


# -- Mosquitto --


@dataclass
class Broker:
    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Broker:
        config = self.directory / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", "persistence true",
                 f"persistence_location {self.directory}/", "log_type error",
                 "log_dest stderr"]  # fmt: skip
        if os.geteuid() == 0:  # root: Mosquitto would become the mosquitto user otherwise
            lines.append("user root")
        config.write_text("\n".join(lines) + "\n")
        self.process = subprocess.Popen(["mosquitto", "-c", str(config)])
        wait_until(self.listening, 10, "mosquitto to listen")
        return self

    def listening(self) -> bool:
        import socket

        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    if shutil.which("mosquitto") is None:
        pytest.skip("needs the mosquitto package (apt install mosquitto)")
    broker = Broker(tmp_path).start()
    yield broker
    broker.stop()


class Listener:
    """An MQTT client subscribed to `topic` that keeps every message (a QoS 1 session kept by
    the broker across its restarts), and the newest retained payload of each topic."""

    def __init__(self, broker: Broker, topic: str = "#", client_id: str = "test-listener") -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=False)  # fmt: skip
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_message = self.received
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def received(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, msg.payload, msg.retain))

    def on(self, topic: str) -> list[bytes]:
        with self.lock:
            return [payload for t, payload, _ in self.messages if t == topic]

    def events(self, topic: str = "surveillance/events") -> list[dict]:
        return [json.loads(payload) for payload in self.on(topic)]

    def last(self, topic: str) -> bytes | None:
        found = self.on(topic)
        return found[-1] if found else None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def retained(broker: Broker, topic: str, wait: float = 1.0) -> dict[str, bytes]:
    """The retained payloads under `topic`, as a new subscriber gets them."""
    listener = Listener(broker, topic, client_id=f"peek-{time.monotonic_ns()}")
    time.sleep(wait)
    listener.close()
    listener.client.loop_stop()
    with listener.lock:
        return {t: payload for t, payload, was_retained in listener.messages if was_retained}


# -- the notifier --


@pytest.fixture
def start_notifier(
    child_env: dict[str, str], transactional_db: None
) -> Iterator[Callable[..., subprocess.Popen]]:
    """Starts `manage.py notifier` with extra environment; stopped before the flush."""
    processes: list[subprocess.Popen] = []

    def start(**env: str) -> subprocess.Popen:
        full = {**child_env, "PGAPPNAME": "test-notifier", "SURVEILLANCE_NOTIFY_RETRY_FIRST": "0.3",
                **env}  # fmt: skip
        process = subprocess.Popen([sys.executable, "manage.py", "notifier"], cwd=ROOT, env=full)
        processes.append(process)
        time.sleep(0.5)  # its wake-up channel joins the group
        return process

    yield start
    for process in processes:
        stop_process(process)
    if processes:
        wait_for_database_sessions_to_close("test-notifier")


# -- an HTTP receiver (webhooks, push services) --


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A real HTTP server on 127.0.0.1 that keeps each POST and answers as told: `answers` is
    consumed one per request (status, delay in seconds); once empty, 200 at once."""

    def __init__(self, handle: Callable[[Request], int] | None = None) -> None:
        """`handle`, if given, checks each request and gives the status to answer."""
        self.requests: list[Request] = []
        self.answers: collections.deque[tuple[int, float]] = collections.deque()
        self.handle = handle
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                request = Request(self.path, dict(self.headers.items()), self.rfile.read(length))
                receiver.requests.append(request)
                status, delay = receiver.answers.popleft() if receiver.answers else (200, 0)
                if receiver.handle is not None and status < 300:
                    status = receiver.handle(request)
                time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()
