"""A stand-in for the Raspberry Pi's picamera2 (the one piece of hardware we do not have).

Same names and calls as the real library: Picamera2(n), create_video_configuration, configure,
start, capture_array(name), capture_arrays(names) -> (arrays, metadata), close. Like the real
camera, every capture request waits for a new frame (`frames_delivered` counts them), and the
arrays of one capture_arrays request come from the same frame. Formats are the real ones:
"RGB888" main frames (B,G,R in memory) and YUV420 lores frames (h * 3/2 rows, luma first).
"""

from __future__ import annotations

import numpy as np

CAMERAS = 1  # how many camera modules this fake Pi has


class Picamera2:
    def __init__(self, camera_num: int = 0) -> None:
        if camera_num >= CAMERAS:
            raise IndexError(f"camera {camera_num} not found")
        self.config: dict | None = None
        self.started = False
        self.frames_delivered = 0

    def create_video_configuration(self, main: dict, lores: dict | None = None,
                                   controls: dict | None = None) -> dict:  # fmt: skip
        return {"main": main, "lores": lores, "controls": controls or {}}

    def configure(self, config: dict) -> None:
        self.config = config

    def start(self) -> None:
        if self.config is None:
            raise RuntimeError("Camera must be configured before starting")
        self.started = True

    def capture_array(self, name: str = "main") -> np.ndarray:
        (array,), _ = self.capture_arrays([name])
        return array

    def capture_arrays(self, names: list[str]) -> tuple[list[np.ndarray], dict]:
        if not self.started:
            raise RuntimeError("Camera is not running")
        self.frames_delivered += 1  # the next frame off the sensor
        return [self.render(name) for name in names], {"FrameNumber": self.frames_delivered}

    def render(self, name: str) -> np.ndarray:
        """The scene, a bright bar sweeping across, as stream `name` sees it."""
        width, height = self.config[name]["size"]
        x = (self.frames_delivered * width // 40) % width
        bar = slice(x, x + width // 10)
        if name == "main":
            image = np.full((height, width, 3), 60, np.uint8)
            image[:, bar] = 220
            return image
        yuv = np.full((height * 3 // 2, width), 128, np.uint8)
        yuv[:height] = 60
        yuv[:height, bar] = 220
        return yuv

    def close(self) -> None:
        self.started = False
