"""The event recorder on its own: detections in, rows, snapshots and announcements out."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from django.db import DatabaseError

from cameras.models import Camera
from cameras.motion.detector import Detection
from cameras.sources.base import Frame
from events.models import MotionEvent
from events.recorder import EventRecorder, annotate

pytestmark = pytest.mark.django_db(transaction=True)

T0 = 1_800_000_000.0  # a fixed capture clock, Unix seconds


def frame(at: float, shade: int) -> Frame:
    """A 320x240 picture of one grey level, so a stored snapshot tells which frame it was."""
    return Frame(image=np.full((240, 320, 3), shade, np.uint8), captured_at=T0 + at)


def moving(area: float) -> Detection:
    side = area**0.5
    return Detection(boxes=[(0.1, 0.1, side, side)], area=area)


QUIET = Detection(boxes=[], area=0.0)


class Announcements(list):
    """What the recorder hands to the channel layer, in order."""

    def __call__(self, group: str, message: dict) -> bool:
        if message["type"] == "alert.queued":  # the notifier's wake-up: not an announcement
            return True
        self.append((group, message["type"], message["event"]["id"]))
        return True


def feed(recorder: EventRecorder, steps: list[tuple[float, int, Detection]]) -> None:
    for at, shade, detection in steps:
        recorder.update(frame(at, shade), detection)


@pytest.fixture
def yard(db: None) -> Camera:
    return Camera.objects.create(
        slug="yard", name="Yard", source="demo:yard", start_after=0.0, end_after=1.0
    )


def stored_shade(image_field: object) -> float:
    return float(cv2.imread(image_field.path).mean())


def test_the_snapshot_is_replaced_by_the_frame_with_the_most_motion(yard: Camera) -> None:
    announced = Announcements()
    recorder = EventRecorder(yard, announced)
    feed(recorder, [(0.0, 40, moving(0.01)), (0.2, 200, moving(0.09)), (0.4, 90, moving(0.04))])
    event = MotionEvent.objects.get()
    assert stored_shade(event.snapshot_clean) == pytest.approx(40, abs=3)  # the alert's picture

    feed(recorder, [(0.6, 10, QUIET), (1.6, 10, QUIET)])  # a quiet second ends it

    event.refresh_from_db()
    assert event.ended_at is not None
    assert stored_shade(event.snapshot_clean) == pytest.approx(200, abs=3)  # the peak
    assert event.peak_area == pytest.approx(0.09)
    assert event.boxes == [[0.1, 0.1, pytest.approx(0.3), pytest.approx(0.3)]]
    assert [kind for _, kind, _ in announced] == ["motion.start", "motion.end"]


def test_an_event_longer_than_the_maximum_is_split_into_two_rows(yard: Camera) -> None:
    yard.max_event_length = 5.0
    announced = Announcements()
    recorder = EventRecorder(yard, announced)
    feed(recorder, [(t / 5, 100, moving(0.05)) for t in range(40)])  # 8 s of motion
    recorder.close()

    first, second = MotionEvent.objects.order_by("started_at")
    assert (first.ended_at - first.started_at).total_seconds() == pytest.approx(5.0)
    assert second.started_at == first.ended_at
    assert second.ended_at is not None
    assert [kind for _, kind, _ in announced] == [
        "motion.start", "motion.end", "motion.start", "motion.end",
    ]  # fmt: skip


def test_a_refused_event_row_is_no_event_and_the_next_motion_gets_its_own(yard: Camera) -> None:
    announced = Announcements()
    recorder = EventRecorder(yard, announced)
    pk = yard.pk
    Camera.objects.filter(pk=pk).delete()  # the row's foreign key now fails: the database refuses
    with pytest.raises(DatabaseError):
        feed(recorder, [(0.0, 100, moving(0.05))])
    assert recorder.event is None and not recorder.segmenter.in_event
    yard.save(force_insert=True)  # the database takes rows again

    feed(recorder, [(0.5, 100, moving(0.05)), (0.7, 10, QUIET), (1.8, 10, QUIET)])

    event = MotionEvent.objects.get()
    assert event.started_at.timestamp() == pytest.approx(T0 + 0.5)
    assert event.ended_at is not None
    assert [kind for _, kind, _ in announced] == ["motion.start", "motion.end"]


def test_the_time_is_stamped_once_on_a_dark_label(yard: Camera) -> None:
    picture = np.full((240, 320, 3), (0, 200, 0), np.uint8)
    out = annotate(picture, QUIET.boxes, T0)
    changed = np.nonzero((out != picture).any(axis=2))
    text = "2027-01-15 08:00:00"  # as long as any stamp
    (width, height), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 1)
    left, right = changed[1].min(), changed[1].max()
    assert right - left <= width + 10  # one rendering of the text and its label, not two
    assert changed[0].min() >= 240 - height - 24  # in the bottom corner
    label = out[changed[0].min() : changed[0].max() + 1, left : right + 1]
    assert not (label == (0, 200, 0)).all(axis=2).any()  # no picture shows through the label
