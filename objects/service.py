"""The detector process's loop (`manage.py detector`): one for all cameras, run only when a
worker hands it an event's frame. Each job's objects go on the event (MotionEvent.add_found),
which tells viewers, alerts if the event now qualifies, and gets its snapshot labelled."""

from __future__ import annotations

import logging
import time

import cv2
import numpy as np
import redis
from django.db import DatabaseError, close_old_connections

from events.models import MotionEvent, Publish
from events.recorder import label_snapshot
from objects.detector import Detector, within
from objects.queue import Job, JobQueue

logger = logging.getLogger(__name__)


class DetectorService:
    def __init__(self, detector: Detector, queue: JobQueue, publish: Publish) -> None:
        self.detector, self.queue, self.publish = detector, queue, publish
        self.stopping = False
        self.done = 0

    def run(self) -> None:
        logger.info("object detector running")
        while not self.stopping:
            self.step()

    def stop(self, *_: object) -> None:
        self.stopping = True

    def step(self, wait: float = 1.0) -> bool:
        """Take one job and do it; False if none came within `wait` seconds."""
        try:
            job = self.queue.pop(timeout=wait)
        except redis.RedisError as exc:  # Redis restarting: the workers' jobs wait there
            logger.warning("cannot read the detector's queue: %s", exc)
            time.sleep(1)
            return False
        if job is None:
            return False
        try:
            self.handle(job)
        except DatabaseError as exc:
            logger.error("cannot label event %s: %s", job.event, exc)
            close_old_connections()
        self.done += 1
        return True

    def handle(self, job: Job) -> dict[str, dict]:
        """The objects of one job, put on its event; what was found."""
        found = self.find(job)
        if not found:
            return found
        close_old_connections()
        event = MotionEvent.objects.select_related("camera").filter(pk=job.event).first()
        if event is None:  # deleted meanwhile
            return found
        if event.add_found(found, self.publish):
            logger.info("event %s: %s", event.pk, event.objects_label)
            try:
                label_snapshot(event)
            except OSError as exc:  # a full disk: the event keeps its unlabelled picture
                logger.error("event %s: cannot label its snapshot: %s", event.pk, exc)
        return found

    def find(self, job: Job) -> dict[str, dict]:
        """{label: {"score", "box"}} in the job's crop, the box in fractions of the frame."""
        image = cv2.imdecode(np.frombuffer(job.jpeg, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            logger.warning("event %s: the job's picture is not a JPEG", job.event)
            return {}
        return {
            label: {"score": f.score, "box": [round(v, 4) for v in within(f.box, job.region)]}
            for label, f in self.detector.detect(image).items()
        }
