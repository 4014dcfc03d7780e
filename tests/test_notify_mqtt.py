"""MQTT end to end: the notifier subprocess, a real Mosquitto, and a real MQTT client listening.

Alerts are made in this process as the recorder makes them (row and alert in one transaction,
a wake-up after the commit); the notifier delivers them from the outbox."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cameras.models import Camera
from events.models import MotionEvent
from notifications.config import ConfigError, mqtt_server
from notifications.models import Delivery
from tests import notify_parts
from tests.conftest import ROOT
from tests.notify_parts import Broker, Listener, end_motion, retained, start_motion
from tests.processes import wait_until

broker, start_notifier = notify_parts.broker, notify_parts.start_notifier  # fixtures

pytestmark = pytest.mark.e2e
JPEG = b"\xff\xd8\xff\xe0 a snapshot \xff\xd9"


@pytest.fixture
def porch(transactional_db: None) -> Camera:
    return Camera.objects.create(slug="porch", name="Porch", source="demo")


def test_motion_reaches_the_events_topic_and_the_motion_state(
    broker: Broker, start_notifier: object, porch: Camera
) -> None:
    listener = Listener(broker, "surveillance/#")
    start_notifier(
        SURVEILLANCE_MQTT_URL=broker.url, SURVEILLANCE_PUBLIC_URL="https://cams.example.org"
    )
    wait_until(lambda: listener.last("surveillance/available") == b"online", 10, "online")
    event = start_motion(porch, JPEG)
    wait_until(lambda: listener.events(), 5, "motion.start on surveillance/events")
    message = listener.events()[0]
    assert message["type"] == "motion.start"
    assert message["event"] == MotionEvent.objects.get(pk=event.pk).to_dict()
    assert message["id"] == str(event.alerts.get().uuid)
    assert message["links"]["url"] == f"https://cams.example.org/events/{event.pk}/"
    wait_until(lambda: listener.last("surveillance/porch/motion") == b"ON", 5, "motion ON")
    wait_until(lambda: listener.last("surveillance/porch/snapshot") == JPEG, 5, "the snapshot")
    end_motion(event)
    wait_until(lambda: len(listener.events()) == 2, 5, "motion.end")
    assert listener.events()[1]["type"] == "motion.end"
    wait_until(lambda: listener.last("surveillance/porch/motion") == b"OFF", 5, "motion OFF")
    status = json.loads(listener.last("surveillance/porch/status"))
    assert status["type"] == "camera.status" and status["camera"] == "porch"
    wait_until(lambda: Delivery.objects.filter(status="sent").count() == 2, 5, "rows marked sent")
    listener.close()


def test_a_broker_outage_loses_nothing_and_state_topics_hold_the_state_of_now(
    broker: Broker, start_notifier: object, porch: Camera
) -> None:
    listener = Listener(broker, "surveillance/events")
    start_notifier(SURVEILLANCE_MQTT_URL=broker.url)
    wait_until(lambda: retained(broker, "surveillance/available", 0.3), 10, "the notifier")
    broker.stop()
    made = []
    for _ in range(10):  # ten events while the broker is away; the last still going on
        event = start_motion(porch)
        made.append((str(event.alerts.get().uuid), "motion.start"))
        if len(made) < 19:
            end_motion(event)
            made.append((str(event.alerts.get(kind="motion.end").uuid), "motion.end"))
    broker.start()
    wait_until(lambda: len({m["id"] for m in listener.events()}) == len(made), 20, "the replay")
    first_seen = list(dict.fromkeys((m["id"], m["type"]) for m in listener.events()))
    assert first_seen == made  # all, in order; a repeat only of an id already seen
    state = retained(broker, "surveillance/porch/+")
    assert state["surveillance/porch/motion"] == b"ON"  # now, not the replay's last OFF
    listener.close()


def test_home_assistant_discovery_groups_each_camera_and_goes_with_it(
    broker: Broker, start_notifier: object, porch: Camera
) -> None:
    start_notifier(SURVEILLANCE_MQTT_URL=broker.url)
    topics = {f"homeassistant/{c}/surveillance/porch/config" for c in
              ("binary_sensor", "camera", "switch")}  # fmt: skip
    wait_until(lambda: topics <= set(retained(broker, "homeassistant/#", 0.3)), 10, "configs")
    configs = {t: json.loads(p) for t, p in retained(broker, "homeassistant/#").items()}
    motion = configs["homeassistant/binary_sensor/surveillance/porch/config"]
    assert motion["device_class"] == "motion"
    assert motion["state_topic"] == "surveillance/porch/motion"
    switch = configs["homeassistant/switch/surveillance/porch/config"]
    assert switch["command_topic"] == "surveillance/porch/notify/set"
    assert configs["homeassistant/camera/surveillance/porch/config"]["topic"] == (
        "surveillance/porch/snapshot"
    )
    assert len({json.dumps(c["device"]) for c in configs.values()}) == 1  # one device
    porch.delete()
    wait_until(lambda: not retained(broker, "homeassistant/#", 0.3), 10, "the configs removed")


def test_home_assistant_can_disarm_a_camera_and_the_notify_topic_follows(
    broker: Broker, start_notifier: object, porch: Camera
) -> None:
    start_notifier(SURVEILLANCE_MQTT_URL=broker.url)
    wait_until(
        lambda: retained(broker, "surveillance/porch/notify", 0.3).get("surveillance/porch/notify")
        == b"ON", 10, "notify ON",
    )  # fmt: skip
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "surveillance/porch/notify/set",
                    "-m", "OFF"], check=True)  # fmt: skip
    wait_until(lambda: not Camera.objects.get(pk=porch.pk).armed, 5, "the camera disarmed")
    wait_until(
        lambda: retained(broker, "surveillance/porch/notify", 0.3).get("surveillance/porch/notify")
        == b"OFF", 5, "notify OFF",
    )  # fmt: skip


def test_discovery_is_sent_again_when_home_assistant_comes_online(
    broker: Broker, start_notifier: object, porch: Camera
) -> None:
    start_notifier(SURVEILLANCE_MQTT_URL=broker.url)
    config = "homeassistant/switch/surveillance/porch/config"
    wait_until(lambda: config in retained(broker, "homeassistant/#", 0.3), 10, "configs")
    listener = Listener(broker, config, client_id="ha-watch")
    wait_until(lambda: listener.on(config), 5, "the retained config")
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "homeassistant/status",
                    "-m", "online"], check=True)  # fmt: skip
    wait_until(lambda: len(listener.on(config)) >= 2, 5, "the config published again")
    listener.close()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://broker:1883", "must start with mqtt:// or mqtts://"),
        ("mqtt://:1883", "has no host"),
        ("mqtt://broker:99999", "port must be a number"),
        ("mqtt://broker:port", "port must be a number"),
    ],
)
def test_a_wrong_mqtt_url_is_refused_with_the_reason(url: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        mqtt_server(url)


def test_a_wrong_mqtt_url_stops_start_up_with_a_system_check(child_env: dict[str, str]) -> None:
    env = {**child_env, "SURVEILLANCE_MQTT_URL": "http://broker"}
    done = subprocess.run([sys.executable, "manage.py", "notifier"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert done.returncode != 0
    assert "surveillance.E010" in done.stderr
    assert "SURVEILLANCE_MQTT_URL must start with mqtt:// or mqtts://" in done.stderr
