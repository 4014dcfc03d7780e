"""The thread that writes a camera's recordings: a slow or full disk never holds up capture.

The capture loop hands over what to write and returns at once; this thread opens, writes and
closes the files, and says what became of them (closed, with its size, or failed, with why)."""

from __future__ import annotations

import errno
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av

from cameras.sources import CorruptFrame
from recordings.mp4 import CopyWriter, EncodeWriter, Part, Writer, remux

logger = logging.getLogger(__name__)

# Bytes waiting for the disk (or, for a camera that sends pictures, for the encoder) before frames
# are dropped: 30 s of a 4 Mbit/s stream, or about 17 decoded 640x480 frames. Per camera, so that
# sixteen cameras on a loaded machine cannot pile up frames until it runs out of memory.
MAX_QUEUED = 16 * 1024 * 1024


@dataclass
class Outcome:
    recording: int  # the Recording's id
    size: int = 0
    failed: str = ""  # why the file stopped early


def words(exc: OSError) -> str:
    return "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))


class DiskWriter:
    def __init__(self, name: str) -> None:
        self.commands: queue.SimpleQueue = queue.SimpleQueue()
        self.outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self.queued = 0  # bytes of writes not yet done
        self.lock = threading.Lock()
        self.writers: dict[int, Writer] = {}
        self.failed: set[int] = set()
        self.thread = threading.Thread(target=self.run, name=f"disk {name}", daemon=True)
        self.thread.start()

    # The capture thread's side.

    def open(self, recording: int, path: Path, make: Callable[[Path], Writer]) -> None:
        self.commands.put(("open", recording, (path, make)))

    def write(self, recording: int, payloads: list[tuple], size: int) -> bool:
        """Queue writes (several frames at once: one wake-up of the thread for them all); False
        (nothing queued) while the disk is this far behind. With nothing waiting, a batch is
        taken whatever its size (half a second of 1080p pictures is some 45 MB)."""
        with self.lock:
            if self.queued and self.queued + size > MAX_QUEUED:
                return False
            self.queued += size
        self.commands.put(("write", recording, (payloads, size)))
        return True

    def close(self, recording: int, indexed: bool) -> None:
        """Close the file; `indexed` rewrites it once with its index first, for seeking."""
        self.commands.put(("close", recording, indexed))

    def stop(self, timeout: float = 10.0) -> None:
        self.commands.put(("stop", 0, None))
        self.thread.join(timeout)

    # The thread's side.

    def run(self) -> None:
        while True:
            command, recording, argument = self.commands.get()
            if command == "stop":
                for number in list(self.writers):
                    self.finish(number, indexed=False)
                return
            try:
                getattr(self, f"do_{command}")(recording, argument)
            except Exception:  # a bug must not leave capture writing into a dead thread
                logger.exception("recording %s: %s failed", recording, command)
                self.fail(recording, "error while writing")

    def do_open(self, recording: int, argument: tuple) -> None:
        path, make = argument
        try:
            self.writers[recording] = make(path)
        except (OSError, av.FFmpegError) as exc:
            self.fail(recording, words(exc) if isinstance(exc, OSError) else str(exc))

    def do_write(self, recording: int, argument: tuple) -> None:
        payloads, size = argument
        with self.lock:
            self.queued -= size
        for payload in payloads:
            writer = self.writers.get(recording)
            if writer is None:
                return  # failed earlier: the rest of this recording is not written
            try:
                self.write_one(writer, payload)
            except (CorruptFrame, av.InvalidDataError):
                pass  # a damaged JPEG: one frame fewer
            except OSError as exc:
                self.fail(recording, words(exc))

    def write_one(self, writer: Writer, payload: tuple) -> None:
        if isinstance(writer, CopyWriter):
            writer.write(*payload)
        elif isinstance(payload[0], bytes):
            writer.write_jpeg(*payload)
        else:
            writer.write(*payload)

    def do_close(self, recording: int, indexed: bool) -> None:
        if recording in self.writers:
            self.finish(recording, indexed)

    def finish(self, recording: int, indexed: bool) -> None:
        writer = self.writers.pop(recording)
        writer.close()
        if indexed and writer.frames:
            try:
                remux([Part(writer.path, 0.0)], writer.path)
            except (OSError, av.FFmpegError) as exc:  # the fragmented file still plays
                logger.warning("recording %s: cannot index %s: %s", recording, writer.path, exc)
        self.outcomes.put(Outcome(recording, writer.size()))

    def fail(self, recording: int, why: str) -> None:
        writer = self.writers.pop(recording, None)
        size = 0
        if writer is not None:
            writer.close()  # what was written so far plays
            if writer.frames:
                size = writer.size()
            else:  # not one frame: no file (its row goes too)
                writer.path.unlink(missing_ok=True)
        self.outcomes.put(Outcome(recording, size, failed=why))


def copy_writer(template: av.VideoStream) -> Callable[[Path], Writer]:
    return lambda path: CopyWriter(path, template)


def encode_writer(width: int, height: int, fps: float) -> Callable[[Path], Writer]:
    return lambda path: EncodeWriter(path, width, height, fps)
