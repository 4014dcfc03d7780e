"""The detector on synthetic frames: what is motion and what is not."""

from __future__ import annotations

import cv2
import numpy as np

from cameras.motion.detector import MotionDetector
from cameras.motion.settings import DetectorSettings
from tests.videos import scene

RNG = np.random.default_rng(3)


def noisy(image: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    noise = RNG.normal(0, sigma, image.shape)
    return np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def warmed_up(detector: MotionDetector, background: np.ndarray, frames: int = 20) -> None:
    for _ in range(frames):
        assert not detector.detect(noisy(background)).moving


def with_box(background: np.ndarray, x: int, y: int, w: int, h: int) -> np.ndarray:
    image = background.copy()
    cv2.rectangle(image, (x, y), (x + w, y + h), (15, 15, 15), -1)
    return image


def test_object_entering_is_reported_where_it_is() -> None:
    background = scene()
    detector = MotionDetector()
    warmed_up(detector, background)
    detection = detector.detect(noisy(with_box(background, 160, 80, 40, 60)))
    assert len(detection.boxes) == 1
    x, y, w, h = detection.boxes[0]
    assert abs(x - 160 / 320) < 0.03 and abs(y - 80 / 240) < 0.03
    assert abs(w - 40 / 320) < 0.04 and abs(h - 60 / 240) < 0.04


def test_large_object_close_to_the_camera_is_motion_not_a_light_switch() -> None:
    background = scene()
    detector = MotionDetector()
    warmed_up(detector, background)
    close = with_box(background, 100, 20, 120, 200)  # a person right in front: 31 % of the frame
    assert detector.detect(noisy(close)).moving
    assert detector.detect(noisy(with_box(background, 110, 20, 120, 200))).moving


def test_every_moving_region_is_reported_not_one_union_box() -> None:
    background = scene()
    detector = MotionDetector()
    warmed_up(detector, background)
    image = with_box(with_box(background, 20, 20, 30, 40), 240, 150, 30, 40)
    assert len(detector.detect(noisy(image)).boxes) == 2


def test_sensor_noise_is_not_motion() -> None:
    background = scene()
    detector = MotionDetector()
    warmed_up(detector, background)
    assert not any(detector.detect(noisy(background, sigma=4)).moving for _ in range(50))


def test_region_smaller_than_minimum_area_is_ignored() -> None:
    background = scene()
    detector = MotionDetector(DetectorSettings(min_area=0.01))
    warmed_up(detector, background)
    assert not detector.detect(noisy(with_box(background, 100, 100, 6, 6))).moving


def test_light_switch_is_not_motion() -> None:
    background = scene()
    detector = MotionDetector()
    warmed_up(detector, background)
    brighter = cv2.convertScaleAbs(background, alpha=1.6, beta=40)
    assert not detector.detect(noisy(brighter)).moving
    assert not any(detector.detect(noisy(brighter)).moving for _ in range(20))


def test_masked_area_is_ignored() -> None:
    background = scene()
    left_half = [[[0, 0], [0.5, 0], [0.5, 1], [0, 1]]]
    detector = MotionDetector(DetectorSettings(mask=left_half))
    warmed_up(detector, background)
    assert not detector.detect(noisy(with_box(background, 40, 80, 40, 60))).moving
    assert detector.detect(noisy(with_box(background, 220, 80, 40, 60))).moving


def test_lasting_change_is_absorbed_into_the_background_within_seconds() -> None:
    background = scene()
    detector = MotionDetector(DetectorSettings(fps=5, absorb_seconds=4))
    warmed_up(detector, background)
    parked = with_box(background, 160, 80, 40, 60)
    moving = [detector.detect(noisy(parked)).moving for _ in range(5 * 6)]  # 6 s at 5 fps
    assert all(moving[:15])  # reported while it is new
    assert not any(moving[-5:])  # and part of the scene a few seconds after it stopped
    assert detector.detect(noisy(with_box(parked, 40, 40, 40, 60))).moving  # still watching


def test_object_moving_steadily_is_never_absorbed() -> None:
    background = scene()
    detector = MotionDetector(DetectorSettings(fps=5, absorb_seconds=2))
    warmed_up(detector, background)
    positions = range(0, 280, 4)  # a slow walk across the frame, 14 s at 5 fps
    assert all(detector.detect(noisy(with_box(background, x, 80, 30, 60))).moving
               for x in positions)  # fmt: skip


def test_gradual_brightening_is_not_motion() -> None:
    background = scene()
    detector = MotionDetector()
    warmed_up(detector, background)
    ramp = [1 + 0.4 * step / 25 for step in range(26)]  # x1.0 to x1.4 over 5 s at 5 fps
    brighter = [cv2.convertScaleAbs(background, alpha=gain) for gain in ramp]
    assert not any(detector.detect(noisy(image)).moving for image in brighter)
    assert detector.background.dtype == np.float32  # refitted, not widened to float64
    assert detector.detect(noisy(with_box(brighter[-1], 160, 80, 40, 60))).moving


def test_infrared_switch_to_grey_and_low_contrast_is_not_motion() -> None:
    background = scene()
    detector = MotionDetector()
    warmed_up(detector, background)
    grey = cv2.cvtColor(background, cv2.COLOR_BGR2GRAY)
    night = cv2.cvtColor(cv2.convertScaleAbs(grey, alpha=0.5, beta=90), cv2.COLOR_GRAY2BGR)
    assert not any(detector.detect(noisy(night)).moving for _ in range(20))


def test_light_switch_is_not_motion_when_most_of_the_frame_is_masked() -> None:
    background = scene()
    most = [[[0, 0], [0.8, 0], [0.8, 1], [0, 1]]]
    detector = MotionDetector(DetectorSettings(mask=most))
    warmed_up(detector, background)
    assert not detector.detect(noisy(cv2.convertScaleAbs(background, alpha=1.6, beta=40))).moving
