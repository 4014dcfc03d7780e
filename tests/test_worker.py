"""The capture worker over real video files, with a real Redis behind its bus."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from cameras.models import Camera
from cameras.sources.demux import FileSource
from capture.bus import Bus
from capture.worker import CaptureWorker
from events.models import MotionEvent
from tests.conftest import collect, subscribe
from tests.videos import write_video

pytestmark = pytest.mark.django_db(transaction=True)


def run_worker_over(camera: Camera) -> CaptureWorker:
    """Run the worker's loop over the whole file, as fast as it decodes, then stop."""
    worker = CaptureWorker(
        camera, Bus(), source_factory=lambda s, **_: FileSource(s, realtime=False, loop=False)
    )
    worker.run()
    return worker


def test_video_with_moving_object_produces_event_with_snapshot(
    redis_server: str, front_door: Camera
) -> None:
    run_worker_over(front_door)

    event = MotionEvent.objects.get()
    assert event.ended_at is not None
    # The box crosses from 2 s to 4 s of the file.
    duration = (event.ended_at - event.started_at).total_seconds()
    assert 1.0 <= duration <= 3.0
    assert 0.02 < event.peak_area < 0.2
    assert event.boxes and all(0 <= v <= 1 for v in event.boxes[0])
    for image in (event.snapshot, event.snapshot_clean):
        decoded = cv2.imread(image.path)
        assert decoded is not None and decoded.shape[:2] == (240, 320)
    assert Path(event.snapshot.path).parts[-4:-1] == tuple(
        f"{event.started_at:%Y/%m/%d}".split("/")
    )


def test_still_video_produces_no_event(redis_server: str, still_video: Path) -> None:
    camera = Camera.objects.create(slug="still", name="Still", source=str(still_video))
    run_worker_over(camera)
    assert not MotionEvent.objects.exists()


def test_worker_announces_start_and_end_on_the_camera_group(
    redis_server: str, front_door: Camera
) -> None:
    channel = asyncio.run(subscribe(front_door.group_name))
    run_worker_over(front_door)
    messages = asyncio.run(collect(channel, 1.0))

    alerts = [m for m in messages if m["type"].startswith("motion.")]
    event = MotionEvent.objects.get()
    assert [m["type"] for m in alerts] == ["motion.start", "motion.end"]
    assert alerts[0]["event"]["id"] == event.pk
    assert alerts[0]["event"]["ended_at"] is None
    assert alerts[0]["event"]["snapshot_url"] == f"/events/{event.pk}/snapshot.jpg"
    assert alerts[1]["event"] == event.to_dict()
    statuses = [m["status"] for m in messages if m["type"] == "camera.status"]
    assert statuses[0] == "online" and statuses[-1] == "offline"


def test_unreachable_source_is_retried_with_backoff_not_crashed(
    redis_server: str, tmp_path: Path
) -> None:
    camera = Camera.objects.create(slug="gone", name="Gone", source=str(tmp_path / "nope.mp4"))
    bus = Bus()
    bus.start()
    worker = CaptureWorker(camera, bus)
    worker.connect()
    worker.connect()  # too early: waits instead of hammering the source
    bus.stop()
    camera.refresh_from_db()
    assert worker.source is None
    assert worker.backoff.delay == 1.0
    assert camera.status == Camera.Status.OFFLINE
    assert "video file not found" in camera.status_detail


def test_event_left_open_by_a_crash_is_closed_on_start(
    redis_server: str, front_door: Camera
) -> None:
    abandoned = MotionEvent.objects.create(camera=front_door)
    worker = CaptureWorker(front_door, Bus())
    assert worker.recorder.recover() == 1
    abandoned.refresh_from_db()
    assert abandoned.ended_at is not None


