"""A network camera that dies and comes back, seen on the dashboard in Chromium: a real HTTP
MJPEG camera (ffmpeg on 127.0.0.1) is stopped, then started again on the same address."""

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
from tests.conftest import logged_in_page
from tests.processes import free_port, stop_process

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class FlakyCamera:
    """ffmpeg serving the motion video as MJPEG over HTTP; stop() and start() at will."""

    def __init__(self, video: Path) -> None:
        self.video, self.port = video, free_port()
        self.url = f"http://127.0.0.1:{self.port}/cam.mjpg"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["ffmpeg", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(self.video),
             "-an", "-c:v", "mjpeg", "-q:v", "5", "-f", "mpjpeg", "-listen", "1", self.url],
            stdin=subprocess.DEVNULL,
        )  # fmt: skip

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=5)


@pytest.fixture
def flaky_camera(motion_video: Path) -> Iterator[FlakyCamera]:
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs the ffmpeg package (apt install ffmpeg)")
    camera = FlakyCamera(motion_video)
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
