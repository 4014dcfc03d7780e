"""Cameras FFmpeg demuxes, through PyAV: video files, RTSP, and HTTP streams that are not MJPEG.

One connection per camera gives two things: each read returns the next decoded frame, and with it
the packets demuxed since the last frame, as the camera sent them. The recorder writes those
packets without re-encoding; detection reads the decoder's own luma plane (no colour
conversion), and only a frame somebody looks at is converted to BGR.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import time
from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np

from cameras.sources.base import Frame, Source
from cameras.sources.parse import CorruptFrame, EndOfStream, SourceError

# What FFmpeg raises for a camera that is gone, refuses, stalls (ExitError after the timeout)
# or sends something that is not video.
FAILURES = (av.FFmpegError, OSError)


def luma(frame: av.VideoFrame) -> np.ndarray | None:
    """The decoder's Y plane as a grey image, without a copy (None for a format without one)."""
    if not frame.format.name.startswith(("yuv", "yuvj", "nv12", "nv21")):
        return None
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
    return rows[: frame.height, : frame.width]


class DemuxSource(Source):
    timeout = 10.0  # seconds to open, and to wait for data, before the camera counts as gone
    # One decoding thread does real time for less CPU than one per core (FACTS.md); None is
    # FFmpeg's default, as fast as possible, for `analyze`.
    decode_threads: int | None = 1

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.container: av.container.InputContainer | None = None
        self.stream: av.VideoStream | None = None
        self.packets: Iterator[av.Packet] = iter(())
        self.last_pts: int | None = None  # the newest packet's pts, in the stream's time base
        self.last_duration = 0  # ... and its length, where the container says
        self.connection: io.RawIOBase | None = None  # the HTTP response FFmpeg reads, if any

    def options(self) -> dict[str, str]:
        """FFmpeg options for opening the camera."""
        return {}

    def url(self) -> str:
        return self.target

    def open(self) -> None:
        self.open_container(self.url())

    def open_container(self, what: str | io.RawIOBase) -> None:
        """Open the camera at a URL, or from a connection already made (a file object)."""
        try:
            self.container = av.open(
                what, options=self.options(), timeout=(self.timeout, self.timeout)
            )
        except FAILURES as exc:
            if not isinstance(what, str):
                what.close()
            raise SourceError(f"cannot open {self.describe()}: {reason(exc)}") from None
        self.connection = None if isinstance(what, str) else what
        if not self.container.streams.video:
            self.close()
            raise SourceError(f"{self.describe()} sends no video")
        self.stream = self.container.streams.video[0]
        if self.decode_threads is not None:
            self.stream.codec_context.thread_count = self.decode_threads
        rate = self.stream.average_rate or self.stream.guessed_rate
        if rate and 1 <= rate <= 120:
            self.fps = float(rate)
        self.packets = self.container.demux(self.stream)

    @property
    def codec(self) -> str:
        return self.stream.codec_context.name if self.stream is not None else ""

    @property
    def time_base(self) -> Fraction:
        return self.stream.time_base

    def read(self) -> Frame:
        """The next decoded frame, with the packets read up to it."""
        if self.container is None:
            raise SourceError("source is not open")
        packets = []
        while True:
            packet = self.next_packet()
            packets.append(packet)
            try:
                frames = packet.decode()
            except av.FFmpegError:  # a damaged packet: the next keyframe heals the picture
                message = f"{self.describe()} sent a packet that does not decode"
                raise CorruptFrame(message) from None
            if frames:
                return self.frame(frames[-1], packets)

    def next_packet(self) -> av.Packet:
        try:
            packet = next(self.packets)
        except StopIteration:
            raise EndOfStream(f"end of {self.describe()}") from None
        except FAILURES as exc:
            raise SourceError(f"no frame from {self.describe()}: {reason(exc)}") from None
        if packet.size == 0:  # the demuxer's end-of-stream flush
            raise EndOfStream(f"end of {self.describe()}")
        self.restamp(packet)
        return packet

    def restamp(self, packet: av.Packet) -> None:
        """Give every packet a pts and a dts: an RTSP camera's first packet often has neither,
        and cameras send no B-frames, so decoding order is presentation order."""
        if packet.pts is None:
            packet.pts = 0 if self.last_pts is None else self.last_pts + self.step()
        if packet.dts is None:
            packet.dts = packet.pts
        self.last_pts, self.last_duration = packet.pts, packet.duration or 0

    def step(self) -> int:
        """A frame's length in the stream's time base: the last packet's, or the nominal one."""
        return self.last_duration or max(1, round(1 / (self.fps * self.time_base)))

    def frame(self, decoded: av.VideoFrame, packets: list[av.Packet]) -> Frame:
        return Frame(
            captured_at=time.time(),
            grey=luma(decoded),
            decode=lambda: decoded.to_ndarray(format="bgr24"),
            width=decoded.width,
            packets=packets,
            stream_time=None if decoded.pts is None else float(decoded.pts * self.time_base),
        )

    def close(self) -> None:
        if self.container is not None:
            with contextlib.suppress(*FAILURES):
                self.container.close()
            self.container = self.stream = None
            self.packets = iter(())
        if self.connection is not None:
            with contextlib.suppress(OSError):
                self.connection.close()
            self.connection = None


