"""Real network cameras on 127.0.0.1: ffmpeg serving MJPEG over HTTP, GStreamer serving RTSP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cameras.models import Camera
from capture.bus import Bus
from capture.worker import CaptureWorker
from events.models import MotionEvent
from tests.cameras import long_motion_video, mjpeg_camera, mpegts_camera, rtsp_camera  # noqa: F401
from tests.processes import free_port, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bus(redis_server: str) -> Iterator[Bus]:
    bus = Bus()
    bus.start()
    yield bus
    bus.stop()


@pytest.mark.parametrize("served", ["mjpeg_camera", "rtsp_camera", "mpegts_camera"])
def test_worker_detects_motion_from_a_network_camera(
    served: str, bus: Bus, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(served)
    camera = Camera.objects.create(slug="yard", name="Yard", source=url, end_after=1)
    worker = CaptureWorker(camera, bus)

    def event_finished() -> bool:
        worker.step()
        return MotionEvent.objects.filter(camera=camera, ended_at__isnull=False).exists()

    try:
        wait_until(event_finished, 40, f"a finished motion event from {url}")
        assert camera.status == Camera.Status.ONLINE
        assert worker.rate.fps() == pytest.approx(15, rel=0.3)
    finally:
        worker.shutdown()
    event = MotionEvent.objects.get(camera=camera)
    assert event.snapshot and event.snapshot_clean


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
