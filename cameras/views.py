from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from channels.layers import get_channel_layer
from django.contrib.auth.decorators import login_required
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
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from cameras.forms import StreamForm
from cameras.live import LiveFeed, LiveFrame
from cameras.models import Camera

BOUNDARY = "frame"
SNAPSHOT_WAIT = 5.0  # seconds to wait for a worker that was not encoding to send a frame


async def _get_camera_for_user(request: HttpRequest, slug: str) -> Camera:
    """The camera, if this user may view it: 403 for anonymous users and strangers."""
    user = await request.auser()
    if not user.is_authenticated:
        raise PermissionDenied
    camera = await Camera.objects.filter(slug=slug).afirst()
    if camera is None:
        raise Http404("no such camera")
    if not await Camera.objects.visible_to(user).filter(pk=camera.pk).aexists():
        raise PermissionDenied
    return camera


@login_required
@never_cache
def dashboard(request: HttpRequest) -> HttpResponse:
    cameras = Camera.objects.visible_to(request.user).filter(enabled=True)
    return render(request, "cameras/dashboard.html", {"cameras": cameras})


@require_GET
@never_cache
async def stream(request: HttpRequest, slug: str) -> HttpResponse:
    camera = await _get_camera_for_user(request, slug)
    form = StreamForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text(), content_type="text/plain")
    feed = LiveFeed.for_camera(camera, form.tier())
    return StreamingHttpResponse(
        mjpeg_parts(feed, form.cleaned_data["fps"]),
        content_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"X-Accel-Buffering": "no"},
    )


async def mjpeg_parts(feed: LiveFeed, fps: float | None) -> AsyncIterator[bytes]:
    """One multipart part per new frame; with `fps`, frames closer together are skipped."""
    async with feed.watching():
        seq, next_at = 0, 0.0
        while True:
            frame = await feed.next_frame(after=seq)
            seq = frame.seq
            if fps and frame.captured_at < next_at:
                continue
            next_at = frame.captured_at + 0.95 / fps if fps else 0.0
            yield mjpeg_part(frame)


def mjpeg_part(frame: LiveFrame) -> bytes:
    head = (
        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(frame.jpeg)}\r\n"
        f"X-Timestamp: {frame.captured_at:.3f}\r\n\r\n"
    )
    return head.encode() + frame.jpeg + b"\r\n"


@require_GET
@never_cache
async def snapshot(request: HttpRequest, slug: str) -> HttpResponse:
    camera = await _get_camera_for_user(request, slug)
    feed = LiveFeed.for_camera(camera)
    async with feed.watching():
        try:
            frame = await asyncio.wait_for(feed.next_frame(), SNAPSHOT_WAIT)
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
