"""System checks for object detection (stable ids): a model that cannot run stops start-up with
the reason, instead of a detector process that crashes and restarts forever."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register

from objects.model import ModelError, ModelMissing, bundled_model, load_network


@register()
def check_object_model(**kwargs: object) -> list[Error]:
    if not settings.OBJECT_DETECTION:
        return []
    if settings.OBJECT_MODEL.strip():
        # Loaded whole: only onnxruntime can tell an ONNX file and its outputs. The supervisor's
        # children skip the checks it ran, so no camera's worker loads the model for this.
        try:
            load_network()
        except ModelError as exc:
            return [
                Error(
                    f"SURVEILLANCE_OBJECT_MODEL: {exc}",
                    hint="A COCO model in ONNX (YOLOv8's output, or SSD's from the TensorFlow "
                    "Object Detection API); unset for the bundled person detector; or off.",
                    id="surveillance.E020",
                )
            ]
        return []
    try:
        bundled_model()
    except ModelMissing as exc:
        return [Error(str(exc), hint="make run installs it", id="surveillance.E021")]
    return []
