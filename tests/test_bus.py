"""The worker's bus on a Redis the test pauses (SIGSTOP): frames may be dropped, alerts and
status never; they wait and go out in order once Redis keeps up again."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from channels_redis.core import RedisChannelLayer

from cameras.models import Camera
from cameras.sources import EndOfStream
from cameras.sources.demux import FileSource
from capture.bus import MAX_FRAMES, SEND_TIMEOUT, Bus
from capture.worker import CaptureWorker
from events.models import MotionEvent
from tests.conftest import start_redis
from tests.processes import stop_process


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[object, RedisChannelLayer]]:
    """A Redis of this test's own (pausing the suite's would stall the rest), and a layer on it."""
    sock = str(tmp_path / "redis.sock")
    process = start_redis(sock, str(tmp_path))
    yield process, RedisChannelLayer(hosts=[f"unix://{sock}"])
    os.kill(process.pid, signal.SIGCONT)
    stop_process(process)


@contextmanager
def paused(process: object) -> Iterator[None]:
    os.kill(process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)


def listen(layer: RedisChannelLayer, group: str) -> str:
    async def join() -> str:
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        return channel

    return asyncio.run(join())


def received(layer: RedisChannelLayer, channel: str, seconds: float) -> list[dict]:
    async def drain() -> list[dict]:
        messages = []
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    messages.append(await layer.receive(channel))
        return messages

    return asyncio.run(drain())


def once_each(messages: list[dict]) -> list[tuple]:
    """The messages in order, with a repeat of the one before dropped: a send cut short by its
    timeout may still reach Redis, and is then tried again (pages keep the ids they have)."""
    keys = [(m["type"], m.get("event", {}).get("id"), m.get("n")) for m in messages]
    return [key for key, _ in itertools.groupby(keys)]


def test_alerts_and_status_wait_for_a_paused_redis_while_frames_are_dropped(
    private_redis: tuple,
) -> None:
    process, layer = private_redis
    alerts = listen(layer, "camera.yard")
    bus = Bus(layer=layer)
    bus.start()
    try:
        with paused(process):
            taken = [
                bus.publish("camera.yard", {"type": "motion.start", "event": {"id": 1}}),
                *(
                    bus.publish("frames.yard.0", {"type": "frame", "jpeg": b"x" * 1000, "t": i})
                    for i in range(MAX_FRAMES * 3)
                ),
                bus.publish("camera.yard", {"type": "camera.status", "camera": "yard", "n": 1}),
                bus.publish("camera.yard", {"type": "camera.status", "camera": "yard", "n": 2}),
                bus.publish("camera.yard", {"type": "motion.end", "event": {"id": 1}}),
                bus.publish("camera.yard", {"type": "motion.start", "event": {"id": 2}}),
            ]
            asyncio.run(asyncio.sleep(SEND_TIMEOUT + 1))  # the first send has timed out
        messages = received(layer, alerts, SEND_TIMEOUT * 3)
    finally:
        bus.stop()
    assert taken.count(False) >= MAX_FRAMES  # frames beyond the backlog were dropped
    assert taken[0] and taken[-4:] == [True] * 4  # every other message was taken
    assert once_each(messages) == [
        ("motion.start", 1, None),
        ("camera.status", None, 2),  # only the newest status: it is state, not history
        ("motion.end", 1, None),
        ("motion.start", 2, None),
    ]


def test_a_bus_stopping_while_redis_is_slow_still_sends_its_last_alerts(
    private_redis: tuple,
) -> None:
    """A worker told to stop closes its event: that motion.end goes out even when Redis answers
    late (3 s) and a backlog of frames is waiting."""
    process, layer = private_redis
    alerts = listen(layer, "camera.yard")
    bus = Bus(layer=layer)
    bus.start()
    os.kill(process.pid, signal.SIGSTOP)
    for i in range(MAX_FRAMES):
        bus.publish("frames.yard.0", {"type": "frame", "jpeg": b"x" * 1000, "t": i})
    bus.publish("camera.yard", {"type": "motion.end", "event": {"id": 1}})
    threading.Timer(3.0, os.kill, (process.pid, signal.SIGCONT)).start()  # back in 3 s
    bus.stop()
    assert once_each(received(layer, alerts, 1.0)) == [("motion.end", 1, None)]


def test_a_motion_start_during_a_redis_pause_reaches_the_dashboards_afterwards(
    private_redis: tuple, front_door: Camera, transactional_db: None
) -> None:
    process, layer = private_redis
    alerts = listen(layer, front_door.group_name)
    bus = Bus(layer=layer)
    bus.start()
    worker = CaptureWorker(
        front_door, bus, source_factory=lambda s, **_: FileSource(s, realtime=False, loop=False)
    )
    try:
        with paused(process):
            worker.connect()
            with pytest.raises(EndOfStream):  # the whole file, its event included
                while True:
                    worker.process(worker.source.read())
            worker.shutdown()
        messages = received(layer, alerts, SEND_TIMEOUT * 3)
    finally:
        bus.stop()
    event = MotionEvent.objects.get()
    motion = [(t, i) for t, i, _ in once_each(messages) if t.startswith("motion.")]
    assert motion == [("motion.start", event.pk), ("motion.end", event.pk)]
