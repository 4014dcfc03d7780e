"""`manage.py analyze --workers N`: pieces of the file in N processes, the events of one."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import cv2
import pytest
from django.core.management import CommandError, call_command

from tests.videos import write_sprite_video, write_vfr_video

# 240 s at 10 fps, a keyframe every 7 frames (so a piece's keyframe is off the detection rate's
# step). Two workers cut at 120 s, three at 80 s and 160 s: crossings straddle 80 s and 120 s,
# one starts just after 160 s (a piece without its warm-up would still be learning then).
CROSSINGS = [(20, 23), (50, 52), (78, 82), (118, 122), (160.5, 163.5), (200, 203)]


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    times = [index / 10 for index in range(2400)]
    path = tmp_path_factory.mktemp("videos") / "crossings.mp4"
    return write_vfr_video(path, times, moving=CROSSINGS, fps=10, gop=7)


@pytest.fixture(scope="module")
def alone(long_video: Path) -> list[dict]:
    return json.loads(analyze(str(long_video), "--json", "--workers", "1"))


def analyze(*args: str, stderr: io.StringIO | None = None) -> str:
    out = io.StringIO()
    call_command("analyze", *args, stdout=out, stderr=stderr or io.StringIO())
    return out.getvalue()


def test_two_workers_find_the_events_one_finds_in_order(long_video: Path, alone: list) -> None:
    pooled = json.loads(analyze(str(long_video), "--json", "--workers", "2"))
    assert [round(e["start"]) for e in alone] == [20, 50, 78, 118, 161, 200]
    assert pooled == alone


def test_three_workers_find_the_events_one_finds_in_order(long_video: Path, alone: list) -> None:
    assert json.loads(analyze(str(long_video), "--json", "--workers", "3")) == alone


def test_objects_are_looked_for_in_the_pool_processes(long_video: Path) -> None:
    one = json.loads(analyze(str(long_video), "--json", "--objects", "--workers", "1"))
    two = json.loads(analyze(str(long_video), "--json", "--objects", "--workers", "2"))
    assert two == one and len(two) == len(CROSSINGS) and all("objects" in e for e in two)


def test_a_person_crossing_the_cut_is_found_as_one_worker_finds_them(tmp_path: Path) -> None:
    person = cv2.resize(cv2.imread(str(Path(__file__).parent / "data" / "camera.jpg")), (220, 220))
    # 160 s at 5 fps: two pieces, cut at 80 s, while the person walks by.
    walking = write_sprite_video(tmp_path / "person.mp4", person, 160, (78, 82), fps=5)
    [one] = json.loads(analyze(str(walking), "--json", "--objects", "--workers", "1"))
    log = io.StringIO()
    [two] = json.loads(
        analyze(str(walking), "--json", "--objects", "--workers", "2", "-v", "2", stderr=log)
    )
    assert two == one and set(two["objects"]) == {"person"}
    assert "piece 2" in log.getvalue()


def test_pieces_run_in_processes_of_their_own(long_video: Path) -> None:
    log = io.StringIO()
    analyze(str(long_video), "--json", "--workers", "2", "--verbosity", "2", stderr=log)
    pids = {line.rsplit(" ", 1)[1] for line in log.getvalue().splitlines() if "process" in line}
    assert len(pids) == 2 and str(os.getpid()) not in pids


def test_the_progress_bar_counts_every_frame_of_all_pieces(
    long_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    master, slave = os.openpty()
    drawn = bytearray()
    reader = threading.Thread(target=read_until_closed, args=(master, drawn), daemon=True)
    reader.start()
    with open(slave, "w") as tty:
        monkeypatch.setattr(sys, "stderr", tty)
        analyze(str(long_video), "--json", "--workers", "2")
    reader.join(10)
    draws = [draw for draw in drawn.decode().split("\r") if "frames" in draw]
    assert "100% 2400/2400 frames" in draws[-1]
    assert len(draws) > 2  # and on the way there


def read_until_closed(fd: int, into: bytearray) -> None:
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the other end closed
            return
        if not chunk:
            return
        into.extend(chunk)


def test_a_pool_process_that_dies_is_a_clear_error_not_a_hang(long_video: Path) -> None:
    failures: list[BaseException] = []

    def run() -> None:
        try:
            analyze(str(long_video), "--json", "--workers", "2")
        except BaseException as exc:
            failures.append(exc)

    command = threading.Thread(target=run, daemon=True)
    command.start()
    deadline = time.monotonic() + 60
    while not (workers := pool_processes()) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(workers[0], signal.SIGKILL)
    command.join(60)
    assert not command.is_alive()
    [failure] = failures
    assert isinstance(failure, CommandError) and "process died" in str(failure)


def pool_processes() -> list[int]:
    """This process's children that multiprocessing spawned (not its resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found
