"""CPU per frame of recording an MJPEG camera: the product's encode path, and one without BGR.

    .venv/bin/python bench/encode_path.py --video PATH [--frames 450] [--runs 3]

The camera's JPEGs are --video as bench/capture_streams.py serves it (640x480, ffmpeg's -q:v 5).
In this process, on one thread, each path turns them into an H.264 MP4 with the product's x264
settings (recordings/mp4.py), and its CPU time (time.process_time) per frame is taken:

- product: what the disk thread does (recordings/disk.py): OpenCV decodes the JPEG to BGR,
  EncodeWriter converts it (VideoFrame.from_ndarray, swscale) and x264 encodes it;
- yuvj420p: FFmpeg's own MJPEG decoder (PyAV) gives the JPEG's YUV planes, handed to x264 as
  they are (full-range 4:2:0, which is what these JPEGs hold): no picture goes through BGR;
- and each path's decode alone.

Prints a markdown table, written to bench/out/encode_path.md. (What these costs are inside a
running worker, beside everything else it does, is bench/recording_cost.py's to say.)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av
import cv2

from bench.capture_streams import make_mjpeg, make_video
from bench.mjpeg_server import split_jpegs
from bench.tables import publish
from cameras.jpeg import decode_jpeg
from recordings.mp4 import ENCODED_TIME_BASE, FRAGMENTED, X264, EncodeWriter

FPS = 15


def product(jpegs: list[bytes], out: Path) -> None:
    writer = EncodeWriter(out, 640, 480, FPS)
    for index, jpeg in enumerate(jpegs):
        writer.write(decode_jpeg(jpeg), index / FPS)
    writer.close()


def yuvj420p(jpegs: list[bytes], out: Path) -> None:
    with av.open(str(out), "w", format="mp4", options=FRAGMENTED) as container:
        stream = container.add_stream("libx264", rate=FPS, options=X264)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuvj420p"
        stream.codec_context.gop_size, stream.codec_context.thread_count = 2 * FPS, 1
        stream.time_base = stream.codec_context.time_base = ENCODED_TIME_BASE
        decoder = mjpeg_decoder()
        for index, jpeg in enumerate(jpegs):
            for frame in decoder.decode(av.Packet(jpeg)):
                frame.pts, frame.time_base = (
                    round(index / FPS / ENCODED_TIME_BASE),
                    ENCODED_TIME_BASE,
                )
                container.mux(stream.encode(frame))
        container.mux(stream.encode())


def mjpeg_decoder() -> av.CodecContext:
    decoder = av.CodecContext.create("mjpeg", "r")
    decoder.thread_count = 1
    return decoder


def opencv_decode(jpegs: list[bytes], _: Path) -> None:
    for jpeg in jpegs:
        decode_jpeg(jpeg)


def pyav_decode(jpegs: list[bytes], _: Path) -> None:
    decoder = mjpeg_decoder()
    for jpeg in jpegs:
        decoder.decode(av.Packet(jpeg))


PATHS: dict[str, Callable[[list[bytes], Path], None]] = {
    "decode: OpenCV to BGR (the product's)": opencv_decode,
    "decode: FFmpeg's MJPEG decoder to yuvj420p": pyav_decode,
    "record: the product's path (BGR, from_ndarray, x264)": product,
    "record: yuvj420p straight to x264": yuvj420p,
}


def per_frame(path: Callable[[list[bytes], Path], None], jpegs: list[bytes], out: Path) -> float:
    started = time.process_time()
    path(jpegs, out)
    return 1000 * (time.process_time() - started) / len(jpegs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, required=True, help="footage for the camera")
    parser.add_argument("--frames", type=int, default=450)
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs of every path")
    args = parser.parse_args()
    cv2.setNumThreads(1)  # as the worker does
    jpegs = split_jpegs(str(make_mjpeg(make_video(args.video.resolve(), (640, 480), 65))))
    jpegs = jpegs[: args.frames]
    times: dict[str, list[float]] = {name: [] for name in PATHS}
    with tempfile.TemporaryDirectory(prefix="encode-path-") as name:
        for _ in range(args.runs):
            for label, path in PATHS.items():
                times[label].append(per_frame(path, jpegs, Path(name) / "out.mp4"))
    lines = [
        f"# MJPEG recording, CPU per frame — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"{len(jpegs)} JPEGs of `{args.video.name}` at 640x480, one thread, {args.runs} "
        "interleaved run(s): median (range) of ms of CPU per frame, and at 15 fps.",
        "",
        "| path | ms per frame | % of a core at 15 fps |",
        "|---|---:|---:|",
    ]
    for label, values in times.items():
        median = statistics.median(values)
        lines.append(f"| {label} | {median:.2f} ({min(values):.2f} to {max(values):.2f}) "
                     f"| {median * FPS / 10:.1f} |")  # fmt: skip
    publish("\n".join(lines) + "\n", "encode_path.md")


if __name__ == "__main__":
    main()
