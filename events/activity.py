"""Motion activity over the last hours, as bars a template draws in SVG (no chart library)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone


@dataclass(frozen=True)
class Bar:
    start: dt.datetime  # the hour this bar counts, in the current time zone
    count: int
    height: float  # 0..100, relative to the busiest hour shown

    @property
    def top(self) -> float:
        """Where the bar starts in the chart's 0..100 height (SVG counts down from the top)."""
        return round(100 - self.height, 1)


def hourly_bars(counts: list[int], now: dt.datetime | None = None) -> list[Bar]:
    """One bar per hour, oldest first, ending with the hour up to `now`."""
    now = timezone.localtime(now or timezone.now())
    busiest = max(counts, default=0) or 1
    hours = len(counts)
    return [
        Bar(now - dt.timedelta(hours=hours - index), count, round(100 * count / busiest, 1))
        for index, count in enumerate(counts)
    ]
