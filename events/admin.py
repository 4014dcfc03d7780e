from __future__ import annotations

import csv
import datetime as dt
import itertools
from collections.abc import AsyncIterator, Callable, Iterator

from asgiref.sync import sync_to_async
from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.handlers.asgi import ASGIRequest
from django.db import models
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.admin import NamedLookupsOnly
from events.models import OBJECT_LABELS, MotionEvent, MotionEventQuerySet

CSV_HEADER = [
    "id", "camera_slug", "camera_name", "started_at", "ended_at", "duration_s", "peak_area",
    "snapshot_url",
]  # fmt: skip
# What a row needs: not the JSON columns (boxes, the camera's mask), costly to decode.
CSV_FIELDS = ["started_at", "ended_at", "peak_area", "snapshot", "camera__slug", "camera__name"]
CSV_ROWS_PER_CHUNK = 1000  # one write to the client, and one database round trip, per chunk
# A spreadsheet runs a cell that starts like this as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PERIOD_KINDS = {"year", "month", "day"}  # what the date hierarchy asks for


class ChangeListEvents(MotionEventQuerySet):
    """The changelist's events: only what the date hierarchy asks is answered differently."""

    MAX_PROBES = 400  # more periods than a year of days: leave it to Django

    def datetimes(
        self, field_name: str, kind: str, order: str = "ASC", tzinfo: dt.tzinfo | None = None
    ) -> list[dt.datetime] | models.QuerySet:
        """The years, months or days (local) that have events, ascending: one indexed EXISTS per
        period in range. Django's DISTINCT over a truncated date calls Python for every row on
        SQLite (0.4 s per page at 100 000 events)."""
        if kind not in PERIOD_KINDS or order != "ASC" or tzinfo is not None:
            return super().datetimes(field_name, kind, order, tzinfo)
        ordered = self.order_by(field_name).values_list(field_name, flat=True)
        first, last = ordered.first(), ordered.last()
        if first is None:
            return []
        starts = _period_starts(timezone.localdate(first), timezone.localdate(last), kind)
        if len(starts) > self.MAX_PROBES:
            return super().datetimes(field_name, kind, order, tzinfo)
        return [
            start
            for start, end in itertools.pairwise(starts)
            if self._any_between(field_name, start, end)
        ]

    def _any_between(self, field_name: str, start: dt.datetime, end: dt.datetime) -> bool:
        # SQLite walks the index from the first bounds on a column that the WHERE gives: the
        # period's go first, ahead of the month the changelist may already be narrowed to
        # (0.01 ms a probe instead of 1).
        period = {f"{field_name}__gte": start, f"{field_name}__lt": end}
        return (self.model._default_manager.filter(**period) & self).exists()


def _period_starts(first: dt.date, last: dt.date, kind: str) -> list[dt.datetime]:
    """Local midnights starting each period from the one holding `first` to the one after `last`."""
    if kind == "year":
        day = dt.date(first.year, 1, 1)
    else:
        day = first.replace(day=1) if kind == "month" else first
    starts = [day]
    while day <= last:
        day = _next_period(day, kind)
        starts.append(day)
    return [_start_of(day) for day in starts]


def _next_period(day: dt.date, kind: str) -> dt.date:
    if kind == "year":
        return day.replace(year=day.year + 1)
    if kind == "month":
        return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return day + dt.timedelta(days=1)


class DateRangeForm(forms.Form):
    start = forms.DateField(required=False)
    end = forms.DateField(required=False)


