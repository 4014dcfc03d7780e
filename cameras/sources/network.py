"""Network cameras: RTSP through FFmpeg; HTTP read as MJPEG by our own parser when it is MJPEG,
else by FFmpeg (an MPEG-TS or HLS camera)."""

from __future__ import annotations

from http.client import HTTPException
from urllib.parse import urlsplit

import cv2

from cameras.sources import mjpeg
from cameras.sources.base import Frame
from cameras.sources.opencv import OpenCVSource
from cameras.sources.parse import SourceError, redact, with_password


class NetworkSource(OpenCVSource):
    api = cv2.CAP_FFMPEG

    def __init__(self, target: str, password: str = "") -> None:
        super().__init__(target)
        self.password = password  # kept apart from the URL, which goes into log lines
        self.mjpeg: mjpeg.MjpegStream | None = None

    def url(self) -> str:
        return with_password(self.target, self.password)

    def device(self) -> str:
        return self.url()

    def describe(self) -> str:
        return redact(self.url())

    def open(self) -> None:
        if urlsplit(self.target).scheme in ("http", "https"):
            response = mjpeg.connect(self.url(), self.timeout_ms / 1000)
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
