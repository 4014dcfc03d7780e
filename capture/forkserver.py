"""Capture workers (and the notifier) forked from one preloaded process, so that what they import
is in memory once.

Each camera keeps a process of its own (a fault in one never takes another), but Python, Django,
NumPy, OpenCV and PyAV are imported once, by multiprocessing's fork server, and every worker is a
fork of it that runs its management command: those pages are shared, copy-on-write, instead of
some 60 MB in every worker (bench/process_memory.py). The server imports only what capture
needs (SURVEILLANCE_PROCESS=back: no Daphne, admin or API), and holds no database connection,
socket or thread when it forks:
Django connects lazily, in the worker. Its objects are frozen out of the garbage collector, which
would otherwise touch, and so copy, every page of them in every worker.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import sys
from collections.abc import Iterator

PRELOAD = "capture.preload"  # imported by the fork server, and nothing else
PR_SET_PDEATHSIG = 1


def context() -> multiprocessing.context.BaseContext:
    """The fork server, preloading this module (it starts on the first worker)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([PRELOAD])
    return ctx


def start(env: dict[str, str]) -> int:
    """Start the fork server now, with the workers' environment (it reads its settings from
    it, once); returns its pid. Should it die, the next worker starts it again."""
    context()  # its preload list first
    with environment(env):
        multiprocessing.forkserver.ensure_running()
    return pid()


def pid() -> int | None:
    return multiprocessing.forkserver._forkserver._forkserver_pid  # no public accessor


@contextlib.contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """os.environ is what the fork server is started with (multiprocessing offers no other)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_command(argv: list[str]) -> None:
    """A forked child's life: `manage.py ARGV…`, as it would run exec'd, with nothing to import."""
    from django.apps import apps

    if not apps.ready:  # capture.preload failed, and multiprocessing ignores an ImportError
        sys.exit("the fork server did not preload capture.preload; see its messages above")
    os.setsid()  # as every child: Ctrl-C reaches only the supervisor, which stops them in order
    die_with_parent()  # the fork server's children go when it does (it goes with the supervisor)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["manage.py", *argv])


def die_with_parent() -> None:
    """In a child: Linux sends it SIGTERM when its parent dies."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the supervisor must live
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
