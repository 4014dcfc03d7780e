from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.auth import token_or_session
from cameras.models import Camera
from events.forms import EventFilterForm
from events.models import MotionEvent
from recordings.exports import export_span
from recordings.models import Recording
from recordings.serving import file_response, reads_on

PAGE_SIZE = 50


def event_for_user(user: AbstractBaseUser | AnonymousUser, pk: int) -> MotionEvent:
    """The event, if this user may view its camera: looked up through the permission rule."""
    if not user.is_authenticated:
        raise PermissionDenied
    events = MotionEvent.objects.select_related("camera", "clip")
    if user.is_staff:
        return get_object_or_404(events, pk=pk)
    event = events.filter(camera__in=Camera.objects.visible_to(user), pk=pk).first()
    if event is None:  # missing or not theirs: the same answer, so ids cannot be probed
        raise PermissionDenied
    return event


def _get_event_for_user(request: HttpRequest, pk: int) -> MotionEvent:
    return event_for_user(request.user, pk)


def _neighbours(
    request: HttpRequest, event: MotionEvent
) -> tuple[MotionEvent | None, MotionEvent | None]:
    """The same camera's events just before and just after this one, in the list's order."""
    same_camera = MotionEvent.objects.for_user(request.user).filter(camera=event.camera_id)
    same_camera = same_camera.only("pk", "started_at")
    at = event.started_at
    older = Q(started_at__lt=at) | Q(started_at=at, pk__lt=event.pk)
    newer = Q(started_at__gt=at) | Q(started_at=at, pk__gt=event.pk)
    return (
        same_camera.filter(older).order_by("-started_at", "-pk").first(),
        same_camera.filter(newer).order_by("started_at", "pk").first(),
    )


@login_required
@require_GET
@never_cache
def event_list(request: HttpRequest) -> HttpResponse:
    form = EventFilterForm(request.GET, request.user)
    if not form.is_valid():
        context = {"form": form, "page": None}
        return render(request, "events/event_list.html", context, status=400)
    events = form.filter(MotionEvent.objects.for_user(request.user)).select_related("camera")
    # pk breaks ties in started_at, so that no event is shown on two pages or on none
    events = events.order_by("-started_at", "-pk")
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "filters": form.querystring()}
    return render(request, "events/event_list.html", context)


@login_required
@require_GET
@never_cache
def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    event = _get_event_for_user(request, pk)
    older, newer = _neighbours(request, event)
    context = {"event": event, "older": older, "newer": newer}
    return render(request, "events/event_detail.html", context)


@require_GET
@never_cache  # private, no-store: what a camera saw stays out of shared and browser caches
@token_or_session
def snapshot(request: HttpRequest, pk: int) -> FileResponse:
    event = _get_event_for_user(request, pk)
    clean = request.GET.get("clean") == "1"
    image = event.snapshot_clean if clean else event.snapshot
    if not image:
        raise Http404("this event has no snapshot")
    # Named by the event, not by the stored file: how the media dir is laid out stays inside.
    filename = f"event-{event.pk}{'-clean' if clean else ''}.jpg"
    try:
        return FileResponse(image.open("rb"), content_type="image/jpeg", filename=filename)
    except FileNotFoundError:
        raise Http404("snapshot file is missing") from None


def clip_file(event: MotionEvent, remake: bool = True) -> Path | None:
    """The event's video as a file to serve: its own finished clip as it is, else (a clip still
    being written, or continuous recording) its span made into one MP4 (see export_span)."""
    if event.clip is None:
        return None
    if event.clip.kind == Recording.Kind.CLIP and not event.clip.ongoing:
        return Path(settings.MEDIA_ROOT) / event.clip.file.name
    camera = event.camera
    start = event.started_at - dt.timedelta(seconds=camera.pre_roll)
    if event.ended_at is None:  # still going on: what is recorded so far
        return export_span(camera, start, None, remake)
    end = event.ended_at + dt.timedelta(seconds=camera.post_roll)
    return export_span(camera, start, end, remake)


@require_GET
@token_or_session
async def clip(request: HttpRequest, pk: int) -> HttpResponse:
    event = await sync_to_async(event_for_user)(request.user, pk)  # a session's or a token's
    path = await asyncio.to_thread(clip_file, event, not reads_on(request))
    if path is None or not path.is_file():
        context = {"event": event, "recorded": event.clip_id is not None}
        return await sync_to_async(render)(request, "events/no_clip.html", context, status=404)
    return file_response(request, path, f"event-{event.pk}.mp4")
