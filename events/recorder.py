"""Turns a camera's detections into motion events with snapshots, and announces them.

When events start and end is decided by MotionSegmenter (events/segments.py). An event's
snapshot is first the frame that started it (so the alert has a picture at once) and is replaced
at the end by the frame with the most motion.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from django.db import DatabaseError, transaction
from django.utils import timezone

from cameras.jpeg import encode_jpeg
from cameras.models import Camera
from cameras.motion.detector import Detection
from cameras.motion.segments import MotionSegmenter
from cameras.sources.base import Frame
from events.models import MotionEvent, Publish
from recordings.models import Recording
from recordings.recorder import VideoRecorder

logger = logging.getLogger(__name__)


def utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)


@dataclass
class Peak:
    area: float
    frame: Frame
    detection: Detection


# Told of an event's first frame and of each new peak (the object detector's work).
OnFrame = Callable[[MotionEvent, Frame, Detection], object]


class EventRecorder:
    def __init__(
        self,
        camera: Camera,
        publish: Publish,
        video: VideoRecorder | None = None,
        on_frame: OnFrame | None = None,
    ) -> None:
        self.camera, self.publish, self.video = camera, publish, video
        self.on_frame = on_frame
        self.segmenter = MotionSegmenter(camera.event_rules())
        self.event: MotionEvent | None = None
        self.peak: Peak | None = None
        self.saved_area = 0.0  # area of the frame the stored snapshot shows

    def recover(self) -> int:
        """Close events a previous run of this worker left open (it crashed or was killed)."""
        abandoned = list(MotionEvent.objects.filter(camera=self.camera).ongoing())
        for event in abandoned:
            with transaction.atomic():
                event.finish(ended_at=timezone.now())
                if not event.quiet:
                    event.queue_alert("motion.end", self.publish)
            event.announce("motion.end", self.publish)
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
        peak = Peak(detection.area, frame, detection)
        pictures = self.pictures(peak)  # encoded before the transaction: it stays short
        # The video opens first (from the pre-roll), so that the row and its alert name it; a
        # camera with no keyframe at hand gets its clip at the next one (attach_clip).
        clip = self.open_clip(at)
        try:
            # The row, its first snapshot and its alert commit together: the outbox's message
            # then carries the snapshot, and no crash leaves an event that was never alerted.
            with transaction.atomic():
                self.event = MotionEvent.objects.create(
                    camera=self.camera,
                    started_at=utc(at),
                    peak_area=detection.area,
                    boxes=[list(box) for box in detection.boxes],
                    clip=clip,
                    quiet=not self.alerts_on_motion(),
                )
                self.peak, self.saved_area = peak, 0.0
                self.save_pictures(self.event, pictures, peak.area)
                if not self.event.quiet:  # else its alert waits for an object (add_found)
                    self.event.queue_alert("motion.start", self.publish)
        except DatabaseError:
            self.event = self.peak = None
            self.segmenter.end(at)  # no row, no event: the next motion starts a new one
            raise
        logger.info("%s: motion event %s started", self.camera.slug, self.event.pk)
        self.event.announce("motion.start", self.publish)
        self.offer(frame, detection)

    def alerts_on_motion(self) -> bool:
        """The camera's alert setting as it is now (the admin changes it without a restart)."""
        fresh = Camera.objects.filter(pk=self.camera.pk).values("alert_on", "alert_objects").first()
        camera = Camera(**fresh) if fresh else self.camera
        return camera.alert_rules() is None

    def open_clip(self, at: float) -> Recording | None:
        """The video of an event beginning at `at`, if the recorder has one now. A fault in the
        recorder costs the event its video, never the event."""
        if self.video is None:
            return None
        try:
            return self.video.event_started(at, self.attach_clip)
        except Exception:
            logger.exception("%s: cannot start the event's video", self.camera.slug)
            return None

    def attach_clip(self, recording: object) -> None:
        """The clip of the event going on, opened after it began (at the next keyframe)."""
        if self.event is not None:
            self.event.attach_clip(recording)

    def track(self, frame: Frame, detection: Detection) -> None:
        if self.peak is None or detection.area > self.peak.area:
            self.peak = Peak(detection.area, frame.keep(), detection)
            self.offer(self.peak.frame, detection)

    def offer(self, frame: Frame, detection: Detection) -> None:
        """The event's frame to the object detector. A fault there costs the event its labels,
        never the event."""
        if self.on_frame is None:
            return
        try:
            self.on_frame(self.event, frame, detection)
        except Exception:
            logger.exception("%s: cannot hand the frame to the object detector", self.camera.slug)

    def end(self, at: float) -> None:
        event, peak = self.event, self.peak
        self.event, self.peak = None, None
        event.reload_found()  # what the detector wrote meanwhile (add_found)
        if peak is not None:
            event.peak_area = max(event.peak_area, peak.area)
            event.boxes = [list(box) for box in peak.detection.boxes]
            if peak.area > self.saved_area:
                self.store_snapshot(peak, event)
        if self.video is not None:
            self.video.event_ended(at)
        with transaction.atomic():  # ended and alerted together
            event.reload_found()  # an object found since
            event.finish(ended_at=max(utc(at), event.started_at))
            if not event.quiet:
                event.queue_alert("motion.end", self.publish)
        logger.info("%s: motion event %s ended", self.camera.slug, event.pk)
        event.announce("motion.end", self.publish)

    def close(self) -> None:
        """End the open event, if any: the worker is stopping."""
        for _, at in self.segmenter.close():
            self.end(at)

    def store_snapshot(self, peak: Peak, event: MotionEvent | None = None) -> None:
        event = event or self.event
        self.save_pictures(event, self.pictures(peak, event.found), peak.area)

    def pictures(self, peak: Peak, found: dict | None = None) -> tuple[bytes, bytes]:
        """The annotated and the clean JPEG of a peak frame."""
        clean = encode_jpeg(peak.frame.image)
        boxes, at = peak.detection.boxes, peak.frame.captured_at
        annotated = encode_jpeg(annotate(peak.frame.image, boxes, at, found))
        return annotated, clean

    def save_pictures(self, event: MotionEvent, pictures: tuple[bytes, bytes], area: float) -> None:
        try:
            event.save_snapshots(*pictures)
            self.saved_area = area
        except OSError as exc:  # a full or read-only disk must not stop detection
            logger.error("%s: cannot store snapshot: %s", self.camera.slug, exc)


