"""Eight capture workers and the web process writing to one database at once.

    .venv/bin/python bench/db_contention.py [--minutes 10] [--database-url postgres://...]

A throwaway data dir (SQLite in WAL mode, or a fresh PostgreSQL database made from
--database-url and dropped at the end), a private Redis, our web process and 8 `capture` workers
on a 6 s video whose box crosses every loop (an event start, two snapshot writes and an end per
camera every 6 s, plus each worker's health writes). Meanwhile web clients log in and out in a
loop (a session row written and deleted each time), open the event list and mark events "keep"
in the admin. At the end: writes done, and every "database is locked" (or other database
error) in any process's log, and every HTTP 5xx. Progress every 30 s.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.install import PASSWORD, USERNAME, fresh_postgres, install
from tests.harness import (
    manage,
    setup_django,
    start_redis,
    start_web_server,
    start_worker,
    stop_process,
)  # fmt: skip
from tests.videos import write_video

WORKERS = 8
CLIENTS = 4
DB_ERRORS = re.compile(r"database is locked|OperationalError|IntegrityError|deadlock", re.I)


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


class Web:
    """One logged-in-and-out loop of a person using the site."""

    def __init__(self, url: str, stop: threading.Event) -> None:
        self.url, self.stop = url, stop
        self.logins = self.pages = self.keeps = self.errors = 0

    def run(self) -> None:
        while not self.stop.is_set():
            with httpx.Client(base_url=self.url, timeout=30) as client:
                try:
                    self.round(client)
                except httpx.HTTPError:
                    self.errors += 1

    def round(self, client: httpx.Client) -> None:
        client.get("/accounts/login/")
        token = client.cookies["csrftoken"]
        response = client.post("/accounts/login/", data={
            "username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token,
        })  # fmt: skip
        self.check(response)
        self.logins += 1
        self.check(client.get("/events/"))
        self.pages += 1
        page = client.get("/admin/events/motionevent/")
        self.check(page)
        ids = re.findall(r'name="_selected_action" value="(\d+)"', page.text)[:3]
        if ids:
            self.check(client.post("/admin/events/motionevent/", data={
                "action": "keep", "_selected_action": ids,
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
            }))  # fmt: skip
            self.keeps += 1
        self.check(client.post("/accounts/logout/", data={
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        }))  # fmt: skip

    def check(self, response: httpx.Response) -> None:
        if response.status_code >= 500:
            self.errors += 1


def count_rows(env: dict[str, str]) -> list[str]:
    """Events written, and events marked keep, as the database has them now."""
    out = manage(env, "shell", "--no-imports", "-c",
                 "from events.models import MotionEvent; print(MotionEvent.objects.count(), "
                 "MotionEvent.objects.filter(keep=True).count())", timeout=60)  # fmt: skip
    return [*out.split(), "?", "?"][:2]


def start(env: dict[str, str], tmp: Path, running: list[subprocess.Popen]) -> str:
    """Redis, the web server and the workers, added to `running`; the web server's URL."""
    running.append(start_redis(tmp / "redis.sock", log=tmp / "redis.log"))
    web = start_web_server(env, log=tmp / "web.log", detached=True)
    running.insert(0, web.process)
    for i in range(WORKERS):  # stopped first: the web process and Redis outlive them
        running.insert(0, start_worker(env, f"cam{i}", tmp / f"cam{i}.log", detached=True))
    return web.url


def load(url: str, minutes: float, env: dict[str, str], backend: str) -> list[Web]:
    """The web clients' loops beside the workers for `minutes`, with progress every 30 s."""
    stop = threading.Event()
    clients = [Web(url, stop) for _ in range(CLIENTS)]
    threads = [threading.Thread(target=c.run, daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    say(f"{WORKERS} workers and {CLIENTS} web clients on {backend} for {minutes:g} min")
    end = time.monotonic() + minutes * 60
    while time.monotonic() < end:
        time.sleep(min(30, max(0, end - time.monotonic())))
        events, kept = count_rows(env)
        say(f"events {events} (kept {kept}), logins {sum(c.logins for c in clients)}, "
            f"HTTP errors {sum(c.errors for c in clients)}")  # fmt: skip
    stop.set()
    for thread in threads:
        thread.join(60)
    return clients


def table(backend: str, minutes: float, clients: list[Web], counts: list[str],
          found: list[str]) -> str:  # fmt: skip
    events, kept = counts
    return "\n".join([
        "| database | minutes | workers | web clients | events written | marked keep | logins "
        "| HTTP 5xx / errors | database errors in logs |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
        f"| {backend} | {minutes:g} | {WORKERS} | {CLIENTS} | {events} | {kept} "
        f"| {sum(c.logins for c in clients)} | {sum(c.errors for c in clients)} | {len(found)} |",
        *(f"    {line}" for line in found[:10]),
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--database-url", default="", help="postgres://…: a server to use")
    args = parser.parse_args()
    backend = "PostgreSQL" if args.database_url else "SQLite (WAL, IMMEDIATE, busy_timeout 5 s)"
    url, drop = "", None
    if args.database_url:
        url, drop = fresh_postgres(args.database_url, "bench_db_contention")
    with tempfile.TemporaryDirectory(prefix="db-contention-") as name:
        tmp = Path(name)
        running: list[subprocess.Popen] = []
        try:
            env = setup_django(tmp / "data", tmp / "redis.sock", url)
            video = write_video(tmp / "busy.mp4", 6, moving=(1, 2.5))
            install(env, WORKERS, str(video))
            from cameras.models import Camera

            Camera.objects.update(end_after=1.0)
            web_url = start(env, tmp, running)
            clients = load(web_url, args.minutes, env, backend)
            counts = count_rows(env)
        finally:
            for process in running:
                stop_process(process, timeout=20)
            if drop is not None:
                drop()
        found = [line for log in sorted(tmp.glob("*.log")) for line in log.read_text().splitlines()
                 if DB_ERRORS.search(line)]  # fmt: skip
    print("\n" + table(backend, args.minutes, clients, counts, found))


if __name__ == "__main__":
    main()
