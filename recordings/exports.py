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


def export_span(
    camera: Camera, start: dt.datetime, end: dt.datetime | None, remake: bool = True
) -> Path | None:
    """An MP4 of the camera's video from start to end (at most LONGEST; None: to what is
    recorded so far), or None if nothing of it was recorded. Made again only when a file it is
    made of has grown since: a clip still being recorded is re-exported in place, not piled up.
    With remake=False, the one made before is kept as it is even so (a player reading on in it)."""
    until = min(end, start + LONGEST) if end else start + LONGEST
    recordings = parts_of(camera, start, until)
    if not recordings:
        return None
    root = Path(settings.MEDIA_ROOT)
    paths = [root / r.file.name for r in recordings]
    made_of = (camera.pk, start, end, [r.pk for r in recordings])
    out = root / EXPORTS / f"{hashlib.sha256(repr(made_of).encode()).hexdigest()[:32]}.mp4"
    if out.exists() and (not remake or out.stat().st_mtime >= newest_change(paths)):
        return out
    from recordings.mp4 import Part, remux  # PyAV: loaded by the web process only to export

    parts = [Part(p, r.started_at.timestamp()) for r, p in zip(recordings, paths, strict=True)]
    # A file of its own while being made (two requests for one span must not write one file),
    # named as exports are, so that retention sweeps one left by a crash.
    made = out.with_name(f"{secrets.token_hex(16)}.mp4")
    if not remux(parts, made, start.timestamp(), until.timestamp()):
        return None
    made.replace(out)
    return out


def newest_change(paths: list[Path]) -> float:
    return max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)