class DateRangeFilter(admin.FieldListFilter):
    """From/to dates on a DateTimeField; both whole days in the current time zone, `to`
    included. Takes `<field>__from` and `<field>__to` as YYYY-MM-DD (what <input type="date">
    sends)."""

    template = "admin/date_range_filter.html"

    def __init__(
        self,
        field: models.Field,
        request: HttpRequest,
        params: dict[str, list[str]],
        model: type[models.Model],
        model_admin: admin.ModelAdmin,
        field_path: str,
    ) -> None:
        self.from_param, self.to_param = f"{field_path}__from", f"{field_path}__to"
        super().__init__(field, request, params, model, model_admin, field_path)
        self.start, self.end = self._dates()

    def expected_parameters(self) -> list[str]:
        return [self.from_param, self.to_param]

    def _value(self, param: str) -> str:
        values = self.used_parameters.get(param) or [""]
        return values[-1]

    def _dates(self) -> tuple[dt.date | None, dt.date | None]:
        form = DateRangeForm(
            {"start": self._value(self.from_param), "end": self._value(self.to_param)}
        )
        if not form.is_valid():
            raise IncorrectLookupParameters(form.errors.as_text())
        return form.cleaned_data["start"], form.cleaned_data["end"]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        if self.start:
            queryset = queryset.filter(**{f"{self.field_path}__gte": _start_of(self.start)})
        if self.end:
            end = _start_of(self.end + dt.timedelta(days=1))
            queryset = queryset.filter(**{f"{self.field_path}__lt": end})
        return queryset

    def choices(self, changelist: ChangeList) -> Iterator[dict]:
        """One "choice": what the template's form needs."""
        mine = set(self.expected_parameters())
        yield {
            "from_param": self.from_param,
            "to_param": self.to_param,
            "start": self.start.isoformat() if self.start else "",
            "end": self.end.isoformat() if self.end else "",
            # the form replaces the query string: carry the other filters and the search over
            "hidden": [(k, v) for k, v in changelist.params.items() if k not in mine],
            "clear_query_string": changelist.get_query_string(remove=list(mine)),
            "selected": bool(self.start or self.end),
        }


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("ongoing", "ongoing"), ("finished", "finished")]

    def queryset(
        self, request: HttpRequest, queryset: MotionEventQuerySet
    ) -> MotionEventQuerySet | None:
        if self.value() == "ongoing":
            return queryset.ongoing()
        if self.value() == "finished":
            return queryset.finished()
        return None


class DurationFilter(admin.SimpleListFilter):
    """Finished events by length; an ongoing event has no length yet and matches none."""

    title = "duration"
    parameter_name = "duration"
    # value: (at least, less than) seconds
    RANGES = {"short": (None, 10), "medium": (10, 60), "long": (60, None)}

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("short", "under 10 s"), ("medium", "10 s to 1 min"), ("long", "1 min or more")]

    def queryset(
        self, request: HttpRequest, queryset: MotionEventQuerySet
    ) -> MotionEventQuerySet | None:
        if self.value() not in self.RANGES:
            return None
        shortest, longest = self.RANGES[self.value()]
        events = queryset if shortest is None else queryset.lasting_at_least(shortest)
        return events if longest is None else events.lasting_under(longest)


class ObjectFilter(admin.SimpleListFilter):
    """Events by what the object detector found in them."""

    title = "object"
    parameter_name = "object"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [(label, label) for label in OBJECT_LABELS] + [("none", "nothing found")]

    def queryset(
        self, request: HttpRequest, queryset: MotionEventQuerySet
    ) -> MotionEventQuerySet | None:
        if self.value() in (*OBJECT_LABELS, "none"):
            return queryset.with_object(self.value())
        return None


def csv_safe(value: object) -> object:
    """Text a spreadsheet would run as a formula is made plain text with a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def snapshot_urls(origin: str) -> Callable[[int], str]:
    """An event's absolute snapshot URL by id, from a single reverse(): one per row would be
    most of an export's time. Raises if the URL does not hold the id once."""
    probe = "9876543210"
    before, after = reverse("event-snapshot", args=[int(probe)]).split(probe)
    return lambda pk: f"{origin}{before}{pk}{after}"


def csv_row(event: MotionEvent, snapshot_url: Callable[[int], str]) -> list[object]:
    return [
        event.pk,
        csv_safe(event.camera.slug),
        csv_safe(event.camera.name),
        event.started_at.isoformat(),
        event.ended_at.isoformat() if event.ended_at else "",
        event.seconds if event.seconds is not None else "",
        round(event.peak_area, 4),
        snapshot_url(event.pk) if event.snapshot else "",
    ]


class _Echo:
    """A file for csv.writer that hands each formatted row back instead of storing it."""

    def write(self, line: str) -> str:
        return line


def csv_chunks(events: MotionEventQuerySet, origin: str) -> Iterator[str]:
    """The CSV in chunks of rows, read through a database cursor: memory stays flat."""
    writer, snapshot_url = csv.writer(_Echo()), snapshot_urls(origin)
    rows = events.select_related("camera").only(*CSV_FIELDS).iterator(CSV_ROWS_PER_CHUNK)
    yield writer.writerow(CSV_HEADER)
    while chunk := list(itertools.islice(rows, CSV_ROWS_PER_CHUNK)):
        yield "".join(writer.writerow(csv_row(event, snapshot_url)) for event in chunk)


