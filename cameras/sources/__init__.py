"""Camera sources behind one small interface: open(), read() -> Frame, close().

A source string is parsed (`parse.py`, no OpenCV) into a kind and a target; the kind names a
backend class by dotted path, imported only when a camera is opened (picamera2 exists only on a
Raspberry Pi, and OpenCV is loaded only by the processes that read cameras).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

from cameras.sources.parse import (
    MASK,
    CorruptFrame,
    EndOfStream,
    SourceError,
    normalize_source,
    parse_source,
    redact,
    take_password,
    with_password,
)

if TYPE_CHECKING:
    from cameras.sources.base import Source

__all__ = [
    "MASK",
    "CorruptFrame",
    "EndOfStream",
    "SourceError",
    "normalize_source",
    "open_source",
    "parse_source",
    "redact",
    "take_password",
    "with_password",
]

BACKENDS = {
    "demo": "cameras.sources.demo.DemoSource",
    "file": "cameras.sources.demux.FileSource",
    "network": "cameras.sources.network.NetworkSource",
    "usb": "cameras.sources.opencv.UsbSource",
    "picamera2": "cameras.sources.picamera.Picamera2Source",
}


def open_source(text: str, password: str = "", **options: object) -> Source:
    """A new, not yet opened, source object for a source string (and the camera's password,
    which only network cameras have)."""
    kind, target = parse_source(text)
    backend = import_string(BACKENDS[kind])
    if kind == "network":
        options["password"] = password
    return backend(target, **options)
