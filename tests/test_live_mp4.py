"""The camera's own H.264 live, as fragmented MP4: /cameras/<slug>/live.mp4 read by real clients
(httpx, ffprobe) from the real web server, and played by Chromium through Media Source
Extensions on the camera page and the dashboard."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from accounts.models import ApiToken
from cameras.models import Camera
from tests.cameras import mjpeg_camera, needs_ffmpeg  # noqa: F401
from tests.conftest import logged_in_page, outside_the_browser_loop, session_cookie
from tests.processes import wait_until
from tests.videos import frames_in, packet_hashes

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def read_live(url: str, cookie: bytes, seconds: float, out: Path) -> httpx.Response:
    """Read live.mp4 for a while, as a player would, into a file."""
    deadline = time.monotonic() + seconds
    with (
        httpx.stream("GET", url, headers={"Cookie": cookie.decode()}, timeout=10) as response,
        out.open("wb") as file,
    ):
        if response.status_code == 200:
            for chunk in response.iter_bytes():
                file.write(chunk)
                if time.monotonic() > deadline:
                    break
        return response


def online_with_mp4(camera: Camera) -> bool:
    camera.refresh_from_db()
    return camera.status == Camera.Status.ONLINE and bool(camera.live_mime())


def test_live_mp4_is_the_cameras_own_h264_from_a_keyframe(
    live_server_url: str, front_door: Camera, owner: object, start_worker: Callable,
    motion_video: Path, tmp_path: Path,
) -> None:  # fmt: skip
    needs_ffmpeg()
    start_worker("front-door")
    wait_until(lambda: online_with_mp4(front_door), 20, "the worker to describe its stream")
    assert front_door.live_mime() == 'video/mp4; codecs="avc1.64000C"'
    _, cookie = session_cookie(owner)
    response = read_live(
        f"{live_server_url}/cameras/front-door/live.mp4", cookie, 4, tmp_path / "l.mp4"
    )
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    probed = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height",
         "-of", "csv=p=0", str(tmp_path / "l.mp4")], capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert probed.stdout.strip() == "h264,320,240"
    live = packet_hashes(tmp_path / "l.mp4")
    assert len(live) >= 30 and frames_in(tmp_path / "l.mp4") >= 30  # plays from its first frame
    source = packet_hashes(motion_video)
    start = source.index(live[0])
    assert start % 15 == 0  # the file's keyframes are one a second: it began at one
    assert live[:15] == source[start : start + 15]  # the camera's packets, not re-encoded


def test_live_mp4_needs_the_camera_and_a_camera_that_sends_h264(
    live_server_url: str, front_door: Camera, owner: object, member: object,
    start_worker: Callable,
) -> None:  # fmt: skip
    start_worker("front-door")
    wait_until(lambda: online_with_mp4(front_door), 20, "the worker to describe its stream")
    url = f"{live_server_url}/cameras/front-door/live.mp4"
    _, theirs = session_cookie(member)
    assert httpx.get(url, headers={"Cookie": theirs.decode()}).status_code == 403
    assert httpx.get(url).status_code == 401  # an anonymous player is asked for a token
    _, cookie = session_cookie(owner)
    assert httpx.get(f"{url}?stream=other", headers={"Cookie": cookie.decode()}).status_code == 400
    Camera.objects.filter(pk=front_door.pk).update(streams={})  # as an MJPEG camera's
    assert httpx.get(url, headers={"Cookie": cookie.decode()}).status_code == 404


DECODED = "v => v.getVideoPlaybackQuality().totalVideoFrames"


def test_chromium_plays_the_cameras_h264_on_its_page_and_in_its_dashboard_tile(
    live_server_url: str, front_door: Camera, owner: object, start_worker: Callable,
    browser: object,
) -> None:  # fmt: skip
    start_worker("front-door")
    outside_the_browser_loop(
        lambda: wait_until(lambda: online_with_mp4(front_door), 20, "the worker online")
    )
    page = logged_in_page(browser, live_server_url, "owner")
    page.goto("/cameras/front-door/", wait_until="domcontentloaded")
    full = page.locator("video[data-live-full]")
    expect(full).to_be_visible(timeout=10_000)
    page.wait_for_function(f"v => ({DECODED})(v) > 15", arg=full.element_handle(), timeout=20_000)
    before = full.evaluate("v => v.currentTime")
    page.wait_for_timeout(1500)
    assert full.evaluate("v => v.currentTime") > before + 0.5  # it plays, live
    assert page.locator("img[data-live-mjpeg]").is_hidden()

    page.goto("/")
    tile = page.locator("[data-camera='front-door'] video[data-live-video]")
    expect(tile).to_be_visible(timeout=20_000)
    page.wait_for_function(f"v => ({DECODED})(v) > 15", arg=tile.element_handle(), timeout=20_000)
    page.close()


def test_an_mjpeg_camera_falls_back_to_mjpeg_in_chromium(
    live_server_url: str, mjpeg_camera: str, owner: object, start_worker: Callable,
    browser: object,
) -> None:  # fmt: skip
    porch = outside_the_browser_loop(
        lambda: Camera.objects.create(slug="porch", name="Porch", source=mjpeg_camera)
    )
    start_worker("porch")

    def online() -> bool:
        return Camera.objects.get(pk=porch.pk).status == Camera.Status.ONLINE

    outside_the_browser_loop(lambda: wait_until(online, 20, "the worker online"))
    page = logged_in_page(browser, live_server_url, "owner")
    page.goto("/cameras/porch/", wait_until="domcontentloaded")
    img = page.locator("img[data-live-mjpeg]")
    expect(img).to_have_attribute("src", re.compile("/cameras/porch/stream.mjpg$"), timeout=10_000)
    page.wait_for_function("i => i.naturalWidth > 0", arg=img.element_handle(), timeout=20_000)
    assert page.locator("video[data-live-full]").is_hidden()
    page.close()


def test_ffprobe_reads_live_mp4_with_a_token_as_home_assistant_would(
    live_server_url: str, front_door: Camera, owner: object, start_worker: Callable
) -> None:
    needs_ffmpeg()
    start_worker("front-door")
    wait_until(lambda: online_with_mp4(front_door), 20, "the worker to describe its stream")
    _, token = ApiToken.issue(owner, "ffprobe")
    host = live_server_url.removeprefix("http://")
    probed = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of",
         "csv=p=0", f"http://owner:{token}@{host}/cameras/front-door/live.mp4?stream=sub"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert probed.stdout.strip() == "h264,320,240", probed.stderr
