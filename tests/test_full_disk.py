"""A full disk, for real: the capture worker runs with its media dir on a tiny tmpfs of its own
(a user and mount namespace: no root needed), nearly filled, and then given room again."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from cameras.files import file_names
from cameras.models import Camera
from events.models import MotionEvent
from recordings.models import Recording
from tests.conftest import ROOT, wait_for_database_sessions_to_close
from tests.processes import stop_process, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Mount a 1 MB tmpfs over the media dir, leave 8 KB of it free (a snapshot starts and fails
# partway), run the worker until the test makes room, then list what is on the disk.
WORKER_ON_A_FULL_DISK = """
set -e
mount -t tmpfs -o size=1m tmpfs "$MEDIA"
head -c 1040384 /dev/zero > "$MEDIA/filler"
"$PYTHON" manage.py capture front-door &
worker=$!
trap 'touch "$ROOM"; kill -TERM $worker' TERM
while [ ! -e "$ROOM" ]; do sleep 0.2; done
rm -f "$MEDIA/filler"
wait $worker || wait $worker || true
cd "$MEDIA" && find . -type f | sed 's|^\\./||' > "$LISTING"
"""


def namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = ["unshare", "--user", "--map-root-user", "--mount", "true"]
    return subprocess.run(probe, capture_output=True).returncode == 0


@pytest.fixture
def worker_on_a_full_disk(
    child_env: dict[str, str], front_door: Camera, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen, Path]]:
    if not namespaces_work():
        pytest.skip("needs unshare (util-linux) with user namespaces enabled")
    media = settings.MEDIA_ROOT
    media.mkdir(parents=True, exist_ok=True)
    env = {
        **child_env, "PGAPPNAME": "test-full-disk", "MEDIA": str(media), "PYTHON": sys.executable,
        "ROOM": str(tmp_path / "room"), "LISTING": str(tmp_path / "listing"),
        # No reserve: a disk this small is full only when a write fails, as on a card filling.
        "SURVEILLANCE_FREE_SPACE_GB": "0",
    }  # fmt: skip
    process = subprocess.Popen(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", WORKER_ON_A_FULL_DISK],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    yield process, tmp_path
    stop_process(process)
    wait_for_database_sessions_to_close("test-full-disk")


def test_a_full_disk_keeps_events_without_pictures_or_video_and_recovers_when_room_returns(
    worker_on_a_full_disk: tuple,
) -> None:
    process, tmp = worker_on_a_full_disk

    def finished_event() -> MotionEvent | None:
        return MotionEvent.objects.filter(ended_at__isnull=False).first()

    full = wait_until(finished_event, 40, "an event recorded on the full disk")
    assert not full.snapshot and not full.snapshot_clean  # the row is kept, without pictures
    assert process.poll() is None, "the worker died on the full disk"

    roomy_since = time.time()
    (tmp / "room").touch()

    def event_with_snapshot() -> MotionEvent | None:
        return (
            MotionEvent.objects.filter(
                started_at__gt=dt.datetime.fromtimestamp(roomy_since, dt.UTC)
            )
            .exclude(snapshot="")
            .first()
        )

    wait_until(event_with_snapshot, 40, "an event with snapshots once there is room")
    # Video comes back too, within the recorder's retry (an event that starts inside it, as the
    # first after the room may on a loaded machine, is kept without a clip).
    after = dt.datetime.fromtimestamp(roomy_since, dt.UTC)
    clip_of_an_event = Recording.objects.filter(
        events__started_at__gt=after, ended_at__isnull=False
    )
    wait_until(clip_of_an_event.exists, 60, "the clip of an event once there is room")
    stop_process(process)
    log = process.stderr.read()
    assert "cannot store snapshot" in log and "No space left on device" in log
    assert "recording stopped: disk full" in log

    on_disk = set((tmp / "listing").read_text().split())
    rows = set(file_names(MotionEvent.objects.all())) | set(file_names(Recording.objects.all()))
    assert rows and on_disk == rows  # no row pointing at a missing file, no file without a row
    clip = clip_of_an_event.first()
    assert clip.size > 0 and clip.started_at > full.ended_at
