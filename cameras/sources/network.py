"""Network cameras: RTSP and HTTP streams through FFmpeg (cameras/sources/demux.py), except HTTP
MJPEG, which our own parser reads so that the camera's JPEGs stay as they came."""

from __future__ import annotations

from http.client import HTTPException
from urllib.parse import urlsplit

import av

from cameras.sources import mjpeg
from cameras.sources.base import Frame
from cameras.sources.demux import DemuxSource
from cameras.sources.parse import EndOfStream, SourceError, redact, with_password


class NetworkSource(DemuxSource):
    def __init__(self, target: str, password: str = "") -> None:
        super().__init__(target)
        self.password = password  # kept apart from the URL, which goes into log lines
        self.mjpeg: mjpeg.MjpegStream | None = None

    def url(self) -> str:
        return with_password(self.target, self.password)

    def describe(self) -> str:
        return redact(self.url())

    def options(self) -> dict[str, str]:
        if urlsplit(self.target).scheme in ("rtsp", "rtsps"):
            return {"rtsp_transport": "tcp"}  # through NAT and lossy Wi-Fi
        return {}

    def open(self) -> None:
        if urlsplit(self.target).scheme not in ("http", "https"):
            return super().open()
        # One connection: what it sends decides who reads it. Many cameras (and ffmpeg's own
        # server) take a single client, so the stream cannot be opened a second time.
        response = mjpeg.connect(self.url(), self.timeout)
        try:
            boundary, head = mjpeg.sniff_boundary(response)
        except (OSError, HTTPException) as exc:
            response.close()
            raise SourceError(f"no data from {self.describe()}: {exc}") from None
        if boundary is not None:
            self.mjpeg = mjpeg.MjpegStream(response, boundary, head, name=self.describe())
        else:
            self.open_container(mjpeg.Replay(head, response))
        return None

    @property
    def codec(self) -> str:
        return "mjpeg" if self.mjpeg is not None else super().codec

    def read(self) -> Frame:
        return self.mjpeg.read() if self.mjpeg is not None else super().read()

    def next_packet(self) -> av.Packet:
        try:
            return super().next_packet()
        except EndOfStream:  # a camera has no end: it went away, and is reconnected
            raise SourceError(f"{self.describe()} closed the stream") from None

    def close(self) -> None:
        if self.mjpeg is not None:
            self.mjpeg.close()
            self.mjpeg = None
        super().close()
