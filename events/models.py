from __future__ import annotations

import contextlib
import datetime as dt
import heapq
import itertools
import logging
import uuid
from collections.abc import Callable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from cameras.files import cascade_with_files, delete_with_files
from cameras.models import Camera
from recordings.models import Recording

logger = logging.getLogger(__name__)

# Hands a message to the channel layer for a group (the capture worker's Bus.publish).
Publish = Callable[[str, dict], object]
# The notifier listens here for "an alert was queued": a wake-up only, the row is the message.
NOTIFIER_GROUP = "notifier"
# What the object detector can find (the bundled model's classes, objects/detector.py): the
# choices of the event list's and the admin's filter.
OBJECT_LABELS = ("person",)


def snapshot_path(event: MotionEvent, filename: str) -> str:
    """Date-based paths keep folders small and make retention by day cheap."""
    day = event.started_at.astimezone(dt.UTC)
    return f"snapshots/{day:%Y/%m/%d}/{event.camera.slug}-{filename}"


class EventLength(models.Func):
    """ended_at - started_at in seconds, computed by the database itself (NULL while ongoing).
    Django's own datetime arithmetic calls a Python function per row on SQLite: a duration
    filter over 100 000 events took a second."""

    arg_joiner = " - "
    template = "EXTRACT(EPOCH FROM (%(expressions)s))"
    output_field = models.FloatField()

    def __init__(self) -> None:
        super().__init__(F("ended_at"), F("started_at"))

    def as_sqlite(self, compiler: object, connection: object, **extra: object) -> tuple:
        return self.as_sql(
            # julianday() counts days in a double: rounded to the millisecond, 10.000 s is
            # not 9.9999999 s
            compiler, connection, template="ROUND((julianday(%(expressions)s)) * 86400.0, 3)",
            arg_joiner=") - julianday(", **extra,
        )  # fmt: skip


