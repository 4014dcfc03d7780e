from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import cv2
from django.conf import settings as django_settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cameras.analysis import FoundEvent, VideoAnalysis
from cameras.models import Camera
from cameras.motion.segments import EventRules
from cameras.motion.settings import DetectorSettings
from cameras.sources import SourceError
from objects.analysis import ObjectAnalysis
from objects.detector import Detector
from objects.model import ModelError, load_network


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most 10 times a second."""

    def __init__(self, name: str) -> None:
        self.name, self.started, self.drawn = name, time.monotonic(), 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.drawn < 0.1 and done != total:
            return
        self.drawn = now
        rate = done / max(now - self.started, 1e-6)
        share = done / total if total else 0.0
        bar = "#" * int(share * 30)
        sys.stderr.write(f"\r{self.name} [{bar:<30}] {share:4.0%} {done}/{total} frames, "
                         f"{rate:.0f} fps")  # fmt: skip
        sys.stderr.flush()

    def finish(self) -> None:
        sys.stderr.write("\n")


class Command(BaseCommand):
    help = (
        "Run motion detection over a video file as fast as possible and list the events found; "
        "with --objects, what the object detector finds in each."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("video")
        parser.add_argument("--camera", metavar="SLUG", help="use this camera's settings")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print one JSON list on stdout"
        )
        parser.add_argument(
            "--objects", action="store_true",
            help="look for objects in each event (people, or SURVEILLANCE_OBJECT_MODEL's labels)",
        )  # fmt: skip
        parser.add_argument(
            "--workers", type=int, default=1, metavar="N",
            help="with --objects: detector processes (default 1, in this one)",
        )  # fmt: skip

    def handle(
        self, video: str, camera: str | None, as_json: bool, objects: bool, workers: int,
        **options: object,
    ) -> None:  # fmt: skip
        settings, rules = self.settings_for(camera)
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        finder = self.object_analysis(workers) if objects else None
        bar = ProgressBar(Path(video).name) if sys.stderr.isatty() else None
        try:
            analysis = VideoAnalysis(settings, rules, finder.on_peak if finder else None)
            events = analysis.run(video, progress=bar)
        except SourceError as exc:
            raise CommandError(str(exc)) from None
        finally:
            if bar is not None:
                bar.finish()
        if finder is not None:
            finder.finish()
            for index, event in enumerate(events):
                event.objects = finder.objects_of(index)
        if as_json:
            self.stdout.write(json.dumps([event.to_dict() for event in events]))
        else:
            self.print_table(events)

    def object_analysis(self, workers: int) -> ObjectAnalysis:
        if not django_settings.OBJECT_DETECTION:
            raise CommandError("object detection is off (SURVEILLANCE_OBJECT_MODEL=off)")
        try:
            # Loaded here with a pool too: a model that cannot run is then one clear error, not
            # pool processes dying one after another as they start.
            network = load_network()
        except ModelError as exc:
            raise CommandError(str(exc)) from None
        if workers > 1:
            return ObjectAnalysis(None, workers, django_settings.OBJECT_MODEL)
        cv2.setNumThreads(1)  # as the detector process runs it: the numbers are comparable
        return ObjectAnalysis(Detector(network))

    def settings_for(self, slug: str | None) -> tuple[DetectorSettings, EventRules]:
        if slug is None:
            return DetectorSettings(), EventRules()
        camera = Camera.objects.filter(slug=slug).first()
        if camera is None:
            raise CommandError(f"no camera {slug!r}")
        return camera.detector_settings(), camera.event_rules()

    def print_table(self, events: list[FoundEvent]) -> None:
        self.stdout.write(f"{len(events)} motion event(s)")
        for number, event in enumerate(events, 1):
            length = event.end - event.start
            found = ", ".join(
                f"{label} {score:.0%}" for label, score in (event.objects or {}).items()
            )
            self.stdout.write(f"{number:3}  {event.start:8.2f} s to {event.end:8.2f} s  "
                              f"({length:6.2f} s)  peak area {event.area:.1%}"
                              f"{'  ' + found if found else ''}")  # fmt: skip
