"""Cost of the detection step alone (MotionDetector.detect) per frame, on real footage.

    .venv/bin/python bench/detection_step.py [--video PATH] [--frames 300]

Frames come from --video (docs/benchmarks.md: ../shared/testdata/highway-640x480-15fps.mp4, real
traffic), used as they are (640x480) and scaled up to 1920x1080 (bicubic, decoded before timing:
decoding is not part of the step). Without --video, a synthetic textured scene with a moving box
stands in. Prints
milliseconds per frame (median and 95th percentile) and OpenCV's thread count.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "surveillance.settings")

from detection_clips import read_frames  # noqa: E402  (beside this script)

from cameras.motion.detector import MotionDetector  # noqa: E402


def synthetic_frames(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    scene = cv2.resize(rng.integers(40, 220, (30, 40, 3), dtype=np.uint8), (640, 480))
    frames = []
    for index in range(count):
        frame = scene.copy()
        x = (index * 4) % 600
        cv2.rectangle(frame, (x, 200), (x + 40, 280), (20, 20, 20), -1)
        frames.append(frame)
    return frames


def time_detection(frames: list[np.ndarray]) -> list[float]:
    detector = MotionDetector()
    for frame in frames[:20]:  # warm-up and background
        detector.detect(frame)
    timings = []
    for frame in frames:
        started = time.perf_counter()
        detector.detect(frame)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, help="real footage (default: a synthetic scene)")
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    video = args.video
    frames = read_frames(video, args.frames) if video else synthetic_frames(args.frames)
    source = video.name if video else "a synthetic scene (no --video)"
    print(f"frames: {len(frames)} from {source}; OpenCV threads: {cv2.getNumThreads()}")
    print("| input | detect() ms per frame, median | p95 |")
    print("|---|---:|---:|")
    for label, size in (("640x480", None), ("1920x1080", (1920, 1080))):
        batch = frames if size is None else [cv2.resize(f, size, cv2.INTER_CUBIC) for f in frames]
        timings = time_detection(batch)
        p95 = statistics.quantiles(timings, n=20)[-1]
        print(f"| {label} | {statistics.median(timings):.2f} | {p95:.2f} |")


if __name__ == "__main__":
    main()