async def _async_chunks(chunks: Iterator[str]) -> AsyncIterator[str]:
    """Each step runs in the request's one thread for sync code, where the cursor's connection
    lives; closing there too releases the cursor when the client goes away."""
    step = sync_to_async(next)
    try:
        while (chunk := await step(chunks, None)) is not None:
            yield chunk
    finally:
        await sync_to_async(chunks.close)()


def streamed(request: HttpRequest, chunks: Iterator[str]) -> Iterator[str] | AsyncIterator[str]:
    """Under ASGI (Daphne) Django reads a sync iterator whole before sending the first byte."""
    return _async_chunks(chunks) if isinstance(request, ASGIRequest) else chunks


@admin.action(description="Export selected events as CSV", permissions=["view"])
def export_csv(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: MotionEventQuerySet
) -> StreamingHttpResponse:
    events = queryset.order_by("-started_at", "-pk")
    origin = request.build_absolute_uri("/").rstrip("/")  # the file is read away from the site
    filename = f"motion-events-{timezone.now():%Y%m%d-%H%M%S}.csv"
    return StreamingHttpResponse(
        streamed(request, csv_chunks(events, origin)),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@admin.action(description="Keep the selected events (retention never deletes them)")
def keep(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: MotionEventQuerySet) -> None:
    queryset.update(keep=True)


@admin.action(description="Stop keeping the selected events")
def unkeep(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: MotionEventQuerySet
) -> None:
    queryset.update(keep=False)


@admin.register(MotionEvent)
class MotionEventAdmin(NamedLookupsOnly, admin.ModelAdmin):
    list_display = [
        "thumbnail", "camera", "started_at", "ended_at", "length", "peak_area", "objects_found",
        "quiet", "video", "keep",
    ]  # fmt: skip
    list_filter = [
        "camera", ("started_at", DateRangeFilter), StateFilter, DurationFilter, ObjectFilter,
        "quiet", "keep",
    ]  # fmt: skip
    list_select_related = ["camera"]
    search_fields = ["camera__name", "camera__slug"]
    search_help_text = "Camera name or slug"
    date_hierarchy = "started_at"
    ordering = ["-started_at"]
    actions = [export_csv, keep, unkeep]
    show_full_result_count = False  # no COUNT(*) over the whole table on every page
    show_facets = admin.ShowFacets.NEVER  # a count per filter choice: one scan each
    # What the worker recorded is evidence: shown, not edited (files are served only by id).
    # Only "keep", which exempts the event from retention, can be changed.
    readonly_fields = [
        "camera", "started_at", "ended_at", "peak_area", "objects_found", "quiet", "preview",
        "video", "boxes", "found",
    ]  # fmt: skip
    fields = ["camera", "started_at", "ended_at", "peak_area", "objects_found", "quiet", "keep",
              "preview", "video", "boxes", "found"]  # fmt: skip

    class Media:
        css = {"all": ["css/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> ChangeListEvents:
        events = super().get_queryset(request)  # the date hierarchy asks this for its periods
        return ChangeListEvents(events.model, query=events.query)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events come from cameras

    def delete_model(self, request: HttpRequest, obj: MotionEvent) -> None:
        obj.delete_with_files()

    def delete_queryset(self, request: HttpRequest, queryset: MotionEventQuerySet) -> None:
        queryset.delete_with_files()

    @admin.display(description="snapshot")
    def thumbnail(self, event: MotionEvent) -> str:
        if not event.snapshot:
            return "-"
        return format_html('<img src="{}" alt="" height="60" loading="lazy">', event.snapshot_url)

    @admin.display(description="duration")
    def length(self, event: MotionEvent) -> str:
        return event.duration_label

    @admin.display(description="objects")
    def objects_found(self, event: MotionEvent) -> str:
        return event.objects_label or "-"

    @admin.display(description="video")
    def video(self, event: MotionEvent) -> str:
        if not event.clip_url:
            return "-"
        return format_html('<a href="{}">play</a>', event.clip_url)

    @admin.display(description="snapshot preview")
    def preview(self, event: MotionEvent) -> str:
        if not event.snapshot:
            return "-"
        return format_html('<img class="snapshot-preview" src="{}" alt="">', event.snapshot_url)
