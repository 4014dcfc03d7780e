"""Turns a camera's detections into motion events with snapshots, and announces them.

When events start and end is decided by MotionSegmenter (events/segments.py). An event's
snapshot is first the frame that started it (so the alert has a picture at once) and is replaced
at the end by the frame with the most motion.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import cv2
import numpy as np
from django.db import DatabaseError
from django.utils import timezone

from cameras.bus import Bus
from cameras.models import Camera
from cameras.motion import Detection
from cameras.sources import Frame
from events.models import MotionEvent
from events.segments import MotionSegmenter

logger = logging.getLogger(__name__)


def utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)


@dataclass
class Peak:
    area: float
    frame: Frame
    detection: Detection


class EventRecorder:
    def __init__(self, camera: Camera, bus: Bus) -> None:
        self.camera, self.bus = camera, bus
        self.segmenter = MotionSegmenter(camera.event_rules())
        self.event: MotionEvent | None = None
        self.peak: Peak | None = None
        self.saved_area = 0.0  # area of the frame the stored snapshot shows

    def recover(self) -> int:
        """Close events a previous run of this worker left open (it crashed or was killed)."""
        abandoned = list(MotionEvent.objects.filter(camera=self.camera).ongoing())
        for event in abandoned:
            event.finish(ended_at=timezone.now())
            event.announce("motion.end", self.bus)
        if abandoned:
            logger.info("%s: closed %d event(s) left open", self.camera.slug, len(abandoned))
        return len(abandoned)

    def update(self, frame: Frame, detection: Detection) -> None:
        for kind, at in self.segmenter.update(frame.captured_at, detection.moving):
            if kind == "start":
                self.start(frame, detection, at)
            else:
                self.end(at)
        if self.event is not None and detection.moving:
            self.track(frame, detection)

    def start(self, frame: Frame, detection: Detection, at: float) -> None:
        try:
            self.event = MotionEvent.objects.create(
                camera=self.camera,
                started_at=utc(at),
                peak_area=detection.area,
                boxes=[list(box) for box in detection.boxes],
            )
        except DatabaseError:
            self.segmenter.end(at)  # no row, no event: the next motion starts a new one
            raise
        self.peak, self.saved_area = Peak(detection.area, frame, detection), 0.0
        self.store_snapshot(self.peak)
        logger.info("%s: motion event %s started", self.camera.slug, self.event.pk)
        self.event.announce("motion.start", self.bus)

    def track(self, frame: Frame, detection: Detection) -> None:
        if self.peak is None or detection.area > self.peak.area:
            self.peak = Peak(detection.area, frame.keep(), detection)

    def end(self, at: float) -> None:
        event, peak = self.event, self.peak
        self.event, self.peak = None, None
        if peak is not None:
            event.peak_area = max(event.peak_area, peak.area)
            event.boxes = [list(box) for box in peak.detection.boxes]
            if peak.area > self.saved_area:
                self.store_snapshot(peak, event)
        event.finish(ended_at=max(utc(at), event.started_at))
        logger.info("%s: motion event %s ended", self.camera.slug, event.pk)
        event.announce("motion.end", self.bus)

    def close(self) -> None:
        """End the open event, if any: the worker is stopping."""
        for _, at in self.segmenter.close():
            self.end(at)

    def store_snapshot(self, peak: Peak, event: MotionEvent | None = None) -> None:
        event = event or self.event
        clean = encode_jpeg(peak.frame.image)
        annotated = encode_jpeg(annotate(peak.frame.image, peak.detection, peak.frame.captured_at))
        try:
            event.save_snapshots(annotated, clean)
            self.saved_area = peak.area
        except OSError as exc:  # a full or read-only disk must not stop detection
            logger.error("%s: cannot store snapshot: %s", self.camera.slug, exc)


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def annotate(image: np.ndarray, detection: Detection, at: float) -> np.ndarray:
    """A copy of the frame with the moving regions boxed and the capture time written on it."""
    out = image.copy()
    height, width = out.shape[:2]
    for x, y, w, h in detection.boxes:
        top_left = (int(x * width), int(y * height))
        bottom_right = (int((x + w) * width), int((y + h) * height))
        cv2.rectangle(out, top_left, bottom_right, (0, 0, 255), 2)
    stamp = timezone.localtime(utc(at)).strftime("%Y-%m-%d %H:%M:%S")
    cv2.putText(out, stamp, (10, height - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3,
                cv2.LINE_AA)  # fmt: skip
    cv2.putText(out, stamp, (10, height - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1,
                cv2.LINE_AA)  # fmt: skip
    return out
