"""The clips of the detection evaluation and their ground truth, including the nuisance clips made
here from the quiet stretch of the real footage. Only numpy, OpenCV and ffmpeg: no product code.

Ground truth is per frame (`frame_truth[k]`: True motion, False none, None not scored) plus
event-level motion intervals in seconds.
"""

from __future__ import annotations

import csv
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

FPS = 15.0
EVENTS_CLIP = "highway-events-15fps"
CDNET_CLIP = "highway-640x480-15fps"
# A CDnet frame is "motion" from 0.1 % of the 320x240 frame (77 px) up: about twice the insect
# blob the detector must ignore (36 px), so truth never demands what the nuisance clips forbid.
CDNET_MIN_MOTION = 0.001
CDNET_PIXELS = 320 * 240
QUIET_FRAMES = 150  # frames 0-149 of the events clip: empty road plus sensor noise
NUISANCE_FRAMES = 300  # 20 s at 15 fps
ONSET = 8.0  # seconds: after both detectors' warm-up (ours 1.6 s, the seed's 6.6 s)

Interval = tuple[float, float]  # seconds, start inclusive, end exclusive


@dataclass
class Clip:
    name: str
    path: Path
    kind: str  # "events", "frames" or "nuisance"
    frame_truth: list[bool | None]
    intervals: list[Interval]  # ground-truth motion
    disturbances: list[Interval] = field(default_factory=list)  # nuisance clips: when it acts
    note: str = ""

    @property
    def duration(self) -> float:
        return len(self.frame_truth) / FPS

    @property
    def scored(self) -> Interval:
        """The span whose frames have truth; events wholly outside it are not scored."""
        known = [k for k, truth in enumerate(self.frame_truth) if truth is not None]
        return (known[0] / FPS, (known[-1] + 1) / FPS) if known else (0.0, 0.0)

    def truth_at(self, t: float) -> bool | None:
        k = round(t * FPS)
        return self.frame_truth[k] if 0 <= k < len(self.frame_truth) else None


def runs(flags: list[bool | None]) -> list[Interval]:
    """Maximal runs of True frames, as seconds (end = one frame after the last)."""
    intervals: list[Interval] = []
    start: int | None = None
    for k, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = k
        elif not flag and start is not None:
            intervals.append((start / FPS, k / FPS))
            start = None
    return intervals


def events_clip(testdata: Path) -> Clip:
    """The 60 s spliced clip: motion in segments B and D (`expected_motion`), ramps in E and F."""
    with open(testdata / f"{EVENTS_CLIP}.csv", newline="") as f:
        truth: list[bool | None] = [row["expected_motion"] == "1" for row in csv.DictReader(f)]
    return Clip(
        name=EVENTS_CLIP,
        path=testdata / f"{EVENTS_CLIP}.mp4",
        kind="events",
        frame_truth=truth,
        intervals=runs(truth),
        disturbances=[(630 / FPS, 660 / FPS), (750 / FPS, 780 / FPS)],
        note="real traffic 10-20 s and 30-40 s; brightness ramps x1.3 at 42 s and back at 50 s",
    )


def cdnet_clip(testdata: Path) -> Clip:
    """CDnet highway at 640x480: mp4 frame k is CDnet frame k+1; only the temporal ROI is scored.

    Event truth is the run of annotated frames with any motion pixel (traffic never stops);
    frame truth needs CDNET_MIN_MOTION of the frame.
    """
    path = testdata / "cdnet-highway" / "gt_summary.csv"
    with open(path, newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda row: int(row["frame"]))
    scored = [row["in_temporal_roi"] == "1" for row in rows]
    pixels = [int(row["motion_px_255"]) for row in rows]
    least = CDNET_MIN_MOTION * CDNET_PIXELS
    pairs = list(zip(scored, pixels, strict=True))
    truth: list[bool | None] = [p >= least if s else None for s, p in pairs]
    any_motion: list[bool | None] = [s and p > 0 for s, p in pairs]
    return Clip(
        name=CDNET_CLIP,
        path=testdata / f"{CDNET_CLIP}.mp4",
        kind="frames",
        frame_truth=truth,
        intervals=runs(any_motion),
        note="CDnet highway, per-frame truth from 31.3 s (frame 470), motion >= 0.1 % of frame",
    )


# -- nuisance clips ------------------------------------------------------------------------------

Effect = Callable[[np.ndarray, int], np.ndarray]  # (BGR frame, frame index) -> BGR frame


