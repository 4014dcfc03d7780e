"""Which processes runsurveillance runs: the supervisor writes them to RUN_DIR/processes.json,
name -> pid, and `manage.py processes` shows what each costs (capture/memory.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.conf import settings


def table_path() -> Path:
    return settings.RUN_DIR / "processes.json"


def write_table(pids: dict[str, int]) -> None:
    """The supervisor's list of its processes, name -> pid, replaced atomically."""
    path = table_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(pids, indent=1))
    os.replace(temporary, path)


def read_table() -> dict[str, int]:
    """The running supervisor's processes; empty when it is not running."""
    try:
        pids = json.loads(table_path().read_text())
    except (FileNotFoundError, ValueError):
        return {}
    if not is_supervisor(pids.get("supervisor")):
        return {}  # a table left by a supervisor that was killed: its pids mean nothing now
    return {name: pid for name, pid in pids.items() if isinstance(pid, int)}


def is_supervisor(pid: object) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        return b"runsurveillance" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def clear_table() -> None:
    table_path().unlink(missing_ok=True)
