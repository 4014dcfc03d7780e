"""The notifier process (`manage.py notifier`): turns new alerts into deliveries and runs one
lane per channel. Nothing in the capture path waits for it: workers only write rows.

It learns of new alerts from a wake-up on the channel layer (the worker's group message after
its commit) within milliseconds, and looks at the outbox every POLL seconds besides, so an
alert whose wake-up was lost (Redis away) is late, never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DatabaseError, close_old_connections

from events.models import NOTIFIER_GROUP
from notifications.config import mqtt_server
from notifications.dispatch import dispatch_new
from notifications.lanes import Lane
from notifications.webhooks import WebhookLane

logger = logging.getLogger(__name__)

POLL = 5.0  # seconds between looks at the outbox without a wake-up
REJOIN_EVERY = 60.0  # seconds between joins of the wake-up group (Redis forgets on restart)


def default_lanes() -> list[Lane]:
    from notifications.mail import MailLane
    from notifications.push import PushLane

    lanes: list[Lane] = [WebhookLane(), MailLane(), PushLane()]
    if server := mqtt_server():
        from notifications.mqtt import MqttLane

        lanes.insert(0, MqttLane(server, settings.MQTT_TOPIC, settings.MQTT_DISCOVERY,
                                 settings.MQTT_SNAPSHOTS))  # fmt: skip
    return lanes


class WakeUp:
    """Listens for alert.queued on the channel layer in a thread of its own; sets `event`."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.run, name="wake-up", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def run(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop stopped from stop()
            self.loop.run_until_complete(self.listen())

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)

    async def listen(self) -> None:
        layer = get_channel_layer()
        channel = None
        while True:
            try:
                channel = channel or await layer.new_channel("notifier.")
                await layer.group_add(NOTIFIER_GROUP, channel)
                self.event.set()  # what was queued before we (re)joined is looked for now
                async with asyncio.timeout(REJOIN_EVERY):
                    while True:
                        await layer.receive(channel)
                        self.event.set()
            except TimeoutError:
                continue
            except Exception as exc:  # Redis away: the slow poll carries on meanwhile
                logger.debug("wake-up channel: %r", exc)
                await asyncio.sleep(1)


class Notifier:
    def __init__(self, lanes: list[Lane] | None = None) -> None:
        self.lanes = default_lanes() if lanes is None else lanes
        self.wake = threading.Event()
        self.wake_up = WakeUp(self.wake)
        self.stopping = False

    def run(self) -> None:
        for lane in self.lanes:
            lane.start()
        self.wake_up.start()
        logger.info("notifier running: %s", ", ".join(lane.channel for lane in self.lanes))
        try:
            while not self.stopping:
                self.step()
                self.wake.wait(POLL)
                self.wake.clear()
        finally:
            self.shutdown()

    def stop(self, *_: object) -> None:
        self.stopping = True
        self.wake.set()

    def step(self) -> None:
        try:
            channels = dispatch_new()
        except DatabaseError as exc:
            logger.warning("cannot read the outbox: %s", exc)
            close_old_connections()
            return
        for lane in self.lanes:
            if lane.channel in channels:
                lane.wake.set()

    def shutdown(self) -> None:
        self.wake_up.stop()
        for lane in self.lanes:
            lane.stop()
        for lane in self.lanes:
            lane.thread.join(5)
        logger.info("notifier stopped")