def test_database_refusing_the_event_row_does_not_stop_the_worker(
    redis_server: str, front_door: Camera
) -> None:
    Camera.objects.filter(pk=front_door.pk).delete()  # each event row now breaks a foreign key
    worker = run_worker_over(front_door)
    assert worker.recorder.event is None
    assert not worker.recorder.segmenter.in_event
    assert not MotionEvent.objects.exists()


def test_frames_are_encoded_once_per_size_watched_and_not_when_unwatched(
    redis_server: str, front_door: Camera
) -> None:
    bus = Bus()
    bus.start()
    worker = CaptureWorker(front_door, bus)
    sizes: list[int] = []
    encode = worker.encode
    worker.encode = lambda frame, width: sizes.append(width) or encode(frame, width)
    channels = {w: asyncio.run(subscribe(front_door.frames_group(w))) for w in (0, 640, 160)}
    source = FileSource(front_door.source, realtime=False)
    source.open()
    frame = source.read()

    worker.publish_frame(frame)  # nobody watching
    assert sizes == []
    assert frame._image is None  # not even converted to BGR
    for width in (0, 640, 160):  # 0 and 640 are both full size for this 320-wide video
        bus.demand[width] = time.monotonic()
    worker.publish_frame(frame)
    source.close()
    bus.stop()

    assert sorted(sizes) == [160, 320]
    received = {w: asyncio.run(collect(channel, 0.5)) for w, channel in channels.items()}
    assert received[0][0]["jpeg"] == received[640][0]["jpeg"]
    small = cv2.imdecode(np.frombuffer(received[160][0]["jpeg"], np.uint8), cv2.IMREAD_COLOR)
    assert small.shape[1] == 160


def test_a_truncated_video_plays_what_it_has_and_ends_cleanly(
    redis_server: str, tmp_path: Path
) -> None:
    """A recording cut short (the camera's disk filled, the copy broke off): AVI keeps its
    frames in order, so everything before the cut plays, damaged last frame included."""
    whole, cut = tmp_path / "whole.avi", tmp_path / "cut.avi"
    writer = cv2.VideoWriter(str(whole), cv2.VideoWriter_fourcc(*"MJPG"), 15, (320, 240))
    for shade in range(90):
        writer.write(np.full((240, 320, 3), shade, np.uint8))
    writer.release()
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    camera = Camera.objects.create(slug="cut", name="Cut", source=str(cut))
    sources: list[CountingSource] = []

    def counting(text: str, password: str = "") -> CountingSource:
        sources.append(CountingSource(text, realtime=False, loop=False))
        return sources[-1]

    CaptureWorker(camera, Bus(), source_factory=counting).run()  # the file's end ends the run
    assert len(sources) == 1 and 40 <= sources[0].frames < 90


class CountingSource(FileSource):
    frames = 0

    def read(self) -> object:
        frame = super().read()
        self.frames += 1
        return frame


def motion_video_bytes(tmp_path: Path) -> bytes:
    return write_video(tmp_path / "whole.mp4", 4, moving=(1, 2)).read_bytes()


@pytest.mark.parametrize("content", [b"", b"\x00" * 5000, b"not a video at all " * 100, "mp4 cut"])
def test_an_empty_or_garbage_video_file_is_a_clear_error_not_a_crash(
    redis_server: str, tmp_path: Path, content: bytes | str
) -> None:
    bad = tmp_path / "bad.mp4"
    if content == "mp4 cut":  # the index (moov) comes last in these files: nothing to play
        content = motion_video_bytes(tmp_path)[:30_000]
    bad.write_bytes(content)
    camera = Camera.objects.create(slug="bad", name="Bad", source=str(bad))
    bus = Bus()
    bus.start()
    worker = CaptureWorker(camera, bus)
    try:
        worker.connect()
    finally:
        bus.stop()
    camera.refresh_from_db()
    assert worker.source is None and camera.status == Camera.Status.OFFLINE
    assert camera.status_detail.startswith(f"cannot open {bad}: ")
    assert "Invalid data" in camera.status_detail or "End of file" in camera.status_detail
