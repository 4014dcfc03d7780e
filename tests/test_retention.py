"""Retention on a real disk: by age per camera, by size budget and free-space reserve, orphan
files; events marked keep and ongoing ones stay, and only the product's own files are touched."""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from cameras.models import Camera
from events.models import MotionEvent
from events.retention import ORPHAN_AGE, Pruner
from recordings.models import Recording, recording_name

MEDIA = Path(settings.MEDIA_ROOT)
SIZE = 500_000  # bytes per snapshot file, two per event: well above the disk's other churn


def event(
    camera: Camera, days_ago: float, keep: bool = False, ongoing: bool = False
) -> MotionEvent:
    started = timezone.now() - dt.timedelta(days=days_ago)
    made = MotionEvent.objects.create(
        camera=camera, started_at=started, keep=keep,
        ended_at=None if ongoing else started + dt.timedelta(seconds=5),
    )  # fmt: skip
    made.save_snapshots(os.urandom(SIZE), os.urandom(SIZE))
    return made


def files_of(made: MotionEvent) -> list[Path]:
    return [MEDIA / made.snapshot.name, MEDIA / made.snapshot_clean.name]


def gone(made: MotionEvent) -> bool:
    rows = MotionEvent.objects.filter(pk=made.pk).exists()
    return not rows and not any(path.exists() for path in files_of(made))


def kept(made: MotionEvent) -> bool:
    return MotionEvent.objects.filter(pk=made.pk).exists() and all(
        path.exists() for path in files_of(made)
    )


@pytest.fixture
def pruning(transactional_db: None) -> None:
    """Files go after the commit: these tests need real commits."""


def test_events_older_than_their_cameras_keep_days_go_with_their_files(
    pruning: None, front_door: Camera, garage: Camera
) -> None:
    front_door.keep_days, garage.keep_days = 7, 0
    front_door.save(), garage.save()
    old, recent = event(front_door, 8), event(front_door, 6)
    marked, running = event(front_door, 9, keep=True), event(front_door, 9, ongoing=True)
    forever = event(garage, 400)  # keep_days 0: only when space runs short
    outcome = Pruner(MEDIA).run()
    assert outcome.expired == 1 and gone(old)
    assert all(kept(e) for e in (recent, marked, running, forever))


def test_over_the_size_budget_the_oldest_unprotected_events_go_first(
    pruning: None, front_door: Camera
) -> None:
    front_door.keep_days = 0
    front_door.save()
    before = Pruner(MEDIA).used()
    events = [event(front_door, days) for days in (5, 4, 3, 2, 1)]
    protected = event(front_door, 10, keep=True)
    budget = before + 3 * 2 * SIZE + 2 * SIZE  # room for three events besides the kept one
    outcome = Pruner(MEDIA, budget=budget).run()
    assert outcome.for_space == 2 and outcome.freed >= 4 * SIZE
    assert gone(events[0]) and gone(events[1])
    assert all(kept(e) for e in events[2:]) and kept(protected)
    assert Pruner(MEDIA).used() <= budget


def test_short_of_free_space_the_oldest_events_go_until_the_reserve_is_met(
    pruning: None, front_door: Camera
) -> None:
    events = [event(front_door, days) for days in (3, 2, 1)]
    reserve = shutil.disk_usage(MEDIA).free + 2 * SIZE + SIZE // 2  # a bit over one event short
    outcome = Pruner(MEDIA, reserve=reserve).run()
    assert outcome.for_space == 2 and gone(events[0]) and gone(events[1]) and kept(events[2])


def test_orphan_files_go_once_an_hour_old_and_nothing_else_is_touched(
    pruning: None, front_door: Camera
) -> None:
    folder = MEDIA / "snapshots/2026/01/02"
    folder.mkdir(parents=True, exist_ok=True)
    orphan, young = folder / "front-door-999999.jpg", folder / "front-door-999998-clean.jpg"
    theirs = [folder / "notes.txt", MEDIA / "front-door-999997.jpg", folder / "x-1.jpg.bak"]
    for path in (orphan, young, *theirs):
        path.write_bytes(b"x" * 10)
    hours_ago = time.time() - ORPHAN_AGE - 60
    for path in (orphan, *theirs):
        os.utime(path, (hours_ago, hours_ago))
    mine = event(front_door, 0)
    outcome = Pruner(MEDIA).run()
    assert outcome.orphans >= 1 and not orphan.exists()
    assert young.exists() and all(path.exists() for path in theirs) and kept(mine)


def test_a_dry_run_deletes_nothing_and_says_what_would_go(
    pruning: None, front_door: Camera, capsys: pytest.CaptureFixture
) -> None:
    front_door.keep_days = 1
    front_door.save()
    old = event(front_door, 2)
    call_command("prune", "--dry-run")
    assert "Would delete: 1 event(s) past their camera's keep_days" in capsys.readouterr().out
    assert kept(old)
    call_command("prune")
    assert "Deleted: 1 event(s)" in capsys.readouterr().out and gone(old)


def test_a_delete_that_fails_midway_keeps_both_rows_and_files(
    pruning: None, front_door: Camera
) -> None:
    made = event(front_door, 1)
    with pytest.raises(RuntimeError), transaction.atomic():
        MotionEvent.objects.filter(pk=made.pk).delete_with_files()
        raise RuntimeError("the process dies before the commit")
    assert kept(made)  # files go only after the rows are gone for good


