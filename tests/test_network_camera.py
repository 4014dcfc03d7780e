"""A real network camera: ffmpeg serving MJPEG over HTTP on 127.0.0.1."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cameras.bus import Bus
from cameras.models import Camera
from cameras.worker import CaptureWorker
from events.models import MotionEvent
from tests.conftest import free_port, stop_process, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def mjpeg_camera(motion_video: Path) -> Iterator[str]:
    """An HTTP MJPEG camera playing the motion video in a loop (one client at a time)."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs the ffmpeg package (apt install ffmpeg)")
    port = free_port()
    url = f"http://127.0.0.1:{port}/cam.mjpg"
    process = subprocess.Popen(
        ["ffmpeg", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(motion_video),
         "-an", "-c:v", "mjpeg", "-q:v", "5", "-f", "mpjpeg", "-listen", "1", url],
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(0.5)  # ffmpeg opens its input before it listens
    yield url
    stop_process(process, timeout=5)


@pytest.fixture
def bus(redis_server: str) -> Iterator[Bus]:
    bus = Bus()
    bus.start()
    yield bus
    bus.stop()


def test_worker_detects_motion_from_an_http_mjpeg_camera(mjpeg_camera: str, bus: Bus) -> None:
    camera = Camera.objects.create(slug="porch", name="Porch", source=mjpeg_camera, end_after=1)
    worker = CaptureWorker(camera, bus)

    def event_finished() -> bool:
        worker.step()
        return MotionEvent.objects.filter(camera=camera, ended_at__isnull=False).exists()

    try:
        wait_until(event_finished, 40, "a finished motion event from the HTTP camera")
    finally:
        worker.shutdown()
    assert worker.rate.fps() == pytest.approx(15, rel=0.3)


def test_dead_camera_is_offline_with_a_reason_that_hides_its_password(bus: Bus) -> None:
    url = f"http://viewer:s3cret@127.0.0.1:{free_port()}/cam.mjpg"  # nothing listens there
    camera = Camera.objects.create(slug="dead", name="Dead", source=url)
    worker = CaptureWorker(camera, bus)
    worker.connect()
    camera.refresh_from_db()
    assert camera.status == Camera.Status.OFFLINE
    assert "cannot open http://viewer:***@127.0.0.1" in camera.status_detail
    assert "s3cret" not in camera.status_detail
    assert worker.source is None and worker.backoff.delay == 1.0
