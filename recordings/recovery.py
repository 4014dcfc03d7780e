"""Recordings a worker left open when it was killed: finished, so that they play to the kill."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import av
from django.conf import settings

from cameras.models import Camera
from recordings.models import Recording
from recordings.mp4 import Part, remux

logger = logging.getLogger(__name__)


def length(path: Path) -> float:
    """Seconds of video in an MP4, read from its packets (a cut fragmented file has no index)."""
    first = last = None
    try:
        with av.open(str(path), options={"protocol_whitelist": "file"}) as container:
            stream = container.streams.video[0]
            for packet in container.demux(stream):
                if packet.pts is not None:
                    first = packet.pts if first is None else first
                    last = packet.pts + (packet.duration or 0)
            time_base = stream.time_base
    except (av.FFmpegError, OSError, IndexError):
        pass
    return float((last - first) * time_base) if first is not None else 0.0


def recover_recordings(camera: Camera) -> int:
    root = Path(settings.MEDIA_ROOT)
    left = list(Recording.objects.filter(camera=camera, ended_at__isnull=True))
    for recording in left:
        path = root / recording.file.name
        seconds = length(path) if path.is_file() else 0.0
        if not seconds:  # nothing playable was written
            Recording.objects.filter(pk=recording.pk).delete_with_files()
            continue
        if recording.kind == Recording.Kind.CLIP:
            try:
                remux([Part(path, 0.0)], path)  # indexed, for seeking
            except (av.FFmpegError, OSError) as exc:
                logger.warning("%s: cannot index %s: %s", camera.slug, path, exc)
        ended = recording.started_at + dt.timedelta(seconds=seconds)
        recording.finish(ended, path.stat().st_size)
    if left:
        logger.info("%s: finished %d recording(s) left open", camera.slug, len(left))
    return len(left)
