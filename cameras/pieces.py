"""A video file cut into pieces by time, for a pool of processes to analyse (`manage.py analyze
--workers N`) with the events one process finds over the whole file, in the same order.

Each piece starts decoding at a keyframe a warm-up before its cut (`warm_up`): those frames only
bring the detector's background to where the unsplit run has it, and what they find belongs to
the piece before. A piece runs on past its end until no event that starts before it can still be
open or begin (`MotionSegmenter.settled`); the merge keeps each event once (`merge`).

The cut is planned from the packets' timestamps alone (demuxed, not decoded, which is cheap):
detection samples frames at `interval`, each sample counted from the one before, so a piece
must sample the frames the unsplit run samples, and only the whole file's timeline says which.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from cameras.motion.segments import MOTION_GAP, EventRules
from cameras.motion.settings import DetectorSettings
from cameras.sources.demux import FileSource

# float32, the background's type, keeps 24 bits: a difference decayed by 2**-24 is gone.
FLOAT32_BITS = 24


@dataclass(frozen=True)
class Piece:
    number: int
    seek: int | None  # pts of the keyframe decoding starts at (None: the file's start)
    first_detection: float  # the first frame at or after it that the unsplit run detects on
    cut: float  # seconds: this piece's own frames and events begin here ...
    end: float  # ... and the next piece's here (inf for the last)
    first_pts: int  # the file's first pts, which times count from (as FileSource does)


@dataclass
class Timeline:
    """The file's frame times (seconds, as FileSource times them) and its keyframes."""

    times: list[float] = field(default_factory=list)
    keyframes: list[tuple[float, int]] = field(default_factory=list)  # (time, pts)
    first_pts: int = 0
    last_pts: int = 0
    fps: float = 15.0
    cuttable: bool = True  # False: timestamps missing or out of order (B-frames, damage)

    @classmethod
    def read(cls, path: str) -> Timeline:
        """SourceError, with analyze's usual message, for a missing or unreadable file."""
        source = FileSource(path, realtime=False, loop=False)
        source.open()
        try:
            timeline = cls(fps=source.fps)
            for packet in source.container.demux(source.stream):
                if packet.size:
                    timeline.add(packet.pts, packet.is_keyframe, source.time_base)
        finally:
            source.close()
        return timeline

    def add(self, pts: int | None, keyframe: bool, time_base: object) -> None:
        if pts is None or (self.times and pts <= self.last_pts):
            self.cuttable = False
            return
        if not self.times:
            self.first_pts = pts
        self.last_pts = pts
        t = float((pts - self.first_pts) * time_base)
        self.times.append(t)
        if keyframe:
            self.keyframes.append((t, pts))

    def detections(self, interval: float) -> list[float]:
        """The times of the frames the unsplit run detects on (VideoAnalysis's sampling)."""
        detected, next_detection = [], 0.0
        for t in self.times:
            if t + 1e-9 >= next_detection:
                next_detection = t + interval
                detected.append(t)
        return detected


def warm_up(settings: DetectorSettings, rules: EventRules, fps: float) -> float:
    """Seconds a piece decodes before its cut so that from the cut on its detections are the
    unsplit run's, bit for bit.

    The background is a running average: what a piece starts it from decays by (1 - learn_rate)
    a detection, so after log(2**-24) / log(1 - learn_rate) detections (324 at 0.05) it is below
    float32's precision, after the warmup_frames that follow a reset. A change in the scene
    (a car parked before the piece's first frame) is taken in only after absorb_seconds of
    stillness. The event rules remember end_after seconds after the last motion, and motion
    less than MOTION_GAP apart is one, so those come on top."""
    rate = min(settings.fps, fps)  # detections a second
    converge = math.ceil(FLOAT32_BITS * math.log(2) / -math.log(1 - settings.learn_rate))
    return (
        (settings.warmup_frames + converge) / rate
        + settings.absorb_seconds
        + (rules.end_after + MOTION_GAP + rules.start_after)
    )


def plan(timeline: Timeline, workers: int, overlap: float, interval: float) -> list[Piece]:
    """Up to `workers` pieces of equal time, none shorter than its warm-up `overlap` (more
    would decode more than they spare); one piece for a file that cannot be cut."""
    if not timeline.times:
        return [Piece(0, None, 0.0, 0.0, math.inf, 0)]
    duration = timeline.times[-1]
    cuttable = timeline.cuttable and timeline.keyframes
    count = max(1, min(workers, int(duration // overlap))) if cuttable else 1
    cuts = [0.0] + [duration * k / count for k in range(1, count)] + [math.inf]
    detected = timeline.detections(interval)
    pieces = []
    for number in range(count):
        time, pts = timeline.keyframes[0] if number else (0.0, None)
        for keyframe in timeline.keyframes:
            if keyframe[0] <= cuts[number] - overlap:
                time, pts = keyframe
        first = next((t for t in detected if t >= time), math.inf)
        pieces.append(Piece(number, pts, first, cuts[number], cuts[number + 1], timeline.first_pts))
    return pieces


@dataclass
class PieceResult:
    number: int
    events: list  # FoundEvent, from the piece's first frame on, warm-up included
    stopped_at: float  # the frame time the piece stopped before (inf: at the end of the file)
    pid: int  # the process that did it
    frames: int  # of its own, between cut and end


def merge(results: list[PieceResult]) -> list:
    """Events in order, each once: a piece's events from where the piece before stopped on (that
    one finished every event that began before then)."""
    events, stopped = [], -math.inf
    for result in sorted(results, key=lambda r: r.number):
        events += [event for event in result.events if event.start >= stopped]
        stopped = result.stopped_at
    return events
