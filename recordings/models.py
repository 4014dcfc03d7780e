from __future__ import annotations

import datetime as dt
import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone

from cameras.files import cascade_with_files, delete_with_files
from cameras.models import Camera

RECORDINGS = "recordings"  # the folder under the media root


def recording_name(camera: Camera, started_at: dt.datetime, kind: str) -> str:
    """recordings/YYYY/MM/DD/<camera>-<HHMMSS>-<kind>-<random>.mp4: folders by day keep them
    small, and the name says what it is without a query."""
    at = started_at.astimezone(dt.UTC)
    return f"{RECORDINGS}/{at:%Y/%m/%d}/{camera.slug}-{at:%H%M%S}-{kind}-{secrets.token_hex(4)}.mp4"


class RecordingQuerySet(models.QuerySet):
    def overlapping(self, start: dt.datetime, end: dt.datetime) -> RecordingQuerySet:
        """Recordings with video between start and end (an open one reaches to now)."""
        return self.filter(Q(ended_at__gt=start) | Q(ended_at__isnull=True), started_at__lt=end)

    def finished(self) -> RecordingQuerySet:
        return self.filter(ended_at__isnull=False)

    def delete_with_files(self) -> int:
        return delete_with_files(self)


class Recording(models.Model):
    """One MP4 file of a camera's video, as the camera sent it (or encoded once to H.264): a
    clip around a motion event, or a segment of continuous recording."""

    class Kind(models.TextChoices):
        CLIP = "clip", "event clip"
        SEGMENT = "segment", "continuous segment"

    camera = models.ForeignKey(Camera, on_delete=cascade_with_files, related_name="recordings")
    kind = models.CharField(max_length=10, choices=Kind)
    started_at = models.DateTimeField(default=timezone.now)  # the first frame's capture time
    ended_at = models.DateTimeField(null=True, blank=True)  # None while it is being written
    file = models.FileField(max_length=200)
    size = models.PositiveBigIntegerField(default=0, help_text="Bytes, once finished.")
    codec = models.CharField(max_length=16)  # h264 or hevc
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)

    objects = RecordingQuerySet.as_manager()

    FILE_FIELDS = ("file",)

    class Meta:
        indexes = [
            # a camera's video over a span: the timeline, exports, an event's clip
            models.Index(fields=["camera", "started_at"], name="recording_camera_started"),
            # the oldest video first, for retention
            models.Index(fields=["started_at"], name="recording_started"),
        ]

    def __str__(self) -> str:
        return f"{self.camera} {self.get_kind_display()} at {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def ongoing(self) -> bool:
        return self.ended_at is None

    def finish(self, ended_at: dt.datetime, size: int) -> None:
        self.ended_at, self.size = ended_at, size
        Recording.objects.filter(pk=self.pk).update(ended_at=ended_at, size=size)
