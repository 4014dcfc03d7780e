"""What API tokens cost the web process (issue 17), against the session they stand beside.

    .venv/bin/python bench/token_viewers.py [--viewers 100] [--seconds 20] [--rounds 3]

Starts a Redis, the web server (`python -m surveillance.server`) and a capture worker on a demo
camera (15 fps) in a throw-away data dir, with one user logged in (a session cookie) and one
API token of theirs. Then, in alternating rounds so that the machine's drift falls on both:

- per request: --requests sequential GETs of /api/cameras/ (small, no camera needed) with the
  cookie, then with `Authorization: Bearer`, and the web process's CPU per request;
- streams: --viewers MJPEG viewers of the camera, in a client process of their own, with the
  cookie, then with Basic and the token (what Home Assistant sends), and the web process's CPU
  (% of one core) over --seconds once all of them have their first frame, and the frames each
  got per second.

Prints the medians (and ranges) and the ratio token / session.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.socket_flood import PASSWORD, cpu_seconds, session  # noqa: E402
from tests.harness import manage, setup_django, start_redis, start_web_server, start_worker  # noqa: E402
from tests.processes import stop_process  # noqa: E402

SETUP = f"""
from django.contrib.auth.models import User
from accounts.models import ApiToken
from cameras.models import Camera
user = User.objects.create_user("viewer", password={PASSWORD!r})
Camera.objects.create(slug="demo", name="Demo", source="demo:bench").viewers.add(user)
print(ApiToken.issue(user, "bench")[1])
"""


def start(data: Path) -> tuple[list[subprocess.Popen], str, int, str]:
    """Redis, the web server and the demo camera's worker: processes, URL, web PID, token."""
    sock = data / "redis.sock"
    os.environ.update(SURVEILLANCE_FAST_PASSWORD_HASHER="1")  # noqa: S106 (a switch, no password)
    # This process reads the same database for check_alone().
    env = {**setup_django(data / "var", sock), "SURVEILLANCE_LOG_LEVEL": "WARNING"}
    redis = start_redis(sock)
    manage(env, "migrate", "-v0")
    token = manage(env, "shell", "-c", SETUP).strip().splitlines()[-1]
    web = start_web_server(env, log=data / "web.log", timeout=60)
    worker = start_worker(env, "demo", data / "worker.log")
    return [worker, web.process, redis], web.url, web.process.pid, token


def check_alone(token: str, session_key: str, count: int = 2000) -> dict[str, float]:
    """µs per call, in this process on the same database: the token check (accounts.auth) and
    what a session costs Django (its row, then its user)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "surveillance.settings")
    django.setup()
    from django.contrib.auth import get_user
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import RequestFactory

    from accounts.auth import authenticate

    factory = RequestFactory()

    def by_token() -> None:
        request = factory.get("/api/cameras/", HTTP_AUTHORIZATION=f"Bearer {token}")
        authenticate(request)

    def by_session() -> None:
        request = factory.get("/api/cameras/")
        request.session = SessionStore(session_key)
        assert get_user(request).is_authenticated

    result = {}
    for name, check in (("token", by_token), ("session", by_session)):
        check()
        started = time.perf_counter()
        for _ in range(count):
            check()
        result[name] = 1e6 * (time.perf_counter() - started) / count
    return result


def per_request(url: str, pid: int, headers: dict[str, str], count: int) -> float:
    """The web process's CPU per GET of /api/cameras/, in ms."""
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        client.get("/api/cameras/")
        used = cpu_seconds(pid)
        for _ in range(count):
            assert client.get("/api/cameras/").status_code == 200
        return 1000 * (cpu_seconds(pid) - used) / count


# --- the viewers' process (this script with --viewers-of SPEC) ---------------------------------


