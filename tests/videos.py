"""Small real video files made on the spot: a textured still scene, optionally crossed by a box."""

from __future__ import annotations

import itertools
import shutil
import subprocess
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


def write_vfr_video(path: Path, times: list[float], moving: tuple[float, float] | None = None,
                    size: tuple[int, int] = (WIDTH, HEIGHT)) -> Path:  # fmt: skip
    """An H.264 MP4 whose frames are at exactly these times (seconds): a variable frame rate,
    as phones and other recorders write. Made by ffmpeg's concat demuxer, one duration per
    frame; needs Debian's ffmpeg (see `needs_ffmpeg`)."""
    background, rng = scene(*size), np.random.default_rng(7)
    frames = path.with_suffix(".frames")
    frames.mkdir()
    lines = ["ffconcat version 1.0"]
    for index, (t, after) in enumerate(itertools.pairwise([*times, times[-1] + 1 / 15])):
        cv2.imwrite(str(frames / f"{index:05d}.png"), frame_at(background, t, moving, rng))
        lines += [f"file '{index:05d}.png'", f"duration {after - t:.6f}"]
    lines.append(f"file '{len(times) - 1:05d}.png'")  # the demuxer honours the last duration so
    (frames / "list.txt").write_text("\n".join(lines) + "\n")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", "list.txt",
         "-fps_mode", "vfr", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path.resolve())],
        cwd=frames, check=True, timeout=120,
    )  # fmt: skip
    shutil.rmtree(frames)
    return path


def needs_ffmpeg() -> str:
    """Skip the calling test where Debian's ffmpeg is missing, naming the package."""
    import pytest

    if (found := shutil.which("ffmpeg")) is None:
        pytest.skip("needs the ffmpeg package (apt install ffmpeg)")
    return found
