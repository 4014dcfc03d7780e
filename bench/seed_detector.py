"""The seed's motion detector, re-implemented faithfully as the evaluation's baseline.

Source: the PyImageSearch tutorial the product started from ("OpenCV - Stream video to web
browser/HTML page", 2019): `SingleMotionDetector` and the frame loop of `webstreaming.py`.

- each frame is resized to width 400 (imutils.resize: INTER_AREA, height = int(h * 400 / w)),
  turned grey and blurred with a 7x7 Gaussian;
- the background is a running average (`cv2.accumulateWeighted`, accumWeight=0.1), seeded by the
  first frame; detection starts once more than 32 frames were seen (the `--frame-count` default);
- motion: absdiff with the background truncated to uint8, threshold 25, erode x2, dilate x2
  (3x3), external contours; ONE union bounding box of all contours, no minimum area;
- the background is updated with every frame after detecting on it, moving or not.

Only numpy and OpenCV: nothing of the product is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

WIDTH = 400
BLUR = (7, 7)
ACCUM_WEIGHT = 0.1
FRAME_COUNT = 32
T_VAL = 25

UnionBox = tuple[int, int, int, int]  # min x, min y, max x, max y in pixels of the 400-wide frame


class SingleMotionDetector:
    """The tutorial's class, names and steps kept (imutils.grab_contours is OpenCV 4's [0])."""

    def __init__(self, accum_weight: float = 0.5) -> None:
        self.accum_weight = accum_weight
        self.bg: np.ndarray | None = None

    def update(self, image: np.ndarray) -> None:
        if self.bg is None:
            self.bg = image.copy().astype("float")
            return
        cv2.accumulateWeighted(image, self.bg, self.accum_weight)

    def detect(self, image: np.ndarray, t_val: int = T_VAL) -> tuple[np.ndarray, UnionBox] | None:
        """(thresholded image, union box of every contour), or None when nothing changed."""
        delta = cv2.absdiff(self.bg.astype("uint8"), image)
        thresh = cv2.threshold(delta, t_val, 255, cv2.THRESH_BINARY)[1]
        thresh = cv2.erode(thresh, None, iterations=2)
        thresh = cv2.dilate(thresh, None, iterations=2)
        cnts = cv2.findContours(thresh.copy(), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
        if len(cnts) == 0:
            return None
        min_x, min_y, max_x, max_y = np.inf, np.inf, -np.inf, -np.inf
        for c in cnts:
            x, y, w, h = cv2.boundingRect(c)
            min_x, min_y = min(min_x, x), min(min_y, y)
            max_x, max_y = max(max_x, x + w), max(max_y, y + h)
        return thresh, (int(min_x), int(min_y), int(max_x), int(max_y))


@dataclass
class SeedDetection:
    """What the product's Detection offers the analysis: `moving` and `area` (of the union box)."""

    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    area: float = 0.0

    @property
    def moving(self) -> bool:
        return bool(self.boxes)


class SeedDetector:
    """The webstreaming.py loop around SingleMotionDetector, one call per analysed frame."""

    def __init__(self) -> None:
        self.md = SingleMotionDetector(accum_weight=ACCUM_WEIGHT)
        self.total = 0

    def detect(self, image: np.ndarray) -> SeedDetection:
        """Motion in a BGR frame (the union box as fractions of the frame), then learn the frame."""
        gray = self.prepare(image)
        found = None
        if self.total > FRAME_COUNT:
            found = self.md.detect(gray)
        self.md.update(gray)
        self.total += 1
        return SeedDetection() if found is None else self.describe(found[1], gray.shape)

    @staticmethod
    def prepare(image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        size = (WIDTH, int(height * (WIDTH / float(width))))
        frame = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        return cv2.GaussianBlur(gray, BLUR, 0)

    @staticmethod
    def describe(box: UnionBox, shape: tuple[int, ...]) -> SeedDetection:
        height, width = shape[:2]
        min_x, min_y, max_x, max_y = box
        w, h = (max_x - min_x) / width, (max_y - min_y) / height
        return SeedDetection(boxes=[(min_x / width, min_y / height, w, h)], area=round(w * h, 4))
