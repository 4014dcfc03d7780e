"""Offline analysis: a camera's detection settings run over a video file as fast as it decodes.

The same detector and the same event rules as the capture worker, with the file's own clock, so
what `manage.py analyze` reports is what the worker would have recorded for that footage.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from cameras.motion.detector import Detection, MotionDetector
from cameras.motion.segments import EventRules, MotionSegmenter
from cameras.motion.settings import DetectorSettings
from cameras.sources import EndOfStream, SourceError
from cameras.sources.base import Frame
from cameras.sources.demux import FAILURES, FileSource, reason

if TYPE_CHECKING:
    from cameras.pieces import Piece

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
        self.frames = 0  # read, of the piece's own when a piece
        self.stopped_at = math.inf  # a piece's: the first frame it did not take

    def run(self, path: str, progress: Progress | None = None, piece: Piece | None = None,
            threads: int | None = None) -> list[FoundEvent]:  # fmt: skip
        """The events of the file, or of one piece of it (then from its first frame on, and
        `stopped_at` says where it stopped); `threads` decode (None: as many as FFmpeg likes)."""
        source = FileSource(path, realtime=False, loop=False)
        source.decode_threads = threads
        source.open()  # SourceError with a clear message for a missing or unreadable file
        try:
            if piece is not None:
                self.seek(source, piece)
            self.read_all(source, progress, piece)
        finally:
            source.close()
        return self.events

    def seek(self, source: FileSource, piece: Piece) -> None:
        if piece.seek is not None:
            try:
                source.container.seek(piece.seek, stream=source.stream)  # to that keyframe
            except FAILURES as exc:
                raise SourceError(f"cannot seek in {source.describe()}: {reason(exc)}") from None
            source.packets = source.container.demux(source.stream)
        source.first_pts = piece.first_pts  # times from the file's start, not the piece's

    def read_all(self, source: FileSource, progress: Progress | None, piece: Piece | None) -> None:
        total, next_detection = source.frame_count(), 0.0
        cut, end = (piece.cut, piece.end) if piece else (0.0, math.inf)
        if piece is not None:
            next_detection = piece.first_detection
        while True:
            try:
                frame = source.read()  # not converted unless detection looks at it
            except EndOfStream:
                break
            t = source.elapsed  # the frame's own time: index / fps is wrong for VFR files
            if t >= end and self.segmenter.settled(t):
                self.stopped_at = t
                return
            if t + 1e-9 >= next_detection:
                next_detection = t + self.interval
                self.frame = frame
                self.detect(t, frame.detection_image(self.width))
            if cut <= t < end:
                self.frames += 1
                if progress is not None:
                    progress(self.frames, total)
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
