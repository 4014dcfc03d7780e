"""The JSON API: /api/cameras/, /api/events/, /api/events/<id>/, its OpenAPI 3 schema at
/api/schema/ and readable docs at /api/docs/ (Swagger UI from django-ninja's own static files,
no CDN). Session or API token (accounts/auth.py), read only but for a camera's notify switch
(PUT /api/cameras/<slug>/armed/, session and CSRF token only); every payload is the model's
to_dict(), as the websocket sends it.

and a camera's recorded spans at /api/cameras/<slug>/recordings/.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from ninja import Field, NinjaAPI, Query, Schema, Status, Swagger
from ninja import Path as PathParam
from ninja.errors import ValidationError
from ninja.security.base import AuthBase
from pydantic import AwareDatetime

from accounts.auth import Credential, Refused, authenticate, token_or_session
from api import cursors
from api.schemas import CameraOut, EventFilters, EventOut, EventPage, Problem, SpanOut
from cameras.models import Camera
from events.models import MotionEvent, MotionEventQuerySet
from recordings.timeline import spans

REFUSALS = {401: Problem, 403: Problem, 429: Problem}


class TokenOrSession(AuthBase):
    """The site's one authentication helper; Bearer and Basic are both documented."""

    openapi_type = "http"
    openapi_scheme = "bearer"

    def __call__(self, request: HttpRequest) -> Credential:
        return authenticate(request)  # Refused becomes its answer, below


class BasicToken(TokenOrSession):
    openapi_scheme = "basic"


def docs_guard(view: object) -> object:
    return never_cache(token_or_session(view))


api = NinjaAPI(
    title="Surveillance",
    version="1",
    description="Cameras and motion events. Authenticate with your session, or an API token "
    "(the Tokens page): `Authorization: Bearer TOKEN`, or HTTP Basic with your username and the "
    "token. Read only, but for the notify switch (PUT, with your session and its CSRF token).",
    openapi_url="/schema/",
    docs=Swagger(settings={"validatorUrl": None}),  # the default asks swagger.io about the schema
    docs_url="/docs/",
    docs_decorator=docs_guard,
    urls_namespace="api",
    auth=[TokenOrSession(), BasicToken()],
)


@never_cache
@token_or_session
def home(request: HttpRequest) -> HttpResponse:
    """/api/ itself: the docs (django-ninja's own answers 404 to everyone)."""
    return redirect("api:openapi-view")


@api.exception_handler(Refused)
def refused(request: HttpRequest, exc: Refused) -> HttpResponse:
    text = exc.response()
    response = api.create_response(request, {"detail": exc.text.strip()}, status=exc.status)
    for header in ("WWW-Authenticate", "Retry-After", "Cache-Control"):
        if header in text:
            response[header] = text[header]
    return response


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in error.get('loc', [])[1:]) or 'request'}: {error.get('msg')}"
        for error in exc.errors
    )
    return api.create_response(request, {"detail": problems}, status=400)


@api.exception_handler(cursors.BadCursor)
def bad_cursor(request: HttpRequest, exc: cursors.BadCursor) -> HttpResponse:
    return api.create_response(request, {"detail": f"cursor: {exc}"}, status=400)


def _private(response: HttpResponse) -> None:
    response["Cache-Control"] = "private, no-store"


@api.get("/cameras/", response={200: list[CameraOut], **REFUSALS}, summary="Your cameras")
def cameras(request: HttpRequest, response: HttpResponse) -> list[dict]:
    """The cameras you may view, with their status and their stream and snapshot URLs."""
    _private(response)
    return [camera.to_dict() for camera in Camera.objects.visible_to(request.user)]


class Armed(Schema):
    armed: bool = Field(description="true: its events notify; false: recorded, not told")


def viewed_camera(request: HttpRequest, slug: str) -> Camera | Status:
    camera = Camera.objects.filter(slug=slug).first()
    if camera is None:
        return Status(404, {"detail": "no such camera"})
    if not Camera.objects.visible_to(request.user).filter(pk=camera.pk).exists():
        return Status(403, {"detail": "not one of your cameras"})
    return camera


ARMED = {200: Armed, 400: Problem, 404: Problem, **REFUSALS}


@api.get("/cameras/{slug}/armed/", response=ARMED, summary="Whether a camera notifies")
def camera_armed(request: HttpRequest, response: HttpResponse, slug: str) -> dict | Status:
    _private(response)
    camera = viewed_camera(request, slug)
    return camera if isinstance(camera, Status) else {"armed": camera.armed}


