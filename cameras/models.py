from __future__ import annotations

import contextlib

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from cameras.motion.segments import EventRules
from cameras.motion.settings import DetectorSettings
from cameras.sources import (
    MASK,
    SourceError,
    normalize_source,
    parse_source,
    redact,
    take_password,
    with_password,
)


def validate_mask(value: object) -> None:
    """A list of polygons, each at least three [x, y] points with 0 <= x, y <= 1."""
    message = "a list of polygons, each a list of at least three [x, y] points in 0..1"
    if not isinstance(value, list):
        raise ValidationError(message)
    for polygon in value:
        if not isinstance(polygon, list) or len(polygon) < 3:
            raise ValidationError(message)
        for point in polygon:
            if not (
                isinstance(point, list)
                and len(point) == 2
                and all(isinstance(v, int | float) and 0 <= v <= 1 for v in point)
            ):
                raise ValidationError(message)


DEFAULT_MIN_SCORE = 0.5  # an object's lowest score to alert on, when none is given


def parse_alert_objects(value: str) -> dict[str, float]:
    """ "person, car:0.7" -> {"person": 0.5, "car": 0.7}; ValueError if it is not that."""
    rules = {}
    for item in value.split(","):
        if not item.strip():
            continue
        label, _, score = item.partition(":")
        label = label.strip().lower()
        if not label or not label.replace("_", "").replace(" ", "").isalnum():
            raise ValueError(f"not a label: {item.strip()!r}")
        rules[label] = float(score) if score.strip() else DEFAULT_MIN_SCORE
        # The detector records nothing under its own minimum: a lower score would mean it anyway.
        if not DEFAULT_MIN_SCORE <= rules[label] <= 1:
            raise ValueError(f"the score of {label} must be in {DEFAULT_MIN_SCORE}..1")
    return rules


def validate_alert_objects(value: str) -> None:
    try:
        parse_alert_objects(value)
    except ValueError as exc:
        raise ValidationError(
            f'labels with optional scores, e.g. "person, car:0.7": {exc}'
        ) from exc


def validate_source(value: str) -> None:
    try:
        parse_source(value)
    except SourceError as exc:
        raise ValidationError(str(exc)) from exc


