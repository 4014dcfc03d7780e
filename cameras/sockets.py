"""What the dashboard's sockets take from a browser, and how they refuse the rest.

Our pages send short JSON objects as text. Anything else (a binary frame, a message longer than
any page sends, JSON nested thousands deep, the same request over and over) is not our page
talking: the socket is closed with a code that says why, and one short log line is written, at
most every few seconds however many sockets misbehave. No traceback: a client cannot fill the
log by sending garbage.
"""

from __future__ import annotations

import json
import logging
import time

logger = logging.getLogger(__name__)

# Close codes: an application may send only 1000 and 3000-4999 (RFC 6455); ours are 4000 plus
# the HTTP status that says the same. The protocol's own (1007 text that is not UTF-8, 1009 a
# message over the server's 64 KB) come from the server itself.
BAD_MESSAGE = 4400  # not JSON, or not a message the page sends
MESSAGE_TOO_BIG = 4413  # longer than any message a page sends
UNSUPPORTED_DATA = 4415  # a binary frame where only JSON text is taken
TOO_MANY = 4429  # more messages, or catch-ups, than any page sends

# The longest message a page sends is a watch list of 64 slugs (about 3.5 KB).
MAX_MESSAGE = 8 * 1024  # characters


class Refusal(Exception):
    """Why a socket is being closed: its close code and a few words for the log."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class QuietLog:
    """One log line per `every` seconds at most; the lines held back are counted in the next."""

    def __init__(self, log: logging.Logger, every: float = 10.0) -> None:
        self.log, self.every = log, every
        self.next_at, self.held = 0.0, 0

    def warning(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now < self.next_at:
            self.held += 1
            return
        held, self.held, self.next_at = self.held, 0, now + self.every
        if held:
            self.log.warning(message + " (and %d more since)", *args, held)
        else:
            self.log.warning(message, *args)


refusals = QuietLog(logger)


def parse_message(text_data: str | None, bytes_data: bytes | None) -> dict:
    """The JSON object a page sent, or Refusal."""
    if text_data is None:
        raise Refusal(UNSUPPORTED_DATA, "a binary frame")
    if len(text_data) > MAX_MESSAGE:
        raise Refusal(MESSAGE_TOO_BIG, f"a message of {len(text_data)} characters")
    try:
        message = json.loads(text_data)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python goes
        raise Refusal(BAD_MESSAGE, "a message that is not JSON") from None
    if not isinstance(message, dict):
        raise Refusal(BAD_MESSAGE, "a message that is not a JSON object")
    return message


def describe(scope: dict) -> str:
    """The socket for a log line: path and client address, nothing the client wrote."""
    client = scope.get("client") or ["?"]
    return f"{scope.get('path', '?')} from {client[0]}"


class Pacer:
    """Whether something may happen again yet: at most once every `every` seconds."""

    def __init__(self, every: float) -> None:
        self.every, self.last = every, -float("inf")

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.every:
            return False
        self.last = now
        return True

    def wait(self) -> float:
        """Seconds until ready."""
        return max(0.0, self.last + self.every - time.monotonic())


class Refuses:
    """For consumers: close the socket for a Refusal, with one quiet log line."""

    async def refuse(self, refusal: Refusal) -> None:
        refusals.warning(
            "websocket %s closed with %d: %s", describe(self.scope), refusal.code, refusal.reason
        )
        await self.close(code=refusal.code)
