from __future__ import annotations

import signal

import cv2
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from capture.bus import Bus
from objects.detector import Detector
from objects.model import ModelError, load_network
from objects.queue import JobQueue
from objects.service import DetectorService


class Command(BaseCommand):
    help = "Run the object detector for every camera's motion (runsurveillance starts it)."

    def handle(self, **options: object) -> None:
        if not settings.OBJECT_DETECTION:
            raise CommandError("object detection is off (SURVEILLANCE_OBJECT_MODEL=off)")
        # One thread: it shares two cores with every camera's loop, and a job is one 300x300
        # input, which OpenCV's pool would split into wake-ups more than into speed (an ONNX
        # model's session is made with one thread too).
        cv2.setNumThreads(1)
        try:
            detector = Detector(load_network())
        except ModelError as exc:
            raise CommandError(str(exc)) from None
        bus = Bus()
        service = DetectorService(detector, JobQueue(), bus.publish)
        signal.signal(signal.SIGTERM, service.stop)
        signal.signal(signal.SIGINT, service.stop)
        bus.start()
        try:
            service.run()
        finally:
            bus.stop()
