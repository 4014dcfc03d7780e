"""A stand-in for the Raspberry Pi's picamera2 (the one piece of hardware we do not have).

Same names and calls as the real library (Picamera2(n), create_video_configuration, configure,
start, capture_array("main" | "lores"), close), producing a synthetic scene in the real formats:
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
        self.frame = 0

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
        if not self.started:
            raise RuntimeError("Camera is not running")
        self.frame += name == "main"
        width, height = self.config[name]["size"]
        x = (self.frame * 8) % width  # a bright bar sweeping across the scene
        if name == "main":
            image = np.full((height, width, 3), 60, np.uint8)
            image[:, x : x + width // 10] = 220
            return image
        yuv = np.full((height * 3 // 2, width), 128, np.uint8)
        yuv[:height] = 60
        yuv[:height, x * width // self.config["main"]["size"][0] :][:, : width // 10] = 220
        return yuv

    def close(self) -> None:
        self.started = False
