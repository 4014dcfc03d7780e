"""The recordings' writing thread (recordings/disk.py): what waits for it is bounded."""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np

from cameras.models import Camera
from cameras.sources.demo import DemoSource
from recordings.disk import MAX_QUEUED, DiskWriter, encode_writer
from recordings.models import Recording
from recordings.recorder import FLUSH_BYTES, FLUSH_EVERY, VideoRecorder


def test_pictures_waiting_for_the_encoder_are_bounded_and_a_first_batch_is_always_taken(
    tmp_path: Path,
) -> None:
    """Half a second of 1080p pictures is over the bound by itself: it is taken when nothing
    waits; more, handed over faster than x264 encodes them, is refused, not piled up."""
    disk = DiskWriter("test")
    path = tmp_path / "clip.mp4"
    disk.open(1, path, encode_writer(1920, 1080, 15))
    picture = np.full((1080, 1920, 3), 90, np.uint8)
    batch_size = 8 * picture.nbytes
    assert batch_size > MAX_QUEUED

    accepted, most_queued = [], 0
    for n in range(6):
        batch = [(picture, 1000.0 + (8 * n + i) / 15) for i in range(8)]
        accepted.append(disk.write(1, batch, batch_size))
        most_queued = max(most_queued, disk.queued)
    disk.close(1, indexed=False)
    disk.stop(timeout=60)

    assert accepted[0], "a batch is taken when nothing waits, whatever its size"
    assert not all(accepted), "batches handed over faster than they encode are refused"
    assert most_queued <= batch_size  # never more than one batch waiting
    with av.open(str(path)) as clip:
        frames = sum(1 for _ in clip.decode(video=0))
    assert frames == 8 * sum(accepted)  # every batch taken was written whole


def test_a_camera_that_sends_pictures_holds_at_most_a_few_of_them_for_the_disk(
    db: None, settings: object, tmp_path: Path
) -> None:
    """Raw 640x480 pictures (0.9 MB each) go to the encoder every FLUSH_BYTES, not every half
    second: 14 MB of them waited in every recording worker. None is lost on the way."""
    settings.MEDIA_ROOT = str(tmp_path)
    camera = Camera.objects.create(slug="yard", name="Yard", source="demo:yard")
    source = DemoSource("yard", realtime=False, first_after=0)
    source.open()
    recorder = VideoRecorder(camera)
    recorder.attach(source)
    frames = [source.read() for _ in range(45)]
    picture = frames[0].image.nbytes
    recorder.feed(frames[0])
    assert recorder.event_started(frames[0].captured_at, lambda recording: None) is not None

    most_pending = 0
    for frame in frames[1:]:
        recorder.feed(frame)
        time.sleep(1 / 30)  # a camera's pace, or near it: the encoder keeps up, nothing is lost
        most_pending = max(most_pending, recorder.pending_size)
    recorder.event_ended(frames[-1].captured_at - camera.post_roll)  # the clip ends here
    recorder.feed(source.read())
    recorder.close()

    assert most_pending < FLUSH_BYTES + picture  # three pictures, not half a second's 7.5
    assert FLUSH_BYTES + picture < FLUSH_EVERY * source.fps * picture
    assert "lost" not in recorder.state
    (recording,) = Recording.objects.all()
    with av.open(str(tmp_path / recording.file.name)) as clip:
        written = sum(1 for _ in clip.decode(video=0))
    assert written >= 45  # the pre-roll's first picture and every one fed after it
