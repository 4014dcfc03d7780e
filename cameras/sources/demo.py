"""The built-in demo camera: a quiet synthetic yard that someone crosses every 20-40 s."""

from __future__ import annotations

import functools
import random
import time

import cv2
import numpy as np

from cameras.sources.base import Frame, Source

WIDTH, HEIGHT = 640, 480


@functools.cache
def sensor_noise() -> tuple[np.ndarray, ...]:
    """Four frames of faint noise, the same for every demo camera: made once (by the capture
    workers' fork server, capture/preload.py), read-only, shared by all."""
    frames = []
    for seed in range(4):
        noise = np.random.default_rng(seed).normal(0, 2.0, (HEIGHT, WIDTH, 3))
        frame = np.clip(noise, 0, 255).astype(np.uint8)
        frame.flags.writeable = False
        frames.append(frame)
    return tuple(frames)


class DemoSource(Source):
    fps = 15.0
    crossing_seconds = 4.0

    def __init__(
        self, target: str, realtime: bool = True, first_after: float | None = None
    ) -> None:
        super().__init__(target)
        self.realtime = realtime
        self.random = random.Random(target)
        self.background = self.draw_background(target)
        self.noise = sensor_noise()
        # Each demo camera's first crossing comes at its own time, within 15 s of opening.
        self.first_after = self.random.uniform(5, 15) if first_after is None else first_after
        self.started = self.next_at = self.crossing_at = 0.0
        self.count = 0

    def open(self) -> None:
        self.started = self.next_at = time.time()
        self.crossing_at = self.started + self.first_after

    def read(self) -> Frame:
        """The next frame: at 15 fps in real time, else at once with the scene's own clock."""
        if self.realtime:
            self.next_at += 1 / self.fps
            time.sleep(max(0.0, self.next_at - time.time()))
        now = time.time() if self.realtime else self.started + self.count / self.fps
        self.count += 1
        image = cv2.add(self.background, self.noise[self.count % len(self.noise)])
        progress = (now - self.crossing_at) / self.crossing_seconds
        if progress > 1:
            self.crossing_at = now + self.random.uniform(20, 40)
        elif progress >= 0:
            self.draw_walker(image, progress)
        return Frame(image=image, captured_at=now)

    def describe(self) -> str:
        return f"demo:{self.target}"

    def draw_background(self, name: str) -> np.ndarray:
        image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        horizon = HEIGHT // 2
        for y in range(horizon):  # sky, lighter towards the horizon
            image[y] = (150 + y // 4, 120 + y // 5, 80 + y // 6)
        image[horizon:] = (60, 95, 70)  # lawn
        hue = self.random.randint(60, 160)
        cv2.rectangle(image, (380, 150), (600, 330), (hue, 90, 150), -1)  # house
        cv2.rectangle(image, (460, 240), (510, 330), (40, 50, 70), -1)  # door
        cv2.rectangle(image, (0, 330), (WIDTH, 360), (120, 120, 125), -1)  # path
        cv2.putText(image, f"demo: {name}", (12, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.7,
                    (255, 255, 255), 2, cv2.LINE_AA)  # fmt: skip
        return image

    def draw_walker(self, image: np.ndarray, progress: float) -> None:
        x = int(-60 + progress * (WIDTH + 120))
        cv2.ellipse(image, (x, 290), (22, 55), 0, 0, 360, (35, 30, 45), -1)  # dark coat
        cv2.circle(image, (x, 220), 16, (140, 170, 210), -1)  # head
