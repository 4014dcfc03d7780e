"""/api/events/ at scale (issue 17): the first page and a page 50 pages deep, timed.

    .venv/bin/python bench/api_events.py [--events 100000] [--runs 5]
        [--database-url postgres://postgres@127.0.0.1:5432/NAME]

Loads --events motion events over four cameras and 90 days as bench/admin_scale.py does, into
a database made for the run (SQLite in a throw-away data dir, or NAME_bench on that PostgreSQL
server, dropped at the end; PostgreSQL gets an ANALYZE after the load). Each case is requested
through django.test.Client with an API token (Authorization: Bearer, so the token check is in
the time), once to warm up and then --runs times; "50 pages deep" follows `next` 50 times
first and times the page after that cursor. Callers: staff (every camera) and a member allowed
one camera of the four. Prints a markdown table: median ms, the queries of one request, and
whether any was a COUNT or an OFFSET.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.admin_scale import analyze, load_events  # noqa: E402

LIMIT, DEPTH = 50, 50
TARGET_MS = 50.0


def setup_django(data_dir: str, database_url: str | None) -> str:
    """Django on a throw-away data dir and a database made for this run; the configured
    database's name, for destroy_test_db."""
    os.environ.update(
        SURVEILLANCE_DATA_DIR=data_dir, DJANGO_SETTINGS_MODULE="surveillance.settings"
    )
    os.environ.setdefault("SURVEILLANCE_LOG_LEVEL", "WARNING")
    os.environ.pop("DATABASE_URL", None)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    configured = connection.settings_dict["NAME"]
    name = f"{configured}_bench" if database_url else str(Path(data_dir) / "bench.sqlite3")
    connection.settings_dict["TEST"] = {**connection.settings_dict.get("TEST", {}), "NAME": name}
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return configured


def callers() -> dict[str, dict[str, str]]:
    """Bearer headers of a staff user, a member allowed the garage, and one allowed two."""
    from django.contrib.auth.models import User

    from accounts.models import ApiToken
    from cameras.models import Camera

    owner = User.objects.create_user("owner", is_staff=True)
    member, family = User.objects.create_user("member"), User.objects.create_user("family")
    Camera.objects.get(slug="garage").viewers.add(member, family)
    Camera.objects.get(slug="garden").viewers.add(family)
    users = {"staff": owner, "member, 1 camera of 4": member, "member, 2 cameras of 4": family}
    return {
        name: {"Authorization": f"Bearer {ApiToken.issue(user, 'bench')[1]}"}
        for name, user in users.items()
    }


def deep_url(client: Any, url: str, headers: dict[str, str]) -> str:
    for _ in range(DEPTH):
        url = client.get(url, headers=headers).json()["next"]
    return url


def measure(client: Any, url: str, headers: dict[str, str], runs: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, headers=headers)  # warm up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append(1000 * (time.perf_counter() - started))
        assert response.status_code == 200, response.content[:200]
    with CaptureQueriesContext(connection) as queries:
        client.get(url, headers=headers)
    sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
    return {"ms": statistics.median(times), "queries": len(queries.captured_queries),
            "counts": "COUNT(" in sql or " OFFSET " in sql,
            "items": len(response.json()["items"])}  # fmt: skip


def report(runs: int) -> None:
    from django.db import connection
    from django.test import Client

    client = Client()
    first = f"/api/events/?limit={LIMIT}"
    filtered = f"/api/events/?limit={LIMIT}&camera=garage&min_duration=10"
    print(f"\n{connection.vendor}: | caller | page | median ms ({runs} runs) | queries | "
          "COUNT or OFFSET | items |\n|---|---|---:|---:|---|---:|")  # fmt: skip
    worst = 0.0
    for caller, headers in callers().items():
        cases = {
            "first": first,
            f"{DEPTH} pages deep": deep_url(client, first, headers),
            "garage, at least 10 s": filtered,
            f"garage, at least 10 s, {DEPTH} deep": deep_url(client, filtered, headers),
        }
        for name, url in cases.items():
            m = measure(client, url, headers, runs)
            worst = max(worst, m["ms"])
            print(f"| {caller} | {name} | {m['ms']:.1f} | {m['queries']} | "
                  f"{'yes' if m['counts'] else 'no'} | {m['items']} |", flush=True)  # fmt: skip
    verdict = "met" if worst < TARGET_MS else "NOT met"
    print(f"\nslowest median {worst:.1f} ms: target under {TARGET_MS:.0f} ms {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", help="postgres://... (default: SQLite in a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="api-events-") as data_dir:
        configured = setup_django(data_dir, args.database_url)
        from django.db import connection

        try:
            started = time.perf_counter()
            load_events(args.events)
            analyze()
            print(f"{connection.vendor}: {args.events} events loaded in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
            report(args.runs)
        finally:
            connection.creation.destroy_test_db(configured, verbosity=0)


if __name__ == "__main__":
    main()
