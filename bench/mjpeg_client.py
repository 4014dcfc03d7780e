"""An MJPEG viewer's end of the connection: HTTP/1.1 over asyncio, the multipart stream parsed
by Content-Length, and a viewer that never reads. For the benchmarks' client processes."""

from __future__ import annotations

import asyncio
import socket

STALL_RCVBUF = 4096  # bytes: the kernel's smallest useful receive buffer


class Body:
    """A response body, chunked or not, parsed as multipart parts with a Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, chunked: bool) -> None:
        self.reader, self.chunked = reader, chunked
        self.buffer = bytearray()
        self.chunk_left = 0

    async def fill(self) -> None:
        if self.chunked and not self.chunk_left:
            self.chunk_left = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if not self.chunk_left:
                raise ConnectionError("the server ended the stream")
        data = await self.reader.read(self.chunk_left if self.chunked else 1 << 16)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data
        if self.chunked:
            self.chunk_left -= len(data)
            if not self.chunk_left:
                await self.reader.readexactly(2)  # the CRLF after each chunk

    async def part(self) -> tuple[float, int]:
        """The next part's X-Timestamp and length, once all of it has arrived."""
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            await self.fill()
        boundary, *lines = bytes(self.buffer[:end]).split(b"\r\n")
        if boundary.strip() != b"--frame":
            raise ValueError(f"expected a part boundary, got {boundary[:40]!r}")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(b":") for h in lines)}
        length = int(headers[b"content-length"])
        total = end + 4 + length + 2  # the part ends with CRLF
        while len(self.buffer) < total:
            await self.fill()
        del self.buffer[:total]
        return float(headers[b"x-timestamp"]), length


def request(spec: dict, path: str) -> bytes:
    """The GET for `path`; `spec` has host, port and cookie (a Cookie header value, or "")."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {spec['host']}:{spec['port']}",
             "Accept: multipart/x-mixed-replace, image/jpeg", "User-Agent: bench"]  # fmt: skip
    if spec["cookie"]:
        lines.append(f"Cookie: {spec['cookie']}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def open_stream(
    spec: dict, path: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
    """The connection after the response's headers, and whether the body is chunked. (Hold on
    to the writer: once garbage, it closes the connection.)"""
    reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
    writer.write(request(spec, path))
    status, *lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
    if status.split()[1] != "200" or "multipart" not in headers.get("content-type", ""):
        raise ConnectionError(f"{path}: {status}, {headers.get('content-type')}")
    return reader, writer, "chunked" in headers.get("transfer-encoding", "").lower()


async def stall(spec: dict, path: str) -> socket.socket:
    """A connection that sends its request and never reads: a tiny receive buffer, no reader."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALL_RCVBUF)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (spec["host"], spec["port"]))
    await loop.sock_sendall(sock, request(spec, path))
    return sock
