"""A network camera that dies and comes back, seen on the dashboard in Chromium: a real HTTP
MJPEG camera (ffmpeg) or RTSP camera (GStreamer) on 127.0.0.1 is stopped, then started again
on the same address."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from cameras.models import Camera
from tests import rtsp_server
from tests.conftest import logged_in_page
from tests.processes import free_port, stop_process

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class FlakyCamera:
    """A network camera on 127.0.0.1 that the test stops and starts again at the same address:
    ffmpeg serving MJPEG over HTTP, or GStreamer's RTSP server sending H.264."""

    def __init__(self, kind: str, video: Path) -> None:
        self.kind, self.video, self.port = kind, video, free_port()
        if kind == "http":
            self.url = f"http://127.0.0.1:{self.port}/cam.mjpg"
        else:
            self.url = f"rtsp://127.0.0.1:{self.port}/cam"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        if self.kind == "http":
            self.process = subprocess.Popen(
                ["ffmpeg", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i",
                 str(self.video), "-an", "-c:v", "mjpeg", "-q:v", "5", "-f", "mpjpeg",
                 "-listen", "1", self.url],
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
            return
        self.process = subprocess.Popen(
            rtsp_server.command(self.video, self.port),
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert self.process.stdout.readline().strip() == b"ready"

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=5)


@pytest.fixture(params=["http", "rtsp"])
def flaky_camera(
    request: pytest.FixtureRequest, motion_video: Path, tmp_path: Path
) -> Iterator[FlakyCamera]:
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs the ffmpeg package (apt install ffmpeg)")
    video = motion_video
    if request.param == "rtsp":
        if missing := rtsp_server.packages_missing_here():
            pytest.skip(f"needs Debian packages for the RTSP camera: apt install {missing}")
        video = tmp_path / "motion-h264.mp4"  # each client gets it from the start: 64 s
        subprocess.run(
            ["ffmpeg", "-v", "error", "-stream_loop", "7", "-i", str(motion_video), "-c:v",
             "libx264", "-preset", "veryfast", "-g", "15", "-pix_fmt", "yuv420p", str(video)],
            check=True,
        )  # fmt: skip
    camera = FlakyCamera(request.param, video)
    camera.start()
    yield camera
    camera.stop()


@pytest.fixture
def porch(flaky_camera: FlakyCamera) -> Camera:
    return Camera.objects.create(slug="porch", name="Porch", source=flaky_camera.url)


def test_a_camera_that_dies_shows_offline_and_is_live_again_within_10_s_of_its_return(
    live_server_url: str, owner: object, flaky_camera: FlakyCamera, porch: Camera,
    start_worker: Callable, browser: Browser,
) -> None:  # fmt: skip
    start_worker("porch")
    page = logged_in_page(browser, live_server_url, "owner")
    badge = page.locator("[data-camera='porch'] [data-status]")
    expect(badge).to_have_text(re.compile(r"^live"), timeout=20_000)

    flaky_camera.stop()
    expect(badge).to_have_text(re.compile(r"^offline since"), timeout=15_000)
    time.sleep(20)  # down long enough for the worker's retries to back off to their longest

    flaky_camera.start()
    back = time.monotonic()
    expect(badge).to_have_text(re.compile(r"^live"), timeout=15_000)
    assert time.monotonic() - back <= 10.0, "the worker took too long to find the camera back"
    page.close()
