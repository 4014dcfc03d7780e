"""Cursors for the event list: where a page ended, as an opaque string (no COUNT, no OFFSET)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt


class BadCursor(ValueError):
    pass


def encode(started_at: dt.datetime, pk: int) -> str:
    raw = f"{started_at.isoformat()}|{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[dt.datetime, int]:
    """(started_at, id) of the last event listed, or BadCursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, pk = raw.partition("|")
        started_at, number = dt.datetime.fromisoformat(when), int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor("not a cursor from this API") from None
    if started_at.tzinfo is None or not 0 < number < 2**63:
        raise BadCursor("not a cursor from this API")
    return started_at, number
