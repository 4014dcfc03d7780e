"""Raspberry Pi camera module through picamera2 (installed from the OS: python3-picamera2).

Imported only when a `picamera2:N` source is used. The camera delivers two streams at once: the
main one (BGR, for viewers and snapshots) and a small YUV420 "lores" one whose first rows are the
luma plane, so motion detection gets its grey image without any conversion.
"""

from __future__ import annotations

import time

from cameras.sources.base import Frame, Source
from cameras.sources.parse import SourceError

MAIN_SIZE = (1280, 720)
LORES_SIZE = (320, 180)


class Picamera2Source(Source):
    def __init__(self, target: str, fps: float = 15.0) -> None:
        super().__init__(target)
        self.fps = fps
        self.camera = None

    def open(self) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise SourceError(
                "picamera2 is not installed: on a Raspberry Pi, apt install python3-picamera2 "
                "and create the venv with --system-site-packages"
            ) from exc
        frame_us = int(1_000_000 / self.fps)
        try:
            self.camera = Picamera2(int(self.target))
            config = self.camera.create_video_configuration(
                main={"size": MAIN_SIZE, "format": "RGB888"},  # B,G,R in memory: OpenCV's order
                lores={"size": LORES_SIZE, "format": "YUV420"},
                controls={"FrameDurationLimits": (frame_us, frame_us)},
            )
            self.camera.configure(config)
            self.camera.start()
        except Exception as exc:  # libcamera raises many kinds; all mean "no camera"
            self.close()
            raise SourceError(f"cannot open Pi camera {self.target}: {exc}") from exc

    def read(self) -> Frame:
        if self.camera is None:
            raise SourceError("source is not open")
        try:
            # Both streams of one request: two capture_array calls would wait for two frames.
            (image, lores), _ = self.camera.capture_arrays(["main", "lores"])
        except Exception as exc:
            raise SourceError(f"Pi camera {self.target} stopped: {exc}") from exc
        grey = lores[: LORES_SIZE[1], : LORES_SIZE[0]]  # YUV420: the luma rows come first
        return Frame(image=image, captured_at=time.time(), grey=grey)

    def close(self) -> None:
        if self.camera is not None:
            try:
                self.camera.close()
            finally:
                self.camera = None

    def describe(self) -> str:
        return f"picamera2:{self.target}"
