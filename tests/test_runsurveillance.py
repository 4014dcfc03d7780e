"""`manage.py runsurveillance` end to end, on a fresh data dir of its own and its private Redis.

One supervisor serves the whole module and the tests follow its life in file order: it serves,
keeps one worker per enabled camera, follows changes, and at last is stopped with SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from capture.supervisor import find_redis_server
from tests.conftest import ROOT
from tests.processes import free_port, stop_process, wait_until
from tests.videos import write_video

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        find_redis_server() is None,
        reason="needs the redis-server package (apt install redis-server)",
    ),
]


@dataclass
class Running:
    process: subprocess.Popen
    url: str
    data_dir: Path
    env: dict[str, str]
    video: Path
    log: Path  # what the supervisor and its children wrote to stdout and stderr


def manage(env: dict[str, str], *args: str) -> str:
    """Run a management command as a subprocess of its own; its stdout."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def start_supervisor(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "runsurveillance", "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def children_of(parent: int, zombies: bool = False) -> dict[int, list[str]]:
    """Live child processes of `parent` (or, with `zombies`, the exited ones it has not reaped),
    read from /proc: {pid: argv}."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # comm, in parentheses, may hold spaces: the fields start after the last ")".
            state, ppid = stat.read_text().rpartition(")")[2].split()[:2]
            argv = (stat.parent / "cmdline").read_bytes().decode().split("\0")
        except (OSError, ValueError):
            continue  # gone while we looked
        if int(ppid) == parent and (state == "Z") == zombies:
            found[int(stat.parent.name)] = [arg for arg in argv if arg]
    return found


def descendants_of(parent: int) -> set[int]:
    """Every live process below `parent` (workers are children of the fork server, not of it)."""
    found, todo = set(), [parent]
    while todo:
        for child in children_of(todo.pop()):
            found.add(child)
            todo.append(child)
    return found


def zombies_below(parent: int) -> set[int]:
    """Exited processes anywhere below `parent` that their parent has not reaped."""
    below = {parent} | descendants_of(parent)
    return {zombie for pid in below for zombie in children_of(pid, zombies=True)}


def table(data_dir: Path) -> dict[str, int]:
    """The supervisor's own list of its processes (capture/processes.py), {} while it has none."""
    try:
        return json.loads((data_dir / "run" / "processes.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}


def named(running: Running, name: str, supervisor: int | None = None) -> list[int]:
    """The live process the supervisor lists under `name`, as a list (empty or one pid), checked
    in /proc to be one of its descendants (a dead or stale pid in the table does not count)."""
    supervisor = supervisor or running.process.pid
    pid = table(running.data_dir).get(name)
    return [pid] if pid in descendants_of(supervisor) else []


def workers_of(running: Running, slug: str, supervisor: int | None = None) -> list[int]:
    return named(running, f"worker {slug}", supervisor)


def replacing(running: Running, slug: str, old: int) -> list[int]:
    """The camera's worker, once it is another process than `old`."""
    return [pid for pid in workers_of(running, slug) if pid != old]


def healthy(url: str) -> bool:
    try:
        response = httpx.get(f"{url}/healthz", timeout=2)
    except httpx.TransportError:
        return False
    return response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.fixture(scope="module")
def surveillance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A migrated data dir with camera cam-a, and runsurveillance serving it on 127.0.0.1."""
    base = tmp_path_factory.mktemp("runsurveillance")
    video = write_video(base / "cam.mp4", 4)
    env = {**os.environ, "SURVEILLANCE_DATA_DIR": str(base / "data"), "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)  # unset: runsurveillance starts its own Redis
    env.pop("DATABASE_URL", None)  # unset: the SQLite file in the data dir
    manage(env, "migrate", "--verbosity", "0")
    manage(env, "addcamera", "cam-a", str(video))
    # An event past the default keep_days (30), for the supervisor's first retention run.
    manage(
        env, "shell", "--no-imports", "-c",
        "import datetime as dt; from django.utils import timezone; "
        "from cameras.models import Camera; from events.models import MotionEvent; "
        "old = timezone.now() - dt.timedelta(days=40); "
        "MotionEvent.objects.create(camera=Camera.objects.get(slug='cam-a'), "
        "started_at=old, ended_at=old + dt.timedelta(seconds=5))",
    )  # fmt: skip
    port, log = free_port(), base / "supervisor.log"
    process = start_supervisor(env, port, log)
    running = Running(process, f"http://127.0.0.1:{port}", base / "data", env, video, log)
    yield running
    stop_process(process, timeout=20)


def test_it_serves_healthz(surveillance: Running) -> None:
    wait_until(lambda: healthy(surveillance.url), 30, "/healthz to answer 200 ok")


def test_it_runs_the_notifier_and_restarts_it_when_it_dies(surveillance: Running) -> None:
    def notifiers() -> list[int]:
        return named(surveillance, "notifier")

    (first,) = wait_until(notifiers, 10, "the notifier")
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: notifiers() and notifiers() != [first], 15, "a new notifier")


def test_it_runs_one_object_detector_and_restarts_it_when_it_dies(surveillance: Running) -> None:
    def detectors() -> list[int]:
        return named(surveillance, "detector")

    (first,) = wait_until(detectors, 10, "the object detector")
    server = table(surveillance.data_dir)["fork server"]
    assert first in children_of(server)  # forked, as the workers are: OpenCV shared
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: detectors() and detectors() != [first], 15, "a new object detector")


def test_it_prunes_events_past_their_cameras_keep_days(surveillance: Running) -> None:
    def events() -> str:
        return manage(
            surveillance.env, "shell", "--no-imports", "-c",
            "from events.models import MotionEvent; print(MotionEvent.objects.count())",
        ).strip()  # fmt: skip

    wait_until(lambda: events() == "0", 20, "the 40-day-old event to be pruned")


def test_retention_on_a_fresh_data_dir_says_there_is_no_media_yet_without_a_traceback(
    surveillance: Running,
) -> None:
    wait_until(lambda: "Deleted: " in surveillance.log.read_text(), 20, "the retention run")
    log = surveillance.log.read_text()
    assert f"{surveillance.data_dir / 'media'} does not exist (yet)" in log
    assert "Traceback" not in log


def test_the_finished_retention_run_is_reaped_at_once(surveillance: Running) -> None:
    wait_until(lambda: "Deleted: " in surveillance.log.read_text(), 20, "the retention run")
    pid = surveillance.process.pid
    wait_until(lambda: not zombies_below(pid), 3, "no child left unreaped")


def test_it_runs_web_redis_and_one_worker_per_enabled_camera(surveillance: Running) -> None:
    pid = surveillance.process.pid
    wait_until(lambda: workers_of(surveillance, "cam-a"), 10, "the worker of cam-a")

    children = list(children_of(pid).values())
    assert len(workers_of(surveillance, "cam-a")) == 1
    assert any(argv[1:3] == ["-m", "surveillance.server"] for argv in children), children
    assert any("redis-server" in argv[0] for argv in children), children
    assert (surveillance.data_dir / "run" / "redis.sock").exists()


def test_workers_are_forks_of_the_fork_server_and_processes_shows_what_each_takes(
    surveillance: Running,
) -> None:
    [worker] = wait_until(lambda: workers_of(surveillance, "cam-a"), 10, "the worker of cam-a")
    wait_until(lambda: named(surveillance, "notifier"), 10, "the notifier")
    server = table(surveillance.data_dir)["fork server"]
    assert worker in children_of(server) and server in children_of(surveillance.process.pid)

    report = json.loads(manage(surveillance.env, "processes", "--json"))

    expected = {"supervisor", "fork server", "redis", "web", "notifier", "detector",
                "worker cam-a"}  # fmt: skip
    assert expected <= set(report), report
    assert report["worker cam-a"]["pid"] == worker
    for name, row in report.items():
        assert 0 < row["uss"] <= row["pss"] <= row["rss"], (name, row)
    table_text = manage(surveillance.env, "processes")
    assert "worker cam-a" in table_text and "a camera worker, on average (PSS)" in table_text


def loaded_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def test_opencv_is_loaded_in_the_fork_server_and_its_forks_not_the_supervisor_or_web(
    surveillance: Running,
) -> None:
    [worker] = wait_until(lambda: workers_of(surveillance, "cam-a"), 10, "the worker of cam-a")
    processes = table(surveillance.data_dir)

    assert "/cv2/" in loaded_libraries(worker)
    assert "/cv2/" in loaded_libraries(processes["fork server"])  # the pages workers share
    assert "/cv2/" not in loaded_libraries(processes["supervisor"])
    assert "/cv2/" not in loaded_libraries(processes["web"])


def test_killed_worker_is_restarted(surveillance: Running) -> None:
    [old] = wait_until(lambda: workers_of(surveillance, "cam-a"), 10, "the worker of cam-a")

    os.kill(old, signal.SIGKILL)

    wait_until(lambda: replacing(surveillance, "cam-a", old), 5, "a new worker of cam-a")
    assert not os.path.exists(f"/proc/{old}/cmdline")  # reaped, by the fork server


def test_a_worker_killed_mid_event_is_back_within_5_s_and_closes_the_event(
    surveillance: Running,
) -> None:
    video = write_video(surveillance.data_dir.parent / "moving.mp4", 40, moving=(1, 39))
    manage(surveillance.env, "addcamera", "cam-m", str(video))

    def open_events() -> str:
        return manage(
            surveillance.env, "shell", "--no-imports", "-c",
            "from events.models import MotionEvent; "
            "print(MotionEvent.objects.filter(camera__slug='cam-m', ended_at=None).count())",
        ).strip()  # fmt: skip

    [old] = wait_until(lambda: workers_of(surveillance, "cam-m"), 10, "the worker of cam-m")
    wait_until(lambda: open_events() == "1", 20, "an event in progress on cam-m")
    os.kill(old, signal.SIGKILL)  # no chance to close its event
    wait_until(lambda: replacing(surveillance, "cam-m", old), 5, "cam-m's new worker")
    # The new worker closes the abandoned event first, then opens a new one for the motion.
    wait_until(
        lambda: manage(
            surveillance.env, "shell", "--no-imports", "-c",
            "from events.models import MotionEvent; "
            "e = MotionEvent.objects.filter(camera__slug='cam-m').order_by('pk').first(); "
            "print(e.ended_at is not None)",
        ).strip() == "True",
        10,
        "the abandoned event to be closed",
    )  # fmt: skip
    manage(surveillance.env, "addcamera", "cam-m", str(video), "--disabled")


def test_camera_added_while_running_gets_a_worker(surveillance: Running) -> None:
    manage(surveillance.env, "addcamera", "cam-b", str(surveillance.video))

    wait_until(lambda: workers_of(surveillance, "cam-b"), 8, "the worker of the added camera")
    assert len(workers_of(surveillance, "cam-b")) == 1


def test_disabled_camera_loses_its_worker_and_others_keep_theirs(surveillance: Running) -> None:
    manage(surveillance.env, "addcamera", "cam-b", str(surveillance.video))
    wait_until(lambda: workers_of(surveillance, "cam-b"), 8, "the worker of cam-b")
    [cam_a] = wait_until(lambda: workers_of(surveillance, "cam-a"), 10, "the worker of cam-a")

    manage(surveillance.env, "addcamera", "cam-b", str(surveillance.video), "--disabled")

    wait_until(
        lambda: not workers_of(surveillance, "cam-b"), 8, "the disabled camera's worker to stop"
    )
    assert workers_of(surveillance, "cam-a") == [cam_a]


def test_changed_camera_gets_a_fresh_worker(surveillance: Running) -> None:
    [old] = wait_until(lambda: workers_of(surveillance, "cam-a"), 10, "the worker of cam-a")

    manage(surveillance.env, "addcamera", "cam-a", str(surveillance.video), "--name", "Cam A2")

    wait_until(lambda: replacing(surveillance, "cam-a", old), 15, "cam-a's new worker")
    assert not os.path.exists(f"/proc/{old}/cmdline")


def test_sigterm_stops_every_child_and_removes_the_redis_socket(surveillance: Running) -> None:
    process = surveillance.process
    wait_until(lambda: workers_of(surveillance, "cam-a"), 10, "the worker of cam-a")
    children = descendants_of(process.pid)
    assert len(children) >= 6  # redis, web, the fork server, the notifier, the detector, cam-a

    process.send_signal(signal.SIGTERM)

    assert process.wait(15) == 0
    wait_until(
        lambda: not any(os.path.exists(f"/proc/{child}") for child in children),
        5,
        "every child to be gone",
    )
    assert not (surveillance.data_dir / "run" / "redis.sock").exists()
    assert not (surveillance.data_dir / "run" / "processes.json").exists()


def test_a_second_start_on_the_same_data_dir_keeps_the_cameras(surveillance: Running) -> None:
    stop_process(surveillance.process, timeout=20)  # already stopped, in file order
    port = free_port()
    again = start_supervisor(surveillance.env, port, surveillance.log)
    try:
        wait_until(lambda: healthy(f"http://127.0.0.1:{port}"), 30, "/healthz after a restart")
        wait_until(lambda: workers_of(surveillance, "cam-a", again.pid), 10, "the worker of cam-a")
        assert not workers_of(surveillance, "cam-b", again.pid) and not workers_of(
            surveillance, "cam-m", again.pid
        )
    finally:
        stop_process(again, timeout=20)

    listing = manage(
        surveillance.env, "shell", "--no-imports", "-c",
        "from cameras.models import Camera; "
        "print(sorted(Camera.objects.values_list('slug', flat=True)))",
    )  # fmt: skip
    assert listing.strip() == "['cam-a', 'cam-b', 'cam-m']"
