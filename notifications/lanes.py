"""A lane delivers one channel's rows in a thread of its own, so that a webhook that never
answers does not hold up MQTT. Each lane sleeps until it is woken (new deliveries) or its next
retry is due."""

from __future__ import annotations

import datetime as dt
import logging
import threading

from django.db import DatabaseError, close_old_connections, connection
from django.db.models import Min
from django.utils import timezone

from notifications.models import Delivery

logger = logging.getLogger(__name__)

IDLE_WAIT = 30.0  # seconds a lane with nothing due sleeps at most (a retry due is sooner)
BATCH = 100


class Lane:
    channel: str = ""
    poll: float = IDLE_WAIT
    related: tuple[str, ...] = ("alert",)  # what deliver() reads of each row

    def __init__(self) -> None:
        self.wake = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self.run, name=f"lane-{self.channel}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping = True
        self.wake.set()

    def run(self) -> None:
        wait = 0.0
        try:
            while not self.stopping:
                self.wake.wait(wait)
                self.wake.clear()
                if self.stopping:
                    break
                wait = self.safe_step()
        finally:
            self.close()
            connection.close()

    def safe_step(self) -> float:
        try:
            self.step()
            return self.until_next()
        except DatabaseError as exc:
            logger.warning("%s: database unavailable: %s", self.channel, exc)
            close_old_connections()
        except Exception:  # a bug in one delivery must not end the lane
            logger.exception("%s: delivery failed", self.channel)
        return 5.0

    def step(self) -> None:
        """Deliver what is due, oldest first (until nothing is, or the lane is stopped)."""
        while not self.stopping:
            due = list(Delivery.objects.due(self.channel).select_related(*self.related)[:BATCH])
            for delivery in due:
                if self.stopping:
                    return
                self.deliver(delivery)
            if len(due) < BATCH:
                return

    def until_next(self) -> float:
        """Seconds until this channel's next retry is due (at most `poll`)."""
        pending = Delivery.objects.filter(channel=self.channel, status=Delivery.Status.PENDING)
        first = pending.aggregate(first=Min("next_try_at"))["first"]
        if first is None:
            return self.poll
        seconds = (first - timezone.now()) / dt.timedelta(seconds=1)
        return min(self.poll, max(0.05, seconds))

    def deliver(self, delivery: Delivery) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """The lane is ending (in its own thread)."""
