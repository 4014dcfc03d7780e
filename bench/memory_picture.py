"""bench/process_memory.py's picture: the sum of PSS over time, warm-up and soak, with the 1 GB
line."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

MB = 1024 * 1024


def picture(series: list[tuple[float, int]], rows: list[dict], path: Path) -> None:
    """Sum of PSS over time (warm-up grey, soak blue), with the 1 GB line."""
    width, height, left, bottom = 1000, 360, 70, 40
    image = np.full((height, width, 3), 255, np.uint8)
    if not series:
        cv2.imwrite(str(path), image)
        return
    t0, t1 = series[0][0], max(series[-1][0], series[0][0] + 1)
    top_mb = max(1100, max(v for _, v in series) / MB * 1.1)

    def xy(t: float, mb: float) -> tuple[int, int]:
        x = left + (t - t0) / (t1 - t0) * (width - left - 20)
        return int(x), int(height - bottom - mb / top_mb * (height - bottom - 20))

    font = cv2.FONT_HERSHEY_SIMPLEX
    for mb in range(0, int(top_mb) + 1, 200):
        cv2.line(image, xy(t0, mb), xy(t1, mb), (230, 230, 230), 1)
        cv2.putText(image, f"{mb}", (8, xy(t0, mb)[1] + 4), font, 0.4, (80, 80, 80), 1)
    cv2.line(image, xy(t0, 1024), xy(t1, 1024), (60, 60, 220), 1)
    cv2.putText(
        image, "1 GB", (xy(t1, 1024)[0] - 40, xy(t1, 1024)[1] - 5), font, 0.4, (60, 60, 220), 1
    )
    points = [xy(t, v / MB) for t, v in series]
    for (a, ta), b in zip(
        zip(points, [t for t, _ in series], strict=True), points[1:], strict=False
    ):
        cv2.line(image, a, b, (150, 150, 150) if ta < 0 else (200, 110, 30), 2)
    cameras = rows[-1]["cameras"] if rows else 0
    cv2.putText(
        image,
        f"sum of PSS (MB), {cameras} cameras; grey: warm-up, blue: soak; "
        f"x: {(t1 - t0) / 60:.0f} min",
        (left, 16),
        font,
        0.45,
        (40, 40, 40),
        1,
    )
    cv2.imwrite(str(path), image)
