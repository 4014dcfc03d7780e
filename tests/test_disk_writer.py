"""The recordings' writing thread (recordings/disk.py): what waits for it is bounded."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from recordings.disk import MAX_QUEUED, DiskWriter, encode_writer


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