class MotionEventQuerySet(models.QuerySet):
    def for_user(self, user: AbstractBaseUser | AnonymousUser) -> MotionEventQuerySet:
        return self.filter(camera__in=Camera.objects.visible_to(user))

    def recent(self) -> MotionEventQuerySet:
        return self.order_by("-started_at")

    def newest_first(self) -> MotionEventQuerySet:
        """Newest first, the id breaking ties: the order pages and cursors walk."""
        return self.order_by("-started_at", "-pk")

    def after_in_list(self, started_at: dt.datetime, pk: int) -> MotionEventQuerySet:
        """The events that come after this one, newest first (a cursor's page). Written as a
        range on started_at, which its index serves, less the ties already listed."""
        return self.filter(started_at__lte=started_at).exclude(started_at=started_at, pk__gte=pk)

    def newest_for(self, user: AbstractBaseUser | AnonymousUser, limit: int) -> list[MotionEvent]:
        """The first `limit` of these events, newest first, of the cameras this user may view.

        One query when they may view every camera; else one per camera, merged. SQLite sorts
        all the events of an IN (...) of cameras (0.1 s at 100 000 events) instead of walking
        an index, while each camera's own index hands over its newest at once."""
        visible = set(Camera.objects.visible_to(user).values_list("pk", flat=True))
        if visible == set(Camera.objects.values_list("pk", flat=True)):
            return list(self.newest_first()[:limit])
        per_camera = [self.filter(camera_id=pk).newest_first()[:limit] for pk in visible]
        merged = heapq.merge(*per_camera, key=lambda e: (e.started_at, e.pk), reverse=True)
        return list(itertools.islice(merged, limit))

    def with_object(self, label: str) -> MotionEventQuerySet:
        """Events in which the detector found this label; "none": those with nothing found (the
        event list's and admin's filter; no index: a JSON key lookup walks the events the other
        filters leave)."""
        if label == "none":
            return self.filter(found={})
        return self.filter(found__has_key=label)

    def with_clip(self, has_clip: bool) -> MotionEventQuerySet:
        """Events with recorded video (their own clip, or the segment they began in), or
        without."""
        return self.filter(clip__isnull=not has_clip)

    def ongoing(self) -> MotionEventQuerySet:
        return self.filter(ended_at__isnull=True)

    def finished(self) -> MotionEventQuerySet:
        return self.filter(ended_at__isnull=False)

    def prunable(self) -> MotionEventQuerySet:
        """Events retention may delete: finished, and not marked "keep"."""
        return self.filter(ended_at__isnull=False, keep=False)

    def lasting_at_least(self, seconds: float) -> MotionEventQuerySet:
        """Finished events at least this long (an ongoing event's length is not known yet)."""
        return self.alias(length=EventLength()).filter(length__gte=seconds)

    def lasting_under(self, seconds: float) -> MotionEventQuerySet:
        """Finished events shorter than this."""
        return self.alias(length=EventLength()).filter(length__lt=seconds)

    def started_between(
        self, start: dt.datetime | None = None, end: dt.datetime | None = None
    ) -> MotionEventQuerySet:
        """Events that started at or after `start` and before `end` (either may be open)."""
        events = self
        if start is not None:
            events = events.filter(started_at__gte=start)
        if end is not None:
            events = events.filter(started_at__lt=end)
        return events

    def changed_since(self, since: dt.datetime) -> MotionEventQuerySet:
        """Events that started or ended after `since`: what a reconnecting dashboard missed."""
        return self.filter(models.Q(started_at__gt=since) | models.Q(ended_at__gt=since))

    def hourly_activity(
        self, hours: int = 24, now: dt.datetime | None = None
    ) -> dict[int, list[int]]:
        """Events started per camera id in each of the last `hours` hours, oldest hour first."""
        now = now or timezone.now()
        start = now - dt.timedelta(hours=hours)
        counts: dict[int, list[int]] = {}
        for camera_id, started_at in self.started_between(start, now).values_list(
            "camera_id", "started_at"
        ):
            hour = min(hours - 1, int((started_at - start).total_seconds() // 3600))
            counts.setdefault(camera_id, [0] * hours)[hour] += 1
        return counts

    def delete_with_files(self) -> int:
        """Delete the events and the clips of their own, then their files once the rows are
        gone for good (cameras/files.py). A continuous segment stays: it is not theirs."""
        clips = set(self.filter(clip__kind=Recording.Kind.CLIP).values_list("clip", flat=True))
        with transaction.atomic(using=self.db):
            deleted = delete_with_files(self)
            unused = Recording.objects.filter(pk__in=clips, events__isnull=True)
            unused.delete_with_files()
        return deleted


class MotionEvent(models.Model):
    camera = models.ForeignKey(Camera, on_delete=cascade_with_files, related_name="events")
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    peak_area = models.FloatField(default=0.0, help_text="Largest fraction of the frame moving.")
    boxes = models.JSONField(
        default=list, blank=True, help_text="Moving regions [x, y, w, h] (0..1) at the peak."
    )
    snapshot = models.ImageField(upload_to=snapshot_path, blank=True)
    snapshot_clean = models.ImageField(upload_to=snapshot_path, blank=True)
    keep = models.BooleanField(default=False, help_text="Never deleted to make room or by age.")
    # Not "objects", which is the manager: what the object detector found, best of each label.
    found = models.JSONField(
        default=dict,
        blank=True,
        help_text='Objects found: {label: {"score": 0..1, "box": [x, y, w, h]}} (0..1).',
    )
    quiet = models.BooleanField(
        default=False,
        help_text="Raised no alert: its camera alerts only on objects, and none was found.",
    )
    # The video of the event: its own clip, or the continuous segment it began in.
    clip = models.ForeignKey(
        Recording, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )

    objects = MotionEventQuerySet.as_manager()

    FILE_FIELDS = ("snapshot", "snapshot_clean")  # what is deleted with the event

    class Meta:
        indexes = [
            # events of one camera, newest first (dashboard, admin camera filter)
            models.Index(fields=["camera", "-started_at"], name="event_camera_started"),
            # every list newest first (ties in order of id: the API's cursor), and date ranges
            models.Index(fields=["-started_at", "-id"], name="event_started_id"),
            # ongoing events only, a handful: the admin's "ongoing" filter (newest first, its
            # count, the date hierarchy's first and last) without walking every event
            models.Index(
                fields=["-started_at"],
                condition=models.Q(ended_at__isnull=True),
                name="event_ongoing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.camera} at {self.started_at:%Y-%m-%d %H:%M:%S}"

    def get_absolute_url(self) -> str:
        return reverse("event-detail", args=[self.pk])

    @property
    def duration(self) -> dt.timedelta | None:
        return self.ended_at - self.started_at if self.ended_at else None

    @property
    def seconds(self) -> float | None:
        """The event's length in seconds, to the millisecond; None while it goes on."""
        duration = self.duration
        return round(duration.total_seconds(), 3) if duration is not None else None

    @property
    def duration_label(self) -> str:
        """The length as every page, the admin and the live toasts show it: tenths of a second
        under a minute (most events), coarser above; "ongoing" while it goes on."""
        if self.seconds is None:
            return "ongoing"
        if self.seconds < 59.95:  # 59.96 would read "60.0 s"
            return f"{self.seconds:.1f} s"
        minutes, seconds = divmod(round(self.seconds), 60)
        if minutes < 60:
            return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
        hours, minutes = divmod(minutes, 60)
        return f"{hours} h {minutes} min"

    @property
    def area_label(self) -> str:
        return f"{self.peak_area:.1%}"

    @property
    def snapshot_url(self) -> str:
        return reverse("event-snapshot", args=[self.pk]) if self.snapshot else ""

    @property
    def clip_url(self) -> str | None:
        return reverse("event-clip", args=[self.pk]) if self.clip_id else None

    def to_dict(self) -> dict:
        """What goes on the wire: the websocket, JSON views and tests."""
        return {
            "id": self.pk,
            "camera": self.camera.slug,
            "camera_name": self.camera.name,
            "started_at": self.started_at.isoformat(timespec="milliseconds"),
            "ended_at": self.ended_at.isoformat(timespec="milliseconds") if self.ended_at else None,
            "area": round(self.peak_area, 4),
            "duration": self.seconds,
            "duration_label": self.duration_label,
            "snapshot_url": self.snapshot_url,
            "clip_url": self.clip_url,
            "url": self.get_absolute_url(),
            "objects": self.objects_found,
            "alert": not self.quiet,
        }

    @property
    def objects_found(self) -> dict[str, float]:
        """{label: best score}, as the wire carries it."""
        return {label: found["score"] for label, found in sorted(self.found.items())}

    @property
    def objects_label(self) -> str:
        """ "person 91 %", for lists."""
        return ", ".join(f"{label} {score:.0%}" for label, score in self.objects_found.items())

    def queue_alert(self, kind: str, publish: Publish | None = None) -> Alert:
        """Put `kind` (motion.start, motion.end, later motion.update) in the outbox, in the
        caller's transaction: the alert exists exactly when what makes the event alertable
        does. The notifier is woken once it is committed (it polls slowly besides)."""
        armed = Camera.objects.filter(pk=self.camera_id).values_list("armed", flat=True).first()
        alert = Alert.objects.create(
            event=self,
            camera_id=self.camera_id,
            kind=kind,
            message={"type": kind, "event": self.to_dict()},
            armed=bool(armed),
        )
        if publish is not None:
            wake = {"type": "alert.queued", "alert": alert.pk}
            transaction.on_commit(lambda: publish(NOTIFIER_GROUP, wake))
        return alert

    def announce(self, kind: str, publish: Publish) -> None:
        """Send motion.start / .update / .end to viewers of the camera once the row is
        committed."""
        transaction.on_commit(
            lambda: publish(self.camera.group_name, {"type": kind, "event": self.to_dict()})
        )

    def save_snapshots(self, annotated: bytes, clean: bytes) -> None:
        """Write both JPEGs (outside any transaction), then point the row at them.

        If a write fails (a full disk), the files this call began are removed and the row keeps
        what it had: no half-written file stays behind, and no row points at one."""
        storage = self.snapshot.storage
        old = [f.name for f in (self.snapshot, self.snapshot_clean) if f]
        written: list[str] = []
        try:
            for field, suffix, data in (
                (self.snapshot, "", annotated),
                (self.snapshot_clean, "-clean", clean),
            ):
                name = field.field.generate_filename(self, f"{self.pk}{suffix}.jpg")
                written.append(storage.get_available_name(name))  # a failed write leaves a part
                written[-1] = storage.save(written[-1], ContentFile(data))
        except OSError:
            for name in written:
                with contextlib.suppress(OSError):
                    storage.delete(name)
            raise
        self.snapshot.name, self.snapshot_clean.name = written
        self.save(update_fields=["snapshot", "snapshot_clean"])
        for name in old:
            storage.delete(name)

    def delete_with_files(self) -> None:
        MotionEvent.objects.filter(pk=self.pk).delete_with_files()

    def attach_clip(self, recording: Recording) -> None:
        """The video of this event, once the recorder has opened it."""
        self.clip = recording
        MotionEvent.objects.filter(pk=self.pk).update(clip=recording)

    def add_found(self, found: dict[str, dict], publish: Publish) -> bool:
        """Objects the detector found in this event ({label: {"score", "box"}}): the better of
        each label is kept; viewers hear motion.update, and an event that now qualifies for its
        camera's alert stops being quiet and queues that alert. True if anything changed.

        One transaction, the row locked (the capture worker writes the same row at the end)."""
        with transaction.atomic():
            event = (
                MotionEvent.objects.select_for_update(of=("self",))
                .select_related("camera")
                .filter(pk=self.pk)
                .first()
            )
            if event is None:  # deleted meanwhile
                return False
            better = {
                label: item
                for label, item in found.items()
                if item["score"] > event.found.get(label, {}).get("score", 0.0)
            }
            if not better:
                return False
            event.found = {**event.found, **better}
            qualifies = event.quiet and event.camera.wants_alert(event.objects_found)
            event.quiet = event.quiet and not qualifies
            event.save(update_fields=["found", "quiet"])
            if not event.quiet:  # MQTT and webhooks hear what was found in an alerting event
                event.queue_alert("motion.update", publish)
            event.announce("motion.update", publish)
        self.found, self.quiet = event.found, event.quiet
        return True

    def reload_found(self) -> None:
        """`found` and `quiet` as the detector process left them (kept if the row is gone: the
        save that follows then fails as it always did, with a DatabaseError)."""
        fresh = MotionEvent.objects.filter(pk=self.pk).values("found", "quiet").first()
        if fresh is not None:
            self.found, self.quiet = fresh["found"], fresh["quiet"]

    def finish(self, ended_at: dt.datetime) -> None:
        self.ended_at = ended_at
        self.save(update_fields=["ended_at", "peak_area", "boxes"])


class AlertQuerySet(models.QuerySet):
    def undispatched(self) -> AlertQuerySet:
        """Alerts the notifier has not yet turned into deliveries, oldest first."""
        return self.filter(dispatched_at__isnull=True).order_by("pk")


class Alert(models.Model):
    """One message of the durable outbox: what notifications deliver, at least once.

    `message` is the websocket's {"type", "event"} as it was when the alert was queued; `uuid`
    travels with every copy of it so that receivers can drop repeats."""

    class Kind(models.TextChoices):
        START = "motion.start", "motion start"
        END = "motion.end", "motion end"
        UPDATE = "motion.update", "motion update"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.ForeignKey(MotionEvent, on_delete=models.CASCADE, related_name="alerts")
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=20, choices=Kind)
    message = models.JSONField()
    armed = models.BooleanField(
        default=True, help_text="The camera was armed when the alert was queued."
    )
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        indexes = [
            # the notifier's poll: the few alerts not yet dispatched, oldest first
            models.Index(
                fields=["id"], condition=models.Q(dispatched_at__isnull=True),
                name="alert_undispatched",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.kind} of {self.event_id}"
