"""Where a benchmark's markdown report goes: stdout, and a file under bench/out/ (not in git)."""

from __future__ import annotations

from pathlib import Path

from tests.harness import REPO

OUT = REPO / "bench" / "out"


def publish(text: str, name: str) -> Path:
    """Prints the report and writes it to bench/out/NAME."""
    path = OUT / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"\n{text}\n(written to {path.relative_to(REPO)})", flush=True)
    return path
