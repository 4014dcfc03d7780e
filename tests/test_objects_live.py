"""Object detection live: a capture worker over real video, the detector process
(`manage.py detector`) with the real model, and the suite's real Redis between them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from asgiref.sync import async_to_sync

from cameras.models import Camera
from cameras.sources.demux import FileSource
from capture.bus import Bus
from capture.worker import CaptureWorker
from events.models import Alert, MotionEvent
from objects.queue import KEY, JobQueue
from tests import harness
from tests.conftest import collect, subscribe, wait_for_database_sessions_to_close
from tests.processes import stop_process, wait_until
from tests.videos import write_sprite_video

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """7 s at 640x480: the cameraman (tests/data) or a cup of coffee crosses from 2 to 5 s."""
    folder = tmp_path_factory.mktemp("objects")
    person = cv2.resize(cv2.imread(str(DATA / "camera.jpg")), (220, 220))
    cup = cv2.resize(cv2.imread(str(DATA / "coffee.jpg")), (300, 200))
    return {
        "person": write_sprite_video(folder / "person.mp4", person, 7, (2, 5)),
        "cup": write_sprite_video(folder / "cup.mp4", cup, 7, (2, 5)),
    }


@pytest.fixture
def detector_process(
    child_env: dict[str, str], transactional_db: None, tmp_path: Path
) -> Iterator[Path]:
    """`manage.py detector`, as runsurveillance runs it; its log."""
    JobQueue().client.delete(KEY)  # nothing left by another test
    log = tmp_path / "detector.log"
    argv = [sys.executable, "manage.py", "detector"]
    process = harness.spawn(argv, {**child_env, "PGAPPNAME": "test-detector"}, log)
    yield log
    stop_process(process)
    wait_for_database_sessions_to_close("test-detector")


def camera(slug: str, video: Path, **settings: object) -> Camera:
    return Camera.objects.create(
        slug=slug, name=slug.title(), source=str(video), end_after=1.0, record="off", **settings
    )


def run_worker_over(camera: Camera) -> None:
    """The worker's loop over the whole file, as fast as it decodes (its jobs go to Redis)."""
    factory = lambda s, **_: FileSource(s, realtime=False, loop=False)  # noqa: E731
    CaptureWorker(camera, Bus(), source_factory=factory).run()


def labelled(camera: Camera) -> MotionEvent | None:
    return MotionEvent.objects.filter(camera=camera).with_object("person").first()


def green_pixels(path: str) -> int:
    """Pixels of the labelled boxes' green (0, 200, 0) in a snapshot."""
    b, g, r = cv2.split(cv2.imread(path).astype(np.int16))
    return int(((g > 150) & (r < 80) & (b < 80)).sum())


def test_a_person_walking_by_labels_the_event_and_raises_the_alert_of_a_camera_for_people(
    detector_process: Path, videos: dict[str, Path]
) -> None:
    porch = camera("porch", videos["person"], alert_on="objects", alert_objects="person")
    channel = async_to_sync(subscribe)(porch.group_name)

    run_worker_over(porch)

    event = wait_until(lambda: labelled(porch), 60, "the person to be found")
    assert event.found["person"]["score"] >= 0.5
    assert not event.quiet and event.to_dict()["alert"] is True
    assert event.to_dict()["objects"] == {"person": event.found["person"]["score"]}
    _, y, w, h = event.found["person"]["box"]  # the 220x220 cameraman in the 640x480 frame
    assert 0.1 < w < 0.5 and 0.2 < h < 0.6 and 0.2 < y < 0.4
    kinds = list(Alert.objects.filter(event=event).values_list("kind", flat=True))
    assert kinds[0] == "motion.update" and "motion.start" not in kinds  # alerted when found
    messages = async_to_sync(collect)(channel, 1.0)
    start = next(m for m in messages if m["type"] == "motion.start")
    update = next(m for m in messages if m["type"] == "motion.update")
    assert start["event"]["objects"] == {} and start["event"]["alert"] is False
    assert update["event"]["objects"]["person"] >= 0.5 and update["event"]["alert"] is True
    event.refresh_from_db()
    before = green_pixels(event.snapshot_clean.path)  # the scene has some green of its own
    wait_until(
        lambda: green_pixels(MotionEvent.objects.get(pk=event.pk).snapshot.path) > before + 500,
        10, "the snapshot to be labelled",
    )  # fmt: skip


def test_a_cup_crossing_is_kept_quiet_and_alerts_nobody(
    detector_process: Path, videos: dict[str, Path]
) -> None:
    yard = camera("yard", videos["cup"], alert_on="objects", alert_objects="person")

    run_worker_over(yard)

    event = MotionEvent.objects.get(camera=yard)
    queue = JobQueue()
    wait_until(lambda: len(queue) == 0, 30, "the detector to take the cup's frames")
    wait_until(lambda: "object detector running" in detector_process.read_text(), 5, "its log")
    event.refresh_from_db()
    assert event.ended_at is not None and event.quiet and event.found == {}
    assert event.to_dict()["objects"] == {} and event.to_dict()["alert"] is False
    assert not Alert.objects.filter(event=event).exists()


def test_a_camera_alerting_on_any_motion_alerts_at_the_start_and_tells_the_objects_after(
    detector_process: Path, videos: dict[str, Path]
) -> None:
    door = camera("door", videos["person"])  # alert_on: any motion, the default

    run_worker_over(door)

    event = wait_until(lambda: labelled(door), 60, "the person to be found")
    kinds = list(Alert.objects.filter(event=event).order_by("pk").values_list("kind", flat=True))
    assert kinds[0] == "motion.start" and "motion.update" in kinds
    start = Alert.objects.get(event=event, kind="motion.start")
    assert start.message["event"]["objects"] == {}


def test_a_quiet_camera_hands_the_detector_nothing_and_opens_no_connection_for_it(
    redis_server: str, still_video: Path
) -> None:
    still = camera("still", still_video, alert_on="objects")
    factory = lambda s, **_: FileSource(s, realtime=False, loop=False)  # noqa: E731
    worker = CaptureWorker(still, Bus(), source_factory=factory)

    worker.run()

    assert not MotionEvent.objects.exists()
    assert worker.objects.offered == 0 and worker.objects.sender.sent == 0
    assert worker.objects.sender.queue is None  # never connected to Redis for the detector
