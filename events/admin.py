from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from events.models import MotionEvent


@admin.register(MotionEvent)
class MotionEventAdmin(admin.ModelAdmin):
    list_display = ["thumbnail", "camera", "started_at", "ended_at", "peak_area"]
    list_filter = ["camera", "started_at"]
    list_select_related = ["camera"]
    date_hierarchy = "started_at"
    ordering = ["-started_at"]
    show_full_result_count = False  # no COUNT(*) over the whole table on every page
    # What the worker recorded is evidence: shown, not edited (files are served only by id).
    readonly_fields = ["camera", "started_at", "ended_at", "peak_area", "preview", "boxes"]
    fields = ["camera", "started_at", "ended_at", "peak_area", "preview", "boxes"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events come from cameras

    @admin.display(description="snapshot")
    def thumbnail(self, event: MotionEvent) -> str:
        if not event.snapshot:
            return "-"
        return format_html('<img src="{}" alt="" height="60" loading="lazy">', event.snapshot_url)

    @admin.display(description="snapshot preview")
    def preview(self, event: MotionEvent) -> str:
        if not event.snapshot:
            return "-"
        return format_html('<img src="{}" alt="" style="max-width: 640px">', event.snapshot_url)
