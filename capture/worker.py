"""The capture worker of one camera: a loop of small steps (connect, read, detect, record, publish).

It runs in the foreground of `manage.py capture SLUG`. A source that fails is closed and reopened
with back-off; nothing here raises out of the loop for a camera problem. Frames are JPEG-encoded
here, once per width somebody watches, and never when nobody does.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

import cv2
from django.conf import settings
from django.db import DatabaseError, close_old_connections

from cameras.fmp4 import Fragment, LiveMuxer, mime_of
from cameras.jpeg import encode_jpeg
from cameras.models import Camera
from cameras.motion.detector import MotionDetector
from cameras.sources import CorruptFrame, EndOfStream, SourceError, open_source
from cameras.sources.base import Frame, Source
from cameras.sources.demux import DemuxSource
from capture import memory
from capture.backoff import Backoff
from capture.bus import Bus
from capture.mainstream import Closed, MainStream, Opened
from events.recorder import EventRecorder
from events.retention import room_for_video
from objects.queue import Sender
from objects.sampler import Sampler
from recordings.recorder import VideoRecorder
from recordings.recovery import recover_recordings

logger = logging.getLogger(__name__)


MAX_CORRUPT_IN_A_ROW = 30  # parts without a picture (2 s at 15 fps) before reconnecting
RETRY_LIMIT = 6.0  # seconds: the longest wait between attempts to reach a camera


class FrameRate:
    """Frames per second over the last few seconds of capture."""

    def __init__(self, window: float = 5.0) -> None:
        self.window = window
        self.times: deque[float] = deque()

    def tick(self, at: float) -> None:
        self.times.append(at)
        while self.times and at - self.times[0] > self.window:
            self.times.popleft()

    def fps(self, over: float = 0.0) -> float | None:
        """The rate, once frames span more than `over` seconds (a stream's first frames often
        come in a burst)."""
        if len(self.times) < 2:
            return None
        span = self.times[-1] - self.times[0]
        return (len(self.times) - 1) / span if span > max(over, 0.0) else None


def live_mime(source: Source | None) -> str:
    """The MIME type of a source's live MP4: "" for none, or one that sends pictures."""
    stream = getattr(source, "stream", None)
    if stream is None or getattr(source, "mjpeg", None) is not None:
        return ""
    return mime_of(stream)


