"""The fork server the workers and the notifier are forked from (capture/forkserver.py), the
back-office settings it loads, and what a process gives back to the system."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

# What a fork finds loaded, printed by a management command run in it as a worker runs.
REPORT = (
    "import json, sys; from django.apps import apps; from django.conf import settings; "
    "print(json.dumps({'ready': apps.ready, 'process': settings.PROCESS, "
    "'apps': settings.INSTALLED_APPS, 'loaded': sorted(m for m in sys.modules "
    "if m.split('.')[0] in ('cv2', 'av', 'numpy', 'channels_redis', 'daphne', 'twisted', "
    "'ninja', 'axes') or m == 'django.contrib.admin')}))"
)

FORK = f"""
import os
from capture import forkserver
forkserver.start({{**os.environ, "SURVEILLANCE_PROCESS": "back"}})
child = forkserver.context().Process(
    target=forkserver.run_command, args=(["shell", "--no-imports", "-c", {REPORT!r}],)
)
child.start()
child.join(60)
print("exit", child.exitcode, "server", forkserver.pid(), flush=True)
"""


def run(code: str, data_dir: Path, **extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SURVEILLANCE_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT), **extra}
    env.pop("SURVEILLANCE_PROCESS", None)
    env.update(extra)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_a_forked_command_finds_django_and_the_capture_stack_loaded_and_no_web_stack(
    tmp_path: Path,
) -> None:
    result = run(FORK, tmp_path)

    assert result.returncode == 0, result.stderr
    report_line, exit_line = result.stdout.strip().splitlines()[-2:]
    assert exit_line.startswith("exit 0 server "), result.stdout + result.stderr
    assert exit_line.split()[-1] != str(os.getpid())
    report = json.loads(report_line)
    assert report["ready"] is True and report["process"] == "back"
    assert "capture" in report["apps"] and "django.contrib.admin" not in report["apps"]
    loaded = {name.split(".")[0] for name in report["loaded"]}
    assert {"cv2", "av", "numpy", "channels_redis"} <= loaded, loaded  # preloaded, shared
    assert not loaded & {"daphne", "twisted", "ninja", "axes"}, loaded
    assert "django.contrib.admin" not in report["loaded"]


def test_back_office_settings_install_no_web_apps_and_a_wrong_process_is_named(
    tmp_path: Path,
) -> None:
    show = "from django.conf import settings; print(settings.INSTALLED_APPS, settings.MIDDLEWARE)"
    code = f"import django; django.setup(); {show}"
    settings_module = {"DJANGO_SETTINGS_MODULE": "surveillance.settings"}

    back = run(code, tmp_path, SURVEILLANCE_PROCESS="back", **settings_module)
    web = run(code, tmp_path, SURVEILLANCE_PROCESS="web", **settings_module)
    wrong = run(code, tmp_path, SURVEILLANCE_PROCESS="frontend", **settings_module)

    assert back.returncode == 0 and web.returncode == 0, back.stderr + web.stderr
    assert "'daphne'" not in back.stdout and "django.contrib.admin'" not in back.stdout
    assert "'events'" in back.stdout and back.stdout.rstrip().endswith("[]")
    assert "'daphne'" in web.stdout and "django.contrib.admin'" in web.stdout
    assert wrong.returncode != 0
    assert "SURVEILLANCE_PROCESS must be web or back, not 'frontend'" in wrong.stderr


def test_give_back_returns_the_heap_a_burst_freed_to_the_system(tmp_path: Path) -> None:
    # 1 KB blocks come from malloc (not Python's small-object arenas); the block allocated after
    # them pins the top of the heap, so free() alone cannot shrink it: as after an event's clip.
    code = """
import os
from capture.memory import Memory, give_back
burst = [os.urandom(1024) for _ in range(100_000)]
pin = os.urandom(1024)
del burst
before = Memory.of(os.getpid()).uss
give_back()
print(before, Memory.of(os.getpid()).uss)
"""
    result = run(code, tmp_path)

    assert result.returncode == 0, result.stderr
    before, after = map(int, result.stdout.split())
    assert before - after > 50 * 1024 * 1024, (before, after)  # of the ~100 MB freed
