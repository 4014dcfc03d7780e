"""Real network cameras on 127.0.0.1: ffmpeg serving MJPEG over HTTP, GStreamer serving RTSP."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cameras.models import Camera
from capture.bus import Bus
from capture.worker import CaptureWorker
from events.models import MotionEvent
from tests import rtsp_server
from tests.processes import free_port, stop_process, wait_until

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
def rtsp_camera(motion_video: Path, tmp_path: Path) -> Iterator[str]:
    """An RTSP camera sending the motion video (three times: 24 s) as H.264, as IP cameras do."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs the ffmpeg package (apt install ffmpeg)")
    if missing := rtsp_server.packages_missing_here():
        pytest.skip(f"needs Debian packages for the RTSP camera: apt install {missing}")
    h264 = tmp_path / "motion-h264.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-stream_loop", "2", "-i", str(motion_video), "-c:v",
         "libx264", "-preset", "veryfast", "-g", "15", "-pix_fmt", "yuv420p", str(h264)],
        check=True,
    )  # fmt: skip
    port = free_port()
    process = subprocess.Popen(
        rtsp_server.command(h264, port), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    assert process.stdout.readline().strip() == b"ready"
    yield f"rtsp://127.0.0.1:{port}/cam"
    stop_process(process, timeout=5)


@pytest.fixture
def bus(redis_server: str) -> Iterator[Bus]:
    bus = Bus()
    bus.start()
    yield bus
    bus.stop()


@pytest.mark.parametrize("served", ["mjpeg_camera", "rtsp_camera"])
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
