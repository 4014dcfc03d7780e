"""Recorded video of any span as one MP4: for downloads, for a click on the timeline, for an
event in continuous mode, and for a clip still being written. Made once per span and what it is
made of, kept in exports/ for retention to remove after an hour."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from pathlib import Path

from django.conf import settings

from cameras.models import Camera
from recordings.models import Recording

EXPORTS = "exports"  # the folder under the media root
LONGEST = dt.timedelta(hours=1)


def parts_of(camera: Camera, start: dt.datetime, end: dt.datetime) -> list[Recording]:
    return list(
        Recording.objects.filter(camera=camera).overlapping(start, end).order_by("started_at")
    )


def export_span(camera: Camera, start: dt.datetime, end: dt.datetime) -> Path | None:
    """An MP4 of the camera's video from start to end (at most LONGEST), or None if nothing of
    it was recorded."""
    end = min(end, start + LONGEST)
    recordings = parts_of(camera, start, end)
    if not recordings:
        return None
    root = Path(settings.MEDIA_ROOT)
    paths = [root / r.file.name for r in recordings]
    # What it is made of, down to the size of a file still growing: the same span exported
    # again after more was recorded is a new file.
    made_of = [(r.pk, r.ended_at, p.stat().st_size if p.exists() else 0) for r, p in zip(
        recordings, paths, strict=True)]  # fmt: skip
    key = hashlib.sha256(repr((camera.pk, start, end, made_of)).encode()).hexdigest()[:32]
    out = root / EXPORTS / f"{key}.mp4"
    if out.exists():
        return out
    from recordings.mp4 import Part, remux  # PyAV: loaded by the web process only to export

    parts = [Part(p, r.started_at.timestamp()) for r, p in zip(recordings, paths, strict=True)]
    # A file of its own while being made: two requests for one span must not write one file.
    made = out.with_name(f"{key}-{secrets.token_hex(4)}.mp4")
    if not remux(parts, made, start.timestamp(), end.timestamp()):
        return None
    made.replace(out)
    return out
