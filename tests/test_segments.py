"""When events start and end: the rules the worker and `analyze` share."""

from __future__ import annotations

from cameras.motion.segments import EventRules, MotionSegmenter


def feed(segmenter: MotionSegmenter, moving_between: list[tuple[float, float]],
         until: float, step: float = 0.2) -> list[tuple[str, float]]:  # fmt: skip
    """Detections every `step` s, moving inside the given intervals; all transitions."""
    transitions, t = [], 0.0
    while t <= until + 1e-9:
        moving = any(a <= t <= b for a, b in moving_between)
        transitions += [(kind, round(at, 2)) for kind, at in segmenter.update(t, moving)]
        t = round(t + step, 6)
    return transitions


def test_event_starts_once_motion_persists_and_dates_from_its_beginning() -> None:
    segmenter = MotionSegmenter(EventRules(start_after=0.5, end_after=2))
    assert feed(segmenter, [(1.0, 3.0)], until=10) == [("start", 1.0), ("end", 3.0)]


def test_a_blip_shorter_than_start_after_makes_no_event() -> None:
    segmenter = MotionSegmenter(EventRules(start_after=1.0))
    assert feed(segmenter, [(1.0, 1.4)], until=10) == []


def test_short_gaps_do_not_end_an_event() -> None:
    segmenter = MotionSegmenter(EventRules(start_after=0.4, end_after=2))
    assert feed(segmenter, [(1, 2), (3, 4)], until=10) == [("start", 1.0), ("end", 4.0)]


def test_a_quiet_gap_longer_than_end_after_makes_two_events() -> None:
    segmenter = MotionSegmenter(EventRules(start_after=0.4, end_after=1))
    transitions = feed(segmenter, [(1, 2), (4, 5)], until=10)
    assert transitions == [("start", 1.0), ("end", 2.0), ("start", 4.0), ("end", 5.0)]


def test_long_motion_is_split_at_the_maximum_length() -> None:
    segmenter = MotionSegmenter(EventRules(start_after=0.2, end_after=1, max_length=5))
    transitions = feed(segmenter, [(0, 12)], until=20)
    assert transitions == [("start", 0.0), ("end", 5.0), ("start", 5.0), ("end", 10.0),
                           ("start", 10.0), ("end", 12.0)]  # fmt: skip


def test_close_ends_the_open_event_at_its_last_motion() -> None:
    segmenter = MotionSegmenter(EventRules(start_after=0.2, end_after=5))
    assert feed(segmenter, [(1, 3)], until=4) == [("start", 1.0)]
    assert segmenter.close() == [("end", 3.0)]
    assert segmenter.close() == []
