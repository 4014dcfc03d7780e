"""A camera's recorded video over HTTP: any span, as one MP4."""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.http import require_GET

from accounts.auth import token_or_session
from cameras.views import camera_for_user
from recordings.exports import export_span
from recordings.forms import SpanForm, iso
from recordings.serving import file_response, reads_on


@require_GET
@token_or_session
async def span(request: HttpRequest, slug: str) -> HttpResponse:
    camera = await sync_to_async(camera_for_user)(request.user, slug)  # a session's or a token's
    form = SpanForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text(), content_type="text/plain")
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    path = await asyncio.to_thread(export_span, camera, start, end, not reads_on(request))
    if path is None:
        return HttpResponse(
            "nothing was recorded in that span", status=404, content_type="text/plain"
        )
    return file_response(request, path, f"{camera.slug}-{iso(start)}-{iso(end)}.mp4")
