"""Objects in the events of an offline analysis (`manage.py analyze --objects`): the frames the
live path would hand the detector (an event's first, then peaks grown GROWTH times at least
SPACING later, by the file's clock), cropped the same way, detected as they come. With a pool
(`objects/pool.py`) each process has its own, on its piece of the file."""

from __future__ import annotations

from cameras.analysis import FoundEvent
from cameras.motion.detector import Detection
from cameras.sources.base import Frame
from objects.detector import Detector, crop
from objects.sampler import GROWTH, SPACING


class ObjectAnalysis:
    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        self.found: dict[int, dict[str, float]] = {}  # event index -> {label: best score}
        self.sent: dict[int, tuple[float, float]] = {}  # event index -> (area, t) last looked at
        self.calls = 0

    def on_peak(self, index: int, t: float, frame: Frame, detection: Detection) -> None:
        last = self.sent.get(index)
        if last is not None and (detection.area < last[0] * GROWTH or t - last[1] < SPACING):
            return
        self.sent[index] = (detection.area, t)
        part, _ = crop(frame.image, detection.boxes)
        self.calls += 1
        self.keep(index, {label: f.score for label, f in self.detector.detect(part).items()})

    def keep(self, index: int, scores: dict[str, float]) -> None:
        best = self.found.setdefault(index, {})
        for label, score in scores.items():
            best[label] = max(best.get(label, 0.0), score)

    def fill(self, events: list[FoundEvent]) -> None:
        """Each event's objects, events numbered as VideoAnalysis found them."""
        for index, event in enumerate(events):
            event.objects = self.objects_of(index)

    def objects_of(self, index: int) -> dict[str, float]:
        return self.found.get(index, {})
