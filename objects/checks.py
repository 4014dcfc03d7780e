"""System checks for object detection (stable ids): a model that cannot run stops start-up with
the reason, instead of a detector process that crashes and restarts forever."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register

from objects.model import ModelMissing, bundled_model


@register()
def check_object_model(**kwargs: object) -> list[Error]:
    if not settings.OBJECT_DETECTION:
        return []
    if settings.OBJECT_MODEL.strip():
        return [
            Error(
                f"SURVEILLANCE_OBJECT_MODEL={settings.OBJECT_MODEL!r}: only the bundled person "
                "detector is supported yet.",
                hint="Leave it unset for the bundled detector, or set it to off.",
                id="surveillance.E020",
            )
        ]
    try:
        bundled_model()
    except ModelMissing as exc:
        return [Error(str(exc), hint="make run installs it", id="surveillance.E021")]
    return []
