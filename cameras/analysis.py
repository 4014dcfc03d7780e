"""Offline analysis: a camera's detection settings run over a video file as fast as it decodes.

The same detector and the same event rules as the capture worker, with the file's own clock, so
what `manage.py analyze` reports is what the worker would have recorded for that footage.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

from cameras.motion.detector import Detection, MotionDetector
from cameras.motion.segments import EventRules, MotionSegmenter
from cameras.motion.settings import DetectorSettings
from cameras.sources import EndOfStream
from cameras.sources.base import Frame
from cameras.sources.demux import FileSource

Progress = Callable[[int, int], None]  # (frames done, frames in the file or 0 if unknown)
# Told of each new peak of an event's motion, its first frame included: (event's index, the
# frame's time in the file, the frame, its detection). Object detection listens here.
OnPeak = Callable[[int, float, Frame, Detection], None]


@dataclass
class FoundEvent:
    start: float  # seconds from the start of the file
    end: float
    area: float  # largest fraction of the frame in motion
    objects: dict[str, float] | None = None  # {label: best score}, when objects were looked for

    def to_dict(self) -> dict:
        found = {key: round(value, 3) for key, value in asdict(self).items() if key != "objects"}
        if self.objects is not None:
            found["objects"] = dict(sorted(self.objects.items()))
        return found


class VideoAnalysis:
    def __init__(
        self, settings: DetectorSettings, rules: EventRules, on_peak: OnPeak | None = None
    ) -> None:
        self.detector = MotionDetector(settings)
        self.on_peak = on_peak
        self.frame: Frame | None = None  # the one being detected on
        self.segmenter = MotionSegmenter(rules)
        self.interval, self.width = settings.interval, settings.width
        self.events: list[FoundEvent] = []
        self.peak = 0.0

    def run(self, path: str, progress: Progress | None = None) -> list[FoundEvent]:
        source = FileSource(path, realtime=False, loop=False)
        source.open()  # SourceError with a clear message for a missing or unreadable file
        try:
            self.read_all(source, progress)
        finally:
            source.close()
        return self.events

    def read_all(self, source: FileSource, progress: Progress | None) -> None:
        total, next_detection = source.frame_count(), 0.0
        while True:
            try:
                frame = source.read()  # not converted unless detection looks at it
                t = source.elapsed  # the frame's own time: index / fps is wrong for VFR files
                if t + 1e-9 >= next_detection:
                    next_detection = t + self.interval
                    self.frame = frame
                    self.detect(t, frame.detection_image(self.width))
            except EndOfStream:
                break
            if progress is not None:
                progress(source.index, total)
        self.apply(self.segmenter.close())

    def detect(self, t: float, image: object) -> None:
        detection = self.detector.detect(image)
        self.apply(self.segmenter.update(t, detection.moving))
        if self.segmenter.in_event and detection.moving and detection.area > self.peak:
            self.peak = detection.area
            if self.on_peak is not None and self.frame is not None:
                self.on_peak(len(self.events) - 1, t, self.frame, detection)

    def apply(self, transitions: list[tuple[str, float]]) -> None:
        for kind, at in transitions:
            if kind == "start":
                self.events.append(FoundEvent(start=at, end=math.nan, area=0.0))
                self.peak = 0.0
            else:
                self.events[-1].end, self.events[-1].area = at, self.peak
