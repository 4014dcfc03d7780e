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


def test_check_deploy_is_clean_with_the_documented_production_settings(tmp_path: Path) -> None:
    """The README's settings for serving behind an HTTPS reverse proxy."""
    production = {
        "SURVEILLANCE_DATA_DIR": str(tmp_path), "DJANGO_ALLOWED_HOSTS": "cams.example.org",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://cams.example.org",
        "DJANGO_SECURE_COOKIES": "1", "DJANGO_SECURE_SSL_REDIRECT": "1",
        "DJANGO_HSTS_SECONDS": "31536000",
    }  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_DEBUG", "DATABASE_URL"}}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env={**env, **production, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identified no issues" in result.stdout


def test_a_trusted_proxy_that_is_no_address_stops_the_server_with_its_name() -> None:
    env = {**os.environ, "SURVEILLANCE_TRUSTED_PROXIES": "127.0.0.1,proxy.lan"}
    checked = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert checked.returncode != 0
    assert "accounts.E001" in checked.stderr and "'proxy.lan'" in checked.stderr
