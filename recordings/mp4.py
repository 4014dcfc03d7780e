"""MP4 files from a camera's video, through PyAV.

While a recording grows it is a fragmented MP4 (a fragment at each keyframe, at least every
second): what is on disk plays up to the last second even when the worker is killed. A finished
clip is rewritten once into a plain MP4 with its index first, which browsers seek in; exports of
a span are made the same way. H.264 and H.265 are copied as the camera sent them; pictures (MJPEG
cameras, USB, the demo) are encoded once to H.264 with x264.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from cameras.fmp4 import copy_packet

# A fragment at every keyframe and at least every second, each flushed to the disk as it is made.
FRAGMENTED = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "1000000",
    "flush_packets": "1",
}
INDEXED = {"movflags": "+faststart"}  # the index (moov) first: seeking over HTTP ranges works
ENCODED_TIME_BASE = Fraction(1, 90_000)
# x264 at its fastest: a Raspberry Pi encodes 640x480 at 15 fps in a fraction of a core.
X264 = {"preset": "ultrafast", "tune": "zerolatency", "crf": "23"}


def copy_stream(
    container: av.container.OutputContainer, template: av.VideoStream
) -> av.VideoStream:
    """An output stream for the template's packets as they are. H.265 is marked hvc1 (its
    parameter sets in the file's header; cameras also repeat them in band, which players take):
    Safari, the browser that most often plays H.265, refuses FFmpeg's default, hev1."""
    stream = container.add_stream_from_template(template)
    if template.codec_context.name == "hevc":
        stream.codec_context.codec_tag = "hvc1"
    return stream


class Writer:
    """An MP4 being written: fragmented, so that what is on disk always plays."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.container = av.open(str(path), "w", format="mp4", options=FRAGMENTED)
        self.frames = 0

    def close(self) -> None:
        with contextlib.suppress(av.FFmpegError, OSError):  # a full disk: keep what is there
            self.container.close()

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0


class CopyWriter(Writer):
    """The camera's own H.264 or H.265 packets, timestamps counted from the file's first."""

    def __init__(self, path: Path, template: av.VideoStream) -> None:
        super().__init__(path)
        self.stream = copy_stream(self.container, template)
        self.base: int | None = None
        self.last_dts = -1

    def write(self, packet: av.Packet) -> None:
        if self.base is None:
            self.base = packet.dts
        dts = max(packet.dts - self.base, self.last_dts + 1)  # strictly increasing, as MP4 wants
        pts = max(packet.pts - self.base, dts)
        self.last_dts = dts
        copy = copy_packet(packet, pts, dts)
        copy.stream = self.stream
        self.container.mux(copy)
        self.frames += 1


class EncodeWriter(Writer):
    """Pictures (BGR) encoded to H.264, each stamped with its capture time."""

    def __init__(self, path: Path, width: int, height: int, fps: float) -> None:
        super().__init__(path)
        self.width, self.height = width - width % 2, height - height % 2  # 4:2:0 wants even
        self.stream = self.container.add_stream("libx264", rate=round(fps) or 15, options=X264)
        self.stream.width, self.stream.height, self.stream.pix_fmt = (
            self.width, self.height, "yuv420p"
        )  # fmt: skip
        self.stream.codec_context.gop_size = 2 * (round(fps) or 15)
        self.stream.codec_context.thread_count = 1
        # Frames are stamped on a 90 kHz clock: the encoder's default of 1/fps would round two
        # frames a camera sent close together onto one timestamp, which MP4 refuses.
        self.stream.time_base = self.stream.codec_context.time_base = ENCODED_TIME_BASE
        self.start: float | None = None
        self.last_pts = -1
        self.jpegs: av.CodecContext | None = None  # FFmpeg's JPEG decoder, for MJPEG cameras

    def write(self, image: np.ndarray, at: float) -> None:
        """A picture as BGR (the demo's, a USB camera's)."""
        self.encode(av.VideoFrame.from_ndarray(image[: self.height, : self.width], "bgr24"), at)

    def write_jpeg(self, jpeg: bytes, at: float) -> None:
        """A camera's own JPEG, decoded by FFmpeg straight to the YUV x264 takes: 27 % less CPU
        per frame than through a BGR picture (bench/encode_path.py)."""
        if self.jpegs is None:
            self.jpegs = av.CodecContext.create("mjpeg", "r")
        for frame in self.jpegs.decode(av.Packet(jpeg)):
            self.encode(frame, at)

    def encode(self, frame: av.VideoFrame, at: float) -> None:
        if self.start is None:
            self.start = at
        frame.pts = max(round((at - self.start) / ENCODED_TIME_BASE), self.last_pts + 1)
        frame.time_base, self.last_pts = ENCODED_TIME_BASE, frame.pts
        self.container.mux(self.stream.encode(frame))
        self.frames += 1

    def close(self) -> None:
        with contextlib.suppress(av.FFmpegError, OSError):
            self.container.mux(self.stream.encode())  # what the encoder still holds
        super().close()


@dataclass
class Part:
    """A recording file and the capture time of its first frame (Unix seconds)."""

    path: Path
    started_at: float


def remux(parts: list[Part], out: Path, start: float = 0.0, end: float = float("inf")) -> int:
    """One indexed MP4 of the video between start and end (Unix seconds) in these recordings,
    oldest first, from the keyframe at or before `start`; the frames written. Parts whose codec or
    picture size differ from the first's end the export (an MP4 has one of each)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    written = 0
    try:
        with av.open(str(partial), "w", format="mp4", options=INDEXED) as container:
            written = Export(container, start, end).run(parts)
        if written:
            os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return written


