"""The capture worker's link to the channel layer, run on its own asyncio loop in a thread.

The capture loop is synchronous (OpenCV reads block, the ORM is sync); publishing must never block
it. So the bus owns one event loop, and with it one Redis connection for the worker's life
(`async_to_sync(group_send)` per message would open a new one each time). `publish()` hands a
message over and returns at once; one sender sends them in order (a motion.end never overtakes
its motion.start, a frame never an older one). When too many wait (Redis slow or gone) the
message is dropped and counted, never queued without bound.

The bus also listens on the worker's own channel for viewer demand: web processes say every
second which frame widths somebody is watching, and the worker encodes only those.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque

from channels.layers import BaseChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)

DEMAND_TTL = 3.0  # seconds a demand message keeps a width encoded
SEND_TIMEOUT = 2.0  # a send stuck longer (a dead link to Redis) frees its slot


class Bus:
    def __init__(
        self, listen_channel: str | None = None, layer: BaseChannelLayer | None = None
    ) -> None:
        self.listen_channel = listen_channel
        self.layer = layer or get_channel_layer()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bus", daemon=True)
        self.outbox: deque[tuple[str, dict]] = deque()  # append/popleft are thread-safe
        self.wakeup = asyncio.Event()
        self.max_pending = 50
        self.dropped = 0
        self.failing = False
        self.demand: dict[int, float] = {}  # width -> monotonic time of the last request
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

    def stop(self, timeout: float = 2.0) -> None:
        """Send what is in flight (bounded by timeout), then end the loop."""
        deadline = time.monotonic() + timeout
        while self.outbox and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(self.end(), self.loop).result(timeout)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout)

    def publish(self, group: str, message: dict) -> bool:
        """Queue a group_send; False when dropped because the layer is not keeping up."""
        if len(self.outbox) >= self.max_pending or not self.loop.is_running():
            self.dropped += 1
            return False
        self.outbox.append((group, message))
        self.loop.call_soon_threadsafe(self.wakeup.set)
        return True

    async def send_all(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while self.outbox:
                group, message = self.outbox[0]
                try:
                    await asyncio.wait_for(self.layer.group_send(group, message), SEND_TIMEOUT)
                except Exception as error:  # Redis slow or gone: this one is lost, go on
                    self.sent(error)
                else:
                    self.sent(None)
                finally:
                    self.outbox.popleft()

    def sent(self, error: Exception | None) -> None:
        if error is not None and not self.failing:
            logger.warning("channel layer unavailable, dropping messages: %r", error)
        elif error is None and self.failing:
            logger.info("channel layer reachable again")
        self.failing = error is not None
        if error is not None:
            self.dropped += 1

    def watched_widths(self) -> list[int]:
        """Frame widths somebody asked for within the last few seconds (0 = full size)."""
        now = time.monotonic()
        return [width for width, at in list(self.demand.items()) if now - at < DEMAND_TTL]

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
                width = message.get("width")
                if isinstance(width, int) and width >= 0:
                    self.demand[width] = time.monotonic()
