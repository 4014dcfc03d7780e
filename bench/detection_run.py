"""Both detectors over a clip through the product's own analysis loop, recording every detection.

Import this only after `django.setup()`: it imports the product. The product's VideoAnalysis
samples frames (DetectorSettings.fps), feeds the detector and turns motion into events with
EventRules; the seed baseline takes the detector's place in the same loop, so only the detector
differs between the two runs.
"""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np
from detection_metrics import Run, Sample
from seed_detector import SeedDetector

from cameras.analysis import VideoAnalysis
from cameras.motion.detector import NO_MOTION
from cameras.motion.segments import EventRules
from cameras.motion.settings import DetectorSettings

OURS, SEED = "ours", "seed"
DETECTORS = [OURS, SEED]


class Found(Protocol):
    """What VideoAnalysis reads of a detection."""

    @property
    def moving(self) -> bool: ...

    area: float


class Detector(Protocol):
    def detect(self, image: np.ndarray) -> Found: ...


class Tap:
    """Stands in for the detector, passing frames through and keeping the last detection."""

    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        self.last: Found = NO_MOTION

    def detect(self, image: np.ndarray) -> Found:
        self.last = self.detector.detect(image)
        return self.last


class RecordingAnalysis(VideoAnalysis):
    """VideoAnalysis (unchanged behaviour) that also keeps (t, moving, area) of each detection."""

    def __init__(self, detector: Detector | None = None) -> None:
        super().__init__(DetectorSettings(), EventRules())
        self.tap = Tap(self.detector if detector is None else detector)
        self.detector = self.tap
        self.samples: list[Sample] = []

    def detect(self, t: float, image: np.ndarray) -> None:
        super().detect(t, image)
        detection = self.tap.last
        self.samples.append(Sample(t=t, moving=detection.moving, area=detection.area))


def run_detector(name: str, path: str) -> Run:
    """Run `ours` (the product's MotionDetector) or `seed` over a video file."""
    analysis = RecordingAnalysis(SeedDetector() if name == SEED else None)
    started = time.monotonic()
    events = analysis.run(path)
    return Run(
        detector=name,
        samples=analysis.samples,
        events=[(event.start, event.end) for event in events],
        seconds=time.monotonic() - started,
    )


def describe_settings() -> str:
    """The settings both runs used, for the report."""
    return f"{DetectorSettings()!r}; {EventRules()!r}"
