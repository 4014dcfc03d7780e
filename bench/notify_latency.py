"""Motion start → MQTT message received, and → webhook received.

    .venv/bin/python bench/notify_latency.py [--events 200] [--gap 0.5] [--worker SECONDS]

Each event is written as the recorder writes one (row, snapshot-less, and its alert in one
transaction; the notifier woken after the commit); the clock starts just before that
transaction. A real MQTT client subscribed to surveillance/events and a real HTTP receiver note
when each alert id first arrives. Prints p50 / p95 / max in ms for both.

With --worker, a real capture worker watches a video where a box crosses every 8 s for that
many seconds instead; the clock starts when its recorder queued the alert (Alert.created_at,
in the transaction that writes the event and its first snapshot).
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

import bench.notify_rig as rig_module  # first: it sets Django up
from bench.notify_rig import Rig, percentile, say
from tests.notify_parts import Listener, end_motion, start_motion
from tests.processes import stop_process, wait_until
from tests.videos import write_video


class TimedListener(Listener):
    def __init__(self, *args: object, **kwargs: object) -> None:
        self.arrived: dict[str, float] = {}
        self.guard = threading.Lock()
        super().__init__(*args, **kwargs)

    def received(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        now = time.time()
        with self.guard:
            self.arrived.setdefault(json.loads(msg.payload)["id"], now)


def report(name: str, sent: dict[str, float], arrived: dict[str, float], budget: float) -> None:
    latencies = [(arrived[i] - t) * 1000 for i, t in sent.items() if i in arrived]
    missing = len(sent) - len(latencies)
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    verdict = "ok" if p95 <= budget and not missing else "OVER BUDGET"
    say(f"{name}: {len(latencies)} of {len(sent)} received; latency ms p50 {p50:.1f} "
        f"p95 {p95:.1f} max {max(latencies):.1f} (budget p95 {budget:.0f}) {verdict}")  # fmt: skip


def written_here(rig: Rig, args: argparse.Namespace) -> dict[str, float]:
    say(f"{args.events} events, one every {args.gap} s (data in {rig_module.BASE})")
    sent: dict[str, float] = {}
    for _ in range(args.events):
        started = time.time()
        event = start_motion(rig.camera)
        sent[str(event.alerts.get().uuid)] = started
        time.sleep(args.gap / 2)
        end_motion(event)
        time.sleep(args.gap / 2)
    return sent


def from_worker(rig: Rig, seconds: float) -> dict[str, float]:
    from events.models import Alert

    video = write_video(rig_module.BASE / "crossing.mp4", 8, moving=(2, 4))
    rig.camera.source, rig.camera.end_after = str(video), 1.0
    rig.camera.save()
    say(f"a capture worker on a box crossing every 8 s, for {seconds:.0f} s")
    worker = rig.start_process("capture", "porch")
    time.sleep(seconds)
    stop_process(worker)
    starts = Alert.objects.filter(kind="motion.start")
    return {str(a.uuid): a.created_at.timestamp() for a in starts}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between events")
    parser.add_argument("--worker", type=float, default=0, help="seconds of a real worker")
    args = parser.parse_args()
    rig = Rig()
    try:
        receiver = rig.add_webhook()
        listener = TimedListener(rig.broker, "surveillance/events", client_id="bench-latency")
        rig.start_notifier()
        sent = from_worker(rig, args.worker) if args.worker else written_here(rig, args)
        wait_until(lambda: set(sent) <= set(listener.arrived), 30, "the last messages")
        wait_until(lambda: set(sent) <= set(receiver.arrived), 30, "the last webhooks")
        report("motion start -> MQTT", sent, listener.arrived, 300)
        report("motion start -> webhook", sent, receiver.arrived, 500)
        listener.close()
        receiver.close()
    finally:
        rig.close()


if __name__ == "__main__":
    main()
