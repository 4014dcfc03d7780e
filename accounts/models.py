from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone


def cooloff_start(now: dt.datetime | None = None) -> dt.datetime:
    """Failures before this no longer count (django-axes' cool-off, the same for devices)."""
    return (now or timezone.now()) - settings.AXES_COOLOFF_TIME


class LoginDeviceQuerySet(models.QuerySet):
    def locked(self, nonce: str, now: dt.datetime | None = None) -> bool:
        """Whether this device has spent its own allowance of wrong passwords."""
        return self.filter(
            nonce=nonce,
            failures__gte=settings.AXES_FAILURE_LIMIT,
            failed_at__gte=cooloff_start(now),
        ).exists()


class LoginDevice(models.Model):
    """A browser that has logged in as `username` before (it holds a signed device cookie with
    this nonce) and has since sent wrong passwords: counted apart from everyone else's, as OWASP
    describes device cookies. Devices without recent failures have no row."""

    nonce = models.CharField(max_length=32, unique=True)
    username = models.CharField(max_length=150)
    failures = models.PositiveIntegerField(default=0)
    failed_at = models.DateTimeField(default=timezone.now)

    objects = LoginDeviceQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.username} device {self.nonce[:6]}…"

    @classmethod
    def count_failure(cls, nonce: str, username: str) -> None:
        now = timezone.now()
        with transaction.atomic():
            cls.objects.filter(failed_at__lt=cooloff_start(now)).delete()  # forgotten by now
            device, _ = cls.objects.select_for_update().get_or_create(
                nonce=nonce, defaults={"username": username}
            )
            device.failures += 1
            device.failed_at = now
            device.save(update_fields=["failures", "failed_at"])
