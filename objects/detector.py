"""Finds objects (people, with the bundled model) in the parts of a picture that moved.

A plain class over a network (objects/networks/), knowing nothing of Django: a BGR image and the
motion regions in, the best of each label out. As Frigate does, it looks at a square crop around
the motion, not at the whole frame: a person 60 pixels tall in a 1920x1080 frame is 17 pixels in
a 300x300 input, too few for the model, but fills a good part of a crop around them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from objects.networks import Box, Network

# The least side of a crop, in pixels: the bundled model's input. The capture worker crops
# (objects/sampler.py) without loading a network, so it crops for this size whatever the model;
# Detector.detect crops for its own network's input.
INPUT_SIZE = 300
MARGIN = 1.25  # the crop is this much wider than the motion, for the parts that did not move
DEFAULT_MIN_SCORE = 0.5


@dataclass(frozen=True)
class Found:
    score: float
    box: Box  # in fractions of the picture passed to detect()


def square_around(
    regions: list[Box], width: int, height: int, min_side: int = INPUT_SIZE
) -> tuple[int, int, int, int]:
    """The pixel square (x, y, side, side) around the union of `regions`, with a margin, at
    least `min_side` (the model's input size) where the picture allows, and inside the picture."""
    if not regions:
        return 0, 0, width, height
    left = min(x for x, _, _, _ in regions) * width
    top = min(y for _, y, _, _ in regions) * height
    right = max(x + w for x, _, w, _ in regions) * width
    bottom = max(y + h for _, y, _, h in regions) * height
    side = max(right - left, bottom - top) * MARGIN
    side = int(min(max(side, min_side), width, height))
    x = int(min(max((left + right - side) / 2, 0), width - side))
    y = int(min(max((top + bottom - side) / 2, 0), height - side))
    return x, y, side, side


def crop(
    image: np.ndarray, regions: list[Box], min_side: int = INPUT_SIZE
) -> tuple[np.ndarray, Box]:
    """The square of `image` around the regions, and where it is (fractions of the image)."""
    height, width = image.shape[:2]
    x, y, w, h = square_around(regions, width, height, min_side)
    return image[y : y + h, x : x + w], (x / width, y / height, w / width, h / height)


def within(box: Box, region: Box) -> Box:
    """A box given in fractions of `region`, in fractions of the picture `region` is in."""
    rx, ry, rw, rh = region
    x, y, w, h = box
    return rx + x * rw, ry + y * rh, w * rw, h * rh


class Detector:
    """One network, run on one thread; not safe to share between threads."""

    def __init__(self, network: Network, min_scores: dict[str, float] | None = None) -> None:
        self.network = network
        self.min_scores = min_scores or {}

    def min_score(self, label: str) -> float:
        return self.min_scores.get(label, DEFAULT_MIN_SCORE)

    def detect(self, image_bgr: np.ndarray, regions: list[Box] | None = None) -> dict[str, Found]:
        """The best-scoring object of each label around the regions (the whole picture when
        there are none), if it scores at least that label's minimum."""
        part, region = crop(image_bgr, regions or [], self.network.input_size)
        found: dict[str, Found] = {}
        for label, score, box in self.network.run(part):
            if score >= self.min_score(label) and score > getattr(found.get(label), "score", 0):
                found[label] = Found(round(score, 3), within(box, region))
        return found