@api.put("/cameras/{slug}/armed/", response=ARMED, summary="Arm or disarm a camera's notifications")
def set_camera_armed(
    request: HttpRequest, response: HttpResponse, slug: str, body: Armed
) -> dict | Status:
    """Whoever may view a camera may (as on the dashboard): with your session and its CSRF token
    (`X-CSRFToken`), not with an API token, which only reads. Events are recorded either way."""
    _private(response)
    if CsrfViewMiddleware(lambda request: None).process_view(request, None, (), {}) is not None:
        raise Refused(403, "This needs the page's CSRF token (X-CSRFToken).\n")
    camera = viewed_camera(request, slug)
    if isinstance(camera, Status):
        return camera
    camera.set_armed(body.armed)
    return {"armed": camera.armed}


@api.get("/events/", response={200: EventPage, 400: Problem, **REFUSALS}, summary="Events")
def events(request: HttpRequest, response: HttpResponse, filters: Query[EventFilters]) -> dict:
    """Motion events of your cameras, newest first, a page at a time: follow `next`."""
    _private(response)
    found = filtered(MotionEvent.objects.select_related("camera"), filters)
    if filters.cursor:
        found = found.after_in_list(*cursors.decode(filters.cursor))
    page = found.newest_for(request.user, filters.limit + 1)  # the permission rule inside
    more, page = len(page) > filters.limit, page[: filters.limit]
    return {"items": [e.to_dict() for e in page], "next": next_url(request, page) if more else None}


def filtered(events: MotionEventQuerySet, filters: EventFilters) -> MotionEventQuerySet:
    if filters.camera is not None:
        # By id, which each camera's own index has (not theirs, or none: no events, the same)
        camera = Camera.objects.filter(slug=filters.camera).values_list("pk", flat=True).first()
        events = events.filter(camera_id=camera)
    events = events.started_between(filters.since, filters.until)
    if filters.min_duration:
        events = events.lasting_at_least(filters.min_duration)
    if filters.has_clip is not None:
        events = events.with_clip(filters.has_clip)
    return events


def next_url(request: HttpRequest, page: list[MotionEvent]) -> str:
    last = page[-1]
    query = {k: v for k, v in request.GET.items() if k != "cursor"}
    query["cursor"] = cursors.encode(last.started_at, last.pk)
    return f"{request.path}?{urlencode(query)}"


EventId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="the event's id")]


# {pk}, not {int:pk}: a path that is no id gets the API's own 400, not the site's HTML 404.
@api.get(
    "/events/{pk}/", response={200: EventOut, 400: Problem, 404: Problem, **REFUSALS},
    summary="An event",
)  # fmt: skip
def event(request: HttpRequest, response: HttpResponse, pk: EventId) -> dict | Status:
    """One event, if you may view its camera (403 whether or not it exists, for others)."""
    _private(response)
    found = MotionEvent.objects.for_user(request.user).select_related("camera").filter(pk=pk)
    if not found:
        if request.user.is_staff:
            return Status(404, {"detail": "no such event"})
        return Status(403, {"detail": "not an event of your cameras"})
    return found[0].to_dict()


class SpanFilters(Schema):
    start: AwareDatetime | None = Field(None, description="from (ISO 8601); default: a day ago")
    end: AwareDatetime | None = Field(None, description="to (ISO 8601); default: now")


CameraSlug = Annotated[str, PathParam(max_length=50, pattern=r"^[-a-zA-Z0-9_]+$")]


@api.get(
    "/cameras/{slug}/recordings/",
    response={200: list[SpanOut], 400: Problem, 404: Problem, **REFUSALS},
    summary="A camera's recorded video",
)  # fmt: skip
def recordings(
    request: HttpRequest, response: HttpResponse, slug: CameraSlug, span: Query[SpanFilters]
) -> list[dict] | Status:
    """The spans of video recorded between start and end (at most a week), oldest first, each
    with the URL that gives it as one MP4."""
    _private(response)
    camera = Camera.objects.visible_to(request.user).filter(slug=slug).first()
    if camera is None:
        if request.user.is_staff:
            return Status(404, {"detail": "no such camera"})
        return Status(403, {"detail": "not one of your cameras"})
    end = span.end or timezone.now()
    start = span.start or end - dt.timedelta(days=1)
    if not start < end <= start + dt.timedelta(days=7):
        return Status(400, {"detail": "start must be before end, at most a week before it"})
    clip = reverse("camera-clip", args=[camera.slug])
    return [
        {"start": s.start.isoformat(), "end": s.end.isoformat(),
         "url": f"{clip}?{urlencode({'start': s.start.isoformat(), 'end': s.end.isoformat()})}"}
        for s in spans(camera, start, end)
    ]  # fmt: skip
