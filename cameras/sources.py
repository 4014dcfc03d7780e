"""Camera sources behind one small interface: open(), read() -> Frame, close().

A source string (INTERFACE.md) is parsed into a kind and a target; the kind names a backend class
by dotted path, imported only when used (picamera2 exists only on a Raspberry Pi).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from functools import partial
from http.client import HTTPException
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# Options for OpenCV's FFmpeg backend; TCP makes RTSP work through NAT and lossy Wi-Fi.
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")

BACKENDS = {
    "demo": "cameras.demo.DemoSource",
    "file": "cameras.sources.FileSource",
    "network": "cameras.sources.NetworkSource",
    "usb": "cameras.sources.UsbSource",
    "picamera2": "cameras.picamera.Picamera2Source",
}
NETWORK_SCHEMES = {"rtsp", "rtsps", "http", "https"}
# Characters no camera URL or path needs and every injection does.
MASK = "***"  # what a password looks like in pages and logs
FORBIDDEN = re.compile(r"[\s;|`<>\\]|\$\(|\x00")


class SourceError(Exception):
    """A source that cannot be parsed, opened or read; the message is safe to log and show."""


class EndOfStream(SourceError):
    """A file source that reached its end and does not loop."""


class CorruptFrame(SourceError):
    """One frame that does not decode; the next one may well."""


class Frame:
    """One picture from a camera, decoded only as far as somebody needs it.

    A source may hand a frame over undecoded, with `decode` to make its BGR `image` on first use,
    or as the camera's own JPEG. Most frames are neither analysed (detection runs at a few fps)
    nor watched, and those then cost no colour conversion and no JPEG decode at all.

    A frame's pixels are its own: every source hands over new arrays for every frame.
    """

    def __init__(
        self,
        image: np.ndarray | None = None,  # BGR, as OpenCV wants it
        captured_at: float = 0.0,  # Unix seconds
        grey: np.ndarray | None = None,  # the camera's own small luma image, when it has one
        *,
        decode: Callable[[], np.ndarray] | None = None,
        jpeg: bytes | None = None,  # the camera's own JPEG, to pass on to viewers untouched
        width: int = 0,
    ) -> None:
        if image is None and decode is None and jpeg is None:
            raise ValueError("a frame needs an image, a decoder or a JPEG")
        self._image, self._decode = image, decode
        self.captured_at, self.grey, self.jpeg = captured_at, grey, jpeg
        self._width = width

    @property
    def image(self) -> np.ndarray:
        if self._image is None:
            self._image = self._decode() if self._decode else decode_jpeg(self.jpeg)
            self._decode = None
        return self._image

    def keep(self) -> Frame:
        """This frame, made safe to hold after the source reads the next one: a grabbed frame is
        converted now, while it still can be; a camera's JPEG stays undecoded until used."""
        if self._decode is not None:
            self.image  # noqa: B018 (converts and stores the picture)
        return self

    @property
    def width(self) -> int:
        return self._width or self.image.shape[1]

    def detection_image(self, width: int = 0) -> np.ndarray:
        """A picture at least `width` pixels wide (or the whole frame) for motion detection:
        the camera's grey image, a JPEG decoded straight to reduced-size grey (libjpeg-turbo
        scales while decoding), or the full image."""
        if self.grey is not None:
            return self.grey
        if self.jpeg is not None and self._image is None and self._width:
            factor = next((f for f in (8, 4, 2) if self._width // f >= width), 1)
            return decode_jpeg(self.jpeg, REDUCED_GREY[factor])
        return self.image


REDUCED_GREY = {
    1: cv2.IMREAD_GRAYSCALE,
    2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
    4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
    8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
}


def decode_jpeg(data: bytes, mode: int = cv2.IMREAD_COLOR) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), mode)
    if image is None:
        raise CorruptFrame("the camera sent a picture that is not a readable JPEG")
    return image


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's frame header, without decoding it; None if there is none."""
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            at += 2
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start of frame
            height = int.from_bytes(data[at + 5 : at + 7], "big")
            width = int.from_bytes(data[at + 7 : at + 9], "big")
            return (width, height) if width and height else None
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return None


