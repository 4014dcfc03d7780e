"""The picamera2 backend against a fake Pi camera with picamera2's real interface."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cameras.motion.detector import MotionDetector
from cameras.sources import SourceError, open_source

FAKES = str(Path(__file__).parent / "fakes")


@pytest.fixture
def fake_pi(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(FAKES)
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)


def test_pi_camera_gives_bgr_frames_and_its_own_luma_for_detection(fake_pi: None) -> None:
    source = open_source("picamera2:0")
    source.open()
    frame = source.read()
    assert frame.image.shape == (720, 1280, 3)
    assert frame.grey.shape == (180, 320)
    assert frame.detection_image() is frame.grey
    detector = MotionDetector()
    detections = [detector.detect(source.read().detection_image()) for _ in range(30)]
    assert any(d.moving for d in detections)
    assert source.camera.frames_delivered == 31  # one sensor frame per read, not two


def test_main_and_lores_images_are_of_the_same_moment(fake_pi: None) -> None:
    source = open_source("picamera2:0")
    source.open()
    for _ in range(5):
        frame = source.read()
        bright_main = (frame.image[0, :, 0] > 128).argmax() / frame.image.shape[1]
        bright_lores = (frame.grey[0] > 128).argmax() / frame.grey.shape[1]
        assert abs(bright_main - bright_lores) < 0.02
    source.close()
    source.close()
    assert source.camera is None


def test_missing_pi_camera_is_a_clear_source_error(fake_pi: None) -> None:
    with pytest.raises(SourceError, match="cannot open Pi camera 3"):
        open_source("picamera2:3").open()


def test_without_picamera2_installed_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import fails, as off a Pi
    with pytest.raises(SourceError, match="apt install python3-picamera2"):
        open_source("picamera2:0").open()
