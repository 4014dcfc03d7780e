"""The outputs of the TensorFlow Object Detection API's SSD exports (TF1 and TF2, as tf2onnx
converts them): detection_boxes [1, N, 4] (ymin, xmin, ymax, xmax, in fractions of the input),
detection_classes [1, N], detection_scores [1, N], and num_detections [1], how many of the N
rows are real. Found by those names (with or without ":0"), or, in a model that renamed them, by
their shapes, in that order. The model sees the picture resized to its input, as the API's
fixed_shape_resizer does: fractions of the input are fractions of the picture."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from objects.coco import name
from objects.networks import Detection
from objects.networks.yolo import clip

if TYPE_CHECKING:
    from objects.networks import Port

ROLES = {
    "detection_boxes": "boxes",
    "detection_classes": "classes",
    "detection_scores": "scores",
    "num_detections": "count",
}


class ClassNumbering:
    """TensorFlow's COCO ids 1..90, or 0..79, told apart by the ids a model gives: TensorFlow's
    keeps 0 for the background, never given, and 0..79 has nothing above 79. Until either shows,
    TensorFlow's (the API's own exports); once one has, that one, for good."""

    def __init__(self) -> None:
        self.tf: bool | None = None

    def is_tf(self, ids: np.ndarray) -> bool:
        if self.tf is None and (ids == 0).any():
            self.tf = False
        elif self.tf is None and (ids > 79).any():
            self.tf = True
        return self.tf is not False


class SSDOutputs:
    default_size = 300  # for a model exported with an open height and width
    pixel_scale = 1.0  # the API's graphs scale pixels themselves: a float input takes 0..255

    def __init__(self, boxes: str, classes: str, scores: str, count: str | None = None) -> None:
        self.names = [boxes, classes, scores, *([count] if count else [])]
        self.numbering = ClassNumbering()

    @classmethod
    def by_name(cls, outputs: list[Port]) -> SSDOutputs | None:
        roles = {ROLES.get(port.name.removesuffix(":0")): port.name for port in outputs}
        if not {"boxes", "classes", "scores"} <= roles.keys():
            return None
        return cls(roles["boxes"], roles["classes"], roles["scores"], roles.get("count"))

    @classmethod
    def by_shape(cls, outputs: list[Port]) -> SSDOutputs | None:
        boxes = [port for port in outputs if len(port.shape) == 3 and port.shape[2] == 4]
        rows = [port for port in outputs if len(port.shape) == 2]
        counts = [port for port in outputs if len(port.shape) == 1]
        if len(boxes) != 1 or len(rows) != 2 or len(counts) > 1:
            return None
        if len(outputs) != 3 + len(counts):
            return None
        # The classes first, as the API orders them, unless only the scores are floats.
        classes, scores = sorted(rows, key=lambda port: "int" not in port.type)
        return cls(boxes[0].name, classes.name, scores.name, counts[0].name if counts else None)

    @staticmethod
    def fit(image: np.ndarray, width: int, height: int) -> tuple[np.ndarray, None]:
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), None

    def decode(self, arrays: list[np.ndarray], _: None) -> list[Detection]:
        boxes, classes, scores = (array.reshape(-1, *array.shape[2:]) for array in arrays[:3])
        count = min(int(arrays[3].ravel()[0]), len(scores)) if len(arrays) > 3 else len(scores)
        ids, scores = np.rint(classes[:count]).astype(int), scores[:count].astype(float)
        tf_numbering = self.numbering.is_tf(ids[scores > 0])
        found = []
        rows = zip(boxes[:count].tolist(), ids.tolist(), scores.tolist(), strict=True)
        for (ymin, xmin, ymax, xmax), class_id, score in rows:
            label = name(class_id, tf_numbering)
            if label is None or score <= 0:
                continue
            left, top, right, bottom = clip(xmin), clip(ymin), clip(xmax), clip(ymax)
            found.append((label, score, (left, top, right - left, bottom - top)))
        return found
