from __future__ import annotations

from django import forms
from django.contrib import admin
from django.forms.renderers import BaseRenderer
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from cameras.models import Camera
from cameras.sources import MASK, redact


class MaskWidget(forms.Textarea):
    """The mask as JSON text, with a polygon editor over the camera's picture when JS runs."""

    editor_template = "admin/cameras/mask_editor.html"

    class Media:
        js = ["js/mask_editor.js"]
        css = {"all": ["css/admin.css"]}

    def __init__(self, snapshot_url: str = "", attrs: dict | None = None) -> None:
        super().__init__(attrs={"rows": 4, "cols": 80, **(attrs or {})})
        self.snapshot_url = snapshot_url

    def render(
        self,
        name: str,
        value: object,
        attrs: dict | None = None,
        renderer: BaseRenderer | None = None,
    ) -> SafeString:
        # The form renderer does not search the project's templates/: render the editor here.
        textarea = super().render(name, value, attrs, renderer)
        field_id = (attrs or {}).get("id") or self.attrs.get("id", "")
        return render_to_string(
            self.editor_template,
            {"textarea": textarea, "field_id": field_id, "snapshot_url": self.snapshot_url},
        )

    def value_from_datadict(self, data: dict, files: dict, name: str) -> object:
        value = super().value_from_datadict(data, files, name)
        # An emptied box means no mask, not a NULL in a NOT NULL column.
        return "[]" if isinstance(value, str) and not value.strip() else value


class CameraForm(forms.ModelForm):
    """Shows the source with its password masked; saving the masked text keeps the password."""

    class Meta:
        model = Camera
        fields = ["source"]  # the admin adds the rest from its fieldsets
        widgets = {"mask": MaskWidget}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["source"] = redact(self.instance.source)
        if self.instance.pk and "mask" in self.fields:
            url = reverse("camera-snapshot", args=[self.instance.slug])
            self.fields["mask"].widget.snapshot_url = url

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
        "name", "slug", "source_display", "enabled", "armed", "status", "fps", "last_frame_at",
        "dropped_frames", "reconnects",
    ]  # fmt: skip
    list_filter = ["enabled", "armed", "status"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["viewers", "viewer_groups"]
    readonly_fields = ["live_preview", *Camera.HEALTH_FIELDS]
    fieldsets = [
        (None, {"fields": ["name", "slug", "source", "enabled", "armed", "live_preview"]}),
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
        ("Recording", {"fields": ["record", "pre_roll", "post_roll"]}),
        ("Retention", {"fields": ["keep_days", "segment_keep_days"]}),
        ("Health", {"fields": Camera.HEALTH_FIELDS}),
    ]  # fmt: skip

    @admin.display(description="source")
    def source_display(self, camera: Camera) -> str:
        return camera.safe_source

    @admin.display(description="live view")
    def live_preview(self, camera: Camera) -> str:
        if not camera.pk:
            return "Shown once the camera is saved."
        if not camera.enabled:
            return "The camera is disabled."
        url = reverse("camera-stream", args=[camera.slug])
        return format_html(
            '<img class="live-preview" src="{}?width=640&amp;fps=5" alt="Live view of {}">',
            url,
            camera.name,
        )
