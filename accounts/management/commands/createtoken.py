from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.models import ApiToken


class Command(BaseCommand):
    help = (
        "Make an API token for a user, for Home Assistant, VLC, ffmpeg or a script, and print "
        "it on the last line. It is shown only now: the database keeps a digest."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", metavar="LABEL", help="what it is for")

    def handle(self, username: str, name: str, **options: object) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no such user: {username}")
        if not user.is_active:
            raise CommandError(f"{username} is deactivated: a token of theirs would not work")
        row, token = ApiToken.issue(user, name or f"made {timezone.localdate():%Y-%m-%d}")
        self.stdout.write(f"API token {row.label} ({row.name}) for {username}, shown only now:")
        self.stdout.write(token)
