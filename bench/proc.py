"""What a process costs, read from /proc: CPU seconds (utime + stime), RSS, the load average."""

from __future__ import annotations

import os
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu(stat: Path) -> float:
    # comm, in parentheses, may hold spaces: the fields start after the last ")".
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    return _cpu(Path(f"/proc/{pid}/stat"))


def thread_cpu_seconds(pid: int, tid: int) -> float:
    """utime + stime of one thread of a process, in seconds."""
    return _cpu(Path(f"/proc/{pid}/task/{tid}/stat"))


def rss_mb(pid: int) -> float:
    """Resident memory (VmRSS), MB; shared libraries count in full in every process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: how busy the (shared) machine was."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
