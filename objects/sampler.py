"""The capture worker's side of object detection: which frames of an event the detector sees.

The first frame of an event, then a frame at a new peak of the motion when it has grown well
past the one last sent and a moment has passed: a person walking in is looked at two or three
times, not fifteen times a second. Nothing runs while the camera is quiet: the recorder calls
offer() only during an event.
"""

from __future__ import annotations

from cameras.jpeg import encode_jpeg
from cameras.motion.detector import Detection
from cameras.sources.base import Frame
from objects.detector import crop
from objects.queue import Job, Sender

GROWTH = 1.5  # a new peak is sent once its area is this many times the last one sent
SPACING = 1.0  # seconds at least between two frames of one event
JPEG_QUALITY = 90  # the detector sees the crop through this: artefacts cost it scores


class Sampler:
    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self.event_id: int | None = None
        self.last_area = self.last_at = 0.0
        self.offered = 0

    def offer(self, event: object, frame: Frame, detection: Detection) -> bool:
        """A frame of an event (its first, or a new peak); True if it went to the detector."""
        if event.pk == self.event_id and not self.worth_sending(frame, detection):
            return False
        self.event_id, self.last_area, self.last_at = event.pk, detection.area, frame.captured_at
        part, region = crop(frame.image, detection.boxes)
        boxes = tuple(tuple(box) for box in detection.boxes)
        self.sender.put(Job(event.pk, encode_jpeg(part, JPEG_QUALITY), region, boxes))
        self.offered += 1
        return True

    def worth_sending(self, frame: Frame, detection: Detection) -> bool:
        grown = detection.area >= self.last_area * GROWTH
        return grown and frame.captured_at - self.last_at >= SPACING
