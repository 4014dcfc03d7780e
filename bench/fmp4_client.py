"""A byte-level live.mp4 client: HTTP/1.1 (chunked) on a raw socket, parsed by hand, and the
fragmented MP4 boxes as they come (mfhd sequence, tfdt decode time, the first sample's sync flag),
with each fragment's arrival time. bench/two_streams.py uses it."""

from __future__ import annotations

import contextlib
import fcntl
import socket
import struct
import termios
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass


def boxes(data: bytes | bytearray) -> Iterator[tuple[bytes, bytes, int]]:
    """(type, payload, end) of each complete box in `data`."""
    pos = 0
    while len(data) - pos >= 8:
        size, kind, head = int.from_bytes(data[pos : pos + 4]), bytes(data[pos + 4 : pos + 8]), 8
        if size == 1:
            if len(data) - pos < 16:
                return
            size, head = int.from_bytes(data[pos + 8 : pos + 16]), 16
        if size < head or len(data) - pos < size:
            return
        yield kind, bytes(data[pos + head : pos + size]), pos + size
        pos += size


def find(data: bytes, *path: bytes) -> bytes:
    for kind, payload, _ in boxes(data):
        if kind == path[0]:
            return find(payload, *path[1:]) if path[1:] else payload
    raise ValueError(f"no {b'/'.join(path).decode()} box")


def number(data: bytes, at: int, size: int = 4) -> int:
    return int.from_bytes(data[at : at + size])


@dataclass
class Fragment:
    seq: int  # mfhd: the worker's muxer numbers every fragment it makes
    time: float  # tfdt, s
    key: bool
    size: int
    arrival: float = 0.0  # time.monotonic() when its mdat was all in
    samples: int = 1  # trun's sample count: the frames in it


class Viewer:
    """live.mp4 on a raw socket: HTTP/1.1 (chunked) parsed by hand, fMP4 boxes as they come."""

    def __init__(self, url: str, token: str, slug: str, stream: str = "main") -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.sock.sendall(f"GET /cameras/{slug}/live.mp4?stream={stream} HTTP/1.1\r\nHost: {host}"
                          f"\r\nAuthorization: Bearer {token}\r\n\r\n".encode())  # fmt: skip
        self.raw, self.body, self.received = bytearray(), bytearray(), 0
        self.left = self.crlf = 0  # of the current chunk: data bytes, then its CRLF
        self.timescale, self.trex_flags, self.moof = 0, 0, None
        while b"\r\n\r\n" not in self.raw:
            self.recv()
        head, _, rest = bytes(self.raw).partition(b"\r\n\r\n")
        status = head.split(b"\r\n")[0]
        if b" 200 " not in status:
            raise RuntimeError(f"live.mp4: {status.decode()}")
        self.chunked = b"transfer-encoding: chunked" in head.lower()
        self.raw = bytearray(rest)

    def recv(self) -> None:
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("the server closed live.mp4")
        self.raw += data
        self.received += len(data)

    def buffered(self) -> int:
        """Bytes waiting in this socket's kernel receive queue."""
        return struct.unpack("i", fcntl.ioctl(self.sock.fileno(), termios.FIONREAD, b"\0" * 4))[0]

    def dechunk(self) -> None:
        if not self.chunked:
            self.body += self.raw
            self.raw.clear()
        while self.raw:
            if self.left or self.crlf:
                take = min(self.left or self.crlf, len(self.raw))
                if self.left:
                    self.body += self.raw[:take]
                    self.left -= take
                else:
                    self.crlf -= take
                del self.raw[:take]
                continue
            end = self.raw.find(b"\r\n")
            if end < 0:
                return
            self.left, self.crlf = int(self.raw[:end].split(b";")[0], 16), 2
            del self.raw[: end + 2]
            if not self.left:
                raise ConnectionError("the server ended live.mp4")

    def read_for(self, seconds: float, tick: Callable[[], None] = lambda: None) -> list[Fragment]:
        """The fragments that came in `seconds` of reading; `tick` about once a second."""
        fragments, deadline, next_tick = [], time.monotonic() + seconds, 0.0
        while (now := time.monotonic()) < deadline:
            if now >= next_tick:
                tick()
                next_tick = now + 1
            self.sock.settimeout(max(0.01, min(deadline, next_tick) - now))
            with contextlib.suppress(TimeoutError):
                self.recv()
            self.dechunk()
            used = 0
            for kind, payload, end in boxes(self.body):
                self.take(kind, payload, fragments)
                used = end
            del self.body[:used]
        return fragments

    def take(self, kind: bytes, payload: bytes, fragments: list[Fragment]) -> None:
        if kind == b"moov":
            mdhd = find(payload, b"trak", b"mdia", b"mdhd")
            self.timescale = number(mdhd, 12 if mdhd[0] == 0 else 20)
            with contextlib.suppress(ValueError):
                self.trex_flags = number(find(payload, b"mvex", b"trex"), 20)
        elif kind == b"moof":
            self.moof = payload
        elif kind == b"mdat" and self.moof is not None:
            fragment = self.fragment(self.moof, len(payload))
            fragment.arrival = time.monotonic()
            fragments.append(fragment)

    def fragment(self, moof: bytes, size: int) -> Fragment:
        seq = number(find(moof, b"mfhd"), 4)
        tfhd, tfdt = find(moof, b"traf", b"tfhd"), find(moof, b"traf", b"tfdt")
        trun, flags = find(moof, b"traf", b"trun"), self.trex_flags
        has, at = number(tfhd, 0), 8  # tfhd's optional fields come in this order
        for bit, length in ((0x1, 8), (0x2, 4), (0x8, 4), (0x10, 4)):
            at += length if has & bit else 0
        flags = number(tfhd, at) if has & 0x20 else flags
        has, at = number(trun, 0) & 0xFFFFFF, 8 + (4 if number(trun, 0) & 0x1 else 0)
        if has & 0x4:  # first_sample_flags
            flags = number(trun, at)
        elif has & 0x400:  # the first sample's own flags, after its duration and size
            flags = number(trun, at + (4 if has & 0x100 else 0) + (4 if has & 0x200 else 0))
        decode = number(tfdt, 4, 8 if tfdt[0] == 1 else 4)
        return Fragment(seq, decode / self.timescale, not flags & 0x10000, size,
                        samples=number(trun, 4))  # fmt: skip
