"""One PNG per clip: ground truth and each detector's frames and events on one time axis (OpenCV
drawing only, 1200x300)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from detection_clips import FPS, Clip, Interval
from detection_metrics import Run, overlaps

WIDTH, HEIGHT = 1200, 300
LEFT, RIGHT = 170, 1185
FONT = cv2.FONT_HERSHEY_SIMPLEX
Colour = tuple[int, int, int]  # BGR
INK: Colour = (40, 40, 40)
LANE: Colour = (238, 238, 238)
TRUTH: Colour = (70, 170, 60)
UNSCORED: Colour = (200, 200, 200)
NUISANCE: Colour = (0, 190, 250)
MOVING: Colour = (200, 120, 30)
EVENT: Colour = (140, 60, 10)
FALSE: Colour = (40, 40, 220)
MISSED: Colour = (215, 160, 240)
LEGEND = [
    (TRUTH, "true motion"), (UNSCORED, "not scored"), (NUISANCE, "nuisance acts"),
    (MOVING, "moving / event"), (FALSE, "moving or event where truth is quiet"),
    (MISSED, "still where truth moves"),
]  # fmt: skip


class Axis:
    """Seconds to x pixels for one clip."""

    def __init__(self, duration: float) -> None:
        self.duration = duration

    def x(self, t: float) -> int:
        share = min(max(t / self.duration, 0.0), 1.0)
        return round(LEFT + share * (RIGHT - LEFT))

    def span(self, canvas: np.ndarray, span: Interval, y: int, h: int, colour: Colour) -> None:
        x0, x1 = self.x(span[0]), self.x(span[1])
        cv2.rectangle(canvas, (x0, y), (max(x1, x0 + 1), y + h), colour, cv2.FILLED)


def text(canvas: np.ndarray, words: str, x: int, y: int, scale: float = 0.42) -> None:
    cv2.putText(canvas, words, (x, y), FONT, scale, INK, 1, cv2.LINE_AA)


def lane(canvas: np.ndarray, label: str, y: int, h: int) -> None:
    cv2.rectangle(canvas, (LEFT, y), (RIGHT, y + h), LANE, cv2.FILLED)
    text(canvas, label, 8, y + h // 2 + 5)


def draw_truth(canvas: np.ndarray, clip: Clip, axis: Axis, y: int, h: int) -> None:
    lane(canvas, "ground truth", y, h)
    for k, truth in enumerate(clip.frame_truth):
        if truth is None or truth:
            colour = UNSCORED if truth is None else TRUTH
            axis.span(canvas, (k / FPS, (k + 1) / FPS), y, h, colour)
    for span in clip.disturbances:
        axis.span(canvas, span, y + h - 8, 8, NUISANCE)


def draw_frames(canvas: np.ndarray, clip: Clip, run: Run, axis: Axis, y: int, h: int) -> None:
    lane(canvas, f"{run.detector}: frames", y, h)
    for sample, after in zip(run.samples, [*run.samples[1:], None], strict=True):
        truth = clip.truth_at(sample.t)
        end = after.t if after else sample.t + 1 / FPS
        if sample.moving:
            axis.span(canvas, (sample.t, end), y, h, FALSE if truth is False else MOVING)
        elif truth:
            axis.span(canvas, (sample.t, end), y + h // 3, h // 3, MISSED)


def draw_events(canvas: np.ndarray, clip: Clip, run: Run, axis: Axis, y: int, h: int) -> None:
    lane(canvas, f"{run.detector}: events ({len(run.events)})", y, h)
    for event in run.events:
        scored = overlaps(event, clip.scored)
        wrong = scored and not any(overlaps(event, t) for t in clip.intervals)
        axis.span(canvas, event, y, h, FALSE if wrong else EVENT if scored else UNSCORED)


def draw_axis(canvas: np.ndarray, axis: Axis, y: int) -> None:
    cv2.line(canvas, (LEFT, y), (RIGHT, y), INK, 1)
    step = 5 if axis.duration <= 60 else 10
    for second in range(0, int(axis.duration) + 1, step):
        x = axis.x(second)
        cv2.line(canvas, (x, y), (x, y + 5), INK, 1)
        text(canvas, str(second), x - 6, y + 19, 0.38)
    text(canvas, "time (s)", 8, y + 19)


def draw_legend(canvas: np.ndarray, y: int) -> None:
    x = LEFT
    for colour, label in LEGEND:
        cv2.rectangle(canvas, (x, y - 10), (x + 14, y), colour, cv2.FILLED)
        text(canvas, label, x + 20, y)
        x += 34 + cv2.getTextSize(label, FONT, 0.42, 1)[0][0]


def plot(clip: Clip, runs: list[Run], path: Path) -> None:
    """Draw the clip's truth and each run (frames strip, events bars) and write a PNG."""
    canvas = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    axis = Axis(clip.duration)
    text(canvas, f"{clip.name}: {clip.note}", 8, 20, 0.5)
    draw_truth(canvas, clip, axis, 34, 26)
    y = 72
    for run in runs:
        draw_frames(canvas, clip, run, axis, y, 22)
        draw_events(canvas, clip, run, axis, y + 26, 16)
        y += 56
    draw_axis(canvas, axis, y + 4)
    draw_legend(canvas, HEIGHT - 22)
    cv2.imwrite(str(path), canvas)
