"""When motion events start and end, from timed detections. Pure logic: no Django, no I/O.

An event starts once motion has persisted `start_after` seconds (gaps shorter than MOTION_GAP do
not interrupt it) and dates from when that motion began; it ends `end_after` quiet seconds after
the last motion, at the time of that last motion; an event reaching `max_length` is split.
The capture worker's recorder and `manage.py analyze` both follow these rules through this class.
"""

from __future__ import annotations

from dataclasses import dataclass

MOTION_GAP = 1.0  # seconds of stillness that break "persisting" motion before an event starts

Transition = tuple[str, float]  # ("start" | "end", seconds)


@dataclass(frozen=True)
class EventRules:
    start_after: float = 0.5
    end_after: float = 5.0
    max_length: float = 300.0


class MotionSegmenter:
    def __init__(self, rules: EventRules | None = None) -> None:
        self.rules = rules or EventRules()
        self.started_at: float | None = None  # the open event's start
        self.motion_since: float | None = None
        self.last_motion = 0.0

    @property
    def in_event(self) -> bool:
        return self.started_at is not None

    def update(self, at: float, moving: bool) -> list[Transition]:
        """Transitions a detection at time `at` causes, in order (an end may precede a start)."""
        if moving:
            if self.motion_since is None or at - self.last_motion > MOTION_GAP:
                self.motion_since = at
            self.last_motion = at
        if self.started_at is None:
            if moving and at - self.motion_since >= self.rules.start_after:
                self.started_at = self.motion_since
                return [("start", self.started_at)]
            return []
        if at - self.last_motion >= self.rules.end_after:
            return [self.end(self.last_motion)]
        if at - self.started_at >= self.rules.max_length:
            transitions = [self.end(at)]
            if moving:
                self.started_at = self.motion_since = at
                transitions.append(("start", at))
            return transitions
        return []

    def settled(self, at: float) -> bool:
        """Whether no event that starts before `at` can be open or still begin: none is open, and
        motion from `at` on would start afresh (a piece of a split file may stop here)."""
        if self.in_event:
            return False
        return self.motion_since is None or at - self.last_motion > MOTION_GAP

    def close(self) -> list[Transition]:
        """End the open event, if any, at its last motion (the video or the worker stops)."""
        return [self.end(self.last_motion)] if self.in_event else []

    def end(self, at: float) -> Transition:
        self.started_at = self.motion_since = None
        return ("end", at)
