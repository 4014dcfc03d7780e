from __future__ import annotations

from django import forms

# Widths the worker encodes at; a request is served the largest tier not wider than asked,
# so viewers share encodings instead of each asking for its own size.
WIDTH_TIERS = (160, 320, 480, 640, 960, 1280, 1920)


class StreamForm(forms.Form):
    fps = forms.FloatField(required=False, min_value=0.1, max_value=30)
    width = forms.IntegerField(required=False, min_value=80, max_value=7680)

    def tier(self) -> int:
        """The encoded width to serve: 0 is the camera's full size."""
        width = self.cleaned_data.get("width")
        if not width or width > WIDTH_TIERS[-1]:
            return 0
        return max((t for t in WIDTH_TIERS if t <= width), default=WIDTH_TIERS[0])


class LiveForm(forms.Form):
    """live.mp4's query string: which of the camera's streams."""

    stream = forms.ChoiceField(required=False, choices=[("main", "main"), ("sub", "sub")])