async def view(host: str, port: int, header: str, ready: asyncio.Event, counts: list) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET /cameras/demo/stream.mjpg HTTP/1.1\r\nHost: {host}\r\n{header}\r\n\r\n"
                 .encode())  # fmt: skip
    head = await reader.readuntil(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0], head[:80]
    while True:
        data = await reader.read(1 << 16)
        if not data:
            return
        counts[0] += data.count(b"--frame")
        ready.set()


async def viewers(spec: dict) -> dict:
    counts = [[0] for _ in range(spec["viewers"])]
    events = [asyncio.Event() for _ in counts]
    tasks = []
    for count, ready in zip(counts, events, strict=True):
        tasks.append(asyncio.create_task(view(spec["host"], spec["port"], spec["header"], ready,
                                              count)))  # fmt: skip
        await asyncio.sleep(0.01)  # one after another: a burst would overflow the backlog
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), 60)
    print("ready", flush=True)
    await asyncio.sleep(2 + spec["seconds"])  # the parent measures the middle of this
    for task in tasks:
        task.cancel()
    return {"frames_per_s": statistics.mean(c[0] for c in counts) / (2 + spec["seconds"])}


def streams(url: str, pid: int, header: str, count: int, seconds: float) -> tuple[float, float]:
    """(web CPU % of a core, frames per second per viewer) with `count` viewers."""
    spec = {"host": "127.0.0.1", "port": int(url.rsplit(":", 1)[1]), "header": header,
            "viewers": count, "seconds": seconds}  # fmt: skip
    client = subprocess.Popen([sys.executable, __file__, "--viewers-of", json.dumps(spec)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert client.stdout.readline().strip() == "ready"
    time.sleep(1)
    used, started = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    cpu = 100 * (cpu_seconds(pid) - used) / (time.monotonic() - started)
    result = json.loads(client.stdout.read().strip().splitlines()[-1])
    client.wait(30)
    return cpu, result["frames_per_s"]


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f} to {max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--viewers-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.viewers_of:
        print(json.dumps(asyncio.run(viewers(json.loads(args.viewers_of)))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        processes, url, pid, token = start(Path(tmp))
        try:
            cookie = f"sessionid={session(url, 'viewer').cookies['sessionid']}"
            basic = base64.b64encode(f"viewer:{token}".encode()).decode()
            ways = {"session": ({"Cookie": cookie}, f"Cookie: {cookie}"),
                    "token": ({"Authorization": f"Bearer {token}"},
                              f"Authorization: Basic {basic}")}  # fmt: skip
            results = {way: {"request_ms": [], "cpu": [], "fps": []} for way in ways}
            for round_ in range(args.rounds):
                for way, (headers, header) in ways.items():
                    results[way]["request_ms"].append(per_request(url, pid, headers, args.requests))
                    cpu, fps = streams(url, pid, header, args.viewers, args.seconds)
                    results[way]["cpu"].append(cpu)
                    results[way]["fps"].append(fps)
                    print(f"round {round_ + 1} {way}: {results[way]['request_ms'][-1]:.2f} ms "
                          f"a request, {cpu:.1f} % with {args.viewers} viewers at {fps:.1f} fps",
                          flush=True)  # fmt: skip
            alone = check_alone(token, cookie.split("=", 1)[1])
        finally:
            for process in processes:
                stop_process(process)
    print("\n| | session | token | token / session |\n|---|--:|--:|--:|")
    print(f"| the check alone, in-process, µs | {alone['session']:.0f} | {alone['token']:.0f} | "
          f"{alone['token'] / alone['session']:.2f} |")  # fmt: skip
    for key, what in (("request_ms", "web CPU per /api/cameras/ request, ms"),
                      ("cpu", f"web CPU with {args.viewers} MJPEG viewers, % of a core"),
                      ("fps", "frames per second per viewer")):  # fmt: skip
        s, t = results["session"][key], results["token"][key]
        ratio = statistics.median(t) / statistics.median(s)
        print(f"| {what} | {summary(s)} | {summary(t)} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
