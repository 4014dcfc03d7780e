"""A camera with a sub-stream: detection, snapshots and tiles on the small one, recordings and
the full-size view copied from the main one, and each going on when the other dies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import cv2
import pytest

from cameras.models import Camera
from capture.bus import Bus
from capture.worker import CaptureWorker
from events.models import MotionEvent
from recordings.models import Recording
from tests.cameras import (  # noqa: F401
    long_motion_video,
    long_motion_video_640,
    main_and_sub,
)
from tests.processes import wait_until
from tests.videos import packet_hashes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def gate(main_and_sub: tuple, redis_server: str) -> Camera:
    main, sub = main_and_sub
    return Camera.objects.create(
        slug="gate", name="Gate", source=main.url, detect_source=sub.url, end_after=1,
        pre_roll=1, post_roll=1,
    )  # fmt: skip


class Running:
    """A worker stepped in this thread, its main stream on its own."""

    def __init__(self, camera: Camera) -> None:
        self.bus = Bus()
        self.bus.start()
        self.worker = CaptureWorker(camera, self.bus)
        self.worker.main.start()

    def until(self, check: Callable[[], object], seconds: float, what: str) -> object:
        def stepped() -> object:
            self.worker.step()
            return check()

        return wait_until(stepped, seconds, what)

    def stop(self) -> None:
        self.worker.shutdown()
        self.bus.stop()


@pytest.fixture
def running(gate: Camera) -> Running:
    running = Running(gate)
    yield running
    running.stop()


def finished_clip_since(after: dt.datetime) -> MotionEvent | None:
    event = MotionEvent.objects.filter(started_at__gt=after, clip__isnull=False).first()
    if event is None or Recording.objects.get(pk=event.clip_id).ended_at is None:
        return None
    return event


def media(name: str) -> Path:
    from django.conf import settings

    return Path(settings.MEDIA_ROOT) / name


def test_detection_and_snapshots_use_the_sub_stream_and_the_clip_is_the_main_streams_own(
    running: Running, gate: Camera, long_motion_video_640: Path
) -> None:
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    event = running.until(lambda: finished_clip_since(after), 40, "a finished clip")
    snapshot = cv2.imread(str(media(event.snapshot_clean.name)))
    assert snapshot.shape[:2] == (240, 320)  # the sub-stream's picture
    clip = media(Recording.objects.get(pk=event.clip_id).file.name)
    source, copied = packet_hashes(long_motion_video_640), packet_hashes(clip)
    start = source.index(copied[0])
    assert copied == source[start : start + len(copied)]  # the main stream's own H.264
    gate.refresh_from_db()
    assert set(gate.streams) == {"main", "sub"}
    assert gate.streams["main"] != gate.streams["sub"]  # 640x480 and 320x240: other levels


def test_a_dead_sub_stream_falls_back_to_detecting_on_the_main_stream(
    running: Running, gate: Camera, main_and_sub: tuple
) -> None:
    running.until(lambda: gate.status == Camera.Status.ONLINE, 20, "the camera online")
    _, sub = main_and_sub
    sub.stop()
    running.until(lambda: "detecting on the main stream" in gate.status_detail, 20,
                  "the fallback said in the camera's health")  # fmt: skip
    assert gate.status == Camera.Status.ONLINE
    after = dt.datetime.now(dt.UTC)
    event = running.until(
        lambda: MotionEvent.objects.filter(started_at__gt=after, ended_at__isnull=False).first(),
        30, "motion detected on the main stream",
    )  # fmt: skip
    assert cv2.imread(str(media(event.snapshot_clean.name))).shape[:2] == (480, 640)


def test_a_dead_main_stream_stops_recording_but_not_detection_or_snapshots(
    running: Running, gate: Camera, main_and_sub: tuple
) -> None:
    running.until(lambda: gate.status == Camera.Status.ONLINE, 20, "the camera online")
    main, _ = main_and_sub
    main.stop()
    running.until(lambda: "main stream offline" in gate.recording, 20,
                  "the recorder saying the main stream is gone")  # fmt: skip
    after = dt.datetime.now(dt.UTC)
    event = running.until(
        lambda: MotionEvent.objects.filter(started_at__gt=after, ended_at__isnull=False).first(),
        30, "motion detected on the sub-stream",
    )  # fmt: skip
    assert event.snapshot_clean and event.clip is None
    assert gate.status == Camera.Status.ONLINE
