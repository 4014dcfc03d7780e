from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from cameras.forms import StreamForm
from cameras.live import BOUNDARY, LiveFeed, LiveFrame
from cameras.models import Camera
from events.activity import hourly_bars
from events.consumers import CATCH_UP_MARGIN
from events.models import MotionEvent, MotionEventQuerySet

SNAPSHOT_WAIT = 5.0  # seconds to wait for a worker that was not encoding to send a frame
SNAPSHOT_MAX_AGE = 5.0  # an older frame means the camera is not live: no "live" snapshot
RECHECK_EVERY = 30.0  # seconds between permission checks of a running stream


def _camera_for_user(user: AbstractBaseUser | AnonymousUser, slug: str) -> Camera:
    """The camera, if this user may view it. Others get 403, whether or not it exists, so that
    camera names cannot be probed; staff get 404 for a camera that does not exist."""
    if not user.is_authenticated:
        raise PermissionDenied
    camera = Camera.objects.visible_to(user).filter(slug=slug).first()
    if camera is None:
        raise Http404("no such camera") if user.is_staff else PermissionDenied
    return camera


async def _get_camera_for_user(request: HttpRequest, slug: str) -> Camera:
    return await sync_to_async(_camera_for_user)(await request.auser(), slug)


async def _still_allowed(request: HttpRequest, camera: Camera) -> bool:
    """A running stream ends when its user logs out, is deactivated or loses the camera."""
    if not await sync_to_async(request.session.exists)(request.session.session_key):
        return False
    user = await get_user_model().objects.filter(pk=(await request.auser()).pk).afirst()
    return user is not None and await Camera.objects.visible_to(user).filter(pk=camera.pk).aexists()


RECENT_EVENTS = 12  # the dashboard's strip of latest events
ACTIVITY_HOURS = 24


def _with_activity(cameras: list[Camera], events: MotionEventQuerySet) -> list[Camera]:
    """Each camera gets .activity: its events per hour over the last day, as chart bars."""
    counts = events.hourly_activity(ACTIVITY_HOURS)
    for camera in cameras:
        camera.activity = hourly_bars(counts.get(camera.pk, [0] * ACTIVITY_HOURS))
    return cameras


def _known_events(events: MotionEventQuerySet, now: dt.datetime) -> list[int]:
    """Ids of the events a catch-up from `now` will repeat (it reaches back a margin): the page
    already has them, so they must not alert again."""
    return list(events.changed_since(now - CATCH_UP_MARGIN).values_list("pk", flat=True))


@login_required
@never_cache
def dashboard(request: HttpRequest) -> HttpResponse:
    cameras = list(Camera.objects.visible_to(request.user).filter(enabled=True))
    events, now = MotionEvent.objects.for_user(request.user), timezone.now()
    context = {
        "cameras": _with_activity(cameras, events),
        "recent_events": events.recent().select_related("camera")[:RECENT_EVENTS],
        "now": now,
        "known_events": _known_events(events, now),
    }
    return render(request, "cameras/dashboard.html", context)


@login_required
@never_cache
def camera_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A camera's full-size live view, its activity and its latest events."""
    camera = _camera_for_user(request.user, slug)
    events, now = MotionEvent.objects.filter(camera=camera), timezone.now()
    context = {
        "camera": _with_activity([camera], events)[0],
        "recent_events": events.recent().select_related("camera")[:RECENT_EVENTS],
        "now": now,
        # alerts come for all the user's cameras, on this page too
        "known_events": _known_events(MotionEvent.objects.for_user(request.user), now),
    }
    return render(request, "cameras/camera.html", context)


@require_GET
@never_cache
async def stream(request: HttpRequest, slug: str) -> HttpResponse:
    camera = await _get_camera_for_user(request, slug)
    form = StreamForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text(), content_type="text/plain")
    return StreamingHttpResponse(
        mjpeg_parts(request, camera, form.tier(), form.cleaned_data["fps"]),
        content_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"X-Accel-Buffering": "no"},
    )


async def mjpeg_parts(
    request: HttpRequest, camera: Camera, width: int, fps: float | None
) -> AsyncIterator[bytes]:
    """One multipart part per new frame; with `fps`, frames closer together are skipped."""
    async with LiveFeed.watch(camera, width) as feed:
        recheck_at = time.monotonic() + RECHECK_EVERY
        async for frame in feed.frames(fps):
            if time.monotonic() > recheck_at:
                if not await _still_allowed(request, camera):
                    return
                recheck_at = time.monotonic() + RECHECK_EVERY
            yield frame.part


async def fresh_frame(feed: LiveFeed) -> LiveFrame:
    """The next frame captured within SNAPSHOT_MAX_AGE (a stopped worker's last one is not)."""
    seq = 0
    while True:
        frame = await feed.next_frame(after=seq)
        if time.time() - frame.captured_at <= SNAPSHOT_MAX_AGE:
            return frame
        seq = frame.seq


@require_GET
@never_cache
async def snapshot(request: HttpRequest, slug: str) -> HttpResponse:
    camera = await _get_camera_for_user(request, slug)
    async with LiveFeed.watch(camera) as feed:
        try:
            frame = await asyncio.wait_for(fresh_frame(feed), SNAPSHOT_WAIT)
        except TimeoutError:
            return HttpResponse("camera offline", status=503, content_type="text/plain")
    return HttpResponse(
        frame.jpeg, content_type="image/jpeg", headers={"X-Timestamp": f"{frame.captured_at:.3f}"}
    )


@never_cache
async def healthz(request: HttpRequest) -> JsonResponse:
    """200 while this process and its channel layer work; names nothing."""
    try:
        await asyncio.wait_for(get_channel_layer().group_send("healthz", {"type": "ping"}), 2)
        await Camera.objects.aexists()
    except Exception:
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})
