"""The detector's work: a short Redis list that every camera's worker pushes to and the one
detector process pops from.

A job is a JPEG of the square around the motion and where that square is in the frame, for one
event. The list holds at most MAX_JOBS: the newest are kept (LPUSH, then LTRIM drops the oldest at
the other end), so a detector that falls behind skips what is stale instead of running late.
The worker never waits for Redis: `Sender.put()` only appends to a tiny local queue, which a
thread of its own empties (dropping its oldest, too, while Redis is away).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

import msgpack
import redis
from django.conf import settings

logger = logging.getLogger(__name__)

KEY = "surveillance:objects:jobs"
MAX_JOBS = 8  # across all cameras: 1-2 s of the detector's work
MAX_LOCAL = 2  # per worker, while Redis is away
RETRY = 1.0  # seconds between tries of a Redis that is away


@dataclass(frozen=True)
class Job:
    event: int  # MotionEvent id
    jpeg: bytes  # the square around the motion
    region: tuple[float, float, float, float]  # where that square is: x, y, w, h in 0..1
    boxes: tuple[tuple[float, float, float, float], ...] = ()  # the motion, in the frame

    def pack(self) -> bytes:
        return msgpack.packb([self.event, self.jpeg, self.region, self.boxes])

    @classmethod
    def unpack(cls, data: bytes) -> Job:
        event, jpeg, region, boxes = msgpack.unpackb(data)
        return cls(int(event), jpeg, tuple(region), tuple(tuple(box) for box in boxes))


def connect(url: str | None = None) -> redis.Redis:
    return redis.Redis.from_url(url or settings.REDIS_URL, socket_timeout=5)


class JobQueue:
    def __init__(self, client: redis.Redis | None = None, key: str = KEY) -> None:
        self.client = client or connect()
        self.key = key

    def push(self, job: Job, limit: int = MAX_JOBS) -> None:
        with self.client.pipeline() as pipe:  # MULTI: no reader sees the list over its limit
            pipe.lpush(self.key, job.pack())
            pipe.ltrim(self.key, 0, limit - 1)
            pipe.execute()

    def pop(self, timeout: float = 1.0) -> Job | None:
        """The oldest job still kept, waiting up to `timeout` seconds for one."""
        item = self.client.brpop([self.key], timeout=timeout)
        return Job.unpack(item[1]) if item else None

    def __len__(self) -> int:
        return self.client.llen(self.key)


class Sender:
    """The worker's side: put() returns at once; a daemon thread hands jobs to Redis."""

    def __init__(self, queue: JobQueue | None = None) -> None:
        self.queue = queue
        self.waiting: deque[Job] = deque(maxlen=MAX_LOCAL)  # a full deque drops its oldest
        self.wake = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self.run, name="objects", daemon=True)
        self.sent = 0

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        self.stopping = True
        self.wake.set()
        self.thread.join(timeout)

    def put(self, job: Job) -> None:
        self.waiting.append(job)
        self.wake.set()

    def run(self) -> None:
        """Asleep until a job comes (a quiet camera wakes it never, and opens no connection)."""
        while not self.stopping:
            self.wake.wait()
            self.wake.clear()
            while self.waiting and not self.stopping:
                if not self.send(self.waiting[0]):
                    self.wake.wait(RETRY)  # Redis away: the local queue keeps the newest

    def send(self, job: Job) -> bool:
        try:
            self.queue = self.queue or JobQueue()
            self.queue.push(job)
        except redis.RedisError as exc:
            logger.warning("cannot hand an event to the object detector: %s", exc)
            return False
        self.sent += 1
        if self.waiting and self.waiting[0] is job:
            self.waiting.popleft()
        return True