@pytest.mark.parametrize("media", ["never made", "deleted by hand"])
def test_without_a_media_folder_prune_says_so_in_a_line_and_still_expires_events(
    pruning: None, front_door: Camera, tmp_path: Path, media: str, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "media"
    if media == "deleted by hand":
        root.mkdir()
        root.rmdir()
    front_door.keep_days = 7
    front_door.save()
    started = timezone.now() - dt.timedelta(days=8)
    old = MotionEvent.objects.create(
        camera=front_door, started_at=started, ended_at=started + dt.timedelta(seconds=5)
    )
    with caplog.at_level("INFO", logger="events.retention"), override_settings(MEDIA_ROOT=root):
        call_command("prune", stdout=io.StringIO())
    assert not MotionEvent.objects.filter(pk=old.pk).exists()
    outcome = Pruner(root, budget=10**9, reserve=10**9).run()
    assert outcome.for_space == 0
    assert f"{root} does not exist (yet)" in caplog.text


# -- video --


def recorded(
    camera: Camera, days_ago: float, kind: str = Recording.Kind.SEGMENT, seconds: float = 60
) -> Recording:
    started = timezone.now() - dt.timedelta(days=days_ago)
    made = Recording.objects.create(
        camera=camera, kind=kind, started_at=started,
        ended_at=started + dt.timedelta(seconds=seconds),
        file=recording_name(camera, started, kind), size=SIZE, codec="h264",
    )  # fmt: skip
    path = MEDIA / made.file.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(SIZE))
    return made


def video_gone(made: Recording) -> bool:
    return (
        not Recording.objects.filter(pk=made.pk).exists() and not (MEDIA / made.file.name).exists()
    )


def video_kept(made: Recording) -> bool:
    return Recording.objects.filter(pk=made.pk).exists() and (MEDIA / made.file.name).exists()


def test_segments_older_than_their_cameras_segment_keep_days_go_unless_a_kept_event_needs_them(
    pruning: None, front_door: Camera
) -> None:
    front_door.segment_keep_days = 7
    front_door.save()
    old, recent, needed = recorded(front_door, 8), recorded(front_door, 6), recorded(front_door, 9)
    marked = event(front_door, 9, keep=True)  # inside the third segment's minute
    MotionEvent.objects.filter(pk=marked.pk).update(
        started_at=needed.started_at + dt.timedelta(seconds=20),
        ended_at=needed.started_at + dt.timedelta(seconds=25),
    )
    outcome = Pruner(MEDIA).run()
    assert outcome.video == 1 and video_gone(old)
    assert video_kept(recent) and video_kept(needed)


def test_an_events_own_clip_goes_with_it_and_a_kept_events_stays(
    pruning: None, front_door: Camera
) -> None:
    front_door.keep_days = 7
    front_door.save()
    old, marked = event(front_door, 8), event(front_door, 9, keep=True)
    old_clip = recorded(front_door, 8, kind=Recording.Kind.CLIP)
    marked_clip = recorded(front_door, 9, kind=Recording.Kind.CLIP)
    old.attach_clip(old_clip), marked.attach_clip(marked_clip)
    Pruner(MEDIA).run()
    assert gone(old) and video_gone(old_clip)
    assert kept(marked) and video_kept(marked_clip)


def test_the_size_budget_counts_video_and_the_oldest_goes_first_whatever_it_is(
    pruning: None, front_door: Camera
) -> None:
    before = Pruner(MEDIA).used()
    oldest_segment, old_event = recorded(front_door, 5), event(front_door, 4)
    newer_segment, newest = recorded(front_door, 3), event(front_door, 2)
    # A segment is one SIZE, an event two; room for three and a half.
    outcome = Pruner(MEDIA, budget=before + int(3.5 * SIZE)).run()
    assert video_gone(oldest_segment) and gone(old_event)
    assert video_kept(newer_segment) and kept(newest)
    assert outcome.video == 1 and outcome.for_space == 1


def test_the_recorder_frees_the_oldest_video_but_keeps_the_events(
    pruning: None, front_door: Camera
) -> None:
    before = Pruner(MEDIA).used()
    oldest, newer = recorded(front_door, 3), recorded(front_door, 2)
    clip = recorded(front_door, 1, kind=Recording.Kind.CLIP)
    the_event = event(front_door, 1)
    the_event.attach_clip(clip)
    # Three videos of one SIZE, the event's snapshots two: room for four and a half.
    assert Pruner(MEDIA, budget=before + int(4.5 * SIZE)).make_room_for_video()
    assert video_gone(oldest) and video_kept(newer) and video_kept(clip) and kept(the_event)
    # Room for less than the event's snapshots: all video goes, and that is not enough.
    assert not Pruner(MEDIA, budget=before + SIZE).make_room_for_video()
    assert kept(the_event)
    the_event.refresh_from_db()
    assert the_event.clip is None  # its clip went to make room, its row and pictures stayed


def test_orphan_video_files_go_once_an_hour_old(pruning: None, front_door: Camera) -> None:
    made = recorded(front_door, 1)
    orphan = MEDIA / recording_name(front_door, made.started_at, "clip")
    orphan.write_bytes(b"x" * 100)
    fresh = MEDIA / recording_name(front_door, made.started_at, "segment")
    fresh.write_bytes(b"x" * 100)
    old = time.time() - ORPHAN_AGE - 10
    os.utime(orphan, (old, old))
    assert Pruner(MEDIA).run().orphans == 1
    assert not orphan.exists() and fresh.exists() and video_kept(made)
