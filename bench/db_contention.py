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
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.worker_cpu import manage  # noqa: E402
from tests.processes import free_port, serves_healthz, stop_process, wait_until  # noqa: E402

WORKERS = 8
CLIENTS = 4
PASSWORD = "bench-only-" + os.urandom(6).hex()
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
            "username": "admin", "password": PASSWORD, "csrfmiddlewaretoken": token,
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


def count_rows(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, str(REPO / "manage.py"), "shell", "--no-imports", "-c",
         "from events.models import MotionEvent; from cameras.models import Camera; "
         "print(MotionEvent.objects.count(), MotionEvent.objects.filter(keep=True).count())"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return out.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="db-contention-") as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "SURVEILLANCE_DATA_DIR": str(tmp / "data"), "PYTHONPATH": str(REPO),
               "SURVEILLANCE_ADMIN_PASSWORD": PASSWORD}  # fmt: skip
        env.pop("DATABASE_URL", None)
        # This process needs Django only for the supervisor's helpers: the same data dir.
        os.environ.update(SURVEILLANCE_DATA_DIR=env["SURVEILLANCE_DATA_DIR"],
                          DJANGO_SETTINGS_MODULE="surveillance.settings")  # fmt: skip
        import django

        django.setup()
        logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
        from bench.worker_cpu import start_redis
        from capture.supervisor import web_server_argv

        dbname = ""
        if args.database_url:
            dbname = f"bench_db_contention_{os.getpid()}"
            subprocess.run(["psql", args.database_url, "-qc", f"CREATE DATABASE {dbname}"],
                           check=True)  # fmt: skip
            env["DATABASE_URL"] = args.database_url.rsplit("/", 1)[0] + "/" + dbname
        sock = tmp / "redis.sock"
        env["REDIS_URL"] = f"unix://{sock}"
        processes: list[subprocess.Popen] = []
        logs: list[Path] = []
        redis = None
        try:
            from tests.videos import write_video

            video = write_video(tmp / "busy.mp4", 6, moving=(1, 2.5))
            manage(env, "migrate", "--noinput", "--verbosity", "0")
            manage(env, "bootstrap")
            for index in range(WORKERS):
                manage(env, "addcamera", f"cam{index}", str(video))
            manage(
                env,
                "shell",
                "--no-imports",
                "-c",
                "from cameras.models import Camera; Camera.objects.update(end_after=1.0)",
            )
            redis = start_redis(sock, env)
            port = free_port()

            def spawn(name: str, argv: list[str]) -> None:
                log = tmp / f"{name}.log"
                logs.append(log)
                processes.append(subprocess.Popen(
                    argv, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
                ))  # fmt: skip

            spawn("web", web_server_argv("127.0.0.1", port))
            url = f"http://127.0.0.1:{port}"
            wait_until(lambda: serves_healthz(url), 30, "the web process")
            for index in range(WORKERS):
                spawn(f"cam{index}", [sys.executable, "manage.py", "capture", f"cam{index}"])
            stop = threading.Event()
            clients = [Web(url, stop) for _ in range(CLIENTS)]
            threads = [threading.Thread(target=c.run, daemon=True) for c in clients]
            for thread in threads:
                thread.start()
            say(f"{WORKERS} workers and {CLIENTS} web clients on "
                f"{'PostgreSQL' if dbname else 'SQLite'} for {args.minutes:g} min")  # fmt: skip
            end = time.monotonic() + args.minutes * 60
            while time.monotonic() < end:
                time.sleep(min(30, max(0, end - time.monotonic())))
                events, kept = [*count_rows(env).split(), "?", "?"][:2]
                say(f"events {events} (kept {kept}), logins {sum(c.logins for c in clients)}, "
                    f"HTTP errors {sum(c.errors for c in clients)}")  # fmt: skip
            stop.set()
            for thread in threads:
                thread.join(60)
            final = count_rows(env)
        finally:
            for process in processes:
                stop_process(process, timeout=20)
            if redis is not None:
                redis.terminate()
                redis.wait(time.monotonic() + 10)
            if dbname:
                subprocess.run(["psql", args.database_url, "-qc",
                                f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)"])  # fmt: skip
        found = [line for log in logs for line in log.read_text().splitlines()
                 if DB_ERRORS.search(line)]  # fmt: skip
        events, kept = [*final.split(), "?", "?"][:2]
        backend = "PostgreSQL" if dbname else "SQLite (WAL, IMMEDIATE, busy_timeout 5 s)"
        print(f"\n| database | minutes | workers | web clients | events written | marked keep "
              f"| logins | HTTP 5xx / errors | database errors in logs |\n|---|--:|--:|--:|--:|--:"
              f"|--:|--:|--:|\n| {backend} | {args.minutes:g} | {WORKERS} | {CLIENTS} | {events} "
              f"| {kept} | {sum(c.logins for c in clients)} | "
              f"{sum(c.errors for c in clients)} | {len(found)} |")  # fmt: skip
        for line in found[:10]:
            print("    " + line)


if __name__ == "__main__":
    main()
