"""Real network cameras on 127.0.0.1: ffmpeg serving MJPEG over HTTP, GStreamer serving RTSP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cameras.models import Camera
from cameras.sources import mjpeg
from capture.bus import Bus
from capture.worker import CaptureWorker
from events.models import MotionEvent
from tests.cameras import long_motion_video, mjpeg_camera, mpegts_camera, rtsp_camera, serve_mpegts  # noqa: F401
from tests.processes import free_port, wait_until
from tests.videos import write_vfr_video, write_video

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


def dropped_after(camera: Camera, bus: Bus, seconds: float) -> int:
    worker = CaptureWorker(camera, bus)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            worker.step()
        assert camera.status == Camera.Status.ONLINE
        assert worker.rate.fps() == pytest.approx(15, rel=0.3)
    finally:
        worker.shutdown()
    return camera.dropped_frames


def test_a_stream_that_arrives_in_bursts_has_dropped_no_frames(bus: Bus, tmp_path: Path) -> None:
    """Counted on the camera's own timestamps, not on arrival: the health page's "dropped"
    must not blame a camera whose frames all came, in lumps."""
    # ffmpeg flushes about a second at a time: the frames arrive in bursts, whatever their times
    url, camera_process = serve_mpegts(write_video(tmp_path / "even.mp4", 10))
    try:
        camera = Camera.objects.create(slug="lumpy", name="Lumpy", source=url)
        assert dropped_after(camera, bus, 7) == 0
    finally:
        camera_process.kill()
        camera_process.wait()


def test_frames_missing_from_the_cameras_own_timeline_are_counted_as_dropped(
    bus: Bus, tmp_path: Path
) -> None:
    """A second of frames that never came (3-4 s of the stream): 14 frames at 15 fps."""
    times = [i / 15 for i in range(150) if not 45 <= i < 60]
    url, camera_process = serve_mpegts(write_vfr_video(tmp_path / "holed.mp4", times))
    try:
        camera = Camera.objects.create(slug="holed", name="Holed", source=url)
        assert 12 <= dropped_after(camera, bus, 7) <= 16
    finally:
        camera_process.kill()
        camera_process.wait()


class Trickle(BaseHTTPRequestHandler):
    """A camera that has sent 1000 bytes of its stream so far, and more a while later."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "video/mp2t")
        self.end_headers()
        self.wfile.write(b"\x47" * 1000)
        self.wfile.flush()
        time.sleep(3)

    def log_message(self, *_: object) -> None:
        pass


def test_an_http_stream_reaches_ffmpeg_as_it_arrives_not_a_buffer_at_a_time() -> None:
    """FFmpeg asks for 32 KB at a time; a 640x360 sub-stream sends that in about a second.
    Waiting for a full buffer held every frame of an HTTP MPEG-TS camera back that long."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True  # the handler still sleeping is not waited for
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        response = mjpeg.connect(f"http://127.0.0.1:{server.server_port}/cam.ts", 10)
        stream = mjpeg.Replay(b"", response)
        started = time.monotonic()
        assert stream.readinto(memoryview(bytearray(32768))) == 1000
        assert time.monotonic() - started < 2  # the rest comes 3 s later
        stream.close()
    finally:
        server.shutdown()
        server.server_close()
