"""One websocket flooding the web process (issue 15): what it costs the server and other users.

    .venv/bin/python bench/socket_flood.py [--root TREE] [--messages 200000] [--watch 60]

Starts a Redis and the web server (`python -m surveillance.server`) of the source tree TREE
(default: this one; for the numbers before a change, a `git archive` of the older commit) on a
fresh SQLite data dir, logs in two users over HTTP, then:

- live: one logged-in websocket on /ws/live/ sends --messages `{"shown": …}` messages as fast as
  the connection takes them (or until the server closes it). For --watch seconds after, once a
  second: the web process's CPU (% of a core) and RSS, and how long another user's event list
  (/events/) takes.
- catch-ups: one websocket on /ws/alerts/ sends 1372 `{"since": …}` messages (with 20 events
  stored): the replies that come back within 10 s, and how the socket ended.

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.processes import free_port, stop_process, wait_until  # noqa: E402

PASSWORD = "bench-password-1"  # noqa: S105 (a throwaway account in a temp data dir)
CATCH_UPS = 1372
SETUP = f"""
from django.contrib.auth.models import User
from django.utils import timezone
from cameras.models import Camera
from events.models import MotionEvent
camera = Camera.objects.create(slug="front-door", name="Front door", source="demo")
for name in ("member", "other"):
    camera.viewers.add(User.objects.create_user(name, password={PASSWORD!r}))
for _ in range(20):
    MotionEvent.objects.create(camera=camera, ended_at=timezone.now())
"""


def start(root: Path, data: Path) -> tuple[dict[str, str], list[subprocess.Popen], str, int]:
    """Redis and the web server of `root` on a fresh data dir: env, processes, URL, web PID."""
    sock = data / "redis.sock"
    redis_bin = shutil.which("redis-server") or sys.exit("needs redis-server")
    redis = subprocess.Popen(
        [redis_bin, "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no",
         "--dir", str(data)], stdout=subprocess.DEVNULL,
    )  # fmt: skip
    wait_until(sock.exists, 10, "redis")
    env = {**os.environ, "SURVEILLANCE_DATA_DIR": str(data / "var"), "REDIS_URL": f"unix://{sock}",
           "PYTHONPATH": str(root), "DJANGO_SETTINGS_MODULE": "surveillance.settings",
           "SURVEILLANCE_FAST_PASSWORD_HASHER": "1"}  # fmt: skip
    env.pop("DATABASE_URL", None)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=root, env=env, check=True)
    subprocess.run([*manage, "shell", "-c", SETUP], cwd=root, env=env, check=True)
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "surveillance.server", "-b", "127.0.0.1", "-p", str(port),
         "surveillance.asgi:application"], cwd=root, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        with contextlib.suppress(httpx.TransportError):
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        return False

    wait_until(up, 60, "the web server")
    return env, [web, redis], url, web.pid


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def session(url: str, username: str) -> httpx.Client:
    """Logged in through the form, as a browser."""
    client = httpx.Client(base_url=url, timeout=30)
    client.get("/accounts/login/")
    form = {"username": username, "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"]}  # fmt: skip
    assert client.post("/accounts/login/", data=form).status_code == 302, username
    return client


def open_socket(url: str, path: str, client: httpx.Client) -> ClientConnection:
    cookie = f"sessionid={client.cookies['sessionid']}"
    return connect(url.replace("http", "ws") + path, origin=url,
                   additional_headers={"Cookie": cookie}, max_size=None)  # fmt: skip


def page_ms(client: httpx.Client) -> float:
    started = time.perf_counter()
    assert client.get("/events/").status_code == 200
    return 1000 * (time.perf_counter() - started)


def flood_live(url: str, member: httpx.Client, messages: int) -> dict:
    sent, code = 0, None
    started = time.perf_counter()
    with open_socket(url, "/ws/live/", member) as socket:
        try:
            for sent in range(1, messages + 1):  # noqa: B007 (the count is the result)
                socket.send('{"shown": "front-door"}')
            socket.recv(timeout=5)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else "dropped"
        except TimeoutError:
            code = "still open"
    return {"sent": sent, "seconds": time.perf_counter() - started, "code": code}


def watch(pid: int, other: httpx.Client, seconds: float) -> dict:
    """Once a second: the web process's CPU and RSS, and another user's page time."""
    cpu, rss, pages = [], [], []
    last_cpu, last = cpu_seconds(pid), time.monotonic()
    deadline = last + seconds
    while time.monotonic() < deadline:
        pages.append(page_ms(other))
        time.sleep(max(0.0, 1 - (time.monotonic() - last)))
        now, used = time.monotonic(), cpu_seconds(pid)
        cpu.append(100 * (used - last_cpu) / (now - last))
        rss.append(rss_mb(pid))
        last_cpu, last = used, now
    busy = sum(1 for c in cpu if c > 50)
    return {"cpu_first10": statistics.mean(cpu[:10]), "cpu_all": statistics.mean(cpu),
            "busy_s": busy, "rss_peak": max(rss), "rss_end": rss[-1],
            "page_median": statistics.median(pages), "page_max": max(pages)}  # fmt: skip


def flood_catch_ups(url: str, member: httpx.Client) -> dict:
    """Catch-ups sent from a thread as fast as they go; replies counted here meanwhile."""
    replies, code, sent = 0, "still open", [0]

    def send_all(socket: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            for _ in range(CATCH_UPS):
                socket.send('{"since": "2020-01-01T00:00:00+00:00"}')
                sent[0] += 1

    with open_socket(url, "/ws/alerts/", member) as socket:
        sender = threading.Thread(target=send_all, args=(socket,), daemon=True)
        sender.start()
        deadline = time.monotonic() + 10
        try:
            while (left := deadline - time.monotonic()) > 0:
                if '"motion.' in socket.recv(timeout=left):
                    replies += 1
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else "dropped"
        except TimeoutError:
            pass
        sender.join(5)
    return {"sent": sent[0], "replies": replies, "code": code}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=REPO)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--watch", type=float, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _, processes, url, pid = start(args.root.resolve(), Path(tmp))
        try:
            member, other = session(url, "member"), session(url, "other")
            quiet = [page_ms(other) for _ in range(20)]
            rss_before = rss_mb(pid)
            live = flood_live(url, member, args.messages)
            after = watch(pid, other, args.watch)
            catch_ups = flood_catch_ups(url, session(url, "member"))
        finally:
            for process in processes:
                stop_process(process)
    print(f"\ntree: {args.root.resolve()}\n")
    print("| what | measured |\n|---|---|")
    print(f"| other user's /events/ before, median | {statistics.median(quiet):.0f} ms |")
    print(f"| live flood: messages the server took, in | {live['sent']} in "
          f"{live['seconds']:.1f} s; socket ended: {live['code']} |")  # fmt: skip
    print(f"| web CPU after it, first 10 s / {args.watch:.0f} s | {after['cpu_first10']:.0f} % / "
          f"{after['cpu_all']:.0f} % of a core ({after['busy_s']} s over 50 %) |")  # fmt: skip
    print(f"| web RSS before / peak / end | {rss_before:.0f} / {after['rss_peak']:.0f} / "
          f"{after['rss_end']:.0f} MB |")  # fmt: skip
    print(f"| other user's /events/ meanwhile, median / max | {after['page_median']:.0f} / "
          f"{after['page_max']:.0f} ms |")  # fmt: skip
    print(f"| catch-up flood: sent, replies within 10 s, socket ended | {catch_ups['sent']}, "
          f"{catch_ups['replies']}, {catch_ups['code']} |")  # fmt: skip


if __name__ == "__main__":
    main()
