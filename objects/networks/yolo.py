"""YOLOv8's output, as Ultralytics exports it to ONNX: one tensor [1, 84, N] (or [1, N, 84]),
for each of N candidate boxes its centre x, y, width and height in the input's pixels, then its
score for each of the 80 COCO labels (no objectness, unlike YOLOv5). The model sees the picture
letterboxed: scaled to fit its input, keeping its shape, centred on grey."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from objects.coco import NAMES
from objects.networks import Box, Detection

if TYPE_CHECKING:
    from objects.networks import Port

ROW = 4 + len(NAMES)  # a candidate's numbers: its box, then a score per label
CANDIDATE_SCORE = 0.25  # Ultralytics' default: below it, noise, and NMS over fewer boxes
IOU = 0.45  # a box overlapping a better one of its label this much is the same object
GREY = 114  # Ultralytics' letterbox padding


def clip(value: float) -> float:
    return min(max(value, 0.0), 1.0)


@dataclass(frozen=True)
class Letterbox:
    """Where the picture is in the model's input: scaled by `scale`, from (left, top)."""

    scale: float
    left: int
    top: int
    width: int  # the picture's own size, in pixels
    height: int

    @classmethod
    def fit(cls, image: np.ndarray, width: int, height: int) -> tuple[np.ndarray, Letterbox]:
        """`image` letterboxed into width x height, and where it went."""
        tall, wide = image.shape[:2]
        scale = min(width / wide, height / tall)
        inner_w, inner_h = max(1, round(wide * scale)), max(1, round(tall * scale))
        left, top = (width - inner_w) // 2, (height - inner_h) // 2
        canvas = np.full((height, width, 3), GREY, np.uint8)
        canvas[top : top + inner_h, left : left + inner_w] = cv2.resize(image, (inner_w, inner_h))
        return canvas, cls(scale, left, top, wide, tall)

    def to_picture(self, x: float, y: float, w: float, h: float) -> Box:
        """A box in the input's pixels, in fractions of the picture (the padding cut off)."""
        left = clip((x - self.left) / self.scale / self.width)
        top = clip((y - self.top) / self.scale / self.height)
        right = clip((x + w - self.left) / self.scale / self.width)
        bottom = clip((y + h - self.top) / self.scale / self.height)
        return left, top, right - left, bottom - top


class YoloOutput:
    default_size = 640  # for a model exported with an open height and width
    pixel_scale = 1 / 255  # the input takes 0..1

    def __init__(self, name: str, transposed: bool) -> None:
        self.names = [name]
        self.transposed = transposed  # [1, N, 84] rather than [1, 84, N]

    @classmethod
    def recognise(cls, outputs: list[Port]) -> YoloOutput | None:
        if len(outputs) != 1 or len(outputs[0].shape) != 3:
            return None
        _, across, down = outputs[0].shape
        if across == ROW:
            return cls(outputs[0].name, transposed=False)
        if down == ROW:
            return cls(outputs[0].name, transposed=True)
        return None

    fit = staticmethod(Letterbox.fit)

    def decode(self, arrays: list[np.ndarray], letterbox: Letterbox) -> list[Detection]:
        rows = arrays[0][0] if self.transposed else arrays[0][0].T
        label_ids = rows[:, 4:].argmax(axis=1)
        scores = rows[np.arange(len(rows)), 4 + label_ids]
        kept = scores >= CANDIDATE_SCORE
        rows, label_ids, scores = rows[kept], label_ids[kept], scores[kept].tolist()
        if not scores:
            return []
        boxes = [(cx - w / 2, cy - h / 2, w, h) for cx, cy, w, h in rows[:, :4].tolist()]
        best = cv2.dnn.NMSBoxesBatched(boxes, scores, label_ids.tolist(), CANDIDATE_SCORE, IOU)
        return [
            (NAMES[label_ids[i]], scores[i], letterbox.to_picture(*boxes[i]))
            for i in np.ravel(best)
        ]