STAMP_FONT, STAMP_SCALE = cv2.FONT_HERSHEY_SIMPLEX, 0.6
STAMP_PAD = 4  # pixels of label around the text


def annotate(image: np.ndarray, boxes: list, at: float, found: dict | None = None) -> np.ndarray:
    """A copy of the frame with the moving regions boxed in red, the objects found in green with
    their label and score, and the capture time written on it."""
    out = image.copy()
    for box in boxes:
        cv2.rectangle(out, *corners(box, out), (0, 0, 255), 2)
    for label, item in sorted((found or {}).items()):
        top_left, bottom_right = corners(item["box"], out)
        cv2.rectangle(out, top_left, bottom_right, (0, 200, 0), 2)
        text = f"{label} {item['score']:.0%}"
        (w, h), _ = cv2.getTextSize(text, STAMP_FONT, STAMP_SCALE, 1)
        x, y = top_left[0], max(top_left[1], h + 2 * STAMP_PAD)
        cv2.rectangle(out, (x, y - h - 2 * STAMP_PAD), (x + w + 2 * STAMP_PAD, y), (0, 200, 0), -1)
        cv2.putText(out, text, (x + STAMP_PAD, y - STAMP_PAD), STAMP_FONT, STAMP_SCALE,
                    (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
    stamp(out, timezone.localtime(utc(at)).strftime("%Y-%m-%d %H:%M:%S"))
    return out


def corners(box: list | tuple, image: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]]:
    """The pixel corners of a box given in fractions of the image."""
    height, width = image.shape[:2]
    x, y, w, h = box
    return (int(x * width), int(y * height)), (int((x + w) * width), int((y + h) * height))


def label_snapshot(event: MotionEvent) -> None:
    """Draw the event's objects on its stored snapshot (the detector's result came after the
    worker stored it), from the clean copy kept beside it."""
    if not event.snapshot_clean:
        return
    with event.snapshot_clean.open("rb") as f:
        clean = f.read()
    image = cv2.imdecode(np.frombuffer(clean, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return
    annotated = annotate(image, event.boxes, event.started_at.timestamp(), event.found)
    event.save_snapshots(encode_jpeg(annotated), clean)


def stamp(image: np.ndarray, text: str) -> None:
    """White text on a dark label in the bottom-left corner, legible on any picture. (An outline
    drawn as thicker text does not work: OpenCV 5 spaces thicker glyphs wider, so the two
    renderings drift apart along the line and read as two stamps.)"""
    (w, h), baseline = cv2.getTextSize(text, STAMP_FONT, STAMP_SCALE, 1)
    x, y = STAMP_PAD * 2, image.shape[0] - STAMP_PAD * 2 - baseline
    corner = (x + w + STAMP_PAD, y + baseline + STAMP_PAD)
    cv2.rectangle(image, (x - STAMP_PAD, y - h - STAMP_PAD), corner, (0, 0, 0), -1)
    cv2.putText(image, text, (x, y), STAMP_FONT, STAMP_SCALE, (255, 255, 255), 1, cv2.LINE_AA)