def parse_source(text: str) -> tuple[str, str]:
    """(kind, target) for a source string, or SourceError saying what is wrong with it."""
    text = text.strip()
    if not text:
        raise SourceError("the camera source is empty")
    if FORBIDDEN.search(text) or text.startswith("-"):
        raise SourceError("the camera source contains characters that are not allowed")
    scheme, _, rest = text.partition(":")
    scheme = scheme.lower()
    if text == "demo" or scheme == "demo":
        if rest and not re.fullmatch(r"[\w-]{1,40}", rest):
            raise SourceError("demo:NAME takes letters, digits, - and _ only")
        return "demo", rest or "default"
    if scheme in NETWORK_SCHEMES:
        return "network", _network_url(text, scheme)
    if scheme == "usb":
        if not rest.isdigit():
            raise SourceError("usb:N takes a device number, e.g. usb:0")
        return "usb", rest
    if text.startswith("/dev/"):
        if not re.fullmatch(r"/dev/video\d+", text):
            raise SourceError("device paths must look like /dev/videoN")
        return "usb", text.removeprefix("/dev/video")
    if scheme == "picamera2":
        if not rest.isdigit():
            raise SourceError("picamera2:N takes a camera number, e.g. picamera2:0")
        return "picamera2", rest
    if scheme == "file":
        if not rest:
            raise SourceError("file:PATH needs a path")
        if rest.startswith("-"):  # whatever reads it must never take it for an option
            raise SourceError("the camera source contains characters that are not allowed")
        return "file", rest
    if "://" in text:
        raise SourceError(f"unknown camera source type {scheme!r}")
    return "file", text


def _network_url(text: str, scheme: str) -> str:
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number in range)
    except ValueError as exc:
        raise SourceError(f"the {scheme}:// camera URL is malformed: {exc}") from None
    if not parts.hostname:
        raise SourceError(f"a {scheme}:// camera URL needs a host")
    if not re.fullmatch(r"[\w.\-\[\]:]+", parts.hostname) or parts.hostname.startswith("-"):
        raise SourceError(f"the {scheme}:// camera URL's host name is not valid")
    return text


def redact(text: str) -> str:
    """The source with its password replaced by ***, safe for pages and logs. Cheap cameras take
    credentials in the query string (?user=admin&pwd=…), so a query is masked whole."""
    try:
        parts = urlsplit(text)
        if parts.password is not None:
            host = parts.hostname or ""
            if parts.port:
                host = f"{host}:{parts.port}"
            parts = parts._replace(netloc=f"{parts.username}:{MASK}@{host}")
        if parts.query and parts.scheme in NETWORK_SCHEMES:
            parts = parts._replace(query=MASK)
        return urlunsplit(parts)
    except ValueError:
        return "(unparsable source)"


def open_source(text: str, **options: object) -> Source:
    """A new, not yet opened, source object for a source string."""
    kind, target = parse_source(text)
    backend = import_string(BACKENDS[kind])
    return backend(target, **options)


class Source:
    """A camera. read() blocks for at most about a frame interval plus the read timeout."""

    kind: ClassVar[str] = ""
    fps: float = 15.0

    def __init__(self, target: str) -> None:
        self.target = target

    def open(self) -> None:
        raise NotImplementedError

    def read(self) -> Frame:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return redact(self.target)


