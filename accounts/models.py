from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, models, transaction
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


def token_digest(token: str) -> str:
    """SHA-256, hex. Not a slow password hash: a token is 192 random bits, so there is nothing to
    guess, and Home Assistant polls with it every few seconds."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> ApiTokenQuerySet:
        """Tokens that still work: not revoked, their user not deactivated."""
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiToken(models.Model):
    """A user's key for clients that cannot log in through the form (Home Assistant, VLC,
    ffmpeg, scripts): it reads what its user may see, on stream, image, clip and API URLs only.
    Shown once, when made; stored as its digest, found by its public prefix."""

    TAG = "svt_"
    FORMAT = re.compile(r"svt_([0-9a-f]{8})_[A-Za-z0-9_-]{32}")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8, unique=True, help_text="Public: names the token.")
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    TOUCH_EVERY = dt.timedelta(minutes=1)  # last_used_at is written at most this often

    def __str__(self) -> str:
        return f"{self.name} ({self.TAG}{self.prefix}…)"

    @classmethod
    def issue(cls, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
        """A new token for this user: the row, and the token itself (shown once, then gone)."""
        for _ in range(5):  # 32 random bits of prefix: a clash is rare, not impossible
            prefix = secrets.token_hex(4)
            token = f"{cls.TAG}{prefix}_{secrets.token_urlsafe(24)}"
            try:
                with transaction.atomic():
                    row = cls.objects.create(
                        user=user, name=name, prefix=prefix, digest=token_digest(token)
                    )
            except IntegrityError:
                continue
            return row, token
        raise IntegrityError("no free token prefix after 5 tries")

    @classmethod
    def prefix_of(cls, token: str) -> str | None:
        match = cls.FORMAT.fullmatch(token)
        return match.group(1) if match else None

    @classmethod
    def find(cls, token: str) -> ApiToken | None:
        """The active token this is, with its user; None for anything else."""
        prefix = cls.prefix_of(token)
        if prefix is None:
            return None
        # The prefix is unique: one row by its index, checked here rather than in the query
        # (this runs on every request a token makes; the ORM's compiling is most of its cost).
        found = list(cls.objects.select_related("user").filter(prefix=prefix)[:1])
        if not found or not hmac.compare_digest(found[0].digest, token_digest(token)):
            return None
        row = found[0]
        return row if row.revoked_at is None and row.user.is_active else None

    @property
    def label(self) -> str:
        """How pages and logs name it: its public prefix, never the token."""
        return f"{self.TAG}{self.prefix}…"

    def touch(self, now: dt.datetime | None = None) -> None:
        now = now or timezone.now()
        if self.last_used_at is None or now - self.last_used_at >= self.TOUCH_EVERY:
            self.last_used_at = now
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
