"""System checks for the notification settings (stable ids): a wrong URL stops start-up with
the reason, instead of a notifier that retries a broker that cannot exist."""

from __future__ import annotations

from django.core.checks import Error, register

from notifications.config import ConfigError, email_server, mqtt_server, public_url

CHECKS = [
    (mqtt_server, "surveillance.E010", "mqtt://[user:pass@]host[:port] or mqtts://…"),
    (email_server, "surveillance.E011", "smtp://[user:pass@]host[:port] or smtps://…"),
    (public_url, "surveillance.E012", "e.g. https://cams.example.org"),
]


@register()
def check_notification_urls(**kwargs: object) -> list[Error]:
    errors = []
    for parse, check_id, hint in CHECKS:
        try:
            parse()
        except ConfigError as exc:
            errors.append(Error(str(exc), hint=hint, id=check_id))
    return errors
