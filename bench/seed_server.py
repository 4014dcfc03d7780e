"""The seed's live view, rebuilt as the baseline for bench/live_viewers.py.

    .venv/bin/python bench/seed_server.py VIDEO PORT

The design of ../shared/seeds/000_fc82cd9982080f29.txt (PyImageSearch, "OpenCV - Stream video to
web browser/HTML page"): a thread reads the camera, detects motion (running-average background,
absdiff, threshold, erode/dilate, contours, one box), draws a timestamp and the box, and stores
the result as the shared `outputFrame` under a lock; Flask's threaded server runs `generate()`
per client, which loops without sleeping and encodes `outputFrame` with cv2.imencode (default
quality) inside the lock on every turn, whether or not the frame changed.

Changed from the seed, only for measurement:
- the camera is VIDEO read with cv2.VideoCapture, paced to its frame rate and looping (the seed
  reads a webcam through imutils' VideoStream, which we have neither of);
- frames stay at the video's size (the seed shrinks them to 400 px wide), so the baseline sends
  what our server sends: 640x480;
- each part carries `Content-Length` and `X-Timestamp` (when the encoded frame was read), and
  the capture time is stored with `outputFrame`, so that the bench's client can parse parts and
  measure latency; `imutils` is replaced by its two one-liners;
- it listens on 127.0.0.1:PORT, serves the stream at /stream.mjpg (as well as the seed's
  /video_feed), has no index page, and runs without Flask's debugger; it is started through
  werkzeug's make_server (what app.run does) so that it can print "ready CAPTURE_TID" once it
  listens and has a frame: the bench measures the capture thread's CPU apart from the rest.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import threading
import time
from collections.abc import Iterator

import cv2
import numpy as np

try:
    from flask import Flask, Response
    from werkzeug.serving import make_server
except ImportError:
    sys.exit("Flask is not installed: .venv/bin/pip install flask")

FRAME_COUNT = 32  # the seed's default --frame-count: frames that build the background model

outputFrame = None
outputTime = 0.0
lock = threading.Lock()
app = Flask(__name__)


class SingleMotionDetector:
    """The seed's detector, as it is."""

    def __init__(self, accumWeight: float = 0.5) -> None:
        self.accumWeight = accumWeight
        self.bg = None

    def update(self, image: np.ndarray) -> None:
        if self.bg is None:
            self.bg = image.copy().astype("float")
            return
        cv2.accumulateWeighted(image, self.bg, self.accumWeight)

    def detect(self, image: np.ndarray, tVal: int = 25) -> tuple | None:
        delta = cv2.absdiff(self.bg.astype("uint8"), image)
        thresh = cv2.threshold(delta, tVal, 255, cv2.THRESH_BINARY)[1]
        thresh = cv2.erode(thresh, None, iterations=2)
        thresh = cv2.dilate(thresh, None, iterations=2)
        cnts = cv2.findContours(thresh.copy(), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
        (minX, minY) = (np.inf, np.inf)
        (maxX, maxY) = (-np.inf, -np.inf)
        if len(cnts) == 0:
            return None
        for c in cnts:
            (x, y, w, h) = cv2.boundingRect(c)
            (minX, minY) = (min(minX, x), min(minY, y))
            (maxX, maxY) = (max(maxX, x + w), max(maxY, y + h))
        return (thresh, (minX, minY, maxX, maxY))


class PacedVideo:
    """The video file as a camera: one frame per frame interval, from the start again at the end."""

    def __init__(self, path: str) -> None:
        self.capture = cv2.VideoCapture(path)
        if not self.capture.isOpened():
            sys.exit(f"cannot open {path}")
        self.interval = 1 / (self.capture.get(cv2.CAP_PROP_FPS) or 15)
        self.next_at = time.monotonic()

    def read(self) -> np.ndarray:
        self.next_at += self.interval
        time.sleep(max(0.0, self.next_at - time.monotonic()))
        ok, frame = self.capture.read()
        if not ok:
            self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.capture.read()
        return frame


def detect_motion(vs: PacedVideo, frameCount: int) -> None:
    global outputFrame, outputTime
    md = SingleMotionDetector(accumWeight=0.1)
    total = 0
    while True:
        frame = vs.read()
        captured = time.time()
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        gray = cv2.GaussianBlur(gray, (7, 7), 0)
        timestamp = datetime.datetime.now()
        cv2.putText(frame, timestamp.strftime(
            "%A %d %B %Y %I:%M:%S%p"), (10, frame.shape[0] - 10),
            cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 255), 1)  # fmt: skip
        if total > frameCount:
            motion = md.detect(gray)
            if motion is not None:
                (_thresh, (minX, minY, maxX, maxY)) = motion
                cv2.rectangle(frame, (minX, minY), (maxX, maxY), (0, 0, 255), 2)
        md.update(gray)
        total += 1
        with lock:
            outputFrame = frame.copy()
            outputTime = captured


def generate() -> Iterator[bytes]:
    global outputFrame, lock
    while True:
        with lock:
            if outputFrame is None:
                continue
            (flag, encodedImage) = cv2.imencode(".jpg", outputFrame)
            captured = outputTime
            if not flag:
                continue
        yield (
            b"--frame\r\nContent-Type: image/jpeg\r\n"
            + b"Content-Length: %d\r\nX-Timestamp: %.3f\r\n\r\n" % (len(encodedImage), captured)
            + bytearray(encodedImage)
            + b"\r\n"
        )


@app.route("/video_feed")
@app.route("/stream.mjpg")
def video_feed() -> Response:
    return Response(generate(), mimetype="multipart/x-mixed-replace; boundary=frame")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("port", type=int)
    args = parser.parse_args()
    t = threading.Thread(target=detect_motion, args=(PacedVideo(args.video), FRAME_COUNT))
    t.daemon = True
    t.start()
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    while outputFrame is None:
        time.sleep(0.05)
    print(f"ready {t.native_id}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
