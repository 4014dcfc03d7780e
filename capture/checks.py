"""System checks for configuration that would break the product at run time (stable ids)."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_channel_layer(**kwargs: object) -> list[Error]:
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    if backend.endswith("InMemoryChannelLayer"):
        return [
            Error(
                "The in-memory channel layer cannot carry frames and alerts between processes.",
                hint="Use channels_redis.core.RedisChannelLayer (set REDIS_URL or leave it unset).",
                id="surveillance.E001",
            )
        ]
    return []


@register()
def check_data_dir(**kwargs: object) -> list[Error]:
    if not os.access(settings.DATA_DIR, os.W_OK):
        return [
            Error(
                f"The data directory {settings.DATA_DIR} is not writable.",
                hint="Set SURVEILLANCE_DATA_DIR to a writable directory.",
                id="surveillance.E002",
            )
        ]
    return []


@register()
def check_redis_url(**kwargs: object) -> list[Error]:
    if settings.REDIS_URL.split("://", 1)[0] not in {"redis", "rediss", "unix"}:
        return [
            Error(
                "REDIS_URL must start with redis://, rediss:// or unix://.",
                id="surveillance.E003",
            )
        ]
    return []
