"""Retention: which events and files go, so that the data dir never fills the disk.

Three rules, in order, each deleting the oldest first and never an event marked "keep" or still
going on:
1. age: a camera's events older than its `keep_days`;
2. space: while the snapshots use more than the size budget, or the disk has less free space
   than the reserve;
3. orphans: snapshot files no row names (a crash between a row's delete and its files'), once
   an hour old, so that a snapshot being written right now is never taken for one.
Rows go first and their files after the commit (MotionEventQuerySet.delete_with_files): a crash
can leave files without rows, which rule 3 finds, never rows pointing at missing files. Only files
the product writes are ever looked at: snapshots/YYYY/MM/DD/<camera>-<id>[-clean][_xxxxxxx].jpg.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.db.models import Q
from django.utils import timezone

from cameras.models import Camera
from events.models import MotionEvent, MotionEventQuerySet

logger = logging.getLogger(__name__)

SNAPSHOTS = "snapshots"
OURS = re.compile(r"snapshots/\d{4}/\d{2}/\d{2}/[\w-]+-\d+(-clean)?(_[A-Za-z0-9]{7})?\.jpg")
ORPHAN_AGE = 3600.0  # seconds a file without a row is left alone
BATCH = 500


@dataclass
class Outcome:
    expired: int = 0
    for_space: int = 0
    orphans: int = 0
    freed: int = 0  # bytes

    def __str__(self) -> str:
        return (
            f"{self.expired} event(s) past their camera's keep_days, {self.for_space} to make "
            f"room, {self.orphans} orphan file(s); {self.freed / 1e6:.1f} MB"
        )


class Pruner:
    def __init__(
        self, media_root: Path, budget: int = 0, reserve: int = 0, now: dt.datetime | None = None
    ) -> None:
        self.media_root = Path(media_root)
        self.budget, self.reserve = budget, reserve  # bytes; 0 means no such limit
        self.now = now or timezone.now()

    def run(self, dry_run: bool = False) -> Outcome:
        outcome = Outcome()
        outcome.expired, freed = self.delete(self.expired(), dry_run)
        outcome.freed += freed
        outcome.for_space, freed = self.make_room(dry_run, already_freed=outcome.freed)
        outcome.freed += freed
        outcome.orphans, freed = self.sweep_orphans(dry_run)
        outcome.freed += freed
        return outcome

    def expired(self) -> MotionEventQuerySet:
        too_old = Q()
        for camera in Camera.objects.filter(keep_days__gt=0):
            cutoff = self.now - dt.timedelta(days=camera.keep_days)
            too_old |= Q(camera=camera, started_at__lt=cutoff)
        if not too_old:
            return MotionEvent.objects.none()
        return MotionEvent.objects.prunable().filter(too_old)

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

    def make_room(self, dry_run: bool, already_freed: int = 0) -> tuple[int, int]:
        short = self.shortfall() - (already_freed if dry_run else 0)
        deleted = freed = 0
        oldest = MotionEvent.objects.prunable().order_by("started_at", "pk")
        offset = 0
        while short > 0:
            batch = list(oldest[offset : offset + BATCH] if dry_run else oldest[:BATCH])
            if not batch:
                logger.warning("cannot free %.1f MB more: every event left is kept", short / 1e6)
                break
            chosen, size = [], 0
            for event in batch:
                chosen.append(event.pk)
                size += self.size_of(event)
                if size >= short:
                    break
            count, _ = self.delete(MotionEvent.objects.filter(pk__in=chosen), dry_run)
            deleted, freed, short = deleted + count, freed + size, short - size
            offset += count
        return deleted, freed

    def delete(self, events: MotionEventQuerySet, dry_run: bool) -> tuple[int, int]:
        count = freed = 0
        pks = list(events.values_list("pk", flat=True))
        for start in range(0, len(pks), BATCH):
            batch = MotionEvent.objects.filter(pk__in=pks[start : start + BATCH])
            freed += sum(self.size_of(event) for event in batch)
            count += len(batch) if dry_run else batch.delete_with_files()
        return count, freed

    def size_of(self, event: MotionEvent) -> int:
        names = (event.snapshot.name, event.snapshot_clean.name)
        return sum(self.file_size(name) for name in names)

    def file_size(self, name: str) -> int:
        try:
            return (self.media_root / name).stat().st_size if name else 0
        except OSError:
            return 0

    def used(self) -> int:
        return sum(self.file_size(name) for _, name in self.our_files())

    def our_files(self) -> Iterator[tuple[Path, str]]:
        root = self.media_root / SNAPSHOTS
        if not root.is_dir():
            return
        for path in root.rglob("*"):
            name = path.relative_to(self.media_root).as_posix()
            if path.is_file() and not path.is_symlink() and OURS.fullmatch(name):
                yield path, name

    def sweep_orphans(self, dry_run: bool) -> tuple[int, int]:
        named = set()
        for pair in MotionEvent.objects.values_list("snapshot", "snapshot_clean").iterator():
            named.update(pair)
        count = freed = 0
        for path, name in list(self.our_files()):
            if name in named or time.time() - path.stat().st_mtime < ORPHAN_AGE:
                continue
            count, freed = count + 1, freed + path.stat().st_size
            if not dry_run:
                path.unlink(missing_ok=True)
        return count, freed