def gain(image: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(image.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def light_switch(image: np.ndarray, k: int) -> np.ndarray:
    on = ONSET * FPS <= k < (ONSET + 6) * FPS
    return gain(image, 1.5) if on else image


def slow_ramp(image: np.ndarray, k: int) -> np.ndarray:
    share = min(max((k / FPS - ONSET) / 5.0, 0.0), 1.0)
    return gain(image, 1.0 + 0.4 * share)


def make_noise(seed: int = 8) -> Effect:
    rng = np.random.default_rng(seed)

    def noise(image: np.ndarray, k: int) -> np.ndarray:
        noisy = image.astype(np.float32) + rng.normal(0.0, 8.0, image.shape)
        return np.clip(noisy, 0, 255).astype(np.uint8)

    return noise


def insect(image: np.ndarray, k: int) -> np.ndarray:
    """A 6x6 dark square darting across (about 320 px/s, zigzag) from ONSET for 4 s."""
    t = k / FPS - ONSET
    if not 0 <= t < 4:
        return image
    height, width = image.shape[:2]
    travel = (t * 320.0) % (2 * (width - 6))
    x = int(travel if travel < width - 6 else 2 * (width - 6) - travel)
    y = int(height / 2 + height / 4 * np.sin(2 * np.pi * 1.3 * t))
    out = image.copy()
    out[y : y + 6, x : x + 6] = 20
    return out


def ir_switch(image: np.ndarray, k: int) -> np.ndarray:
    """From ONSET on: colourless, contrast x1.5 about mid-grey and brighter, as IR night mode."""
    if k < ONSET * FPS:
        return image
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    night = np.clip((grey - 128.0) * 1.5 + 148.0, 0, 255).astype(np.uint8)
    return cv2.cvtColor(night, cv2.COLOR_GRAY2BGR)


def nuisance_specs() -> list[tuple[str, Effect, list[Interval], str]]:
    """(name, effect, when it acts, note) for each nuisance clip; made fresh on each call."""
    step = 1 / FPS
    return [
        ("nuisance-light-switch", light_switch, [(ONSET, ONSET + step), (14.0, 14.0 + step)],
         "brightness x1.5 in one frame at 8 s, back at 14 s"),
        ("nuisance-slow-ramp", slow_ramp, [(ONSET, ONSET + 5)],
         "brightness x1.0 -> x1.4 over 8-13 s, then held"),
        ("nuisance-noise", make_noise(), [(0.0, NUISANCE_FRAMES / FPS)],
         "Gaussian noise sigma 8 added to every frame"),
        ("nuisance-insect", insect, [(ONSET, ONSET + 4)],
         "6x6 px dark square darting across, 8-12 s"),
        ("nuisance-ir-switch", ir_switch, [(ONSET, ONSET + step)],
         "greyscale + contrast x1.5 in one step at 8 s, held"),
    ]  # fmt: skip


def read_frames(video: Path, limit: int) -> list[np.ndarray]:
    """Up to `limit` frames from the start of a video, decoded as BGR."""
    capture = cv2.VideoCapture(str(video))
    frames: list[np.ndarray] = []
    while len(frames) < limit:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    return frames


def quiet_frames(events_video: Path) -> list[np.ndarray]:
    """Frames 0-149 of the events clip (empty road, noise sigma 2), decoded as BGR."""
    frames = read_frames(events_video, QUIET_FRAMES)
    if len(frames) < QUIET_FRAMES:
        raise RuntimeError(f"{events_video}: only {len(frames)} frames, need {QUIET_FRAMES}")
    return frames


def write_video(path: Path, frames: list[np.ndarray]) -> None:
    """H.264 CRF 18, GOP 30, 15 fps: encoded like the events clip the frames come from."""
    height, width = frames[0].shape[:2]
    command = [
        "ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
        "-s", f"{width}x{height}", "-r", str(int(FPS)), "-i", "-",
        "-c:v", "libx264", "-crf", "18", "-g", "30", "-pix_fmt", "yuv420p", str(path),
    ]  # fmt: skip
    subprocess.run(command, input=b"".join(f.tobytes() for f in frames), check=True)


def nuisance_clips(events_video: Path, out: Path) -> list[Clip]:
    """Write the nuisance clips into `out` and describe them; truth: no motion anywhere.

    The 10 s quiet stretch plays forward then backward (ping-pong), so 20 s have no seam.
    """
    quiet = quiet_frames(events_video)
    order = [k if k < QUIET_FRAMES else 2 * QUIET_FRAMES - 1 - k for k in range(NUISANCE_FRAMES)]
    out.mkdir(parents=True, exist_ok=True)
    clips = []
    for name, effect, disturbances, note in nuisance_specs():
        path = out / f"{name}.mp4"
        write_video(path, [effect(quiet[i], k) for k, i in enumerate(order)])
        truth: list[bool | None] = [False] * NUISANCE_FRAMES
        clips.append(Clip(name, path, "nuisance", truth, [], disturbances, note))
    return clips
