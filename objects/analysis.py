"""Objects in the events of an offline analysis (`manage.py analyze --objects [--workers N]`):
the frames the live path would hand the detector (an event's first, then peaks grown GROWTH
times at least SPACING later, by the file's clock), cropped the same way.

With one worker the detector runs as the frames come; with more, the crops are kept (as JPEG)
while the file decodes and detected afterwards by a pool of processes, each with its own
network on one thread (the tutorial's worker pool, results put back by event)."""

from __future__ import annotations

import multiprocessing

import cv2
import numpy as np

from cameras.jpeg import encode_jpeg
from cameras.motion.detector import Detection
from cameras.sources.base import Frame
from objects.detector import Detector, crop
from objects.model import load_network
from objects.sampler import GROWTH, JPEG_QUALITY, SPACING

_pool_detector: Detector | None = None  # each pool process's own


def _start_pool_process(model: str) -> None:
    global _pool_detector
    cv2.setNumThreads(1)
    _pool_detector = Detector(load_network(model))


def _detect_in_pool(job: tuple[int, bytes]) -> tuple[int, dict[str, float]]:
    index, jpeg = job
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return index, {label: f.score for label, f in _pool_detector.detect(image).items()}


class ObjectAnalysis:
    def __init__(self, detector: Detector | None, workers: int = 1, model: str = "") -> None:
        """`detector` for one worker; for more, `model` (as SURVEILLANCE_OBJECT_MODEL) is what
        each process of the pool loads: a spawned process has no settings of its own."""
        self.detector, self.workers, self.model = detector, workers, model
        self.found: dict[int, dict[str, float]] = {}  # event index -> {label: best score}
        self.sent: dict[int, tuple[float, float]] = {}  # event index -> (area, t) last looked at
        self.waiting: list[tuple[int, bytes]] = []  # crops for the pool
        self.calls = 0

    def on_peak(self, index: int, t: float, frame: Frame, detection: Detection) -> None:
        last = self.sent.get(index)
        if last is not None and (detection.area < last[0] * GROWTH or t - last[1] < SPACING):
            return
        self.sent[index] = (detection.area, t)
        part, _ = crop(frame.image, detection.boxes)
        self.calls += 1
        if self.workers > 1:
            self.waiting.append((index, encode_jpeg(part, JPEG_QUALITY)))
            return
        self.keep(index, {label: f.score for label, f in self.detector.detect(part).items()})

    def finish(self) -> None:
        """Detect what waits for the pool (nothing with one worker)."""
        if not self.waiting:
            return
        # spawn, not fork: a fork of this process (OpenCV's and PyAV's threads) hung in the pool
        with multiprocessing.get_context("spawn").Pool(
            self.workers, _start_pool_process, (self.model,)
        ) as pool:
            for index, scores in pool.imap_unordered(_detect_in_pool, self.waiting):
                self.keep(index, scores)
        self.waiting.clear()

    def keep(self, index: int, scores: dict[str, float]) -> None:
        best = self.found.setdefault(index, {})
        for label, score in scores.items():
            best[label] = max(best.get(label, 0.0), score)

    def objects_of(self, index: int) -> dict[str, float]:
        return self.found.get(index, {})