class CaptureWorker:
    status_every = 2.0  # seconds between status messages to dashboards
    save_status_every = 10.0  # ... and between writes of the health fields
    hole_frames = 3.5  # a gap in arrivals this many frames long is frames lost, not jitter
    stream_hole_frames = 1.5  # a gap in the camera's own timestamps: a frame is missing

    def __init__(
        self,
        camera: Camera,
        bus: Bus,
        source_factory: Callable[..., Source] = open_source,  # (source, password=…)
    ) -> None:
        self.camera, self.bus = camera, bus
        camera.dropped_frames = camera.reconnects = 0  # counted over this worker's life
        self.source_factory = source_factory
        self.source: Source | None = None
        self.detector = MotionDetector(camera.detector_settings())
        self.video = (
            VideoRecorder(camera, make_room=room_for_video)
            if camera.record != Camera.Record.OFF
            else None
        )
        # Object detection sees an event's first frame and its peaks, never a quiet camera's.
        self.objects = Sampler(Sender()) if settings.OBJECT_DETECTION else None
        on_frame = self.objects.offer if self.objects is not None else None
        self.recorder = EventRecorder(camera, bus.publish, self.video, on_frame)
        # A camera that comes back is found within RETRY_LIMIT (plus its open time): a try every
        # few seconds costs a dead camera nothing.
        self.backoff = Backoff(limit=RETRY_LIMIT)
        self.rate = FrameRate()
        self.stopping = False
        self.next_detection = 0.0
        self.next_status = self.next_save = 0.0
        self.last_frame_at: float | None = None  # capture time of the newest frame
        self.last_stream_time: float | None = None  # its time on the camera's clock, if known
        self.stream_steps: deque[float] = deque(maxlen=31)  # its last steps, seconds
        self.connected_at = 0.0  # frames missing before this are an outage, not drops
        self.corrupt_in_a_row = 0
        self.muxers: dict[str, LiveMuxer] = {}  # live MP4 by stream name, while watched
        # A camera with a sub-stream: it is `source` (detection, snapshots, tiles), and the main
        # stream is read on a thread of its own for the recorder and the full-size live view.
        self.main = MainStream(camera.slug, self.open_main) if camera.detect_source else None
        self.main_lost = 0  # of the main stream's lost reads, those already counted as dropped
        self.main_source: DemuxSource | None = None  # the main stream, while it is connected

    def run(self) -> None:
        self.bus.start()
        if self.objects is not None:
            self.objects.sender.start()
        self.recorder.recover()
        recover_recordings(self.camera)
        if self.main is not None:
            self.main.start()
        try:
            while not self.stopping:
                self.step()
        finally:
            try:
                self.shutdown()
            finally:
                self.bus.stop()
                if self.objects is not None:
                    self.objects.sender.stop()

    def stop(self, *_: object) -> None:
        self.stopping = True

    def step(self) -> None:
        if self.main is not None:
            self.take_main()
        if self.source is None:
            self.connect()
            return
        frame = self.read()
        if frame is not None:
            try:
                self.process(frame)
            except CorruptFrame as exc:  # damaged on the way (Wi-Fi): skip it, count it
                self.camera.dropped_frames += 1
                logger.debug("%s: %s", self.camera.slug, exc)
            except SourceError as exc:  # the source cannot hand over its frame at all
                self.disconnect(str(exc))
        self.report_status()

    def connect(self) -> None:
        if not self.backoff.ready():
            time.sleep(min(0.25, self.backoff.remaining()))
            return
        try:
            source = self.source_factory(
                self.camera.detect_source or self.camera.source, password=self.camera.password
            )
        except SourceError as exc:  # a bad source string: only an edit of the camera helps
            logger.error("%s: %s", self.camera.slug, exc)
            self.backoff.failed()
            self.set_status(Camera.Status.ERROR, str(exc))
            return
        try:
            source.open()
        except SourceError as exc:
            delay = self.backoff.failed()
            logger.warning("%s: %s; retrying in %.0f s", self.camera.slug, exc, delay)
            self.set_status(Camera.Status.OFFLINE, str(exc))
            return
        self.source = source
        if self.video is not None and self.main is None:
            self.video.attach(source)
        if self.main is not None:
            self.main.decoding.clear()  # detection is back on the sub-stream
        self.describe_streams()
        self.connected_at = time.time()
        self.backoff.reset()
        logger.info("%s: connected to %s", self.camera.slug, source.describe())
        self.set_status(Camera.Status.ONLINE)

    def open_main(self) -> DemuxSource:
        """The main stream of a camera with a sub-stream (called on the main stream's thread)."""
        return self.source_factory(self.camera.source, password=self.camera.password)

    def take_main(self) -> None:
        """What the main stream's thread read: its packets to the recorder and the live MP4;
        its pictures to detection while the sub-stream is gone."""
        for item in self.main.taken(wait=0.0 if self.source is not None else 0.05):
            if isinstance(item, Opened):
                self.main_source = item.source
                if self.video is not None:
                    self.video.attach(item.source)
                self.describe_streams()
            elif isinstance(item, Closed):
                if self.main_source is not None and self.video is not None:
                    self.video.detach(f"main stream offline: {item.reason}")
                if item.source is not None:
                    item.source.close()
                self.main_source = None
                self.describe_streams()
            else:
                self.take_main_frame(item.frame)
        lost = self.main.lost  # reads its thread had to drop while this loop was behind
        self.camera.dropped_frames += lost - self.main_lost
        self.main_lost = lost

    def take_main_frame(self, frame: Frame) -> None:
        if self.video is not None:
            self.video.feed(frame)
        self.publish_fragments(frame, ("main",), self.main_source)
        if self.source is None and frame.grey is not None:  # falling back: detect on it
            try:
                self.process(frame)
            except SourceError as exc:
                logger.debug("%s: main stream frame: %s", self.camera.slug, exc)

    def describe_streams(self) -> None:
        """What the camera sends, for the pages: the MIME type of each stream's live MP4 (a
        camera without a sub-stream has only "main")."""
        for muxer in self.muxers.values():
            muxer.close()
        self.muxers.clear()
        main = self.main_source if self.main is not None else self.source
        sub = self.source if self.main is not None else None
        self.camera.streams = {
            name: mime
            for name, mime in (("main", live_mime(main)), ("sub", live_mime(sub)))
            if mime
        }
        try:
            Camera.objects.filter(pk=self.camera.pk).update(streams=self.camera.streams)
        except DatabaseError as exc:
            logger.warning("%s: cannot save what the camera sends: %s", self.camera.slug, exc)

    def read(self) -> Frame | None:
        try:
            frame = self.source.read()
        except CorruptFrame as exc:  # an empty or non-JPEG part in a sound stream: skip it
            self.camera.dropped_frames += 1
            self.corrupt_in_a_row += 1
            if self.corrupt_in_a_row >= MAX_CORRUPT_IN_A_ROW:  # a camera sending only garbage
                self.disconnect(str(exc))
            return None
        except EndOfStream:
            logger.info("%s: end of video", self.camera.slug)
            self.stopping = True
        except SourceError as exc:
            self.disconnect(str(exc))
        else:
            self.corrupt_in_a_row = 0
            return frame
        return None

    def disconnect(self, reason: str) -> None:
        delay = self.backoff.failed()
        logger.warning("%s: %s; reconnecting in %.0f s", self.camera.slug, reason, delay)
        self.source.close()
        self.source = None
        self.last_stream_time = None  # the next frame may be on another clock (the main stream's)
        self.stream_steps.clear()
        self.camera.reconnects += 1
        if self.main is not None and self.main_source is not None:
            self.main.decoding.set()  # detection goes on, on the main stream's pictures
            self.describe_streams()
            self.set_status(
                Camera.Status.ONLINE, f"sub-stream offline ({reason}): detecting on the main stream"
            )
        else:
            self.set_status(Camera.Status.OFFLINE, reason)

    def process(self, frame: Frame) -> None:
        """Detect on some frames, publish to viewers if any: most frames are never decoded."""
        if self.video is not None and self.main is None:
            self.video.feed(frame)  # before detection, so that an event's clip has this frame
        self.count_gap(frame)
        self.rate.tick(frame.captured_at)
        self.last_frame_at, self.last_stream_time = frame.captured_at, frame.stream_time
        if frame.captured_at >= self.next_detection:
            self.next_detection = frame.captured_at + self.detector.settings.interval
            self.detect(frame)
        self.publish_frame(frame)
        if self.source is not None:  # not a main-stream frame detected on while falling back
            names = ("sub",) if self.main is not None else ("main", "sub")
            self.publish_fragments(frame, names, self.source)

    def count_gap(self, frame: Frame) -> None:
        """Frames missing from a hole in the stream. Where the camera timestamps its frames
        (H.264), the hole is in those, against the stream's usual step (the median of the last
        few): a stream that arrives in bursts loses nothing. Otherwise it is in the arrivals, at
        the rate measured so far; those are uneven (two frames at once, then none), so only a
        hole of several frames counts."""
        if self.last_frame_at is None or self.last_frame_at < self.connected_at:
            self.stream_steps.clear()  # a new connection: its own clock, maybe its own pace
            return
        if frame.stream_time is not None and self.last_stream_time is not None:
            step = frame.stream_time - self.last_stream_time
            usual = statistics.median(self.stream_steps) if self.stream_steps else 0.0
            if step > 0:
                self.stream_steps.append(step)
            if usual and step > self.stream_hole_frames * usual:
                self.camera.dropped_frames += round(step / usual) - 1
            return
        fps = self.rate.fps(over=2.0)
        frames = (frame.captured_at - self.last_frame_at) * (fps or 0)
        if frames > self.hole_frames:
            self.camera.dropped_frames += round(frames) - 1

    def detect(self, frame: Frame) -> None:
        detection = self.detector.detect(frame.detection_image(self.detector.settings.width))
        try:
            self.recorder.update(frame, detection)
        except DatabaseError as exc:  # database restarting or locked: keep capturing
            logger.error("%s: cannot record motion: %s", self.camera.slug, exc)
            close_old_connections()

    def publish_fragments(self, frame: Frame, names: tuple[str, ...], source: Source) -> None:
        """The camera's own H.264 to the viewers of its fragmented MP4, muxed once for all; a
        stream nobody watches any more lets its muxer go."""
        watched = self.bus.watched_streams()
        for name in set(self.muxers) - set(watched):
            self.muxers.pop(name).close()
        if not frame.packets or not live_mime(source):
            return
        for name in set(names) & set(watched):
            muxer = self.muxers.get(name)
            if muxer is None:
                muxer = self.muxers[name] = LiveMuxer(source.stream)
            for packet in frame.packets:
                for fragment in muxer.add(packet):
                    self.publish_fragment(name, muxer, fragment, frame.captured_at)

    def publish_fragment(
        self, stream: str, muxer: LiveMuxer, fragment: Fragment, captured_at: float
    ) -> None:
        message = {"type": "fragment", "data": fragment.data, "key": fragment.key,
                   "t": captured_at, "mime": muxer.mime}  # fmt: skip
        if fragment.key:
            message["init"] = muxer.init  # a web process may join at any keyframe
        if not self.bus.publish(self.camera.mp4_group(stream), message):
            self.camera.dropped_frames += 1

    def publish_frame(self, frame: Frame) -> None:
        """Each watched width gets the frame; each distinct size is encoded once."""
        widths = self.bus.watched_widths()
        if not widths:
            return
        full_width = frame.width
        encoded: dict[int, bytes] = {}
        for width in widths:
            size = width if 0 < width < full_width else full_width  # 0 or wider: full size
            if size not in encoded:
                encoded[size] = self.encode(frame, size)
            message = {"type": "frame", "jpeg": encoded[size], "t": frame.captured_at}
            if not self.bus.publish(self.camera.frames_group(width), message):
                self.camera.dropped_frames += 1

    def encode(self, frame: Frame, width: int) -> bytes:
        """A JPEG `width` pixels wide; at full size, the camera's own JPEG when it sent one."""
        full_width = frame.width
        if width == full_width:
            return frame.jpeg or encode_jpeg(frame.image, quality=80)
        height = round(frame.image.shape[0] * width / full_width)
        small = cv2.resize(frame.image, (width, height), interpolation=cv2.INTER_AREA)
        return encode_jpeg(small, quality=75)

    def report_status(self) -> None:
        now = time.monotonic()
        if now < self.next_status:
            return
        self.next_status = now + self.status_every
        self.camera.fps = self.rate.fps()
        if self.last_frame_at is not None:
            self.camera.last_frame_at = datetime.fromtimestamp(self.last_frame_at, UTC)
        if now >= self.next_save:
            self.next_save = now + self.save_status_every
            self.save_health()
            memory.give_back()  # what a clip's encoder or a viewer's JPEGs left free
        self.bus.publish(self.camera.group_name, self.camera.status_message())

    def save_health(self) -> None:
        try:
            self.camera.save_health()
        except DatabaseError as exc:  # health is refreshed again in seconds
            logger.warning("%s: cannot save health: %s", self.camera.slug, exc)
            close_old_connections()

    def set_status(self, status: str, detail: str = "") -> None:
        if (status, detail) == (self.camera.status, self.camera.status_detail):
            return
        try:
            close_old_connections()
            self.camera.set_status(
                status, detail, fps=self.rate.fps() if status == "online" else None
            )
        except DatabaseError as exc:  # dashboards still hear it below
            logger.warning("%s: cannot save status: %s", self.camera.slug, exc)
        self.bus.publish(self.camera.group_name, self.camera.status_message())

    def shutdown(self) -> None:
        """Close the open event and the source; the camera shows as offline."""
        if self.main is not None:
            self.main.stop()
        self.recorder.close()
        if self.main_source is not None:
            self.main_source.close()
        if self.video is not None:
            self.video.close()
        if self.source is not None:
            self.source.close()
            self.source = None
        self.set_status(Camera.Status.OFFLINE, "worker stopped")
