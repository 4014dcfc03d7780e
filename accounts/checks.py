"""System checks for the login settings (stable ids)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register

from accounts.proxies import parse_networks


@register()
def check_trusted_proxies(**kwargs: object) -> list[Error]:
    try:
        parse_networks(settings.TRUSTED_PROXIES)
    except ValueError as exc:
        return [
            Error(
                str(exc),
                hint="A comma-separated list of addresses or networks, e.g. 127.0.0.1,10.0.0.0/8.",
                id="accounts.E001",
            )
        ]
    return []
