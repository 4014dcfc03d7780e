"""A benchmark's client process, spoken to by lines: it prints "ready" once all its connections
are up; each line sent to it is a command, and a command's answer is one line of JSON.

The clients run in processes of their own so that their CPU is measured apart from the servers'
(and a 100-viewer client does not share this process's interpreter lock with the measuring)."""

from __future__ import annotations

import json
import select
import subprocess
import time
from pathlib import Path

from tests.harness import spawn, stop_process, tail


class ClientProcess:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        self.process = spawn(argv, env, log, detached=True, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)  # fmt: skip

    def read_line(self, timeout: float) -> str:
        ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, timeout))
        return self.process.stdout.readline().decode().strip() if ready else ""

    def wait_ready(self, deadline: float) -> None:
        """Returns once the client says "ready" (by `deadline`, a time.time())."""
        if (line := self.read_line(deadline - time.time())) != "ready":
            raise RuntimeError(f"{self.name} is not ready: {line or 'no answer'}\n{tail(self.log)}")

    def say(self, line: str) -> None:
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def ask(self, command: str, timeout: float = 60) -> list[dict]:
        self.say(command)
        line = self.read_line(timeout)
        try:
            return json.loads(line)
        except ValueError:
            raise RuntimeError(
                f"{self.name} gave no answer to {command}: {line[:200]!r}\n{tail(self.log)}"
            ) from None

    def stop(self) -> None:
        stop_process(self.process, 5)
