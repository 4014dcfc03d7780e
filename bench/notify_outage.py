"""Messages queued during a broker outage: all delivered, in order, soon after it returns.

    .venv/bin/python bench/notify_outage.py [--messages 1000] [--outage 600]

Mosquitto (persisting, so the listener's QoS 1 session survives) is stopped; while it is away
this process writes `--messages` alerts (half motion.start, half motion.end) spread over the
first half of the outage; then the broker starts again. Measured: seconds from the broker's
return until every alert id has arrived at the listener, and whether the first arrival of each
id is in the order the alerts were made (repeats of an id already seen are counted, not errors:
that is what the id is for).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.notify_rig import Rig, say  # first: it sets Django up
from tests.notify_parts import Listener, end_motion, start_motion
from tests.processes import wait_until


class OrderListener(Listener):
    def __init__(self, *args: object, **kwargs: object) -> None:
        self.order: list[str] = []
        self.seen: set[str] = set()
        self.repeats = 0
        self.guard = threading.Lock()
        super().__init__(*args, **kwargs)

    def received(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        alert_id = json.loads(msg.payload)["id"]
        with self.guard:
            if alert_id in self.seen:
                self.repeats += 1
            else:
                self.seen.add(alert_id)
                self.order.append(alert_id)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--outage", type=float, default=600, help="seconds the broker is away")
    args = parser.parse_args()
    rig = Rig()
    try:
        listener = OrderListener(rig.broker, "surveillance/events", client_id="bench-outage")
        rig.start_notifier()
        time.sleep(1)
        rig.broker.stop()
        gone = time.monotonic()
        say(f"broker stopped; writing {args.messages} alerts over {args.outage / 2:.0f} s")
        made: list[str] = []
        pause = args.outage / 2 / (args.messages / 2)
        while len(made) < args.messages:
            event = start_motion(rig.camera)
            made.append(str(event.alerts.get().uuid))
            end_motion(event)
            made.append(str(event.alerts.get(kind="motion.end").uuid))
            time.sleep(pause)
        time.sleep(max(0.0, args.outage - (time.monotonic() - gone)))
        rig.broker.start()
        back = time.monotonic()
        say(f"broker back after {back - gone:.0f} s")
        wait_until(lambda: len(listener.seen) >= len(made), 120, "every message")
        took = time.monotonic() - back
        in_order = listener.order == made
        verdict = "ok" if took <= 30 and in_order else "FAILED"
        say(f"{len(listener.seen)} of {len(made)} alerts delivered {took:.1f} s after the broker "
            f"returned (budget 30 s); in order: {in_order}; repeats of an id: "
            f"{listener.repeats} {verdict}")  # fmt: skip
        listener.close()
    finally:
        rig.close()


if __name__ == "__main__":
    main()
