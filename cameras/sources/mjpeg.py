"""MJPEG over HTTP read directly: the camera's JPEGs are kept as they came.

Most cheap IP cameras (and `motion`, and ffmpeg's mpjpeg muxer) send `multipart/x-mixed-replace`:
a JPEG per part. Handing those to FFmpeg would decode every one in full colour. Read here, a
frame is only bytes until somebody needs it: detection decodes a few per second straight to
reduced-size grey, and viewers at full size get the camera's own JPEG untouched.
"""

from __future__ import annotations

import io
import re
import time
import urllib.error
import urllib.request
from http.client import HTTPException, HTTPResponse
from urllib.parse import urlsplit

from cameras.jpeg import jpeg_size
from cameras.sources.base import Frame
from cameras.sources.parse import CorruptFrame, SourceError, redact, split_credentials

MAX_HEADER_LINE = 1024
MAX_HEADERS = 32
MAX_PART = 16 * 1024 * 1024  # no camera sends a 16 MB JPEG; a wrong length must not eat memory
BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


def connect(url: str, timeout: float) -> HTTPResponse:
    """An open HTTP response for a camera URL, with basic or digest auth from the URL."""
    bare, user, password = split_credentials(url)
    if urlsplit(bare).scheme not in ("http", "https"):
        raise SourceError("only http:// and https:// cameras are read as MJPEG")
    handlers = []
    if user is not None:
        passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        passwords.add_password(None, bare, user, password)
        handlers = [
            urllib.request.HTTPBasicAuthHandler(passwords),
            urllib.request.HTTPDigestAuthHandler(passwords),
        ]
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(bare, headers={"User-Agent": "surveillance"})  # noqa: S310 (http(s) only, checked above)
    try:
        return opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise SourceError(f"{redact(url)} answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise SourceError(f"cannot open {redact(url)}: {reason}") from None


def sniff_boundary(response: HTTPResponse) -> tuple[bytes | None, bytes]:
    """(boundary, what was read of the body): a boundary when the response is an MJPEG stream,
    else None, with the bytes read to tell, which belong to the stream that it is. The header
    says so (multipart/x-mixed-replace), or, for servers that call it application/octet-stream
    (ffmpeg's does), the body starts with a boundary line."""
    content_type = response.headers.get("Content-Type", "")
    match = BOUNDARY.search(content_type)
    if content_type.lower().startswith("multipart/") and match:
        return match.group(1).strip().lstrip("-").encode(), b""
    if content_type.lower().split(";")[0].strip() not in ("", "application/octet-stream"):
        return None, b""
    read = b""
    for _ in range(4):  # some cameras begin with a blank line or two
        line = response.readline(MAX_HEADER_LINE)
        read += line
        if line.strip() or not line:
            break
    stripped = read.strip()
    if stripped.startswith(b"--") and 0 < len(stripped.strip(b"-")) <= 70:
        return stripped.strip(b"-"), read
    return None, read


class Replay(io.RawIOBase):
    """A response whose first bytes were read already, readable again from its start: FFmpeg
    gets the stream the sniffing began, on the same connection."""

    def __init__(self, head: bytes, response: HTTPResponse) -> None:
        self.head, self.response = head, response

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:
        if self.head:
            count = min(len(buffer), len(self.head))
            buffer[:count], self.head = self.head[:count], self.head[count:]
            return count
        try:
            # What has come, not a full buffer: readinto() would wait for 32 KB, which a
            # sub-stream sends in about a second, and hand FFmpeg its frames a second late.
            data = self.response.read1(len(buffer))
        except HTTPException as exc:  # the camera cut the stream mid-chunk: it is gone
            raise ConnectionError(f"the stream broke off: {type(exc).__name__}") from None
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.response.close()
        super().close()


class MjpegStream:
    """Parts of a multipart stream, each a JPEG. Tolerant of what cameras really send: boundary
    lines with extra dashes, parts with or without Content-Length, blank lines between parts."""

    def __init__(
        self, response: HTTPResponse, boundary: bytes, first: bytes = b"", *, name: str
    ) -> None:
        self.response, self.boundary, self.name = response, boundary, name
        self.pushed_back = first or None  # a line already read: the sniffed or next boundary

    def read(self) -> Frame:
        try:
            headers = self.part_headers()
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and 0 < int(length) <= MAX_PART:
                data = self.response.read(int(length))
                if len(data) < int(length):
                    raise SourceError(f"{self.name} closed the stream")
            else:
                data = self.read_to_boundary()
        except (OSError, HTTPException) as exc:  # a stall (timeout) or a dropped connection
            raise SourceError(f"no frame from {self.name}: {exc or type(exc).__name__}") from None
        captured_at = time.time()
        start = data.find(b"\xff\xd8")
        if start < 0:  # the stream itself is sound: the next part may well be a picture
            raise CorruptFrame(f"{self.name} sent a part that is not a JPEG")
        jpeg = data[start:]
        size = jpeg_size(jpeg)
        return Frame(captured_at=captured_at, jpeg=jpeg, width=size[0] if size else 0)

    def line(self) -> bytes:
        if self.pushed_back is not None:
            line, self.pushed_back = self.pushed_back, None
            return line
        line = self.response.readline(MAX_HEADER_LINE)
        if not line:
            raise SourceError(f"{self.name} closed the stream")
        return line

    def is_boundary(self, line: bytes) -> bool:
        stripped = line.strip()
        return stripped.startswith(b"--") and stripped.strip(b"-") == self.boundary

    def part_headers(self) -> dict[bytes, bytes]:
        for _ in range(MAX_HEADERS):  # skip blank lines up to the boundary
            line = self.line()
            if self.is_boundary(line):
                break
            if line.strip():
                raise SourceError(f"{self.name} sent something that is not an MJPEG stream")
        else:
            raise SourceError(f"{self.name} sent no part boundary")
        headers: dict[bytes, bytes] = {}
        for _ in range(MAX_HEADERS):
            line = self.line().strip()
            if not line:
                return headers
            key, _, value = line.partition(b":")
            headers[key.strip().lower()] = value.strip()
        raise SourceError(f"{self.name} sent a part with too many headers")

    def read_to_boundary(self) -> bytes:
        """A part without Content-Length: everything up to the next boundary line (or the end of
        the stream, which the next read then reports)."""
        chunks, total = [], 0
        while True:
            line = self.response.readline(MAX_PART)
            if not line and not chunks:
                raise SourceError(f"{self.name} closed the stream")
            if not line or self.is_boundary(line):
                self.pushed_back = line or None  # it begins the next part
                return b"".join(chunks).removesuffix(b"\r\n").removesuffix(b"\n")
            chunks.append(line)
            total += len(line)
            if total > MAX_PART:
                raise SourceError(f"{self.name} sent a part larger than 16 MB")

    def close(self) -> None:
        self.response.close()
