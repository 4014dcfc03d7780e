"""Retention: which events, video and files go, so that the data dir never fills the disk.

The rules, in order, each deleting the oldest first, never an event marked "keep" or still going
on, and never the video such an event needs (its clip, the segments it overlaps) or a recording
still being written:
1. age: a camera's events older than its `keep_days` (with their clips), and its continuous
   segments older than its `segment_keep_days`;
2. space: while snapshots and video use more than the size budget, or the disk has less free
   space than the reserve: events (with their clips) and segments, the oldest first;
3. orphans: files no row names (a crash between a row's delete and its files'), once an hour
   old, so that a file being written right now is never taken for one; exports after an hour.
Video fills a disk faster than a prune every ten minutes can follow, so the recorder calls
`room_for_video()` before it opens each clip or segment: it frees the oldest video no kept event
needs until the budget and the reserve hold (events keep their rows and snapshots).
Rows go first and their files after the commit (cameras/files.py). Only files the product writes
are looked at: snapshots/…, recordings/… and exports/…, named as the product names them.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db.models import Q, Sum
from django.utils import timezone

from cameras.models import Camera
from events.models import MotionEvent, MotionEventQuerySet
from recordings.exports import EXPORTS
from recordings.models import RECORDINGS, Recording, RecordingQuerySet

logger = logging.getLogger(__name__)

SNAPSHOTS = "snapshots"
OURS = re.compile(
    r"(snapshots/\d{4}/\d{2}/\d{2}/[\w-]+-\d+(-clean)?(_[A-Za-z0-9]{7})?\.jpg"
    r"|recordings/\d{4}/\d{2}/\d{2}/[\w-]+-\d{6}-(clip|segment)-[0-9a-f]{8}\.mp4"
    r"|exports/[0-9a-f]{32}\.mp4)"
)
ORPHAN_AGE = 3600.0  # seconds a file without a row is left alone
BATCH = 500


@dataclass
class Outcome:
    expired: int = 0  # events past their camera's keep_days
    for_space: int = 0  # events deleted to make room
    video: int = 0  # segments and clips deleted on their own (age or room)
    orphans: int = 0
    freed: int = 0  # bytes

    def __str__(self) -> str:
        return (
            f"{self.expired} event(s) past their camera's keep_days, {self.for_space} to make "
            f"room, {self.video} video file(s), {self.orphans} orphan file(s); "
            f"{self.freed / 1e6:.1f} MB"
        )


def room_for_video() -> bool:
    """What the recorder asks before each new file: True once the budget and reserve hold."""
    pruner = Pruner(
        settings.MEDIA_ROOT,
        budget=settings.STORAGE_BUDGET_BYTES,
        reserve=settings.FREE_SPACE_RESERVE_BYTES,
    )
    return pruner.make_room_for_video()


def unneeded_video() -> RecordingQuerySet:
    """Finished recordings no kept event needs: not a kept event's clip, and no segment that
    overlaps one (with the camera's pre- and post-roll)."""
    video = Recording.objects.finished().exclude(events__keep=True)
    margin = dt.timedelta(seconds=120)  # more than any pre- or post-roll
    for event in MotionEvent.objects.filter(keep=True).only("camera", "started_at", "ended_at"):
        end = (event.ended_at or timezone.now()) + margin
        video = video.exclude(
            camera=event.camera_id, started_at__lt=end, ended_at__gt=event.started_at - margin
        )
    return video


class Pruner:
    def __init__(
        self, media_root: Path, budget: int = 0, reserve: int = 0, now: dt.datetime | None = None
    ) -> None:
        self.media_root = Path(media_root)
        self.budget, self.reserve = budget, reserve  # bytes; 0 means no such limit
        self.now = now or timezone.now()

    def run(self, dry_run: bool = False) -> Outcome:
        outcome = Outcome()
        outcome.expired, freed = self.delete_events(self.expired(), dry_run)
        outcome.freed += freed
        outcome.video, freed = self.delete_video(self.expired_video(), dry_run)
        outcome.freed += freed
        events, video, freed = self.make_room(dry_run, already_freed=outcome.freed)
        outcome.for_space, outcome.video = events, outcome.video + video
        outcome.freed += freed
        outcome.orphans, freed = self.sweep_orphans(dry_run)
        outcome.freed += freed
        return outcome

    # What is too old.

    def expired(self) -> MotionEventQuerySet:
        too_old = Q()
        for camera in Camera.objects.filter(keep_days__gt=0):
            cutoff = self.now - dt.timedelta(days=camera.keep_days)
            too_old |= Q(camera=camera, started_at__lt=cutoff)
        if not too_old:
            return MotionEvent.objects.none()
        return MotionEvent.objects.prunable().filter(too_old)

    def expired_video(self) -> RecordingQuerySet:
        too_old = Q()
        for camera in Camera.objects.filter(segment_keep_days__gt=0):
            cutoff = self.now - dt.timedelta(days=camera.segment_keep_days)
            too_old |= Q(camera=camera, started_at__lt=cutoff)
        if not too_old:
            return Recording.objects.none()
        return unneeded_video().filter(too_old, kind=Recording.Kind.SEGMENT)

    # What is too much.

    def shortfall(self) -> int:
        """Bytes to free for both the size budget and the free-space reserve to hold."""
        short = 0
        if self.budget:
            short = max(short, self.used() - self.budget)
        if self.reserve and (free := self.free_space()) is not None:
            short = max(short, self.reserve - free)
        return short

    def free_space(self) -> int | None:
        """Free bytes on the media folder's disk; None (and a log line) when there is no folder
        to measure: a fresh data dir before the first event, a folder deleted by hand, a disk
        that is not mounted."""
        try:
            return shutil.disk_usage(self.media_root).free
        except FileNotFoundError:
            logger.info("%s does not exist (yet): no files to make room for", self.media_root)
        except OSError as exc:
            logger.warning("cannot measure the free space of %s: %s", self.media_root, exc)
        return None

    def make_room(self, dry_run: bool, already_freed: int = 0) -> tuple[int, int, int]:
        """Events and video, the oldest first, until there is room: (events, video, bytes)."""
        short = self.shortfall() - (already_freed if dry_run else 0)
        events = video = freed = 0
        skip = 0  # a dry run deletes nothing: the next batch is further on
        while short > 0:
            chosen = self.oldest(skip, short)
            if not chosen:
                logger.warning("cannot free %.1f MB more: all that is left is kept", short / 1e6)
                break
            event_pks = [pk for _, kind, pk, _ in chosen if kind == "event"]
            video_pks = [pk for _, kind, pk, _ in chosen if kind == "video"]
            count, size = self.delete_events(MotionEvent.objects.filter(pk__in=event_pks), dry_run)
            more, more_size = self.delete_video(Recording.objects.filter(pk__in=video_pks), dry_run)
            events, video = events + count, video + more
            freed, short = freed + size + more_size, short - size - more_size
            skip += len(chosen)
        return events, video, freed

    def make_room_for_video(self) -> bool:
        """Free the oldest video no kept event needs until there is room; False if there is not
        enough even then."""
        short = self.shortfall()
        while short > 0:
            chosen, size = [], 0
            for pk, bytes_ in (
                unneeded_video().order_by("started_at", "pk").values_list("pk", "size")[:BATCH]
            ):
                chosen.append(pk)
                size += bytes_
                if size >= short:
                    break
            if not chosen:
                return False
            self.delete_video(Recording.objects.filter(pk__in=chosen))
            short = self.shortfall()
        return True

    def oldest(self, skip: int, short: int) -> list[tuple]:
        """The oldest deletable things, events and video merged by age, covering `short` bytes:
        (started_at, "event" | "video", pk, bytes)."""
        events = MotionEvent.objects.prunable().order_by("started_at", "pk")
        videos = unneeded_video().filter(kind=Recording.Kind.SEGMENT).order_by("started_at", "pk")
        merged = heapq.merge(
            ((e.started_at, "event", e.pk, self.size_of(e)) for e in events[: skip + BATCH]),
            ((r.started_at, "video", r.pk, r.size) for r in videos[: skip + BATCH]),
        )
        chosen, size = [], 0
        for item in list(merged)[skip:]:
            chosen.append(item)
            size += item[3]
            if size >= short:
                break
        return chosen

    def used(self) -> int:
        """Bytes of snapshots (on disk) and video (as recorded, and what is being written)."""
        snapshots = sum(self.file_size(name) for _, name in self.our_files(SNAPSHOTS))
        video = Recording.objects.finished().aggregate(total=Sum("size"))["total"] or 0
        growing = Recording.objects.filter(ended_at__isnull=True).values_list("file", flat=True)
        return snapshots + video + sum(self.file_size(name) for name in growing)

    # Deleting.

    def delete_events(self, events: MotionEventQuerySet, dry_run: bool) -> tuple[int, int]:
        count = freed = 0
        pks = list(events.values_list("pk", flat=True))
        for start in range(0, len(pks), BATCH):
            batch = MotionEvent.objects.filter(pk__in=pks[start : start + BATCH])
            freed += sum(self.size_of(event) for event in batch.select_related("clip"))
            count += len(batch) if dry_run else batch.delete_with_files()
        return count, freed

    def delete_video(self, video: RecordingQuerySet, dry_run: bool = False) -> tuple[int, int]:
        rows = list(video.values_list("pk", "size"))
        if not dry_run and rows:
            Recording.objects.filter(pk__in=[pk for pk, _ in rows]).delete_with_files()
        return len(rows), sum(size for _, size in rows)

    def size_of(self, event: MotionEvent) -> int:
        """An event's snapshots, and its own clip."""
        names = (event.snapshot.name, event.snapshot_clean.name)
        clip = event.clip.size if event.clip and event.clip.kind == Recording.Kind.CLIP else 0
        return sum(self.file_size(name) for name in names) + clip

    def file_size(self, name: str) -> int:
        try:
            return (self.media_root / name).stat().st_size if name else 0
        except OSError:
            return 0

    # Files without rows.

    def our_files(self, folder: str) -> Iterator[tuple[Path, str]]:
        root = self.media_root / folder
        if not root.is_dir():
            return
        for path in root.rglob("*"):
            name = path.relative_to(self.media_root).as_posix()
            if path.is_file() and not path.is_symlink() and OURS.fullmatch(name):
                yield path, name

    def sweep_orphans(self, dry_run: bool) -> tuple[int, int]:
        named = set()
        for pair in MotionEvent.objects.values_list(*MotionEvent.FILE_FIELDS).iterator():
            named.update(pair)
        named.update(Recording.objects.values_list("file", flat=True).iterator())
        count = freed = 0
        for folder in (SNAPSHOTS, RECORDINGS, EXPORTS):
            for path, name in list(self.our_files(folder)):
                try:
                    stat = path.stat()
                except OSError:
                    continue
                if name in named or time.time() - stat.st_mtime < ORPHAN_AGE:
                    continue
                count, freed = count + 1, freed + stat.st_size
                if not dry_run:
                    path.unlink(missing_ok=True)
        return count, freed
