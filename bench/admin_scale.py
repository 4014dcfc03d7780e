"""The events admin at scale: changelist pages, filters, search and CSV export, timed.

    .venv/bin/python bench/admin_scale.py [--events 100000] [--runs 5]
        [--database-url postgres://postgres@127.0.0.1:5432/test]

Makes --events motion events (bulk_create) across four cameras over the last 90 days: 60 % under
10 s, 30 % 10 s to 1 min, 10 % longer, the newest 20 still ongoing. The database is a fresh one
made for the run with the project's migrations: SQLite in a throw-away data dir, or, with
--database-url, a database of its own on that server (bench_admin_scale_<pid>, dropped at the
end; the URL's database is only used to connect). PostgreSQL gets an ANALYZE after the load, as
autovacuum would; SQLite gets none, as Django never runs one.

Each case is requested through django.test.Client as a superuser (force_login), once to warm up
and then --runs times; the CSV case exports every event (the "select all" of the changelist) and
reads the whole streamed body. Prints a markdown table: median ms, the queries of one request,
the slowest of them, and whether any was a COUNT over the whole table; then the CSV export's
peak Python memory (tracemalloc, one more run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import harness

CAMERAS = [("front-door", "Front door"), ("garage", "Garage"), ("garden", "Garden"),
           ("driveway", "Driveway")]  # fmt: skip
BATCH = 5000
ONGOING = 20


def setup_django(data_dir: str, database_url: str | None) -> str:
    """Django on a throw-away data dir and a database made fresh for this run; returns the
    configured database name, for destroy_test_db to put back."""
    os.environ.setdefault("SURVEILLANCE_LOG_LEVEL", "WARNING")  # not a line per login
    harness.setup_django(Path(data_dir), database_url=database_url or "")
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test Client's host, "testserver", becomes allowed
    configured = connection.settings_dict["NAME"]
    # Django's test-database machinery: a database of our own, migrated, dropped at the end.
    connection.settings_dict["TEST"] = {
        **connection.settings_dict.get("TEST", {}),
        "NAME": (
            f"bench_admin_scale_{os.getpid()}"
            if database_url
            else str(Path(data_dir) / "bench.sqlite3")
        ),
    }
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return configured


def load_events(count: int, seed: int = 1) -> None:
    from cameras.models import Camera
    from events.models import MotionEvent

    rng = random.Random(seed)
    cameras = [Camera.objects.create(slug=slug, name=name, source="demo") for slug, name in CAMERAS]
    now = dt.datetime.now(dt.UTC)
    span = dt.timedelta(days=90).total_seconds()
    batch: list[MotionEvent] = []
    for index in range(count):
        started = now - dt.timedelta(seconds=span * (count - index) / count)
        ongoing = index >= count - ONGOING
        batch.append(
            MotionEvent(
                camera=rng.choice(cameras),
                started_at=started,
                ended_at=None if ongoing else started + dt.timedelta(seconds=duration(rng)),
                peak_area=rng.uniform(0.005, 0.4),
                snapshot=f"snapshots/{started:%Y/%m/%d}/{index}.jpg",
                snapshot_clean=f"snapshots/{started:%Y/%m/%d}/{index}-clean.jpg",
            )
        )
        if len(batch) == BATCH:
            MotionEvent.objects.bulk_create(batch)
            batch = []
    MotionEvent.objects.bulk_create(batch)


def duration(rng: random.Random) -> float:
    kind = rng.random()
    if kind < 0.6:
        return rng.uniform(1, 9.9)
    if kind < 0.9:
        return rng.uniform(10.5, 59)
    return rng.uniform(61, 600)


def analyze() -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


@dataclass
class Case:
    name: str
    query: str = ""
    csv: bool = False


def cases() -> list[Case]:
    from cameras.models import Camera

    garage = Camera.objects.get(slug="garage")
    week_to = dt.date.today() - dt.timedelta(days=30)
    week_from = week_to - dt.timedelta(days=6)
    month = dt.date.today() - dt.timedelta(days=45)
    return [
        Case("unfiltered, page 1"),
        Case("unfiltered, page 50", "?p=50"),
        Case("camera", f"?camera__id__exact={garage.pk}"),
        Case("date range (a week)", f"?started_at__from={week_from}&started_at__to={week_to}"),
        Case("date range, from only", f"?started_at__from={week_from}"),
        Case(
            "date hierarchy (a month)",
            f"?started_at__month={month.month}&started_at__year={month.year}",
        ),
        Case("ongoing", "?state=ongoing"),
        Case("finished", "?state=finished"),
        Case("duration under 10 s", "?duration=short"),
        Case("duration 10 s to 1 min", "?duration=medium"),
        Case("duration 1 min or more", "?duration=long"),
        Case("search 'garage'", "?q=garage"),
        Case(
            "camera + week + finished + search",
            f"?camera__id__exact={garage.pk}"
            f"&started_at__from={week_from}&started_at__to={week_to}&state=finished&q=gar",
        ),
        Case("CSV export, every event", csv=True),
    ]


URL = "/admin/events/motionevent/"


def request(client: Any, case: Case) -> int:
    """One request, its body read to the end; returns the body's size."""
    if case.csv:
        data = {"action": "export_csv", "select_across": "1", "index": "0",
                "_selected_action": ["1"]}  # fmt: skip
        response = client.post(URL, data)
    else:
        response = client.get(URL + case.query)
    assert response.status_code == 200, (case.name, response.status_code)
    if response.streaming:
        return sum(len(chunk) for chunk in response.streaming_content)
    return len(response.content)


def is_full_count(sql: str) -> bool:
    """A COUNT over the events table with no condition at all."""
    text = sql.upper()
    return "COUNT(" in text and "EVENTS_MOTIONEVENT" in text and "WHERE" not in text


def measure(client: Any, case: Case, runs: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        size = request(client, case)
    queries = captured.captured_queries  # now: every request starts a fresh log
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        request(client, case)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "ms": statistics.median(times),
        "queries": len(queries),
        "slowest": max(float(q["time"]) for q in queries) * 1000,
        "full_count": any(is_full_count(q["sql"]) for q in queries),
        "size": size,
    }


def csv_peak_memory(client: Any, case: Case) -> float:
    tracemalloc.start()
    request(client, case)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", help="postgres://... (default: SQLite in a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="admin-scale-") as data_dir:
        configured = setup_django(data_dir, args.database_url)
        from django.contrib.auth.models import User
        from django.db import connection
        from django.test import Client

        try:
            started = time.perf_counter()
            load_events(args.events)
            analyze()
            loaded = time.perf_counter() - started
            print(f"{connection.vendor}: {args.events} events loaded in {loaded:.1f} s", flush=True)
            client = Client()
            client.force_login(User.objects.create_superuser("owner", password=None))
            report(client, args.runs)
        finally:
            connection.creation.destroy_test_db(configured, verbosity=0)


def report(client: Any, runs: int) -> None:
    print(f"\n| case | median ms ({runs} runs) | queries | slowest query ms | full COUNT | bytes |")
    print("|---|---:|---:|---:|---|---:|")
    all_cases = cases()
    for case in all_cases:
        m = measure(client, case, runs)
        print(f"| {case.name} | {m['ms']:.0f} | {m['queries']} | {m['slowest']:.1f} | "
              f"{'yes' if m['full_count'] else 'no'} | {m['size']} |", flush=True)  # fmt: skip
    peak = csv_peak_memory(client, all_cases[-1])
    print(f"\nCSV export: peak Python memory {peak:.1f} MiB (tracemalloc)")


if __name__ == "__main__":
    main()