class OpenCVSource(Source):
    """Anything OpenCV's VideoCapture reads."""

    api: int = cv2.CAP_ANY
    timeout_ms = 10_000
    # FFmpeg decodes with one thread per core by default. A live camera needs only real time, and
    # one thread does that for less CPU: 1.31 against 1.68 ms per 640x480 H.264 frame, 5.8 against
    # 6.5 ms at 1080p, on 2 cores. None: FFmpeg's default (as fast as possible, for `analyze`).
    decode_threads: int | None = 1

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.capture: cv2.VideoCapture | None = None
        self.grabbed = 0  # frames grabbed so far; only the newest can still be retrieved

    def open(self) -> None:
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self.timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC, self.timeout_ms,
        ]  # fmt: skip
        if self.api == cv2.CAP_FFMPEG and self.decode_threads is not None:
            params += [cv2.CAP_PROP_N_THREADS, self.decode_threads]
        self.capture = cv2.VideoCapture(self.device(), self.api, params)
        if not self.capture.isOpened():
            self.close()
            raise SourceError(f"cannot open {self.describe()}")
        reported = self.capture.get(cv2.CAP_PROP_FPS)
        if 1 <= reported <= 120:
            self.fps = reported

    def device(self) -> str | int:
        return self.target

    def read(self) -> Frame:
        """The next frame, grabbed but not converted: FFmpeg decodes it here, and the colour
        conversion to BGR happens only if somebody uses `frame.image` before the next read."""
        if self.capture is None:
            raise SourceError("source is not open")
        if not self.capture.grab():
            raise SourceError(f"no frame from {self.describe()}")
        self.grabbed += 1
        return Frame(captured_at=time.time(), decode=partial(self.retrieve, self.grabbed))

    def retrieve(self, number: int) -> np.ndarray:
        if number != self.grabbed or self.capture is None:
            raise SourceError("a frame was used after the next one was read")
        ok, image = self.capture.retrieve()
        if not ok or image is None or image.size == 0:
            raise SourceError(f"unreadable frame from {self.describe()}")
        return image

    def close(self) -> None:
        if self.capture is not None:
            self.capture.release()
            self.capture = None


class FileSource(OpenCVSource):
    """A video file played at its own frame rate (or as fast as possible), looping by default."""

    api = cv2.CAP_FFMPEG

    def __init__(self, target: str, realtime: bool = True, loop: bool = True) -> None:
        super().__init__(target)
        self.realtime, self.loop = realtime, loop
        if not realtime:
            self.decode_threads = None
        self.next_at = 0.0
        self.epoch, self.index = time.time(), 0

    def open(self) -> None:
        if not Path(self.target).is_file():
            raise SourceError(f"video file not found: {self.target}")
        super().open()
        self.next_at = time.monotonic()

    def read(self) -> Frame:
        if self.realtime:
            self.pace()
        try:
            frame = super().read()
        except SourceError:
            if not self.loop or self.capture is None:
                raise EndOfStream(f"end of {self.target}") from None
            self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            frame = super().read()
        if not self.realtime:  # as fast as possible: the clock is the file's own
            frame.captured_at = self.epoch + self.index / self.fps
        self.index += 1
        return frame

    def frame_count(self) -> int:
        return int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT)) if self.capture else 0

    def pace(self) -> None:
        self.next_at += 1 / self.fps
        delay = self.next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1:  # far behind (a stall): restart the clock instead of racing
            self.next_at = time.monotonic()


class NetworkSource(OpenCVSource):
    """RTSP, or HTTP: an MJPEG stream is read by cameras.mjpeg, anything else by FFmpeg."""

    api = cv2.CAP_FFMPEG

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.mjpeg = None

    def open(self) -> None:
        if urlsplit(self.target).scheme in ("http", "https"):
            from cameras import mjpeg

            response = mjpeg.connect(self.target, self.timeout_ms / 1000)
            try:
                sniffed = mjpeg.sniff_boundary(response)
            except (OSError, HTTPException) as exc:
                response.close()
                raise SourceError(f"no data from {self.describe()}: {exc}") from None
            if sniffed is not None:
                self.mjpeg = mjpeg.MjpegStream(response, *sniffed, name=self.describe())
                return
            response.close()  # not MJPEG: FFmpeg opens it again and reads what it is
        super().open()

    def read(self) -> Frame:
        return self.mjpeg.read() if self.mjpeg is not None else super().read()

    def close(self) -> None:
        if self.mjpeg is not None:
            self.mjpeg.close()
            self.mjpeg = None
        super().close()


class UsbSource(OpenCVSource):
    api = cv2.CAP_V4L2

    def device(self) -> int:
        return int(self.target)

    def describe(self) -> str:
        return f"/dev/video{self.target}"
