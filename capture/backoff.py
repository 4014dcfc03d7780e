"""Waiting between attempts: a camera that is gone, a child process that keeps crashing."""

from __future__ import annotations

import time


class Backoff:
    """Waits of 1, 2, 4 … up to `limit` seconds between attempts; success starts over."""

    def __init__(self, first: float = 1.0, limit: float = 30.0) -> None:
        self.first, self.limit = first, limit
        self.delay = 0.0
        self.next_try = 0.0

    def ready(self) -> bool:
        return time.monotonic() >= self.next_try

    def remaining(self) -> float:
        return max(0.0, self.next_try - time.monotonic())

    def failed(self) -> float:
        self.delay = min(self.limit, self.delay * 2 or self.first)
        self.next_try = time.monotonic() + self.delay
        return self.delay

    def reset(self) -> None:
        self.delay, self.next_try = 0.0, 0.0
