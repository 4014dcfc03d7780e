"""A camera's main stream, beside the sub-stream it detects on: read on a thread of its own,
its packets passed on as the camera sent them (to the recorder and the live MP4), decoded only
when detection has to fall back to it because the sub-stream is gone.

A 1080p main stream then costs its demuxing, not its decoding: that is what lets a Raspberry Pi
record a camera's full picture while it watches a 640x360 one.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cameras.sources import CorruptFrame, SourceError
from cameras.sources.base import Frame
from cameras.sources.demux import DemuxSource
from capture.backoff import Backoff

logger = logging.getLogger(__name__)

MAX_WAITING = 150  # reads (10 s at 15 fps) the capture loop may be behind before some are lost
RETRY_LIMIT = 6.0  # seconds: as the worker's own retries


@dataclass
class Opened:
    source: DemuxSource


@dataclass
class Closed:
    reason: str
    source: DemuxSource | None = None  # closed by the capture loop once it has taken all before


@dataclass
class Read:
    frame: Frame  # its packets always; its picture only while detection falls back to it


class MainStream:
    """The thread reads; the capture loop takes what it read with `taken()`, in order, and
    closes the sources it is done with (a Closed carries its source)."""

    def __init__(self, name: str, factory: Callable[[], DemuxSource]) -> None:
        self.name, self.factory = name, factory
        self.reads: queue.Queue[Opened | Closed | Read] = queue.Queue(MAX_WAITING)
        self.decoding = threading.Event()  # set: detection needs this stream's pictures
        self.stopping = threading.Event()
        self.lost = 0  # reads dropped because the capture loop fell behind
        self.thread = threading.Thread(target=self.run, name=f"main {name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.thread.join(timeout)

    def taken(self, wait: float = 0.0) -> list[Opened | Closed | Read]:
        """What was read since the last call, oldest first; with `wait`, waiting that long for
        something (when the capture loop has nothing else to wait on)."""
        found = []
        try:
            found.append(self.reads.get(timeout=wait) if wait else self.reads.get_nowait())
            while True:
                found.append(self.reads.get_nowait())
        except queue.Empty:
            return found

    def put(self, item: Opened | Closed | Read) -> None:
        if isinstance(item, Read):
            try:
                self.reads.put_nowait(item)
            except queue.Full:
                self.lost += 1  # the capture loop is stuck: the recording loses this read
            return
        self.reads.put(item)  # an open or a close must never be lost

    def run(self) -> None:
        backoff = Backoff(limit=RETRY_LIMIT)
        while not self.stopping.is_set():
            source = self.open(backoff)
            if source is not None:
                self.read_all(source)

    def open(self, backoff: Backoff) -> DemuxSource | None:
        if not backoff.ready():
            time.sleep(min(0.25, backoff.remaining()))
            return None
        source = self.factory()
        try:
            source.open()
        except SourceError as exc:
            delay = backoff.failed()
            logger.warning("%s: main stream: %s; retrying in %.0f s", self.name, exc, delay)
            self.put(Closed(str(exc)))
            return None
        backoff.reset()
        logger.info("%s: main stream connected to %s", self.name, source.describe())
        self.put(Opened(source))
        return source

    def read_all(self, source: DemuxSource) -> None:
        while not self.stopping.is_set():
            try:
                if self.decoding.is_set():
                    frame = source.read()
                else:
                    packets = [source.next_packet()]
                    frame = Frame(packets=packets, captured_at=time.time())
            except CorruptFrame:
                continue
            except SourceError as exc:
                logger.warning("%s: main stream: %s", self.name, exc)
                # The capture loop may still be using it (its stream is the recorder's
                # template): it closes it when it takes this, after what came before.
                self.put(Closed(str(exc), source))
                return
            self.put(Read(frame))
