"""MQTT: alerts to `<prefix>/events`, the house's state on retained topics, Home Assistant
discovery, and the notify switch settable from Home Assistant.

The events topic replays: its deliveries are rows, handed to paho once each while connected;
paho resends what it holds across a reconnect, and a row is marked sent when the broker has
acknowledged it (QoS 1). State topics never replay: they are published from the database as it
is now, whenever it differs from what this connection last published (after a reconnect, all of
it), so after an outage they hold the state of now, and only `events` carries the history.
"""

from __future__ import annotations

import collections
import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from django.conf import settings
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from cameras.models import Camera
from events.models import MotionEvent
from notifications.config import Server, absolute_links
from notifications.lanes import Lane
from notifications.models import Delivery

logger = logging.getLogger(__name__)

STATE_EVERY = 2.0  # seconds between looks at the cameras' state


Payload = Callable[[], str | bytes]


def read_file(name: str) -> bytes:
    try:
        with MotionEvent.snapshot.field.storage.open(name, "rb") as f:
            return f.read()
    except OSError:
        return b""


@dataclass
class Topics:
    prefix: str
    discovery: str = ""

    @property
    def available(self) -> str:
        return f"{self.prefix}/available"

    @property
    def events(self) -> str:
        return f"{self.prefix}/events"

    @property
    def node(self) -> str:
        """Our node id under the discovery prefix: configs of ours, and only ours, are there."""
        return self.prefix.replace("/", "_")

    def camera(self, slug: str, what: str) -> str:
        return f"{self.prefix}/{slug}/{what}"

    def config(self, component: str, slug: str) -> str:
        return f"{self.discovery}/{component}/{self.node}/{slug}/config"


@dataclass
class Published:
    """What this connection last published of each camera's state."""

    cameras: dict[str, dict] = field(default_factory=dict)  # slug -> {topic: payload}


def discovery_configs(topics: Topics, camera: Camera, snapshots: bool) -> dict[str, dict]:
    """Home Assistant's config per component of one camera, grouped as one device."""
    slug, node = camera.slug, topics.node
    device = {"identifiers": [f"{node}_{slug}"], "name": camera.name,
              "manufacturer": "Surveillance", "model": "camera"}  # fmt: skip
    common = {"device": device, "availability_topic": topics.available}
    configs = {
        "binary_sensor": {
            **common, "name": "Motion", "unique_id": f"{node}_{slug}_motion",
            "state_topic": topics.camera(slug, "motion"), "device_class": "motion",
            "payload_on": "ON", "payload_off": "OFF",
        },
        "switch": {
            **common, "name": "Notify", "unique_id": f"{node}_{slug}_notify", "icon": "mdi:bell",
            "state_topic": topics.camera(slug, "notify"),
            "command_topic": topics.camera(slug, "notify/set"),
            "payload_on": "ON", "payload_off": "OFF",
        },
    }  # fmt: skip
    if snapshots:
        configs["camera"] = {
            **common, "name": "Last motion", "unique_id": f"{node}_{slug}_snapshot",
            "topic": topics.camera(slug, "snapshot"),
        }  # fmt: skip
    return configs


