"""What the notification benchmarks share: a throwaway data dir (SQLite), a private Redis,
Mosquitto, a webhook receiver, and the notifier as a subprocess; this process writes events as
the capture worker's recorder does (row and alert in one transaction, a wake-up after commit).

Import it first: it sets the environment and sets Django up."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
BASE = Path(tempfile.mkdtemp(prefix="bench-notify-"))
DATA = BASE / "data"
os.environ.update({
    "SURVEILLANCE_DATA_DIR": str(DATA), "REDIS_URL": f"unix://{BASE}/redis.sock",
    "DJANGO_SETTINGS_MODULE": "surveillance.settings",
})  # fmt: skip
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from cameras.models import Camera  # noqa: E402
from notifications.models import Webhook  # noqa: E402
from tests.harness import RedisMissingError, spawn, start_redis  # noqa: E402
from tests.notify_parts import Broker, Receiver, Request  # noqa: E402
from tests.processes import stop_process  # noqa: E402


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class TimedReceiver(Receiver):
    """The webhook receiver, noting when each delivery id first arrived (time.time())."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        super().__init__(self.note)

    def note(self, request: Request) -> int:
        self.arrived.setdefault(request.headers["X-Surveillance-Delivery"], time.time())
        return 200


class Rig:
    def __init__(self) -> None:
        self.processes: list[subprocess.Popen] = []
        DATA.mkdir(parents=True, exist_ok=True)
        call_command("migrate", verbosity=0)
        try:
            self.processes.append(start_redis(BASE / "redis.sock"))
        except RedisMissingError as exc:
            raise SystemExit(str(exc)) from None
        (BASE / "mqtt").mkdir()
        self.broker = Broker(BASE / "mqtt").start()
        self.camera = Camera.objects.create(slug="porch", name="Porch", source="demo")
        self.notifier: subprocess.Popen | None = None

    def add_webhook(self) -> TimedReceiver:
        receiver = TimedReceiver()
        Webhook.objects.create(name="bench", url=f"{receiver.url}/hook", allow_local=True)
        return receiver

    def start_notifier(self, mqtt: bool = True) -> subprocess.Popen:
        env = {"SURVEILLANCE_MQTT_URL": self.broker.url} if mqtt else {}
        self.notifier = self.start_process("notifier", **env)
        time.sleep(2)  # imports, the first connection to the broker, the wake-up channel
        return self.notifier

    def start_process(self, *command: str, **env: str) -> subprocess.Popen:
        """`manage.py COMMAND…`, logging to notifier.log (which close() reads for errors)."""
        argv = [sys.executable, str(REPO / "manage.py"), *command]
        process = spawn(argv, {**os.environ, "PYTHONPATH": str(REPO), **env}, BASE / "notifier.log")
        self.processes.append(process)
        return process

    def close(self) -> None:
        self.broker.stop()
        for process in reversed(self.processes):
            stop_process(process)
        log = BASE / "notifier.log"
        errors = [
            line for line in log.read_text().splitlines() if "ERROR" in line or "Trace" in line
        ]
        say(f"notifier log: {len(errors)} error line(s)" + "".join(f"\n  {e}" for e in errors[:5]))
