from __future__ import annotations

import shutil

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cameras.models import Camera
from recordings.exports import export_span
from recordings.forms import SpanForm


class Command(BaseCommand):
    help = "Write a camera's recorded video between two times (ISO, at most an hour) to an MP4."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("start", help="e.g. 2026-12-02T14:00:00+01:00")
        parser.add_argument("end")
        parser.add_argument("out", metavar="OUT.mp4")

    def handle(self, slug: str, start: str, end: str, out: str, **options: object) -> None:
        camera = Camera.objects.filter(slug=slug).first()
        if camera is None:
            raise CommandError(f"no camera {slug!r}")
        form = SpanForm({"start": start, "end": end})
        if not form.is_valid():
            raise CommandError(form.errors.as_text().replace("\n", " "))
        span = form.cleaned_data
        try:
            made = export_span(camera, span["start"], span["end"])
        except (OSError, ValidationError) as exc:
            raise CommandError(str(exc)) from None
        if made is None:
            raise CommandError(f"{slug} recorded nothing between {start} and {end}")
        shutil.copyfile(made, out)
        self.stdout.write(f"Wrote {out}")