class FileSource(DemuxSource):
    """A video file played on its own clock (or as fast as possible), looping by default.

    Frames are timed by their own timestamps, not by index / nominal fps: a variable-frame-rate
    file (a phone's, another recorder's export, a camera that dropped frames) reports one rate
    and keeps another. When the file loops, its packets' timestamps go on counting, so that what
    is recorded from it is one continuous stream."""

    def __init__(self, target: str, realtime: bool = True, loop: bool = True) -> None:
        super().__init__(target)
        self.realtime, self.loop = realtime, loop
        if not realtime:
            self.decode_threads = None
        self.epoch = time.time()  # captured_at of the first frame when not in real time
        self.clock = 0.0  # monotonic time at which the file's first frame was due
        self.index = 0  # frames read, over all loops
        self.first_pts: int | None = None  # the first packet's pts, in the stream's time base
        self.offset = 0  # added to this loop's timestamps, in the stream's time base
        self.elapsed = 0.0  # the newest frame's time since the first, over all loops, seconds

    def options(self) -> dict[str, str]:
        # A file camera is a file: a playlist inside it must not make FFmpeg open URLs.
        return {"protocol_whitelist": "file"}

    def open(self) -> None:
        if not os.path.isfile(self.target):
            raise SourceError(f"video file not found: {self.target}")
        super().open()
        self.clock = time.monotonic()

    def next_packet(self) -> av.Packet:
        try:
            return super().next_packet()
        except EndOfStream:
            if not self.loop or self.container is None:
                raise
        self.rewind()
        return super().next_packet()

    def rewind(self) -> None:
        """Back to the start; the next loop's timestamps follow on from this one's."""
        self.offset = (self.last_pts or 0) + self.step() - (self.first_pts or 0)
        try:
            self.container.seek(0, stream=self.stream)
        except FAILURES as exc:
            raise SourceError(f"cannot loop {self.describe()}: {reason(exc)}") from None
        self.stream.codec_context.flush_buffers()
        self.packets = self.container.demux(self.stream)

    def restamp(self, packet: av.Packet) -> None:
        if self.offset:
            packet.pts = None if packet.pts is None else packet.pts + self.offset
            packet.dts = None if packet.dts is None else packet.dts + self.offset
        super().restamp(packet)
        if self.first_pts is None:
            self.first_pts = packet.pts

    def frame(self, decoded: av.VideoFrame, packets: list[av.Packet]) -> Frame:
        frame = super().frame(decoded, packets)
        self.index += 1
        self.advance(decoded)
        if self.realtime:
            self.pace()
            frame.captured_at = time.time()
        else:
            frame.captured_at = self.epoch + self.elapsed
        return frame

    def advance(self, decoded: av.VideoFrame) -> None:
        """The newest frame's own time; one without a usable timestamp (a damaged file) counts
        as one nominal frame after the last."""
        at = math.nan
        if decoded.pts is not None and self.first_pts is not None:
            at = float((decoded.pts - self.first_pts) * self.time_base)
        if self.index == 1:
            self.elapsed = max(0.0, at) if math.isfinite(at) else 0.0
        elif not math.isfinite(at) or at <= self.elapsed:
            self.elapsed += 1 / self.fps
        else:
            self.elapsed = at

    def frame_count(self) -> int:
        return self.stream.frames if self.stream is not None else 0

    def pace(self) -> None:
        delay = self.clock + self.elapsed - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1:  # far behind (a stall): restart the clock instead of racing
            self.clock = time.monotonic() - self.elapsed


def reason(exc: BaseException) -> str:
    """FFmpeg's words for what went wrong, without the URL (which may hold a password)."""
    return getattr(exc, "strerror", None) or type(exc).__name__
