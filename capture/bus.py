"""The capture worker's link to the channel layer, run on its own asyncio loop in a thread.

The capture loop is synchronous (OpenCV reads block, the ORM is sync); publishing must never block
it. So the bus owns one event loop, and with it one Redis connection for the worker's life
(`async_to_sync(group_send)` per message would open a new one each time). `publish()` hands a
message over and returns at once; one sender sends them in order.

Frames and messages are not worth the same. A frame is replaced a fifteenth of a second later:
when Redis is slow or gone, frames beyond a few are dropped (and counted by the worker). Alerts
and camera status are never dropped: they wait, in order, and go out when Redis keeps up again.
A send that fails is tried again after a pause, so a restarted Redis gets what was waiting (an
alert may then arrive twice; pages keep the ids they have shown). Waiting is bounded: at most
MAX_WAITING messages (an alert is about 400 bytes, so some 4 MB), and of the status messages only
each camera's newest waits, since status is state, not history.

The bus also listens on the worker's own channel for viewer demand: web processes say every
second which frame widths somebody is watching, and the worker encodes only those.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque

from channels.layers import BaseChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)

DEMAND_TTL = 3.0  # seconds a demand message keeps a width encoded
SEND_TIMEOUT = 2.0  # a send stuck longer (a dead link to Redis) is given up and tried again
STOP_WAIT = 5.0  # seconds a stopping worker waits for its last alerts (the supervisor gives 8)
LIVE_VIDEO = {"frame", "fragment"}  # the live view's: a newer one comes in a moment
MAX_FRAMES = 20  # frames waiting to be sent (a burst from the camera); more are dropped
MAX_WAITING = 10_000  # alerts and status waiting while Redis is away
RETRY_FIRST, RETRY_LIMIT = 0.2, 5.0  # seconds between tries of a message that failed


class Message:
    __slots__ = ("group", "message")

    def __init__(self, group: str, message: dict) -> None:
        self.group, self.message = group, message


class Bus:
    def __init__(
        self, listen_channel: str | None = None, layer: BaseChannelLayer | None = None
    ) -> None:
        self.listen_channel = listen_channel
        self.layer = layer or get_channel_layer()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bus", daemon=True)
        # append/popleft are thread-safe; the capture thread appends, the loop pops.
        self.frames: deque[Message] = deque()
        self.waiting: deque[Message] = deque()
        self.status: dict[str, Message] = {}  # the camera.status waiting for each group
        self.lock = threading.Lock()  # between publish() and the sender, for the status dict
        self.wakeup = asyncio.Event()
        self.failing = False
        # what viewers want -> monotonic time of the last request: a JPEG width, or a stream
        self.demand: dict[int | str, float] = {}
        self.tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.begin(), self.loop).result()

    async def begin(self) -> None:
        self.tasks = [asyncio.create_task(self.send_all())]
        if self.listen_channel:
            self.tasks.append(asyncio.create_task(self.listen()))

    async def end(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def stop(self, timeout: float = STOP_WAIT) -> None:
        """Send what waits (bounded by timeout), then end the loop. Alerts and status go first
        (the sender always takes them before frames), so the frames still waiting never cost
        the last motion.end its time on a slow Redis."""
        deadline = time.monotonic() + timeout
        while (self.waiting or self.frames) and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.waiting:
            logger.error("channel layer away: stopped with %d messages unsent", len(self.waiting))
        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(self.end(), self.loop).result(timeout)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout)
        if not self.thread.is_alive():
            # Closed here, where no other loop runs: left to the garbage collector, the channel
            # layer's cleanup would run it inside whatever loop runs then.
            with contextlib.suppress(Exception):
                self.loop.close()

    def publish(self, group: str, message: dict) -> bool:
        """Queue a group_send. False when a frame was dropped because Redis is not keeping up;
        any other message waits its turn."""
        if not self.loop.is_running():
            return False
        if message.get("type") in LIVE_VIDEO:
            if len(self.frames) >= MAX_FRAMES:
                return False
            self.frames.append(Message(group, message))
        elif not self.queue(Message(group, message)):
            return True  # a newer status took the place of the one waiting
        self.loop.call_soon_threadsafe(self.wakeup.set)
        return True

    def queue(self, item: Message) -> bool:
        """Add a message that must not be lost; False if it only updated a waiting status."""
        with self.lock:
            if item.message.get("type") == "camera.status":
                if (waiting := self.status.get(item.group)) is not None:
                    waiting.message = item.message
                    return False
                self.status[item.group] = item
            if len(self.waiting) >= MAX_WAITING:
                lost = self.waiting.popleft()
                logger.error("channel layer away too long: dropped a %s", lost.message.get("type"))
            self.waiting.append(item)
        return True

    def next_message(self) -> tuple[Message, deque[Message]] | None:
        """Messages first, oldest first; then the oldest frame; with the queue it is in."""
        with self.lock:
            if self.waiting:
                item = self.waiting[0]
                if self.status.get(item.group) is item:
                    del self.status[item.group]  # a newer status waits behind this one
                return item, self.waiting
        return (self.frames[0], self.frames) if self.frames else None

    async def send_all(self) -> None:
        retry = RETRY_FIRST
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while (next_up := self.next_message()) is not None:
                item, queue = next_up
                if await self.send(item) or queue is self.frames:  # a frame is not retried
                    with self.lock:
                        if queue and queue[0] is item:
                            queue.popleft()
                    retry = RETRY_FIRST
                else:
                    await asyncio.sleep(retry)
                    retry = min(RETRY_LIMIT, retry * 2)

    async def send(self, item: Message) -> bool:
        try:
            await asyncio.wait_for(self.layer.group_send(item.group, item.message), SEND_TIMEOUT)
        except Exception as error:  # Redis slow or gone
            self.sent(error)
            return False
        self.sent(None)
        return True

    def sent(self, error: Exception | None) -> None:
        if error is not None and not self.failing:
            logger.warning("channel layer unavailable, holding messages: %r", error)
        elif error is None and self.failing:
            logger.info("channel layer reachable again")
        self.failing = error is not None

    def watched_widths(self) -> list[int]:
        """Frame widths somebody asked for within the last few seconds (0 = full size)."""
        return [key for key in self.watched() if isinstance(key, int)]

    def watched_streams(self) -> list[str]:
        """The camera's streams somebody watches as fragmented MP4 ("main", "sub")."""
        return [key for key in self.watched() if isinstance(key, str)]

    def watched(self) -> list[int | str]:
        now = time.monotonic()
        return [key for key, at in list(self.demand.items()) if now - at < DEMAND_TTL]

    async def listen(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.listen_channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarting: keep trying, quietly
                logger.debug("demand channel: %s", exc)
                await asyncio.sleep(1)
                continue
            if message.get("type") == "stream.demand":
                self.wanted(message)

    def wanted(self, message: dict) -> None:
        """A web process's demand: JPEGs of a width, or a stream as fragmented MP4."""
        width, stream = message.get("width"), message.get("mp4")
        if isinstance(width, int) and not isinstance(width, bool) and width >= 0:
            self.demand[width] = time.monotonic()
        elif stream in ("main", "sub"):
            self.demand[stream] = time.monotonic()
