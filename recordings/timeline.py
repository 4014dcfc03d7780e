"""A camera's day of recorded video, as a timeline the camera page draws in SVG: what was
recorded (spans, with the gaps between), and the events on it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from cameras.models import Camera
from recordings.models import Recording

JOIN_GAP = dt.timedelta(seconds=2)  # recordings closer than this are one span
DAY = 24 * 3600


@dataclass(frozen=True)
class Span:
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class Mark:
    """Where on the day's line something is: seconds from midnight, and how long."""

    at: float
    length: float = 0.0
    title: str = ""


def spans(camera: Camera, start: dt.datetime, end: dt.datetime) -> list[Span]:
    """The recorded spans of a camera between start and end, recordings that touch joined."""
    found: list[Span] = []
    for began, ended in (
        Recording.objects.filter(camera=camera)
        .overlapping(start, end)
        .order_by("started_at")
        .values_list("started_at", "ended_at")
    ):
        ended = min(ended or timezone.now(), end)
        began = max(began, start)
        if found and began - found[-1].end <= JOIN_GAP:
            found[-1] = Span(found[-1].start, max(found[-1].end, ended))
        else:
            found.append(Span(began, ended))
    return found


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(day, dt.time()))
    return start, start + dt.timedelta(days=1)


def marks(camera: Camera, day: dt.date, events: list) -> tuple[list[Mark], list[Mark]]:
    """(recorded spans, events) of that day, as marks on its line."""
    start, end = day_bounds(day)

    def seconds(moment: dt.datetime) -> float:
        return round((moment - start).total_seconds(), 1)

    recorded = [
        Mark(seconds(s.start), seconds(s.end) - seconds(s.start),
             f"{timezone.localtime(s.start):%H:%M:%S} to {timezone.localtime(s.end):%H:%M:%S}")
        for s in spans(camera, start, end)
    ]  # fmt: skip
    happened = [
        Mark(seconds(e.started_at), title=f"motion at {timezone.localtime(e.started_at):%H:%M:%S}")
        for e in events
        if start <= e.started_at < end
    ]
    return recorded, happened
