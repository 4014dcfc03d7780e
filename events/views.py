from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from events.models import MotionEvent


def _get_event_for_user(request: HttpRequest, pk: int) -> MotionEvent:
    """The event, if this user may view its camera: looked up through the permission rule."""
    if not request.user.is_authenticated:
        raise PermissionDenied
    if request.user.is_staff:
        return get_object_or_404(MotionEvent.objects.select_related("camera"), pk=pk)
    event = MotionEvent.objects.for_user(request.user).select_related("camera").filter(pk=pk)
    if not event:  # missing or not theirs: the same answer, so ids cannot be probed
        raise PermissionDenied
    return event[0]


@require_GET
def snapshot(request: HttpRequest, pk: int) -> FileResponse:
    event = _get_event_for_user(request, pk)
    image = event.snapshot_clean if request.GET.get("clean") == "1" else event.snapshot
    if not image:
        raise Http404("this event has no snapshot")
    try:
        return FileResponse(image.open("rb"), content_type="image/jpeg")
    except FileNotFoundError:
        raise Http404("snapshot file is missing") from None