class Export:
    """Parts copied one after another into one output, on one clock."""

    def __init__(self, container: av.container.OutputContainer, start: float, end: float) -> None:
        self.container, self.start, self.end = container, start, end
        self.stream: av.VideoStream | None = None
        self.shape: tuple | None = None
        self.offset = Fraction(0)  # where the next part starts in the output, seconds
        self.last_dts = -1  # in ENCODED_TIME_BASE
        self.written = 0

    def run(self, parts: list[Part]) -> int:
        for part in parts:
            if not self.add(part):
                break
        return self.written

    def add(self, part: Part) -> bool:
        """Copy what this part has of the span; False once no later part can follow."""
        try:
            source = av.open(str(part.path), options={"protocol_whitelist": "file"})
        except (av.FFmpegError, OSError):
            return True  # gone or unreadable: the export goes on without it
        with source:
            stream = source.streams.video[0]
            shape = (stream.codec_context.name, stream.width, stream.height)
            if self.stream is None:
                self.stream, self.shape = copy_stream(self.container, stream), shape
            elif shape != self.shape:
                return False
            return self.copy(source.demux(stream), stream.time_base, part)

    def copy(self, packets: Iterator[av.Packet], time_base: Fraction, part: Part) -> bool:
        gop: list[av.Packet] = []  # before the span: the packets since the last keyframe
        base = origin = None  # the part's first dts; the time of its first packet written
        end = Fraction(0)
        try:
            for packet in packets:
                if packet.dts is None or packet.size == 0:
                    continue
                base = packet.dts if base is None else base
                since = (packet.dts - base) * time_base  # seconds into this part
                if part.started_at + float(since) > self.end:
                    break
                if part.started_at + float(since) < self.start and not self.written:
                    if packet.is_keyframe:
                        gop = [packet]
                    elif gop:
                        gop.append(packet)
                    continue
                for early in [*gop, packet]:
                    at = (early.dts - base) * time_base
                    origin = at if origin is None else origin
                    self.mux(early, at - origin)
                gop = []
                end = since + (packet.duration or 0) * time_base
        except av.FFmpegError:  # a recording cut short (its worker killed): its frames so far
            pass
        if origin is not None:
            self.offset += end - origin
        return part.started_at + float(end) <= self.end

    def mux(self, packet: av.Packet, since: Fraction) -> None:
        """The packet `since` seconds after what this part adds to the output begins."""
        dts = max(round((self.offset + since) / ENCODED_TIME_BASE), self.last_dts + 1)
        copy = av.Packet(bytes(packet))
        copy.dts, copy.time_base = dts, ENCODED_TIME_BASE
        copy.pts = dts + round((packet.pts - packet.dts) * packet.time_base / ENCODED_TIME_BASE)
        copy.is_keyframe, copy.stream = packet.is_keyframe, self.stream
        self.container.mux(copy)
        self.last_dts = dts
        self.written += 1
