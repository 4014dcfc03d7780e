"""MJPEG over HTTP read by our own parser, from a real HTTP server on 127.0.0.1: the shapes of
stream real cameras send, credentials, stalls, and JPEGs kept exactly as the camera sent them."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from cameras.jpeg import jpeg_size
from cameras.models import Camera
from cameras.sources import SourceError
from cameras.sources.network import NetworkSource
from capture.bus import Bus
from capture.worker import CaptureWorker
from tests.conftest import collect, subscribe

Writer = Callable[[BaseHTTPRequestHandler, list[bytes]], None]


def jpeg_of(shade: int, size: tuple[int, int] = (640, 480)) -> bytes:
    image = np.full((size[1], size[0], 3), shade, np.uint8)
    cv2.rectangle(image, (50, 50), (150, 120), (255, 255, 255), -1)
    return cv2.imencode(".jpg", image)[1].tobytes()


def start_multipart(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
    handler.end_headers()


def part(jpeg: bytes) -> bytes:
    return b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n" % (
        len(jpeg), jpeg,
    )  # fmt: skip


def with_length(handler: BaseHTTPRequestHandler, jpegs: list[bytes]) -> None:
    """Like most cameras (and ffmpeg): a multipart header and a Content-Length per part."""
    start_multipart(handler)
    for jpeg in jpegs:
        handler.wfile.write(part(jpeg))


def without_length(handler: BaseHTTPRequestHandler, jpegs: list[bytes]) -> None:
    """Like cheaper cameras: octet-stream, a boundary with extra dashes, no lengths."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/octet-stream")
    handler.end_headers()
    for jpeg in jpegs:
        handler.wfile.write(b"\r\n----myboundary\r\nContent-Type: image/jpeg\r\n\r\n" + jpeg)


def not_a_jpeg(handler: BaseHTTPRequestHandler, jpegs: list[bytes]) -> None:
    with_length(handler, [b"hello"])


def stalls(handler: BaseHTTPRequestHandler, jpegs: list[bytes]) -> None:
    with_length(handler, jpegs[:1])
    handler.wfile.flush()
    time.sleep(3)  # then nothing: a camera that hangs


