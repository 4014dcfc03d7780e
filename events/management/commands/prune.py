from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from events.retention import Pruner


class Command(BaseCommand):
    help = (
        "Delete old events and their snapshots: past each camera's keep_days, then the oldest "
        "while storage is over budget or the disk short of free space, then orphan files. "
        "Events marked keep are never deleted."
    )

    def add_arguments(self, parser: object) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would go; delete nothing"
        )

    def handle(self, *, dry_run: bool, **options: object) -> None:
        pruner = Pruner(
            settings.MEDIA_ROOT,
            budget=settings.STORAGE_BUDGET_BYTES,
            reserve=settings.FREE_SPACE_RESERVE_BYTES,
        )
        outcome = pruner.run(dry_run=dry_run)
        self.stdout.write(("Would delete: " if dry_run else "Deleted: ") + str(outcome))
