from __future__ import annotations

import gc
import signal

import cv2
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cameras.models import Camera
from capture.bus import Bus
from capture.worker import CaptureWorker


class Command(BaseCommand):
    help = "Run the capture worker of one camera in the foreground (logs to stderr)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")

    def handle(self, slug: str, **options: object) -> None:
        try:
            camera = Camera.objects.get(slug=slug)
        except Camera.DoesNotExist:
            raise CommandError(f"no camera {slug!r}; add it with: manage.py addcamera") from None
        # This process is one camera's loop, measured by bench/capture_cost.py: OpenCV's thread
        # pool costs more in wake-ups than it saves on a 320-pixel image, and collections need
        # not walk the objects Django, NumPy and OpenCV made at import and keep for good.
        cv2.setNumThreads(1)
        gc.freeze()
        worker = CaptureWorker(camera, Bus(listen_channel=camera.worker_channel))
        signal.signal(signal.SIGTERM, worker.stop)
        signal.signal(signal.SIGINT, worker.stop)
        worker.run()