@pytest.fixture
def camera_server() -> Iterator[Callable[..., str]]:
    """Starts an HTTP camera on 127.0.0.1 that writes `jpegs` with `writer`; returns its URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(writer: Writer, jpegs: list[bytes], password: str | None = None) -> str:
        class Camera(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                expected = "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()
                if password and self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="camera"')
                    self.end_headers()
                    return
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    writer(self, jpegs)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Camera)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        auth = f"admin:{password}@" if password else ""
        return f"http://{auth}127.0.0.1:{server.server_port}/video"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def read_all(url: str, count: int) -> list:
    source = NetworkSource(url)
    source.open()
    try:
        return [source.read() for _ in range(count)]
    finally:
        source.close()


@pytest.mark.parametrize("writer", [with_length, without_length])
def test_camera_jpegs_arrive_byte_for_byte_without_being_decoded(
    camera_server: Callable[..., str], writer: Writer
) -> None:
    jpegs = [jpeg_of(shade) for shade in (40, 90, 140)]
    frames = read_all(camera_server(writer, jpegs), 3)
    assert [frame.jpeg for frame in frames] == jpegs
    assert all(frame.width == 640 for frame in frames)
    assert all(frame._image is None for frame in frames)  # nobody needed the picture yet
    assert frames[1].image.shape == (480, 640, 3)


def test_detection_decodes_straight_to_reduced_grey_at_least_the_detection_width(
    camera_server: Callable[..., str],
) -> None:
    (frame,) = read_all(camera_server(with_length, [jpeg_of(90, (1920, 1080))]), 1)
    assert frame.detection_image(320).shape == (270, 480)  # 1/4 scale: the smallest >= 320
    assert frame.detection_image(640).shape == (540, 960)
    assert frame.detection_image(1920).shape == (1080, 1920)
    assert frame._image is None  # no full-colour decode for any of that


def test_camera_behind_basic_auth_is_read_and_its_password_never_shown(
    camera_server: Callable[..., str],
) -> None:
    url = camera_server(with_length, [jpeg_of(60)], password="s3cret")
    (frame,) = read_all(url, 1)
    assert frame.jpeg == jpeg_of(60)
    wrong = url.replace("s3cret", "wrong")
    with pytest.raises(SourceError, match="HTTP 401") as refused:
        read_all(wrong, 1)
    assert "wrong" not in str(refused.value) and "***" in str(refused.value)


def test_part_that_is_not_a_jpeg_is_a_clear_error(camera_server: Callable[..., str]) -> None:
    with pytest.raises(SourceError, match="not a JPEG"):
        read_all(camera_server(not_a_jpeg, []), 1)


def test_camera_that_stops_sending_times_out_instead_of_hanging(
    camera_server: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(NetworkSource, "timeout", 0.5)
    source = NetworkSource(camera_server(stalls, [jpeg_of(30)]))
    source.open()
    try:
        assert source.read().jpeg == jpeg_of(30)
        started = time.monotonic()
        with pytest.raises(SourceError, match="no frame from"):
            source.read()
        assert time.monotonic() - started < 2.5
    finally:
        source.close()


def test_camera_that_closes_the_stream_is_a_clear_error(camera_server: Callable[..., str]) -> None:
    source = NetworkSource(camera_server(with_length, [jpeg_of(30)]))
    source.open()
    try:
        source.read()
        with pytest.raises(SourceError, match="closed the stream"):
            source.read()
    finally:
        source.close()


def test_jpeg_size_is_read_from_the_header() -> None:
    assert jpeg_size(jpeg_of(10, (320, 240))) == (320, 240)
    assert jpeg_size(b"\xff\xd8 not really") is None


@pytest.mark.django_db(transaction=True)
def test_full_size_viewers_get_the_cameras_own_jpeg_untouched(
    camera_server: Callable[..., str], redis_server: str
) -> None:
    jpegs = [jpeg_of(shade) for shade in range(20, 200, 10)]
    url = camera_server(with_length, jpegs)
    camera = Camera.objects.create(slug="porch", name="Porch", source=url)
    bus = Bus()
    bus.start()
    worker = CaptureWorker(camera, bus)
    channel = asyncio.run(subscribe(camera.frames_group(0)))
    bus.demand[0] = time.monotonic() + 60  # a full-size viewer
    try:
        worker.connect()
        for _ in jpegs:
            worker.step()
    finally:
        worker.shutdown()
        bus.stop()
    received = [message["jpeg"] for message in asyncio.run(collect(channel, 0.5))]
    assert received == jpegs


def paced(handler: BaseHTTPRequestHandler, jpegs: list[bytes], hole_after: int = -1) -> None:
    """15 fps like a camera; with `hole_after`, a one-second hole after that frame."""
    start_multipart(handler)
    for index, jpeg in enumerate(jpegs):
        handler.wfile.write(part(jpeg))
        handler.wfile.flush()
        time.sleep(1.0 if index == hole_after else 1 / 15)


def paced_with_a_pause(handler: BaseHTTPRequestHandler, jpegs: list[bytes]) -> None:
    """A hole after the 40th frame (Wi-Fi trouble), when the rate is known."""
    paced(handler, jpegs, hole_after=39)


@pytest.mark.django_db(transaction=True)
def test_worker_reports_last_frame_time_dropped_frames_and_reconnects(
    camera_server: Callable[..., str], redis_server: str
) -> None:
    jpegs = [jpeg_of(shade) for shade in range(10, 250, 4)]  # 60 frames
    url = camera_server(paced_with_a_pause, jpegs)
    camera = Camera.objects.create(slug="porch", name="Porch", source=url)
    bus = Bus()
    bus.start()
    worker = CaptureWorker(camera, bus)
    statuses = asyncio.run(subscribe(camera.group_name))
    try:
        worker.connect()
        while worker.source is not None:  # until the camera closes the stream
            worker.step()
        worker.next_status = worker.next_save = 0  # report now, not in two seconds
        worker.report_status()
    finally:
        bus.stop()
    message = [m for m in asyncio.run(collect(statuses, 0.5)) if m.get("last_frame_at")][-1]
    assert message["reconnects"] == 1
    assert 10 <= message["dropped_frames"] <= 18  # one second missing at ~15 fps
    camera.refresh_from_db()
    assert camera.reconnects == 1 and camera.dropped_frames == message["dropped_frames"]
    assert camera.last_frame_at.timestamp() == pytest.approx(worker.last_frame_at, abs=0.001)
    assert camera.last_frame_at.isoformat() == message["last_frame_at"]


def worker_through(camera: Camera, frames: int) -> CaptureWorker:
    """A worker that connects to the camera, takes `frames` frames without ever losing the
    connection, and stops."""
    bus = Bus()
    bus.start()
    worker = CaptureWorker(camera, bus)
    try:
        worker.connect()
        for _ in range(frames):
            worker.step()
            assert worker.source is not None
    finally:
        worker.shutdown()
        bus.stop()
    return worker


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("bad", ["damaged", "empty"])
def test_a_damaged_or_empty_jpeg_is_skipped_and_counted_without_dropping_the_camera(
    camera_server: Callable[..., str], redis_server: str, bad: str
) -> None:
    jpegs = [jpeg_of(shade) for shade in range(20, 100, 10)]
    jpegs[4] = b"\xff\xd8" + b"\x00 damaged on the way " * 50 if bad == "damaged" else b""
    url = camera_server(paced, jpegs)
    camera = Camera.objects.create(slug="porch", name="Porch", source=url, detection_fps=30)
    worker = worker_through(camera, len(jpegs))  # every frame analysed at 30 fps detection
    assert camera.dropped_frames == 1 and camera.reconnects == 0
    assert worker.detector.frames_seen == len(jpegs) - 2  # the first sets the background


@pytest.mark.django_db(transaction=True)
def test_a_camera_that_changes_resolution_mid_stream_goes_on(
    camera_server: Callable[..., str], redis_server: str
) -> None:
    jpegs = [jpeg_of(shade) for shade in range(20, 80, 10)]
    jpegs += [jpeg_of(shade, (320, 240)) for shade in range(80, 140, 10)]
    jpegs += [jpeg_of(shade, (1280, 720)) for shade in range(140, 200, 10)]
    url = camera_server(paced, jpegs)
    camera = Camera.objects.create(slug="porch", name="Porch", source=url, detection_fps=30)
    worker = worker_through(camera, len(jpegs))
    # A new detection-image size starts a new background (640x480 and 320x240 both shrink to
    # 160x120, 1280x720 to 160x90): the last size's 6 frames, less the first, analysed.
    assert worker.detector.frames_seen == 5
    assert worker.detector.background.shape == (90, 160)  # 1280x720 at the detection width
    assert camera.reconnects == 0


@pytest.mark.django_db(transaction=True)
def test_a_camera_sending_only_garbage_parts_is_reconnected_with_the_reason(
    camera_server: Callable[..., str], redis_server: str
) -> None:
    url = camera_server(paced, [b"\x00 garbage \x00"] * 40)
    camera = Camera.objects.create(slug="porch", name="Porch", source=url)
    bus = Bus()
    bus.start()
    worker = CaptureWorker(camera, bus)
    try:
        worker.connect()
        while worker.source is not None:
            worker.step()
    finally:
        bus.stop()
    assert camera.dropped_frames == 30  # skipped one by one, then given up on
    camera.refresh_from_db()
    assert camera.status == Camera.Status.OFFLINE and "not a JPEG" in camera.status_detail
