from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from capture.memory import Memory
from capture.processes import read_table

MB = 1024 * 1024


class Command(BaseCommand):
    help = (
        "Show the memory of every process of the running runsurveillance (RSS, PSS, USS in MB): "
        "what each camera's worker costs, and all of them together."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object, in bytes")

    def handle(self, **options: object) -> None:
        pids = read_table()
        if not pids:
            raise CommandError("runsurveillance is not running here (no live processes.json)")
        rows = {name: (pid, memory) for name, pid in pids.items() if (memory := Memory.of(pid))}
        if options["json"]:
            report = {name: {"pid": pid, "rss": m.rss, "pss": m.pss, "uss": m.uss}
                      for name, (pid, m) in rows.items()}  # fmt: skip
            self.stdout.write(json.dumps(report, indent=1))
            return
        self.stdout.write(f"{'process':<28}{'pid':>8}{'RSS':>9}{'PSS':>9}{'USS':>9}")
        for name, (pid, m) in rows.items():
            self.stdout.write(
                f"{name:<28}{pid:>8}{m.rss / MB:>9.1f}{m.pss / MB:>9.1f}{m.uss / MB:>9.1f}"
            )
        workers = [m for name, (_, m) in rows.items() if name.startswith("worker ")]
        total = sum(m.pss for _, m in rows.values())
        self.stdout.write(f"{'all together (PSS)':<45}{total / MB:>9.1f}")
        if workers:
            each = sum(m.pss for m in workers) / len(workers)
            self.stdout.write(f"{'a camera worker, on average (PSS)':<45}{each / MB:>9.1f}")
