"""Small real video files made on the spot: a textured still scene, optionally crossed by a box."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

WIDTH, HEIGHT = 320, 240
TIME_BASE = Fraction(1, 90_000)  # MPEG's clock, as cameras send it
ENCODERS = {"h264": "libx264", "hevc": "libx265"}
ENCODER_OPTIONS = {
    "h264": {"preset": "veryfast", "bf": "0"},
    # As an H.265 camera sends it: no B-frames, and each keyframe an IDR the stream can start at
    # (x265's open GOPs begin at CRA pictures that need the frames before them). At x265's own
    # quality the still scene's noise is smoothed away and its pictures repeat byte for byte
    # after each keyframe, which packet_hashes could not tell apart: crf 16 keeps it.
    "hevc": {
        "preset": "veryfast",
        "x265-params": "bframes=0:open-gop=0:scenecut=0:crf=16:log-level=error",
    },
}
Moving = tuple[float, float] | list[tuple[float, float]] | None  # when a box crosses, seconds


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


def write_video(path: Path, seconds: float, moving: Moving = None,
                fps: int = 15, size: tuple[int, int] = (WIDTH, HEIGHT),
                crossings_every: float = 0.0, codec: str = "h264") -> Path:  # fmt: skip
    """An H.264 (or, with codec="hevc", H.265) MP4 of `seconds`, as a camera sends it (a keyframe
    a second, no B-frames); with `moving`, a dark box crosses between those times (of every
    `crossings_every` seconds)."""
    return write_vfr_video(path, [index / fps for index in range(round(seconds * fps))],
                           moving=moving, size=size, fps=fps, crossings_every=crossings_every,
                           codec=codec)  # fmt: skip


def write_vfr_video(path: Path, times: list[float], moving: Moving = None,
                    size: tuple[int, int] = (WIDTH, HEIGHT), fps: int = 15,
                    crossings_every: float = 0.0, gop: int = 0,
                    codec: str = "h264") -> Path:  # fmt: skip
    """An H.264 MP4 whose frames are at exactly these times (seconds): a variable frame rate, as
    phones and other recorders write, when the times are uneven. Encoded with PyAV's x264 (or
    x265, with codec="hevc": both are in PyAV's wheel). `moving` may list several crossings."""
    background, rng = scene(*size), np.random.default_rng(7)
    crossings = moving if isinstance(moving, list) else [moving] if moving else []
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream(ENCODERS[codec], rate=fps, options=ENCODER_OPTIONS[codec])
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.codec_context.gop_size = gop or fps  # a keyframe a second, as many cameras send
        stream.time_base = TIME_BASE
        for t in times:
            scene_t = t % crossings_every if crossings_every else t
            crossing = next((c for c in crossings if c[0] <= scene_t <= c[1]), None)
            image = frame_at(background, scene_t, crossing, rng)
            frame = av.VideoFrame.from_ndarray(image, "bgr24")
            frame.pts, frame.time_base = round(t / TIME_BASE), TIME_BASE
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def packet_hashes(path: Path) -> list[str]:
    """Each video packet's coded pictures, hashed: the same list means the same H.264 (or H.265),
    not re-encoded. Parameter sets and SEI are left out: an RTSP server repeats them before each
    keyframe (MP4 packets are NAL units, each after its 4-byte length)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        coded = CODED_SLICE[stream.codec_context.name]
        return [
            hashlib.sha256(slices(bytes(p), coded)).hexdigest()
            for p in container.demux(stream)
            if p.size
        ]


# Whether a NAL unit, from its first byte, is a coded slice: H.264's type is the low 5 bits
# (1 non-IDR, 5 IDR); H.265's the 6 bits after the first (0-31 are the picture's slices).
CODED_SLICE = {
    "h264": lambda first: first & 0x1F in (1, 5),
    "hevc": lambda first: (first >> 1) & 0x3F < 32,
}


def slices(data: bytes, coded: Callable[[int], bool] = CODED_SLICE["h264"]) -> bytes:
    kept, at = [], 0
    while at + 4 <= len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        unit = data[at + 4 : at + 4 + size]
        if unit and coded(unit[0]):
            kept.append(unit)
        at += 4 + size
    return b"".join(kept)


def frames_in(path: Path) -> int:
    """Frames that decode, up to where the file was cut off (if it was)."""
    count = 0
    with av.open(str(path)) as container:
        frames = container.decode(video=0)
        while True:
            try:
                next(frames)
            except (StopIteration, av.FFmpegError):
                return count
            count += 1


def write_sprite_video(path: Path, sprite: np.ndarray, seconds: float,
                       moving: tuple[float, float], fps: int = 15,
                       size: tuple[int, int] = (640, 480)) -> Path:  # fmt: skip
    """An H.264 MP4 of a still scene that a picture (`sprite`, BGR) crosses from left to right
    between the `moving` times: a person walking by, when the picture is of one."""
    background, rng = scene(*size), np.random.default_rng(7)
    width, height = size
    tall, wide = sprite.shape[:2]
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps, options={"preset": "veryfast", "bf": "0"})
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.codec_context.gop_size = fps
        for index in range(round(seconds * fps)):
            t = index / fps
            image = frame_at(background, t, None, rng)
            if moving[0] <= t <= moving[1]:
                x = int((t - moving[0]) / (moving[1] - moving[0]) * (width - wide))
                y = (height - tall) // 2
                image[y : y + tall, x : x + wide] = sprite
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, "bgr24")))
        out.mux(stream.encode())
    return path