class CameraQuerySet(models.QuerySet):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> CameraQuerySet:
        """The one permission rule: staff see all, others what they or their groups may view."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_staff:
            return self
        return self.filter(Q(viewers=user) | Q(viewer_groups__user=user)).distinct()

    def enabled(self) -> CameraQuerySet:
        return self.filter(enabled=True)


class Camera(models.Model):
    class Status(models.TextChoices):
        STARTING = "starting", "starting"
        ONLINE = "online", "online"
        OFFLINE = "offline", "offline"
        ERROR = "error", "error"

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    source = models.CharField(
        max_length=500,
        validators=[validate_source],
        help_text="demo, a video file, rtsp://…, http://…, /dev/videoN, usb:N or picamera2:N",
    )
    # A camera's low-resolution second stream, if it has one: detection, snapshots and the
    # dashboard's tiles use it, while recordings and the full-size view copy the main one.
    detect_source = models.CharField(
        max_length=500,
        blank=True,
        validators=[validate_source],
        help_text="Optional: the camera's sub-stream (e.g. rtsp://…/stream2), to detect on.",
    )
    # Apart from the URL, so that no page, lookup, log line or status detail that shows the
    # source can show the password: only the worker puts it back, where it opens the camera.
    password = models.CharField(
        max_length=200,
        blank=True,
        help_text="The camera's password, if its URL needs one. Never shown once saved.",
    )
    enabled = models.BooleanField(default=True)
    armed = models.BooleanField(
        default=True,
        help_text="Notify: off, motion is still recorded and shown, but no e-mail, push or "
        "webhook goes out for this camera.",
    )

    class AlertOn(models.TextChoices):
        MOTION = "motion", "any motion"
        OBJECTS = "objects", "only the objects listed"

    alert_on = models.CharField(
        max_length=10,
        choices=AlertOn,
        default=AlertOn.MOTION,
        help_text="What raises an alert (toast, sound, notifications). Other events are still "
        "kept, marked quiet. Without object detection (SURVEILLANCE_OBJECT_MODEL=off), any motion.",
    )
    alert_objects = models.CharField(
        max_length=200,
        blank=True,
        default="person",
        validators=[validate_alert_objects],
        help_text='With "only the objects listed": labels, each with its lowest score '
        f'(default {DEFAULT_MIN_SCORE}), e.g. "person" or "person:0.7, car".',
    )
    viewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="viewable_cameras"
    )
    viewer_groups = models.ManyToManyField(Group, blank=True, related_name="viewable_cameras")

    # Detection settings; DetectorSettings holds the defaults and their meaning.
    sensitivity = models.PositiveSmallIntegerField(
        default=DetectorSettings.threshold,
        validators=[MinValueValidator(1), MaxValueValidator(255)],
        help_text="Brightness change (0-255) that counts as motion; lower is more sensitive.",
    )
    min_area = models.FloatField(
        default=DetectorSettings.min_area * 100,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Smallest moving object, in % of the frame.",
    )
    detection_fps = models.FloatField(
        default=DetectorSettings.fps, validators=[MinValueValidator(1), MaxValueValidator(30)]
    )
    detection_width = models.PositiveSmallIntegerField(
        default=DetectorSettings.width, validators=[MinValueValidator(80), MaxValueValidator(1920)]
    )
    start_after = models.FloatField(
        default=EventRules.start_after,
        validators=[MinValueValidator(0)],
        help_text="Seconds motion must persist before an event starts.",
    )
    end_after = models.FloatField(
        default=EventRules.end_after,
        validators=[MinValueValidator(0.5)],
        help_text="Seconds without motion that end an event.",
    )
    max_event_length = models.FloatField(
        default=EventRules.max_length,
        validators=[MinValueValidator(5)],
        help_text="Seconds after which a long event is split.",
    )
    mask = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_mask],
        help_text="Areas to ignore: a list of polygons, each a list of [x, y] in 0..1.",
    )

    class Record(models.TextChoices):
        OFF = "off", "off"
        EVENTS = "events", "a clip per motion event"
        CONTINUOUS = "continuous", "continuous, with the events marked"

    record = models.CharField(
        max_length=10, choices=Record, default=Record.EVENTS, help_text="What video to keep."
    )
    pre_roll = models.FloatField(
        default=5.0,
        validators=[MinValueValidator(0), MaxValueValidator(30)],
        help_text="Seconds of video kept from before the motion began (to the keyframe before).",
    )
    post_roll = models.FloatField(
        default=5.0,
        validators=[MinValueValidator(0), MaxValueValidator(120)],
        help_text="Seconds recorded after the motion ended.",
    )
    segment_keep_days = models.PositiveIntegerField(
        default=7,
        help_text="Continuous recording: delete video older than this many days (0: only when "
        'space runs short). Video of events marked "keep" stays.',
    )

    keep_days = models.PositiveIntegerField(
        default=30,
        help_text="Delete this camera's events after this many days (0: only when space runs "
        'short). Events marked "keep" stay.',
    )

    # Health, written by the capture worker.
    status = models.CharField(max_length=10, choices=Status, default=Status.STARTING)
    status_detail = models.CharField(max_length=200, blank=True)
    status_since = models.DateTimeField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    last_frame_at = models.DateTimeField(null=True, blank=True)
    dropped_frames = models.PositiveBigIntegerField(
        default=0,
        help_text="Frames lost since the worker started: missing from the camera's "
        "stream, or not passed on to viewers because Redis was not keeping up.",
    )
    reconnects = models.PositiveIntegerField(
        default=0, help_text="Times the worker reopened the source since it started."
    )
    recording = models.CharField(
        max_length=100, blank=True, help_text="What the recorder is doing, or why it is not."
    )
    # What the camera sends, by stream ("main", "sub"): the MIME type of its live MP4, for the
    # browser's Media Source Extensions; a camera that sends pictures (MJPEG) has none.
    streams = models.JSONField(default=dict, blank=True, editable=False)

    created_at = models.DateTimeField(default=timezone.now)

    objects = CameraQuerySet.as_manager()

    # Written by the capture worker, shown in admin, on the dashboard and on the wire.
    HEALTH_FIELDS = (
        "status", "status_detail", "status_since", "fps", "last_frame_at", "dropped_frames",
        "reconnects", "recording",
    )  # fmt: skip

    class Meta:
        ordering = ["name"]  # a short table; every list shows cameras by name

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        self.keep_password_apart()
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("camera-detail", args=[self.slug])

    def clean(self) -> None:
        # A file camera by its absolute path, resolved here where it is entered.
        with contextlib.suppress(SourceError):  # the field's validator says what is wrong
            self.source = normalize_source(self.source)
            if self.detect_source:
                self.detect_source = normalize_source(self.detect_source)
        self.keep_password_apart()

    def keep_password_apart(self) -> None:
        """A password written into the URL (addcamera, the admin) moves to its own field; the
        sub-stream's is the camera's one password too."""
        source, password = take_password(self.source)
        if password is not None:
            self.source, self.password = source, password
        detect, password = take_password(self.detect_source)
        if password is not None:
            if self.password and password not in (self.password, MASK):
                raise ValidationError({"detect_source": (
                    "a camera has one password: give the sub-stream the main stream's, or none"
                    " (it then uses the main stream's)"
                )})  # fmt: skip
            self.detect_source, self.password = detect, self.password or password

    @property
    def group_name(self) -> str:
        """Channel-layer group for this camera's alerts and status."""
        return f"camera.{self.slug}"

    @property
    def worker_channel(self) -> str:
        """Channel the capture worker listens on for viewer demand."""
        return f"capture.{self.slug}"

    def frames_group(self, width: int) -> str:
        return f"frames.{self.slug}.{width}"

    def mp4_group(self, stream: str) -> str:
        """Channel-layer group of a stream's live MP4 fragments."""
        return f"mp4.{self.slug}.{stream}"

    @property
    def live_tile_mime(self) -> str:
        """What a dashboard tile plays: the sub-stream's live MP4, else the main one's."""
        return self.live_mime("sub")

    def live_mime(self, stream: str = "main") -> str:
        """The MIME type of a stream's live MP4 ("" if it has none); a camera with one stream
        gives it for both."""
        return self.streams.get(stream) or self.streams.get("main", "")

    @property
    def safe_source(self) -> str:
        """The source for pages and logs: user:***@ where it has a password, a query masked."""
        return redact(with_password(self.source, MASK) if self.password else self.source)

    def detector_settings(self) -> DetectorSettings:
        return DetectorSettings(
            threshold=self.sensitivity,
            min_area=self.min_area / 100,
            fps=self.detection_fps,
            width=self.detection_width,
            mask=self.mask or [],
        )

    def event_rules(self) -> EventRules:
        return EventRules(self.start_after, self.end_after, self.max_event_length)

    def alert_rules(self) -> dict[str, float] | None:
        """The lowest score of each label that raises an alert; None when any motion does."""
        if self.alert_on == self.AlertOn.MOTION or not settings.OBJECT_DETECTION:
            return None
        try:
            return parse_alert_objects(self.alert_objects)
        except ValueError:  # saved around the validator: alert, rather than miss a burglar
            return None

    def wants_alert(self, objects: dict[str, float]) -> bool:
        """Whether an event with these objects ({label: best score}) raises an alert."""
        rules = self.alert_rules()
        if rules is None:
            return True
        return any(objects.get(label, 0.0) >= score for label, score in rules.items())

    def config_fingerprint(self) -> tuple:
        """What a running worker depends on: a change means the worker restarts."""
        return (
            self.name,  # it travels in every alert
            self.source,
            self.detect_source,
            self.password,
            self.enabled,
            self.sensitivity,
            self.min_area,
            self.detection_fps,
            self.detection_width,
            self.start_after,
            self.end_after,
            self.max_event_length,
            repr(self.mask),
            self.record,
            self.pre_roll,
            self.post_roll,
        )

    def set_armed(self, armed: bool) -> None:
        """Arm or disarm notifications (the dashboard, the admin, MQTT's notify/set)."""
        self.armed = armed
        Camera.objects.filter(pk=self.pk).update(armed=armed)

    def set_status(self, status: str, detail: str = "", fps: float | None = None) -> None:
        now = timezone.now()
        fields = ["status", "status_detail", "fps"]
        if status != self.status:
            self.status_since = now
            fields.append("status_since")
        self.status, self.status_detail = status, detail[:200]
        self.fps = None if fps is None else round(fps, 1)  # as people read it: 15.0
        Camera.objects.filter(pk=self.pk).update(**{f: getattr(self, f) for f in fields})

    def save_health(self) -> None:
        self.fps = None if self.fps is None else round(self.fps, 1)
        Camera.objects.filter(pk=self.pk).update(
            **{field: getattr(self, field) for field in self.HEALTH_FIELDS}
        )

    def health(self) -> dict:
        """The health fields as they go on the wire, with the words pages show for them."""
        return {
            "status": self.status,
            "detail": self.status_detail,
            "fps": self.fps,
            "since": self.status_since.isoformat() if self.status_since else None,
            "last_frame_at": self.last_frame_at.isoformat() if self.last_frame_at else None,
            "dropped_frames": self.dropped_frames,
            "reconnects": self.reconnects,
            "recording": self.recording,
            "status_label": self.status_label,
            "since_label": self.since_label,
            "health_label": self.health_label,
        }

    @property
    def status_label(self) -> str:
        """The badge: "live · 15.0 fps", or "offline since 14:02"."""
        if self.status == self.Status.ONLINE:
            return "live" + (f" · {self.fps:.1f} fps" if self.fps is not None else "")
        if self.status_since is None:
            return self.status
        return f"{self.status} since {timezone.localtime(self.status_since):%H:%M}"

    @property
    def since_label(self) -> str:
        if self.status_since is None:
            return ""
        return f"since {timezone.localtime(self.status_since):%Y-%m-%d %H:%M:%S}"

    @property
    def health_label(self) -> str:
        """ "last frame 14:02:07 · 3 dropped · 1 reconnect", the parts that apply."""
        parts = []
        if self.last_frame_at is not None:
            parts.append(f"last frame {timezone.localtime(self.last_frame_at):%H:%M:%S}")
        if self.dropped_frames:
            parts.append(f"{self.dropped_frames} dropped")
        if self.reconnects:
            parts.append(f"{self.reconnects} reconnect{'s' if self.reconnects > 1 else ''}")
        if self.recording:
            parts.append(self.recording)
        return " · ".join(parts)

    def to_dict(self) -> dict:
        """What goes on the wire about a camera: its names, its URLs and its health."""
        return {
            "slug": self.slug,
            "name": self.name,
            "url": self.get_absolute_url(),
            "stream_url": reverse("camera-stream", args=[self.slug]),
            "snapshot_url": reverse("camera-snapshot", args=[self.slug]),
            "live_url": reverse("camera-live", args=[self.slug]) if self.live_mime() else None,
            "armed": self.armed,
            **self.health(),
        }

    def status_message(self) -> dict:
        """The websocket's camera.status message."""
        return {"type": "camera.status", "camera": self.slug, **self.health()}
