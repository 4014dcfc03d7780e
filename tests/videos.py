"""Small real video files made on the spot: a textured still scene, optionally crossed by a box."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 320, 240


def scene(width: int = WIDTH, height: int = HEIGHT, seed: int = 1) -> np.ndarray:
    """A still, textured BGR background (smooth blobs, like a blurred yard)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(60, 200, (height // 16, width // 16, 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def frame_at(background: np.ndarray, t: float, moving: tuple[float, float] | None,
             rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    image = background.copy()
    noise = rng.normal(0, 2, image.shape).astype(np.int16)
    image = np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    if moving and moving[0] <= t <= moving[1]:
        height, width = image.shape[:2]
        progress = (t - moving[0]) / (moving[1] - moving[0])
        x = int(progress * (width - 50))
        cv2.rectangle(image, (x, height // 3), (x + 50, height // 3 + 70), (20, 20, 20), -1)
    return image


def write_video(path: Path, seconds: float, moving: tuple[float, float] | None = None,
                fps: int = 15, size: tuple[int, int] = (WIDTH, HEIGHT)) -> Path:  # fmt: skip
    """An MPEG-4 file of `seconds`; with `moving`, a dark box crosses between those times."""
    background = scene(*size)
    rng = np.random.default_rng(7)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert writer.isOpened(), "OpenCV cannot write MPEG-4 here"
    for index in range(round(seconds * fps)):
        writer.write(frame_at(background, index / fps, moving, rng))
    writer.release()
    return path
