from __future__ import annotations

from django import forms
from django.contrib import admin

from cameras.models import Camera
from cameras.sources import MASK, redact


class CameraForm(forms.ModelForm):
    """Shows the source with its password masked; saving the masked text keeps the password."""

    class Meta:
        model = Camera
        fields = ["source"]  # the admin adds the rest from its fieldsets

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["source"] = redact(self.instance.source)

    def clean_source(self) -> str:
        source = self.cleaned_data["source"]
        stored = self.instance.source if self.instance.pk else ""
        if MASK in source and source == redact(stored):
            return stored
        return source


@admin.register(Camera)
class CameraAdmin(admin.ModelAdmin):
    form = CameraForm
    list_display = [
        "name", "slug", "source_display", "enabled", "status", "fps", "last_frame_at",
        "dropped_frames", "reconnects",
    ]  # fmt: skip
    list_filter = ["enabled", "status"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["viewers", "viewer_groups"]
    readonly_fields = [
        "status", "status_detail", "status_since", "fps", "last_frame_at", "dropped_frames",
        "reconnects",
    ]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["name", "slug", "source", "enabled"]}),
        ("Who may view it", {"fields": ["viewers", "viewer_groups"]}),
        (
            "Motion detection",
            {
                "fields": [
                    "sensitivity", "min_area", "detection_fps", "detection_width",
                    "start_after", "end_after", "max_event_length", "mask",
                ]
            },
        ),
        ("Health", {"fields": readonly_fields}),
    ]  # fmt: skip

    @admin.display(description="source")
    def source_display(self, camera: Camera) -> str:
        return camera.safe_source
