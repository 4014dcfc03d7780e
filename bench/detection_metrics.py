"""Scores of one detector on one clip, and the markdown table of all of them.

- event recall: ground-truth intervals of at least MIN_TRUTH seconds that some detected event
  overlaps, over all such intervals;
- event precision: detected events overlapping any ground-truth interval, over the detected
  events that lie (at least partly) in the clip's scored span;
- frame precision/recall/F1: per analysed frame, `moving` against the frame's truth (frames
  without truth are skipped).

A ratio with an empty denominator is None and printed as "-".
"""

from __future__ import annotations

from dataclasses import dataclass

from detection_clips import Clip, Interval

MIN_TRUTH = 1.0  # seconds: shorter ground-truth motion need not become an event


@dataclass(frozen=True)
class Sample:
    t: float  # seconds from the start of the clip
    moving: bool
    area: float


@dataclass
class Run:
    """What one detector produced on one clip."""

    detector: str
    samples: list[Sample]
    events: list[Interval]
    seconds: float  # wall time of the run


@dataclass
class Score:
    events: int = 0
    events_scored: int = 0
    events_correct: int = 0
    truths: int = 0  # ground-truth intervals of >= MIN_TRUTH
    truths_caught: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def event_recall(self) -> float | None:
        return ratio(self.truths_caught, self.truths)

    @property
    def event_precision(self) -> float | None:
        return ratio(self.events_correct, self.events_scored)

    @property
    def frame_precision(self) -> float | None:
        return ratio(self.tp, self.tp + self.fp)

    @property
    def frame_recall(self) -> float | None:
        return ratio(self.tp, self.tp + self.fn)

    @property
    def frame_f1(self) -> float | None:
        return ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def overlaps(a: Interval, b: Interval) -> bool:
    """True when the two spans share time; a zero-length event counts if it lies inside."""
    return (a[0] < b[1] and b[0] < a[1]) or (a[0] == a[1] and b[0] <= a[0] < b[1])


def score(clip: Clip, run: Run) -> Score:
    result = Score(events=len(run.events))
    scored = [event for event in run.events if overlaps(event, clip.scored)]
    result.events_scored = len(scored)
    result.events_correct = sum(any(overlaps(e, t) for t in clip.intervals) for e in scored)
    long_truths = [t for t in clip.intervals if t[1] - t[0] >= MIN_TRUTH]
    result.truths = len(long_truths)
    result.truths_caught = sum(any(overlaps(e, t) for e in run.events) for t in long_truths)
    for sample in run.samples:
        truth = clip.truth_at(sample.t)
        if truth is None:
            continue
        result.tp += truth and sample.moving
        result.fp += not truth and sample.moving
        result.fn += truth and not sample.moving
        result.tn += not truth and not sample.moving
    return result


# -- the table -----------------------------------------------------------------------------------

HEADER = (
    "| clip | detector | events | event recall | event precision | frame P | frame R | frame F1 "
    "| false-alarm frames |\n|---|---|--:|--:|--:|--:|--:|--:|--:|"
)


NONE = "-"


def fmt(value: float | None) -> str:
    return NONE if value is None else f"{value:.2f}"


def counted(value: float | None, part: int, whole: int) -> str:
    return NONE if not whole else f"{fmt(value)} ({part}/{whole})"


def row(clip: Clip, detector: str, s: Score) -> str:
    recall = counted(s.event_recall, s.truths_caught, s.truths)
    precision = counted(s.event_precision, s.events_correct, s.events_scored)
    quiet = s.fp + s.tn
    false_alarms = NONE if not quiet else f"{s.fp}/{quiet}"
    cells = [clip.name, detector, str(s.events), recall, precision, fmt(s.frame_precision),
             fmt(s.frame_recall), fmt(s.frame_f1), false_alarms]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def summary(results: list[tuple[Clip, str, Score]], detectors: list[str]) -> list[str]:
    """One line per detector: event recall over the real clips, events on the nuisance clips."""
    lines = []
    for detector in detectors:
        mine = [(clip, s) for clip, name, s in results if name == detector]
        caught = sum(s.truths_caught for _, s in mine)
        truths = sum(s.truths for _, s in mine)
        nuisance = sum(s.events for clip, s in mine if clip.kind == "nuisance")
        clips = sum(s.events > 0 for clip, s in mine if clip.kind == "nuisance")
        total = sum(clip.kind == "nuisance" for clip, _ in mine)
        lines.append(
            f"- **{detector}**: event recall {caught}/{truths} ground-truth intervals >= "
            f"{MIN_TRUTH:g} s (target >= 0.95); {nuisance} event(s) on the nuisance clips, "
            f"{clips} of {total} clips affected (target 0)."
        )
    return lines


def table(results: list[tuple[Clip, str, Score]], detectors: list[str]) -> str:
    lines = [HEADER, *(row(clip, name, s) for clip, name, s in results), ""]
    return "\n".join([*lines, *summary(results, detectors)]) + "\n"
