"""A camera's video on disk, decided frame by frame in its capture worker: a clip around every
motion event (from the pre-roll to the post-roll), or continuous segments.

The camera is opened once: every frame the worker reads comes with the packets it was made from,
and those are what is written, as the camera sent them. A camera that sends no H.264 or H.265
(MJPEG, USB, the demo) is encoded to H.264 once, only while something is recorded; its pre-roll
is its own JPEGs. Files are written on a thread of their own (recordings/disk.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError

from cameras.jpeg import encode_jpeg, jpeg_size
from cameras.models import Camera
from cameras.sources.base import Frame, Source
from recordings.disk import DiskWriter, copy_writer, encode_writer
from recordings.models import Recording, recording_name
from recordings.preroll import MAX_BYTES, Item, PreRoll

logger = logging.getLogger(__name__)

COPIED = {"h264", "hevc"}  # written as they come; any other codec is encoded to H.264
SEGMENT_SECONDS = 60.0  # continuous recording: a new file at the first keyframe after this
FLUSH_EVERY = 0.5  # seconds of frames handed to the disk thread at once
# ... or fewer: a camera that sends pictures hands them over raw (0.9 MB each at 640x480), and
# half a second of them held here, beside the batch being encoded, was 14 MB of every worker
# that recorded (bench/process_memory.py).
FLUSH_BYTES = 2 * 1024 * 1024
RETRY_AFTER = 10.0  # seconds before a recorder that stopped (a full disk) tries again
MakeRoom = Callable[[], bool]  # frees old video; False if the disk is still too full
Opened = Callable[[Recording], None]


def utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)


class VideoRecorder:
    def __init__(self, camera: Camera, make_room: MakeRoom | None = None) -> None:
        self.camera, self.make_room = camera, make_room
        self.mode = camera.record
        # An event is dated from when its motion began, which it is known to be only once the
        # motion has lasted start_after (and one detection more): the pre-roll reaches back so far.
        held = camera.pre_roll + camera.start_after + 1.0
        # At most 16 MB, or what `held` seconds of a 4.8 Mbit/s camera need if more.
        cap = max(MAX_BYTES, int(held * 600_000))
        self.preroll = PreRoll(held, cap) if self.mode == Camera.Record.EVENTS else None
        self.disk = DiskWriter(camera.slug)
        self.source: Source | None = None
        self.copy = False  # the camera's packets are written as they are
        self.recording: Recording | None = None  # the file being written
        self.shape: tuple = ()  # ... and what it holds: (codec, width, height)
        self.closing: dict[int, tuple[Recording, float]] = {}  # closed, not yet done on disk
        self.last_at = 0.0  # capture time of the last frame handed to the disk
        self.wanted = self.mode == Camera.Record.CONTINUOUS  # video is being kept now
        self.stop_at: float | None = None  # when an event's clip ends (its post-roll)
        self.waiting: list[Opened] = []  # events told of their clip once it opens
        self.paused_until = 0.0
        self.state = ""  # for the camera's health
        self.pending: list[tuple] = []  # frames for the disk thread, not handed over yet
        self.pending_size, self.pending_since = 0, 0.0

    def attach(self, source: Source) -> None:
        """The camera was (re)opened: what it sends decides how it is recorded."""
        self.close_file()
        self.source = source
        if self.state.startswith("recording stopped: main stream"):
            self.set_state("")  # it is back
        self.copy = getattr(source, "codec", "") in COPIED
        if self.preroll is not None:
            self.preroll.clear()

    def detach(self, why: str) -> None:
        """The camera (its main stream) went away: nothing to record until it is back."""
        self.close_file()
        self.source = None
        self.set_state(f"recording stopped: {why}")

    # What the capture worker calls.

    def feed(self, frame: Frame) -> None:
        """Every frame, as it is read."""
        self.collect_outcomes()
        if self.source is None or self.mode == Camera.Record.OFF:
            return
        items = self.items(frame)
        if self.preroll is not None:
            for item in items:
                self.preroll.add(item)
        if self.recording is not None and items and self.shape_of(items) != self.shape:
            self.close_file()  # a new picture size or codec: cut cleanly, go on in a new file
        if self.recording is not None and self.segment_full(items):
            self.close_file()
        if self.recording is None:
            if self.wanted and items and items[0].keyframe:
                self.start_file(items, frame)
        else:
            self.write(items, frame)
        if self.stop_at is not None and frame.captured_at >= self.stop_at:
            self.wanted, self.stop_at = False, None
            self.close_file()

    def event_started(self, at: float, opened: Opened) -> Recording | None:
        """Motion began at `at`: the clip (or the segment that records it) if one is open now;
        else `opened` gets it once it opens (at the next keyframe)."""
        if self.mode == Camera.Record.OFF:
            return None
        self.stop_at = None
        if self.recording is None:
            self.wanted = True
            if (
                self.source is not None
                and self.preroll is not None
                and time.time() >= self.paused_until
            ):
                items = self.preroll.since(at - self.camera.pre_roll)
                if items:
                    self.start_file(items, None)
        if self.recording is None:
            self.waiting.append(opened)
        return self.recording  # a new clip, one in its post-roll going on, or the segment

    def event_ended(self, at: float) -> None:
        if self.mode == Camera.Record.EVENTS:
            self.stop_at = at + self.camera.post_roll
        self.waiting.clear()

    def close(self) -> None:
        self.close_file()
        self.disk.stop()
        self.collect_outcomes()

    # Deciding.

    def items(self, frame: Frame) -> list[Item]:
        """What this frame adds to the video: its packets, or its picture as a JPEG (only when
        a pre-roll or a file will take it)."""
        if self.copy:
            return [Item(p, frame.captured_at, p.is_keyframe, p.size) for p in frame.packets]
        if self.preroll is None and not self.wanted:
            return []
        jpeg = frame.jpeg or encode_jpeg(frame.image, quality=85)
        return [Item(jpeg, frame.captured_at, True, len(jpeg))]

    def shape_of(self, items: list[Item]) -> tuple:
        if self.copy:
            context = self.source.stream.codec_context
            return (self.source.codec, context.width, context.height)
        return ("h264", *(jpeg_size(items[0].data) or (0, 0)))

    def segment_full(self, items: list[Item]) -> bool:
        if self.mode != Camera.Record.CONTINUOUS or not items or not items[0].keyframe:
            return False
        return self.last_at - self.recording.started_at.timestamp() >= SEGMENT_SECONDS

    def start_file(self, items: list[Item], frame: Frame | None) -> None:
        if time.time() < self.paused_until:
            return
        if self.make_room is not None and not self.make_room():
            self.stopped("the disk is full")
            return
        codec, width, height = self.shape = self.shape_of(items)
        started = utc(items[0].at)
        continuous = self.mode == Camera.Record.CONTINUOUS
        kind = Recording.Kind.SEGMENT if continuous else Recording.Kind.CLIP
        try:
            self.recording = Recording.objects.create(
                camera=self.camera, kind=kind, started_at=started, codec=codec,
                width=width, height=height, file=recording_name(self.camera, started, kind),
            )  # fmt: skip
        except DatabaseError as exc:
            logger.error("%s: cannot record: %s", self.camera.slug, exc)
            return
        if self.copy:
            make = copy_writer(self.source.stream)
        else:
            make = encode_writer(width, height, self.source.fps)
        path = Path(settings.MEDIA_ROOT) / self.recording.file.name
        self.disk.open(self.recording.pk, path, make)
        self.set_state("recording")
        for opened in self.waiting:
            opened(self.recording)
        self.waiting.clear()
        self.write(items, frame)

    def write(self, items: list[Item], frame: Frame | None) -> None:
        """Hand frames to the disk thread, a few at a time: one wake-up of it per
        FLUSH_EVERY seconds or FLUSH_BYTES rather than per frame (what a fragment holds
        anyway)."""
        for item in items:
            size = item.size
            if self.copy:
                payload = (item.data,)
            elif frame is not None and item.at == frame.captured_at and frame.jpeg is None:
                payload = (frame.image, item.at)  # a live picture: no JPEG round trip
                size = frame.image.nbytes  # what it holds: some 20 times its JPEG
            else:
                payload = (item.data, item.at)
            self.pending.append(payload)
            self.pending_size += size
            self.last_at = item.at
        if self.pending and (
            self.last_at - self.pending_since >= FLUSH_EVERY or self.pending_size >= FLUSH_BYTES
        ):
            self.flush()

    def flush(self) -> None:
        recording = self.recording
        if (
            self.pending
            and recording
            and not self.disk.write(recording.pk, self.pending, self.pending_size)
        ):
            self.set_state("recording, but the disk is too slow: frames lost")
        self.pending, self.pending_size, self.pending_since = [], 0, self.last_at

    def close_file(self) -> None:
        if self.recording is None:
            return
        self.flush()
        self.disk.close(self.recording.pk, indexed=self.recording.kind == Recording.Kind.CLIP)
        self.closing[self.recording.pk] = (self.recording, self.last_at)
        self.recording = None
        if not self.state.startswith("recording stopped"):
            self.set_state("")

    def collect_outcomes(self) -> None:
        """What the disk thread finished or gave up: rows get their end and size."""
        while not self.disk.outcomes.empty():
            outcome = self.disk.outcomes.get()
            if self.recording is not None and self.recording.pk == outcome.recording:
                self.closing[outcome.recording] = (self.recording, self.last_at)
                self.recording = None  # failed while open
            recording, last_at = self.closing.pop(outcome.recording, (None, 0.0))
            if recording is not None:
                self.finish(recording, last_at, outcome.size)
            if outcome.failed:
                self.stopped(outcome.failed)

    def finish(self, recording: Recording, last_at: float, size: int) -> None:
        try:
            if not size:  # nothing was written (the disk was full): no row for no video
                Recording.objects.filter(pk=recording.pk).delete_with_files()
                return
            recording.finish(utc(max(last_at, recording.started_at.timestamp())), size)
        except DatabaseError as exc:
            logger.error("%s: cannot finish recording %s: %s", self.camera.slug, recording, exc)

    def stopped(self, why: str) -> None:
        self.paused_until = time.time() + RETRY_AFTER
        self.set_state(f"recording stopped: {why}")
        logger.error("%s: recording stopped: %s", self.camera.slug, why)

    def set_state(self, state: str) -> None:
        self.state = self.camera.recording = state
