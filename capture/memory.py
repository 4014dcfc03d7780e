"""What a process costs in memory, and giving back what it freed.

RSS counts a shared page in full in every process that maps it; PSS divides it among them (the
sum of PSS is what the processes take together); USS is what a process holds alone (what its
exit would give back).
"""

from __future__ import annotations

import contextlib
import ctypes
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Memory:
    rss: int  # bytes
    pss: int
    uss: int

    @classmethod
    def of(cls, pid: int) -> Memory | None:
        """The memory of a running process (None once it has gone)."""
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            return None
        fields = {}
        for line in text.splitlines():
            key, _, rest = line.partition(":")
            if rest.strip().endswith("kB"):
                fields[key] = int(rest.split()[0]) * 1024
        return cls(
            rss=fields.get("Rss", 0),
            pss=fields.get("Pss", 0),
            uss=fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0),
        )


def give_back() -> None:
    """Return freed memory to the system. glibc keeps what a burst freed (an event's encoder, a
    viewer's JPEGs) for the next one, in the middle of its heaps where no trim reaches: some
    20 MB of a worker after each clip. malloc_trim takes under 2 ms; not glibc: nothing to do."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)
