from __future__ import annotations

from django.contrib import admin

from cameras.models import Camera


@admin.register(Camera)
class CameraAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "source_display", "enabled", "status", "fps", "status_since"]
    list_filter = ["enabled", "status"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["viewers", "viewer_groups"]
    readonly_fields = ["status", "status_detail", "status_since", "fps", "last_frame_at"]
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
