from __future__ import annotations

from django import forms
from django.contrib import admin
from django.forms.renderers import BaseRenderer
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.admin import NamedLookupsOnly
from cameras.models import Camera
from cameras.sources import MASK, redact, take_password

SECRET_MASK = "\u2022" * 8  # a stored password, as its box shows it (no one types these)
# What staff who may only view cameras see instead of the fields themselves: Django shows a
# read-only field's value as it is stored.
READ_ONLY_STAND_INS = {
    "source": "source_display", "detect_source": "detect_source_display",
    "password": "password_display",
}  # fmt: skip


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


class SecretInput(forms.PasswordInput):
    """A password box that holds a fixed mask for a stored password: the password itself never
    goes into the page. Left as it is, the mask keeps the password; emptied, there is none."""

    def __init__(self) -> None:
        # new-password: no browser fills in the admin's own saved login here
        super().__init__(render_value=True, attrs={"autocomplete": "new-password"})

    def format_value(self, value: object) -> str | None:
        return SECRET_MASK if value else None


class CameraForm(forms.ModelForm):
    """The source with its query masked, the password as a fixed mask: saving either as shown
    keeps what is stored."""

    password = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=SecretInput(),
        help_text="Leave the dots to keep the password, empty the box for none, or type a new "
        "one. A password written into the source URL is moved here.",
    )

    class Meta:
        model = Camera
        fields = ["source", "detect_source", "password"]  # the rest from the fieldsets
        widgets = {"mask": MaskWidget}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["source"] = redact(self.instance.source)
            self.initial["detect_source"] = redact(self.instance.detect_source)
        if self.instance.pk and "mask" in self.fields:
            url = reverse("camera-snapshot", args=[self.instance.slug])
            self.fields["mask"].widget.snapshot_url = url

    def clean_source(self) -> str:
        return self.unmasked("source")

    def clean_detect_source(self) -> str:
        return self.unmasked("detect_source")

    def unmasked(self, field: str) -> str:
        """The stored value where the masked one came back unchanged (its query holds a secret)."""
        source = self.cleaned_data[field]
        stored = getattr(self.instance, field) if self.instance.pk else ""
        if MASK in source and source == redact(stored):
            return stored
        return source

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if password == SECRET_MASK:
            return self.instance.password if self.instance.pk else ""
        return password

    def clean(self) -> dict:
        cleaned = super().clean()
        bare, password = take_password(cleaned.get("source", ""))
        if password == MASK and self.instance.pk:  # user:***@, as the list shows the source
            cleaned["source"], cleaned["password"] = bare, self.instance.password
        return cleaned


@admin.register(Camera)
class CameraAdmin(NamedLookupsOnly, admin.ModelAdmin):
    form = CameraForm
    list_display = [
        "name", "slug", "source_display", "enabled", "armed", "status", "fps", "last_frame_at",
        "dropped_frames", "reconnects",
    ]  # fmt: skip
    list_filter = ["enabled", "armed", "status"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["viewers", "viewer_groups"]
    readonly_fields = [
        "live_preview", *Camera.HEALTH_FIELDS, *READ_ONLY_STAND_INS.values(),
    ]  # fmt: skip
    fieldsets = [
        (None, {"fields": [
            "name", "slug", "source", "detect_source", "password", "enabled", "armed",
            "live_preview",
        ]}),
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
        ("Alerts", {"fields": ["alert_on", "alert_objects"]}),
        ("Recording", {"fields": ["record", "pre_roll", "post_roll"]}),
        ("Retention", {"fields": ["keep_days", "segment_keep_days"]}),
        ("Health", {"fields": Camera.HEALTH_FIELDS}),
    ]  # fmt: skip

    def get_fieldsets(self, request: HttpRequest, obj: Camera | None = None) -> list:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        stand_in = READ_ONLY_STAND_INS.get
        return [
            (name, {**options, "fields": [stand_in(f, f) for f in options["fields"]]})
            for name, options in fieldsets
        ]

    @admin.display(description="source")
    def source_display(self, camera: Camera) -> str:
        return camera.safe_source

    @admin.display(description="detection source")
    def detect_source_display(self, camera: Camera) -> str:
        return redact(camera.detect_source)

    @admin.display(description="password")
    def password_display(self, camera: Camera) -> str:
        return SECRET_MASK if camera.password else "(none)"

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
