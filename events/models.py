from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from cameras.models import Camera

if TYPE_CHECKING:
    from cameras.bus import Bus

logger = logging.getLogger(__name__)


def snapshot_path(event: MotionEvent, filename: str) -> str:
    """Date-based paths keep folders small and make retention by day cheap."""
    day = event.started_at.astimezone(dt.UTC)
    return f"snapshots/{day:%Y/%m/%d}/{event.camera.slug}-{filename}"


class MotionEventQuerySet(models.QuerySet):
    def for_user(self, user: AbstractBaseUser | AnonymousUser) -> MotionEventQuerySet:
        return self.filter(camera__in=Camera.objects.visible_to(user))

    def recent(self) -> MotionEventQuerySet:
        return self.order_by("-started_at")

    def ongoing(self) -> MotionEventQuerySet:
        return self.filter(ended_at__isnull=True)


class MotionEvent(models.Model):
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="events")
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    peak_area = models.FloatField(default=0.0, help_text="Largest fraction of the frame moving.")
    boxes = models.JSONField(
        default=list, blank=True, help_text="Moving regions [x, y, w, h] (0..1) at the peak."
    )
    snapshot = models.ImageField(upload_to=snapshot_path, blank=True)
    snapshot_clean = models.ImageField(upload_to=snapshot_path, blank=True)

    objects = MotionEventQuerySet.as_manager()

    class Meta:
        indexes = [
            # events of one camera, newest first (dashboard, admin camera filter)
            models.Index(fields=["camera", "-started_at"], name="event_camera_started"),
            # every list newest first, and date ranges
            models.Index(fields=["-started_at"], name="event_started"),
        ]

    def __str__(self) -> str:
        return f"{self.camera} at {self.started_at:%Y-%m-%d %H:%M:%S}"

    def get_absolute_url(self) -> str:
        return reverse("admin:events_motionevent_change", args=[self.pk])

    @property
    def duration(self) -> dt.timedelta | None:
        return self.ended_at - self.started_at if self.ended_at else None

    @property
    def snapshot_url(self) -> str:
        return reverse("event-snapshot", args=[self.pk]) if self.snapshot else ""

    def to_dict(self) -> dict:
        """What goes on the wire: the websocket, JSON views and tests."""
        return {
            "id": self.pk,
            "camera": self.camera.slug,
            "camera_name": self.camera.name,
            "started_at": self.started_at.isoformat(timespec="milliseconds"),
            "ended_at": self.ended_at.isoformat(timespec="milliseconds") if self.ended_at else None,
            "area": round(self.peak_area, 4),
            "snapshot_url": self.snapshot_url,
        }

    def announce(self, kind: str, bus: Bus) -> None:
        """Send motion.start / motion.end to viewers of the camera once the row is committed."""
        transaction.on_commit(
            lambda: bus.publish(self.camera.group_name, {"type": kind, "event": self.to_dict()})
        )

    def save_snapshots(self, annotated: bytes, clean: bytes) -> None:
        """Write both JPEGs (outside any transaction), then point the row at them."""
        old = [f.name for f in (self.snapshot, self.snapshot_clean) if f]
        self.snapshot.save(f"{self.pk}.jpg", ContentFile(annotated), save=False)
        self.snapshot_clean.save(f"{self.pk}-clean.jpg", ContentFile(clean), save=False)
        self.save(update_fields=["snapshot", "snapshot_clean"])
        for name in old:
            self.snapshot.storage.delete(name)

    def finish(self, ended_at: dt.datetime) -> None:
        self.ended_at = ended_at
        self.save(update_fields=["ended_at", "peak_area", "boxes"])
