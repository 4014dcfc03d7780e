"""Camera source strings: what is accepted, what is refused with a clear message, what is hidden."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from cameras.sources import (
    EndOfStream,
    SourceError,
    open_source,
    parse_source,
    redact,
    take_password,
    with_password,
)
from cameras.sources.demo import DemoSource
from cameras.sources.demux import FileSource
from tests.videos import write_vfr_video, write_video


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("demo", ("demo", "default")),
        ("demo:porch", ("demo", "porch")),
        (
            "rtsp://user:pw@192.0.2.7:554/stream1",
            ("network", "rtsp://user:pw@192.0.2.7:554/stream1"),
        ),
        ("rtsps://cam.local/live", ("network", "rtsps://cam.local/live")),
        ("http://127.0.0.1:8081/cam.mjpg", ("network", "http://127.0.0.1:8081/cam.mjpg")),
        ("https://cam.local/video", ("network", "https://cam.local/video")),
        ("/dev/video2", ("usb", "2")),
        ("usb:0", ("usb", "0")),
        ("picamera2:0", ("picamera2", "0")),
        ("file:/srv/clips/yard.mp4", ("file", "/srv/clips/yard.mp4")),
        ("/srv/clips/yard.mp4", ("file", "/srv/clips/yard.mp4")),
        ("clips/yard.mp4", ("file", os.path.abspath("clips/yard.mp4"))),
    ],
)
def test_source_strings_of_every_kind_are_understood(text: str, expected: tuple) -> None:
    assert parse_source(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("rtsp://", "needs a host"),
        ("usb:x", "usb:N"),
        ("picamera2:front", "picamera2:N"),
        ("/dev/sda", "/dev/videoN"),
        ("-i /etc/passwd", "not allowed"),
        ("rtsp://cam/x; rm -rf /", "not allowed"),
        ("rtsp://cam/$(reboot)", "not allowed"),
        ("rtsp://cam/`id`", "not allowed"),
        ("http://cam/a|b", "not allowed"),
        ("ftp://cam/x", "ftp: is an FFmpeg protocol, not a camera source"),
        ("data:text/plain,hello", "data: is an FFmpeg protocol, not a camera source"),
        ("subfile:/etc/passwd", "subfile: is an FFmpeg protocol, not a camera source"),
        ("concat:/a.mp4|/b.mp4", "not allowed"),
        ("pipe:0", "pipe: is an FFmpeg protocol"),
        ("gopher://x/", "gopher: is an FFmpeg protocol"),
        ("cam:1.mp4", "unknown camera source type 'cam'"),
        ("demo:../../x", "demo:NAME"),
        ("file:", "needs a path"),
        ("file:-report", "not allowed"),
        ("--help", "not allowed"),
        ("rtsp://-evil/x", "host name is not valid"),
        ("rtsp://cam:-1/x", "malformed"),
        ("rtsp://cam:99999/x", "malformed"),
        ("file:/tmp/a\x00b", "not allowed"),
    ],
)
def test_bad_source_strings_are_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(SourceError, match=message.replace("$", r"\$").replace("(", r"\(")):
        parse_source(text)


def test_password_in_a_source_url_is_hidden() -> None:
    assert redact("rtsp://admin:hunter2@10.0.0.5:554/s1") == "rtsp://admin:***@10.0.0.5:554/s1"
    assert redact("http://10.0.0.5/cam.mjpg") == "http://10.0.0.5/cam.mjpg"
    assert redact("demo") == "demo"
    assert redact("rtsp://admin:pw@[fe80::1]:554/s") == "rtsp://admin:***@[fe80::1]:554/s"
    assert redact("rtsp://admin:pw@[2001:db8::7]/s") == "rtsp://admin:***@[2001:db8::7]/s"
    assert redact("http://10.0.0.5/videostream.cgi?user=admin&pwd=hunter2") == (
        "http://10.0.0.5/videostream.cgi?***"
    )


@pytest.mark.parametrize(
    "url",
    [
        "rtsp://admin:hunter2@10.0.0.5:554/s1",
        "rtsp://admin:p%40ss%3Aw%2Fd@[2001:db8::7]/s",  # @ : / in the password
        "http://cam:a!b$c&d@10.0.0.5/video.mjpg?res=1",  # what may stand as typed
        "rtsp://:only-a-password@10.0.0.5/s",
    ],
)
def test_a_password_taken_out_of_a_url_goes_back_as_it_was(url: str) -> None:
    bare, password = take_password(url)
    assert password and password not in bare
    assert with_password(bare, password) == url


def test_only_network_urls_have_a_password_to_take() -> None:
    for source in ("demo", "/videos/a:b@c.mp4", "usb:0", "rtsp://10.0.0.5/s"):
        assert take_password(source) == (source, None)
    assert with_password("demo", "pw") == "demo"


def test_open_source_picks_the_backend_without_opening_it() -> None:
    assert isinstance(open_source("demo:x"), DemoSource)
    assert isinstance(open_source("/nonexistent.mp4"), FileSource)


def test_missing_file_fails_to_open_with_its_path(tmp_path: Path) -> None:
    source = open_source(str(tmp_path / "missing.mp4"))
    with pytest.raises(SourceError, match="video file not found"):
        source.open()


def test_file_played_without_looping_ends_and_with_looping_goes_on(tmp_path: Path) -> None:
    video = write_video(tmp_path / "short.mp4", 1)
    once = FileSource(str(video), realtime=False, loop=False)
    once.open()
    frames = 0
    with pytest.raises(EndOfStream):
        while True:
            once.read()
            frames += 1
    assert frames == 15
    looping = FileSource(str(video), realtime=False)
    looping.open()
    times = [looping.read().captured_at for _ in range(40)]
    assert times == sorted(times) and times[-1] - times[0] == pytest.approx(39 / 15)


def test_a_file_camera_plays_a_variable_frame_rate_file_on_its_own_clock(tmp_path: Path) -> None:
    times = [0.0, 0.6, 0.7, 0.8, 1.5, 1.6]  # a phone that drops frames when it is dark
    video = write_vfr_video(tmp_path / "vfr.mp4", times)
    live = FileSource(str(video))  # in real time, looping, as a camera
    live.open()
    shown = [live.read().captured_at for _ in range(len(times) + 1)]
    live.close()
    gaps = [after - before for before, after in itertools.pairwise(shown)]
    # the file's own gaps, then the loop's restart one frame length after the last frame
    expected = [after - before for before, after in itertools.pairwise(times)] + [0.1]
    assert gaps == pytest.approx(expected, abs=0.06)


def test_demo_scene_has_someone_crossing() -> None:
    demo = DemoSource("yard", realtime=False, first_after=1.0)
    demo.open()
    frames = [demo.read().image for _ in range(15 * 6)]
    quiet, crossing = frames[5], frames[15 * 3]
    assert frames[0].shape == (480, 640, 3)
    assert (abs(crossing.astype(int) - quiet.astype(int)) > 40).sum() > 2000


def test_video_frames_are_converted_only_when_used_and_detection_reads_the_luma_plane(
    tmp_path: Path,
) -> None:
    source = FileSource(str(write_video(tmp_path / "clip.mp4", 1, moving=(0, 1))), realtime=False)
    source.open()
    try:
        first, second = source.read(), source.read()
        assert first._image is None and second._image is None  # decoded, not converted
        grey = first.detection_image(160)
        assert grey.shape == (240, 320) and first._image is None  # the decoder's own Y plane
        assert first.image.shape == (240, 320, 3)  # still there after the next read
        colour_grey = cv2.cvtColor(first.image, cv2.COLOR_BGR2GRAY)
        assert np.corrcoef(colour_grey.ravel(), grey.ravel())[0, 1] > 0.99  # the same picture
        assert (first.image != second.image).any()
        assert first.packets and first.packets[0].is_keyframe  # the file's own H.264
    finally:
        source.close()


def test_a_kept_frame_keeps_its_own_picture_after_the_next_reads(tmp_path: Path) -> None:
    """What the recorder relies on to hold an event's busiest frame without copying it."""
    video = write_video(tmp_path / "clip.mp4", 1, moving=(0, 1))
    source = FileSource(str(video), realtime=False)
    source.open()
    try:
        kept = source.read().keep()
        picture = kept.image.copy()
        later = [source.read().image for _ in range(5)]
        assert (kept.image == picture).all()
        assert all((image != picture).any() for image in later)  # the box moved on
    finally:
        source.close()


def test_live_video_is_decoded_on_one_thread_and_analysis_on_all(tmp_path: Path) -> None:
    """One FFmpeg thread keeps up with a live camera for less CPU; `analyze` wants speed."""
    video = str(write_video(tmp_path / "clip.mp4", 1))
    live, analysis = FileSource(video), FileSource(video, realtime=False)
    live.open(), analysis.open()
    try:
        assert live.stream.codec_context.thread_count == 1
        assert analysis.stream.codec_context.thread_count != 1 or os.cpu_count() == 1
    finally:
        live.close(), analysis.close()
