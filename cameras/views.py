"""The live view over HTTP: a camera's MJPEG stream and its latest frame."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.auth import Credential, token_or_session
from cameras.forms import LiveForm, StreamForm
from cameras.live import BOUNDARY, LiveFeed, LiveFrame, Mp4Feed
from cameras.models import Camera
from cameras.permissions import Recheck, may_still_view

SNAPSHOT_WAIT = 5.0  # seconds to wait for a worker that was not encoding to send a frame
SNAPSHOT_MAX_AGE = 5.0  # an older frame means the camera is not live: no "live" snapshot


def camera_for_user(user: AbstractBaseUser | AnonymousUser, slug: str) -> Camera:
    """The camera, if this user may view it. Others get 403, whether or not it exists, so that
    camera names cannot be probed; staff get 404 for a camera that does not exist. (Stream and
    image views are behind accounts.auth.token_or_session: the user may be a token's.)"""
    if not user.is_authenticated:
        raise PermissionDenied
    camera = Camera.objects.visible_to(user).filter(slug=slug).first()
    if camera is None:
        raise Http404("no such camera") if user.is_staff else PermissionDenied
    return camera


async def _get_camera_for_user(request: HttpRequest, slug: str) -> Camera:
    return await sync_to_async(camera_for_user)(await request.auser(), slug)


@require_GET
@never_cache
@token_or_session
async def stream(request: HttpRequest, slug: str) -> HttpResponse:
    camera = await _get_camera_for_user(request, slug)
    form = StreamForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text(), content_type="text/plain")
    return StreamingHttpResponse(
        mjpeg_parts(request.credential, camera, form.tier(), form.cleaned_data["fps"]),
        content_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"X-Accel-Buffering": "no"},
    )


async def mjpeg_parts(
    credential: Credential, camera: Camera, width: int, fps: float | None
) -> AsyncIterator[bytes]:
    """One multipart part per new frame; with `fps`, frames closer together are skipped. Ends
    once the caller may no longer view the camera (checked every RECHECK_EVERY)."""
    async with LiveFeed.watch(camera, width) as feed:
        recheck = Recheck()
        async for frame in feed.frames(fps):
            if recheck.due() and not await sync_to_async(may_still_view)(credential, camera):
                return
            yield frame.part


@require_GET
@never_cache
@token_or_session
async def live_mp4(request: HttpRequest, slug: str) -> HttpResponse:
    """The camera's own H.264 as live fragmented MP4, from a keyframe: for ffplay, VLC, Home
    Assistant's stream source and the browser's Media Source Extensions."""
    camera = await _get_camera_for_user(request, slug)
    form = LiveForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text(), content_type="text/plain")
    stream = form.cleaned_data["stream"] or "main"
    if not camera.live_mime(stream):
        raise Http404("this camera sends no H.264: use stream.mjpg")
    return StreamingHttpResponse(
        mp4_fragments(request.credential, camera, stream),
        content_type="video/mp4",
        headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"},
    )


async def mp4_fragments(
    credential: Credential, camera: Camera, stream: str
) -> AsyncIterator[bytes]:
    """The init segment, then fragments from the newest keyframe; ends once the caller may no
    longer view the camera (checked every RECHECK_EVERY)."""
    async with Mp4Feed.watch(camera, stream) as feed:
        recheck, init = Recheck(), b""
        async for fragment in feed.fragments():
            if recheck.due() and not await sync_to_async(may_still_view)(credential, camera):
                return
            if fragment.key and feed.init != init:
                if init:
                    return  # the camera came back with other parameters: the client reconnects
                init = feed.init
                yield init
            yield fragment.data


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
@token_or_session
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
