"""The worker's source read path alone: what a camera costs us before any detection.

    .venv/bin/python bench/read_loop.py SOURCE [--detection-fps 5]

Opens SOURCE (a camera source string, as `addcamera` takes it) with the product's own source
classes and reads every frame as the capture worker does, converting a frame to a picture as
often as detection asks for one (5 a second by default, at the default detection width: a
camera's JPEG is decoded straight to reduced-size grey), and nothing else: no detection, no
events, no Django, no Redis. bench/capture_cost.py measures it beside the worker, so the
difference between the two is what detection and the rest of the worker's loop add.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cameras.motion.settings import DetectorSettings
from cameras.sources import open_source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("--detection-fps", type=float, default=5.0)
    args = parser.parse_args()
    source = open_source(args.source)
    source.open()
    print("ready", flush=True)
    interval = DetectorSettings(fps=args.detection_fps).interval
    next_conversion = 0.0
    try:
        while True:
            frame = source.read()
            if frame.captured_at >= next_conversion:  # as CaptureWorker.process schedules it
                next_conversion = frame.captured_at + interval
                frame.detection_image(DetectorSettings.width)
    finally:
        source.close()


if __name__ == "__main__":
    main()
