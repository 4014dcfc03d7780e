"""Cameras OpenCV's VideoCapture reads: video files and USB (V4L2) devices, and the FFmpeg
streams `network.py` hands to it."""

from __future__ import annotations

import math
import os
import time
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from cameras.sources.base import Frame, Source
from cameras.sources.parse import EndOfStream, SourceError

# Options for OpenCV's FFmpeg backend; TCP makes RTSP work through NAT and lossy Wi-Fi.
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")


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
    """A video file played on its own clock (or as fast as possible), looping by default.

    Frames are timed by their own timestamps, not by index / nominal fps: a variable-frame-rate
    file (a phone's, another recorder's export, a camera that dropped frames) reports one rate
    and keeps another."""

    api = cv2.CAP_FFMPEG

    def __init__(self, target: str, realtime: bool = True, loop: bool = True) -> None:
        super().__init__(target)
        self.realtime, self.loop = realtime, loop
        if not realtime:
            self.decode_threads = None
        self.epoch = time.time()  # captured_at of the file's first frame when not in real time
        self.clock = 0.0  # monotonic time at which the file's first frame was due
        self.index = 0  # frames read, over all loops
        self.first_pts: float | None = None  # the first frame's own time in the file, s
        self.offset = 0.0  # seconds of the file played in earlier loops
        self.position = 0.0  # the newest frame's time since the first, within this loop
        self.step = 0.0  # the last interval between frames (the length of the last one)

    def open(self) -> None:
        if not Path(self.target).is_file():
            raise SourceError(f"video file not found: {self.target}")
        super().open()
        self.clock = time.monotonic()

    @property
    def elapsed(self) -> float:
        """Seconds since the first frame, by the file's own clock, over all loops."""
        return self.offset + self.position

    def read(self) -> Frame:
        try:
            frame = super().read()
        except SourceError:
            if not self.loop or self.capture is None:
                raise EndOfStream(f"end of {self.target}") from None
            self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self.offset += self.position + (self.step or 1 / self.fps)
            self.first_pts, self.position = None, 0.0
            frame = super().read()
        self.advance(self.capture.get(cv2.CAP_PROP_POS_MSEC) / 1000)
        self.index += 1
        if self.realtime:
            self.pace()
            frame.captured_at = time.time()
        else:
            frame.captured_at = self.epoch + self.elapsed
        return frame

    def advance(self, pts: float) -> None:
        """Take the newest frame's own timestamp; one that is missing or goes back (a damaged
        file) counts as one nominal frame after the last."""
        if self.first_pts is None and math.isfinite(pts):
            self.first_pts = pts
            return
        position = pts - self.first_pts if self.first_pts is not None else math.nan
        if not math.isfinite(position) or position <= self.position:
            position = self.position + 1 / self.fps
        self.step, self.position = position - self.position, position

    def frame_count(self) -> int:
        return int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT)) if self.capture else 0

    def pace(self) -> None:
        delay = self.clock + self.elapsed - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1:  # far behind (a stall): restart the clock instead of racing
            self.clock = time.monotonic() - self.elapsed


class UsbSource(OpenCVSource):
    api = cv2.CAP_V4L2

    def device(self) -> int:
        return int(self.target)

    def describe(self) -> str:
        return f"/dev/video{self.target}"
