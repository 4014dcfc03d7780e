from __future__ import annotations

import os
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from capture.supervisor import Supervisor


class Command(BaseCommand):
    help = "Serve the site (Daphne) and run one capture worker per enabled camera."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=settings.BIND, metavar="HOST:PORT")

    def handle(self, bind: str, **options: object) -> None:
        if ":" not in bind:
            raise CommandError("--bind takes HOST:PORT, e.g. 127.0.0.1:8000")
        supervisor = Supervisor(bind, own_redis=not os.environ.get("REDIS_URL"))
        signal.signal(signal.SIGTERM, supervisor.stop)
        signal.signal(signal.SIGINT, supervisor.stop)
        try:
            supervisor.run()
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
