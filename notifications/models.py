"""What notifications deliver to whom: webhooks, people's choices, push subscriptions, and one
delivery row per alert and target, with its tries."""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from cameras.models import Camera
from events.models import Alert
from notifications.targets import Policy, TargetRefused, checked_address, split_url

GIVE_UP_AFTER = dt.timedelta(hours=6)  # a delivery still failing this long after its alert
RETRY_LIMIT = 900.0  # seconds: tries RETRY_FIRST, twice that … at most 15 min apart


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class Webhook(models.Model):
    name = models.CharField(max_length=100)
    url = models.CharField(  # checked by clean(): http(s), and where it points
        max_length=500,
        help_text="http:// or https://; home LAN addresses are fine, redirects are not followed.",
    )
    secret = models.CharField(
        max_length=200,
        default=new_secret,
        help_text="Signs every message (X-Surveillance-Signature: sha256=HMAC of the body).",
    )
    cameras = models.ManyToManyField(
        Camera, blank=True, related_name="webhooks", help_text="None chosen: every camera."
    )
    on_start = models.BooleanField(default=True, help_text="Post motion.start.")
    on_end = models.BooleanField(default=True, help_text="Post motion.end.")
    allow_local = models.BooleanField(
        default=False,
        help_text="Allow loopback, link-local and cloud-metadata addresses (this machine "
        "itself, 169.254.x.x). Leave off unless the receiver runs here.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]  # a short table

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            split_url(self.url)
            checked_address(self.url, self.policy)
        except TargetRefused as exc:
            raise ValidationError({"url": str(exc)}) from None

    @property
    def policy(self) -> Policy:
        return Policy(allow_local=self.allow_local)

    def wants(self, alert: Alert) -> bool:
        """Whether this webhook posts this alert (its cameras and kinds)."""
        if not self.enabled or not alert.armed:
            return False
        if alert.kind == Alert.Kind.START and not self.on_start:
            return False
        if alert.kind == Alert.Kind.END and not self.on_end:
            return False
        chosen = [camera.pk for camera in self.cameras.all()]
        return not chosen or alert.camera_id in chosen


class Preference(models.Model):
    """One person's choices for e-mail and Web Push (MQTT and webhooks are site-wide)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    email = models.BooleanField(
        default=False, help_text="E-mail me when motion starts (to my account's address)."
    )
    push = models.BooleanField(
        default=True, help_text="Push to the browsers where I pressed Notify."
    )
    cameras = models.ManyToManyField(
        Camera, blank=True, related_name="+", help_text="None chosen: every camera I may view."
    )
    quiet_from = models.TimeField(null=True, blank=True, help_text="Quiet hours start (local).")
    quiet_until = models.TimeField(null=True, blank=True, help_text="Quiet hours end (local).")
    cooldown = models.PositiveIntegerField(
        default=60,
        help_text="Seconds after a notification about a camera before the next one about it.",
    )

    def __str__(self) -> str:
        return f"notification choices of {self.user}"

    def quiet_at(self, moment: dt.datetime) -> bool:
        if self.quiet_from is None or self.quiet_until is None:
            return False
        now = timezone.localtime(moment).time()
        if self.quiet_from <= self.quiet_until:
            return self.quiet_from <= now < self.quiet_until
        return now >= self.quiet_from or now < self.quiet_until  # across midnight

    def covers(self, camera_id: int) -> bool:
        chosen = [camera.pk for camera in self.cameras.all()]
        return not chosen or camera_id in chosen

    @classmethod
    def of(cls, user: AbstractBaseUser) -> Preference:
        return cls.objects.get_or_create(user=user)[0]


class PushSubscription(models.Model):
    """A browser that asked for pushes: its push service endpoint and its keys (RFC 8291)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.CharField(max_length=1000, unique=True)  # checked where it is entered
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user} on {self.user_agent or 'a browser'}"


class DeliveryQuerySet(models.QuerySet):
    def due(self, channel: str, now: dt.datetime | None = None) -> DeliveryQuerySet:
        """Pending deliveries of a channel whose time has come, in the order alerts were made."""
        now = now or timezone.now()
        return self.filter(
            channel=channel, status=Delivery.Status.PENDING, next_try_at__lte=now
        ).order_by("pk")


class Delivery(models.Model):
    class Channel(models.TextChoices):
        MQTT = "mqtt", "MQTT"
        WEBHOOK = "webhook", "webhook"
        EMAIL = "email", "e-mail"
        PUSH = "push", "Web Push"

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        SENT = "sent", "sent"
        FAILED = "failed", "failed"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Channel)
    webhook = models.ForeignKey(Webhook, null=True, blank=True, on_delete=models.CASCADE)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )
    subscription = models.ForeignKey(
        PushSubscription, null=True, blank=True, on_delete=models.CASCADE
    )
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    tries = models.PositiveIntegerField(default=0)
    next_try_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            # each channel's lane: its pending deliveries that are due, oldest first
            models.Index(
                fields=["channel", "next_try_at", "id"],
                condition=models.Q(status="pending"),
                name="delivery_due",
            ),
            # the admin's delivery log, newest first
            models.Index(fields=["-created_at"], name="delivery_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} delivery of {self.alert}"

    def sent(self) -> None:
        self.status, self.sent_at = self.Status.SENT, timezone.now()
        self.tries += 1
        self.last_error = ""
        self.save(update_fields=["status", "sent_at", "tries", "last_error"])

    def failed(self, error: str, permanent: bool = False) -> None:
        """Try again later with back-off, or give up: permanent, or its alert is too old."""
        now = timezone.now()
        self.tries += 1
        self.last_error = error[:500]
        if permanent or now - self.alert.created_at > GIVE_UP_AFTER:
            self.status = self.Status.FAILED
        else:
            delay = min(RETRY_LIMIT, settings.NOTIFY_RETRY_FIRST * 2 ** (self.tries - 1))
            self.next_try_at = now + dt.timedelta(seconds=delay)
        self.save(update_fields=["status", "tries", "last_error", "next_try_at"])
