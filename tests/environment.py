"""Loaded with -p before Django settings are read: the suite gets its own data dir and Redis."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

DATA_DIR = tempfile.mkdtemp(prefix="surveillance-test-")
os.environ["SURVEILLANCE_DATA_DIR"] = DATA_DIR
os.environ["REDIS_URL"] = f"unix://{DATA_DIR}/redis.sock"
os.environ["SURVEILLANCE_FAST_PASSWORD_HASHER"] = "1"
os.environ.pop("DJANGO_SECRET_KEY", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(DATA_DIR, ignore_errors=True)
