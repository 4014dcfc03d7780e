from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import cv2
from django.conf import settings as django_settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cameras.analysis import FoundEvent
from cameras.models import Camera
from cameras.motion.segments import EventRules
from cameras.motion.settings import DetectorSettings
from cameras.pieces import Timeline, plan, warm_up
from cameras.sources import SourceError
from objects.model import ModelError, load_network
from objects.pool import AnalysisPool, PoolError, analyse


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
            "--workers", type=int, default=os.cpu_count() or 1, metavar="N",
            help="processes, one thread each, over pieces of the file (default: one per core)",
        )  # fmt: skip

    def handle(
        self, video: str, camera: str | None, as_json: bool, objects: bool, workers: int,
        verbosity: int, **options: object,
    ) -> None:  # fmt: skip
        self.verbosity = verbosity
        settings, rules = self.settings_for(camera)
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        model = self.object_model() if objects else None
        bar = ProgressBar(Path(video).name) if sys.stderr.isatty() else None
        try:
            events = self.analyse(video, settings, rules, model, workers, bar)
        except (SourceError, PoolError) as exc:
            raise CommandError(str(exc)) from None
        finally:
            if bar is not None:
                bar.finish()
        if as_json:
            self.stdout.write(json.dumps([event.to_dict() for event in events]))
        else:
            self.print_table(events)

    def analyse(
        self, video: str, settings: DetectorSettings, rules: EventRules, model: str | None,
        workers: int, bar: ProgressBar | None,
    ) -> list[FoundEvent]:  # fmt: skip
        """In this process for one worker or a file too short to cut, else in a pool."""
        pieces = []
        if workers > 1:
            timeline = Timeline.read(video)
            overlap = warm_up(settings, rules, timeline.fps)
            pieces = plan(timeline, workers, overlap, settings.interval)
        if len(pieces) < 2:
            cv2.setNumThreads(1)  # as the detector process runs it: the numbers are comparable
            return analyse(video, settings, rules, model, progress=bar, threads=workers).events
        pool = AnalysisPool(settings, rules, model)
        events = pool.run(video, pieces, len(timeline.times), bar)
        for piece, result in zip(pieces, pool.results, strict=True):
            self.log(f"piece {piece.number + 1}: from {piece.cut:.1f} s, {result.frames} frames, "
                     f"process {result.pid}", 2)  # fmt: skip
        return events

    def log(self, message: str, level: int) -> None:
        if self.verbosity >= level:
            self.stderr.write(message)

    def object_model(self) -> str:
        """SURVEILLANCE_OBJECT_MODEL, once it is known to load: a model that cannot run is then
        one clear error, not pool processes dying one after another as they start."""
        if not django_settings.OBJECT_DETECTION:
            raise CommandError("object detection is off (SURVEILLANCE_OBJECT_MODEL=off)")
        try:
            load_network()
        except ModelError as exc:
            raise CommandError(str(exc)) from None
        return django_settings.OBJECT_MODEL

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
