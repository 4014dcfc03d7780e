"""Real network cameras on 127.0.0.1, as fixtures: ffmpeg serving MJPEG or MPEG-TS over HTTP,
GStreamer's RTSP server sending H.264. A test module imports the fixtures it uses."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import rtsp_server
from tests.processes import free_port, stop_process
from tests.videos import write_video


def needs_ffmpeg() -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs the ffmpeg package (apt install ffmpeg)")


@pytest.fixture(scope="session")
def long_motion_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 s of H.264, a box crossing at 2-4 s of every 8: a camera's stream that outlasts a test
    (each RTSP client gets the file from its start)."""
    return write_video(tmp_path_factory.mktemp("videos") / "long-motion.mp4", 64, moving=(2, 4),
                       crossings_every=8)  # fmt: skip


@pytest.fixture
def mjpeg_camera(motion_video: Path) -> Iterator[str]:
    """An HTTP MJPEG camera playing the motion video in a loop (one client at a time)."""
    needs_ffmpeg()
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


def serve_rtsp(video: Path, codec: str = "h264") -> tuple[str, subprocess.Popen]:
    """GStreamer's RTSP server sending the video's H.264 (or "h265") as it is in the file."""
    needs_ffmpeg()
    if missing := rtsp_server.packages_missing_here():
        pytest.skip(f"needs Debian packages for the RTSP camera: apt install {missing}")
    port = free_port()
    process = subprocess.Popen(
        rtsp_server.command(video, port, codec), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    assert process.stdout.readline().strip() == b"ready"
    return f"rtsp://127.0.0.1:{port}/cam", process


def serve_mpegts(video: Path) -> tuple[str, subprocess.Popen]:
    """ffmpeg sending the video over HTTP as MPEG-TS in real time, as it is in the file (-c copy),
    to one client."""
    needs_ffmpeg()
    url = f"http://127.0.0.1:{free_port()}/cam.ts"
    process = subprocess.Popen(
        ["ffmpeg", "-loglevel", "error", "-re", "-i", str(video), "-an", "-c:v", "copy", "-f",
         "mpegts", "-listen", "1", url],
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(0.5)  # ffmpeg opens its input before it listens
    return url, process


@pytest.fixture
def rtsp_camera(long_motion_video: Path) -> Iterator[str]:
    """An RTSP camera sending the motion video as H.264, as IP cameras do."""
    url, process = serve_rtsp(long_motion_video)
    yield url
    stop_process(process, timeout=5)


@pytest.fixture
def mpegts_camera(long_motion_video: Path) -> Iterator[str]:
    """An HTTP camera sending MPEG-TS (H.264 as it is in the file: -c copy), as many encoders
    and Frigate's restreams do. ffmpeg serves one client; it ignores SIGTERM while it waits."""
    url, process = serve_mpegts(long_motion_video)
    yield url
    process.kill()
    process.wait()


@pytest.fixture(scope="session")
def motion_video_h265(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 s of H.265 (x265, in PyAV's wheel), a box crossing at 2-4 s of every 8: the stream of
    a camera that sends H.265, long enough for one event with its pre- and post-roll."""
    return write_video(tmp_path_factory.mktemp("videos") / "motion-h265.mp4", 24, moving=(2, 4),
                       crossings_every=8, codec="hevc")  # fmt: skip


@pytest.fixture
def rtsp_camera_h265(motion_video_h265: Path) -> Iterator[str]:
    """An RTSP camera sending H.265."""
    url, process = serve_rtsp(motion_video_h265, "h265")
    yield url
    stop_process(process, timeout=5)


@pytest.fixture
def mpegts_camera_h265(motion_video_h265: Path) -> Iterator[str]:
    """An HTTP camera sending H.265 in MPEG-TS."""
    url, process = serve_mpegts(motion_video_h265)
    yield url
    process.kill()
    process.wait()


@pytest.fixture(scope="session")
def long_motion_video_640(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same scene and crossings as long_motion_video, at 640x480: a camera's main stream."""
    return write_video(tmp_path_factory.mktemp("videos") / "long-motion-640.mp4", 64,
                       moving=(2, 4), size=(640, 480), crossings_every=8)  # fmt: skip


class Served:
    """A camera stream served on 127.0.0.1 that a test may stop, as a camera that dies."""

    def __init__(self, url: str, process: subprocess.Popen) -> None:
        self.url, self.process = url, process

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def main_and_sub(long_motion_video_640: Path, long_motion_video: Path) -> Iterator[tuple]:
    """One scene as two H.264 streams: the main one (640x480) over RTSP from GStreamer, the
    sub-stream (320x240) over HTTP MPEG-TS from ffmpeg."""
    main = Served(*serve_rtsp(long_motion_video_640))
    sub = Served(*serve_mpegts(long_motion_video))
    yield main, sub
    for served in (main, sub):
        if served.process.poll() is None:
            served.stop()
