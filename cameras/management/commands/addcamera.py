from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cameras.models import Camera


class Command(BaseCommand):
    help = "Register a camera, or update the one with this slug."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("source", help="demo, a file, rtsp://…, http://…, /dev/videoN, …")
        parser.add_argument("--name", help="display name (default: from the slug)")
        parser.add_argument("--disabled", action="store_true", help="register without capturing")
        parser.add_argument(
            "--detect-source",
            metavar="URL",
            default=None,
            help="the camera's sub-stream, to detect on (empty: none)",
        )
        parser.add_argument(
            "--record", choices=Camera.Record.values, help="off, events (default) or continuous"
        )
        parser.add_argument(
            "--viewer", action="append", default=[], metavar="USERNAME",
            help="let this user view the camera (repeatable)",
        )  # fmt: skip

    def handle(self, slug: str, source: str, **options: object) -> None:
        viewers = self.find_users(options["viewer"])
        camera = Camera.objects.filter(slug=slug).first() or Camera(slug=slug)
        created = camera.pk is None
        camera.source = source
        camera.name = options["name"] or camera.name or slug.replace("-", " ").capitalize()
        camera.enabled = not options["disabled"]
        if options["detect_source"] is not None:
            camera.detect_source = options["detect_source"]
        if options["record"]:
            camera.record = options["record"]
        try:
            camera.full_clean()
        except ValidationError as exc:
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise CommandError(problems) from None
        camera.save()
        camera.viewers.add(*viewers)
        verb = "Added" if created else "Updated"
        self.stdout.write(f"{verb} camera {camera.slug} ({camera.name}): {camera.safe_source}")

    def find_users(self, usernames: list[str]) -> list:
        users = list(get_user_model().objects.filter(username__in=usernames))
        missing = set(usernames) - {u.username for u in users}
        if missing:
            raise CommandError(f"no such user: {', '.join(sorted(missing))}")
        return users
