"""Cameras OpenCV's VideoCapture reads: USB (V4L2) devices."""

from __future__ import annotations

import time
from functools import partial

import cv2
import numpy as np

from cameras.sources.base import Frame, Source
from cameras.sources.parse import SourceError


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


class UsbSource(OpenCVSource):
    api = cv2.CAP_V4L2

    def device(self) -> int:
        return int(self.target)

    def describe(self) -> str:
        return f"/dev/video{self.target}"
