"""Zero-configuration settings: a fresh data dir that only its owner can read."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_fresh_data_dir_secret_key_and_database_are_private(tmp_path: Path) -> None:
    data = tmp_path / "var"
    env = {**os.environ, "SURVEILLANCE_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(data) == 0o700
    assert mode(data / "secret_key") == 0o600
    assert mode(data / "db.sqlite3") == 0o600
    first_key = (data / "secret_key").read_text()
    subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, check=True,
                   capture_output=True)  # fmt: skip
    assert (data / "secret_key").read_text() == first_key  # generated once, then kept
