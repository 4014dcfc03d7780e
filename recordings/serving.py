"""Video files over HTTP, read from disk a piece at a time, with Range requests answered 206.

Django's FileResponse under ASGI reads a whole file into memory before the first byte goes out;
a clip can be a gigabyte. Here the file is read in chunks as the client takes them (the server's
send() waits for slow clients: surveillance/server.py)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

CHUNK = 256 * 1024
RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `Range: bytes=…`; None when it cannot be satisfied.
    Several ranges at once are answered as the first (browsers and players ask for one)."""
    match = RANGE.fullmatch(header.split(",")[0].strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first:  # the last N bytes
        if not last or int(last) == 0:
            return None
        return max(0, size - int(last)), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if start <= end and start < size else None


async def chunks(path: Path, start: int, end: int) -> AsyncIterator[bytes]:
    with path.open("rb") as file:  # open now: a file replaced meanwhile is read as it was
        file.seek(start)
        left = end - start + 1
        while left > 0:
            data = await asyncio.to_thread(file.read, min(CHUNK, left))
            if not data:
                return
            left -= len(data)
            yield data


def reads_on(request: HttpRequest) -> bool:
    """Whether this asks for a range from the middle of a file: a player reading on in one it has
    the start (the index) of, and which must therefore not be made again meanwhile (the pieces of
    two makings of a span still being recorded do not fit together)."""
    header = request.headers.get("Range", "").replace(" ", "")
    return bool(header) and not header.startswith("bytes=0-")


def file_response(request: HttpRequest, path: Path, filename: str) -> HttpResponse:
    """The MP4 at `path`, whole (200) or the range asked for (206); `filename` is what a
    download is called (never the stored name)."""
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    if not size:
        return HttpResponse("the video file is missing", status=404, content_type="text/plain")
    disposition = "attachment" if request.GET.get("download") == "1" else "inline"
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-store",
        "Content-Disposition": f'{disposition}; filename="{filename}"',
    }
    start, end, status = 0, size - 1, 200
    if header := request.headers.get("Range"):
        asked = byte_range(header, size)
        if asked is None:
            headers["Content-Range"] = f"bytes */{size}"
            return HttpResponse(status=416, headers=headers)
        (start, end), status = asked, 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingHttpResponse(
        chunks(path, start, end), status=status, content_type="video/mp4", headers=headers
    )
