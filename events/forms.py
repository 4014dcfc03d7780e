from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.http import QueryDict
from django.utils import timezone

from cameras.models import Camera
from events.models import OBJECT_LABELS, MotionEventQuerySet

# Wide enough for any camera's history, narrow enough that a day's bounds stay valid datetimes
# in every time zone (the day after date.max, or date.min in UTC, would overflow).
EARLIEST, LATEST = dt.date(1970, 1, 1), dt.date(2999, 12, 31)
LONGEST = 366 * 24 * 3600  # seconds; beyond a year the number is a typo (and nears overflow)


def _date_field(label: str) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        input_formats=["%Y-%m-%d"],  # what <input type="date"> sends, whatever the locale
        validators=[MinValueValidator(EARLIEST), MaxValueValidator(LATEST)],
        widget=forms.DateInput(
            format="%Y-%m-%d",
            attrs={"type": "date", "min": EARLIEST.isoformat(), "max": LATEST.isoformat()},
        ),
    )


def _midnight(day: dt.date | None, later: int = 0) -> dt.datetime | None:
    """The start of `day` plus `later` days, in the site's time zone."""
    if day is None:
        return None
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=later), dt.time()))


class EventFilterForm(forms.Form):
    """The event list's query string: ?camera=SLUG&from=DAY&to=DAY&min_duration=SECONDS
    &object=LABEL ("none": nothing found)."""

    camera = forms.ModelChoiceField(
        queryset=Camera.objects.none(),
        required=False,
        to_field_name="slug",
        empty_label="All cameras",
        # The same words for a camera that does not exist and one that is not theirs, and no
        # echo of the slug: the answer must not tell which cameras exist.
        error_messages={"invalid_choice": "Choose one of your cameras."},
    )
    min_duration = forms.IntegerField(
        label="At least (s)", required=False, min_value=0, max_value=LONGEST
    )
    object = forms.ChoiceField(
        label="Object",
        required=False,
        choices=[
            ("", "Anything"),
            *((label, label) for label in OBJECT_LABELS),
            ("none", "Nothing found"),
        ],
    )

    def __init__(self, data: QueryDict, user: AbstractBaseUser | AnonymousUser) -> None:
        super().__init__(data, label_suffix="")  # labels sit above their inputs
        self.fields["camera"].queryset = Camera.objects.visible_to(user)
        # "from" is a Python keyword, so these two cannot be declared in the class body.
        self.fields["from"] = _date_field("From")
        self.fields["to"] = _date_field("To")
        self.order_fields(["camera", "from", "to", "min_duration", "object"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("from"), cleaned.get("to")
        if start and end and start > end:
            raise ValidationError("The From day is after the To day.")
        return cleaned

    def filter(self, events: MotionEventQuerySet) -> MotionEventQuerySet:
        """The events that pass the filters; call only once the form is valid.

        Days are whole days in the site's time zone, both ends included."""
        data = self.cleaned_data
        if data["camera"]:
            events = events.filter(camera=data["camera"])
        events = events.started_between(_midnight(data["from"]), _midnight(data["to"], later=1))
        if data["min_duration"]:  # 0 means any length, ongoing events included
            events = events.lasting_at_least(data["min_duration"])
        if data["object"]:
            events = events.with_object(data["object"])
        return events

    def querystring(self) -> str:
        """The filters as given, for page links to keep (unknown parameters are dropped)."""
        return urlencode({name: self.data[name] for name in self.fields if self.data.get(name)})
