from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from recordings.exports import LONGEST


class SpanForm(forms.Form):
    """?start=ISO&end=ISO: a span of recorded video, at most an hour."""

    start = forms.DateTimeField(input_formats=["iso-8601"])
    end = forms.DateTimeField(input_formats=["iso-8601"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end <= start:
                raise ValidationError("end must be after start")
            if end - start > LONGEST:
                raise ValidationError(f"a span is at most {LONGEST.seconds // 60} minutes")
        return cleaned


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


class DayForm(forms.Form):
    """?day=YYYY-MM-DD on a camera's page: the day its timeline shows."""

    day = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
