from __future__ import annotations

import signal

from django.core.management.base import BaseCommand

from notifications.notifier import Notifier


class Command(BaseCommand):
    help = "Deliver alerts: MQTT, webhooks, e-mail and Web Push (runsurveillance starts it)."

    def handle(self, **options: object) -> None:
        notifier = Notifier()  # the system checks have refused a wrong URL before this
        signal.signal(signal.SIGTERM, notifier.stop)
        signal.signal(signal.SIGINT, notifier.stop)
        notifier.run()