class MqttLane(Lane):
    channel = Delivery.Channel.MQTT
    poll = STATE_EVERY

    def __init__(
        self, server: Server, prefix: str, discovery: str = "", snapshots: bool = True
    ) -> None:
        super().__init__()
        self.server, self.snapshots = server, snapshots
        self.topics = Topics(prefix, discovery)
        self.connected = threading.Event()
        self.fresh = False  # a new connection: publish the whole state again
        self.inbox: queue.SimpleQueue[mqtt.MQTTMessage] = queue.SimpleQueue()
        self.acks: collections.deque[int] = collections.deque()  # mids, from paho's thread
        self.handed: dict[int, int] = {}  # mid -> delivery id, held by paho until acked
        self.published = Published()
        self.client = self.make_client()

    def make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"{self.topics.node}-notifier",
            protocol=mqtt.MQTTv311, clean_session=True,
        )  # fmt: skip
        if self.server.username:
            client.username_pw_set(self.server.username, self.server.password or None)
        if self.server.tls:
            client.tls_set()  # the system's CAs; the host name is checked
        client.will_set(self.topics.available, "offline", qos=1, retain=True)
        client.reconnect_delay_set(1, 5)  # a broker back after an outage is found within 5 s
        client.max_inflight_messages_set(100)
        client.on_connect, client.on_disconnect = self.on_connect, self.on_disconnect
        client.on_message, client.on_publish = self.on_message, self.on_publish
        return client

    def start(self) -> None:
        server, keepalive = self.server, settings.MQTT_KEEPALIVE
        self.client.connect_async(server.host, server.port, keepalive=keepalive)
        self.client.loop_start()
        super().start()

    # -- paho's thread: only hand over, never touch the database --

    def on_connect(self, client: mqtt.Client, userdata: object, flags: object,
                   reason: mqtt.ReasonCode, properties: object) -> None:  # fmt: skip
        if reason.is_failure:
            logger.error("MQTT broker %s refused us: %s", self.server, reason)
            return
        logger.info("MQTT connected to %s", self.server)
        subscriptions = [(self.topics.camera("+", "notify/set"), 1)]
        if self.topics.discovery:
            ours = f"{self.topics.discovery}/+/{self.topics.node}/+/config"
            subscriptions += [(f"{self.topics.discovery}/status", 1), (ours, 1)]
        client.subscribe(subscriptions)
        self.fresh = True
        self.connected.set()
        self.wake.set()

    def on_disconnect(self, client: mqtt.Client, userdata: object, flags: object,
                      reason: mqtt.ReasonCode, properties: object) -> None:  # fmt: skip
        if self.connected.is_set():
            logger.warning("MQTT broker %s gone (%s); reconnecting", self.server, reason)
        self.connected.clear()

    def on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        self.inbox.put(message)
        self.wake.set()

    def on_publish(self, client: mqtt.Client, userdata: object, mid: int,
                   reason: mqtt.ReasonCode, properties: object) -> None:  # fmt: skip
        self.acks.append(mid)
        self.wake.set()

    # -- the lane's thread --

    def step(self) -> None:
        self.record_acks()
        if not self.connected.is_set():
            return
        if self.fresh:
            self.fresh = False
            self.published = Published()
            self.publish(self.topics.available, "online")
        while not self.inbox.empty():
            self.handle(self.inbox.get())
        self.publish_state()
        self.publish_events()

    def until_next(self) -> float:
        return self.poll  # state is looked at every few seconds anyway

    def publish(self, topic: str, payload: str | bytes, retain: bool = True) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain)

    def record_acks(self) -> None:
        done = []
        while self.acks:
            if (delivery := self.handed.pop(self.acks.popleft(), None)) is not None:
                done.append(delivery)
        if done:
            Delivery.objects.filter(pk__in=done).update(
                status=Delivery.Status.SENT, sent_at=timezone.now(), tries=F("tries") + 1,
                last_error="",
            )  # fmt: skip

    def publish_events(self) -> None:
        """Hand paho the due rows it does not hold yet, in order."""
        held = set(self.handed.values())
        for delivery in Delivery.objects.due(self.channel).select_related("alert")[:1000]:
            if delivery.pk in held or not self.connected.is_set():
                continue
            alert = delivery.alert
            payload = {"id": str(alert.uuid), **alert.message,
                       "links": absolute_links(alert.message["event"])}  # fmt: skip
            info = self.client.publish(self.topics.events, json.dumps(payload), qos=1)
            if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                return
            self.handed[info.mid] = delivery.pk

    def handle(self, message: mqtt.MQTTMessage) -> None:
        topic, payload = message.topic, message.payload.decode(errors="replace").strip()
        if topic.endswith("/notify/set") and not message.retain:
            slug = topic.removeprefix(self.topics.prefix + "/").removesuffix("/notify/set")
            camera = Camera.objects.filter(slug=slug).first()
            if camera is None or payload.upper() not in {"ON", "OFF"}:
                logger.warning("MQTT: ignored %r on %s", payload[:20], topic)
                return
            camera.set_armed(payload.upper() == "ON")
            logger.info("camera %s %s over MQTT", slug, "armed" if camera.armed else "disarmed")
        elif topic == f"{self.topics.discovery}/status" and payload == "online":
            self.published = Published()  # Home Assistant restarted: tell it all again
        elif topic.endswith("/config") and payload:
            self.forget_if_deleted(topic.split("/")[-2])

    def forget_if_deleted(self, slug: str) -> None:
        """A config of ours for a camera that no longer exists (deleted while we were away)."""
        if slug not in self.published.cameras and not Camera.objects.filter(slug=slug).exists():
            self.remove_camera(slug)

    def publish_state(self) -> None:
        snapshots = MotionEvent.objects.filter(camera=OuterRef("pk")).exclude(snapshot="")
        latest = Subquery(snapshots.order_by("-started_at").values("snapshot")[:1])
        # one query for every camera and its newest snapshot: this runs every STATE_EVERY
        cameras = {c.slug: c for c in Camera.objects.annotate(latest_snapshot=latest)}
        moving = set(MotionEvent.objects.ongoing().values_list("camera__slug", flat=True))
        for slug in set(self.published.cameras) - set(cameras):
            self.remove_camera(slug)
        for slug, camera in cameras.items():
            last = self.published.cameras.setdefault(slug, {})
            if not last and self.topics.discovery:
                configs = discovery_configs(self.topics, camera, self.snapshots)
                for component, config in configs.items():
                    self.publish(self.topics.config(component, slug), json.dumps(config))
            for topic, (key, payload) in self.state_of(camera, slug in moving).items():
                if last.get(topic) != key:
                    self.publish(topic, payload())
                    last[topic] = key

    def state_of(self, camera: Camera, moving: bool) -> dict[str, tuple[object, Payload]]:
        """Topic -> (what tells a change, what to publish): a payload is made only if new."""
        slug, status = camera.slug, camera.status_message()
        motion, armed = ("ON" if moving else "OFF"), ("ON" if camera.armed else "OFF")
        state: dict[str, tuple[object, Payload]] = {
            self.topics.camera(slug, "motion"): (motion, lambda: motion),
            self.topics.camera(slug, "notify"): (armed, lambda: armed),
            # fps and the last frame's time change every second: the status topic follows the
            # status and its reason, and carries the rest as it is then
            self.topics.camera(slug, "status"): (
                (status["status"], status["detail"]),
                lambda: json.dumps(status),
            ),
        }
        if self.snapshots and (latest := camera.latest_snapshot):
            state[self.topics.camera(slug, "snapshot")] = (latest, lambda: read_file(latest))
        return state

    def remove_camera(self, slug: str) -> None:
        """Its discovery configs and retained state go: Home Assistant drops the device."""
        self.published.cameras.pop(slug, None)
        if self.topics.discovery:
            for component in ("binary_sensor", "switch", "camera"):
                self.publish(self.topics.config(component, slug), b"")
        for what in ("motion", "status", "notify", "snapshot"):
            self.publish(self.topics.camera(slug, what), b"")
        logger.info("MQTT: camera %s removed", slug)

    def close(self) -> None:
        if self.connected.is_set():
            info = self.client.publish(self.topics.available, "offline", qos=1, retain=True)
            info.wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()
