"""The pages people watch: the dashboard of every camera they may view, and a camera's own page.
Both are complete without JavaScript; static/js/dashboard.js adds what the websockets bring."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache

from cameras.models import Camera
from cameras.views import camera_for_user
from events.activity import hourly_bars
from events.consumers import CATCH_UP_MARGIN
from events.models import MotionEvent, MotionEventQuerySet
from recordings.forms import DayForm
from recordings.timeline import day_bounds, marks

RECENT_EVENTS = 12  # the strip of latest events
ACTIVITY_HOURS = 24


def _with_activity(cameras: list[Camera], events: MotionEventQuerySet) -> list[Camera]:
    """Each camera gets .activity: its events per hour over the last day, as chart bars."""
    counts = events.hourly_activity(ACTIVITY_HOURS)
    for camera in cameras:
        camera.activity = hourly_bars(counts.get(camera.pk, [0] * ACTIVITY_HOURS))
    return cameras


def _known_events(events: MotionEventQuerySet, now: dt.datetime) -> dict[str, list[int]]:
    """Ids of the events a catch-up from `now` will repeat (it reaches back a margin): the page
    already has them, so they must not alert again; a quiet one may still, once an object is
    found in it."""
    known: dict[str, list[int]] = {"known_events": [], "quiet_events": []}
    recent = events.changed_since(now - CATCH_UP_MARGIN).values_list("pk", "quiet")
    for pk, quiet in recent:
        known["quiet_events" if quiet else "known_events"].append(pk)
    return known


@login_required
@never_cache
def dashboard(request: HttpRequest) -> HttpResponse:
    cameras = list(Camera.objects.visible_to(request.user).enabled())
    events, now = MotionEvent.objects.for_user(request.user), timezone.now()
    context = {
        "cameras": _with_activity(cameras, events),
        "recent_events": events.recent().select_related("camera")[:RECENT_EVENTS],
        "now": now,
        **_known_events(events, now),
    }
    return render(request, "dashboard/dashboard.html", context)


@login_required
@never_cache
def camera(request: HttpRequest, slug: str) -> HttpResponse:
    """A camera's full-size live view, its activity and its latest events."""
    camera = camera_for_user(request.user, slug)
    events, now = MotionEvent.objects.filter(camera=camera), timezone.now()
    context = {
        "camera": _with_activity([camera], events)[0],
        "recent_events": events.recent().select_related("camera")[:RECENT_EVENTS],
        "now": now,
        # alerts come for all the user's cameras, on this page too
        **_known_events(MotionEvent.objects.for_user(request.user), now),
        **_timeline(request, camera, events),
    }
    return render(request, "dashboard/camera.html", context)


def _timeline(request: HttpRequest, camera: Camera, events: MotionEventQuerySet) -> dict:
    """A day of recorded video (?day=YYYY-MM-DD, today by default), with its events."""
    form = DayForm(request.GET)
    day = form.cleaned_data["day"] if form.is_valid() and form.cleaned_data["day"] else None
    day = day or timezone.localdate()
    start, end = day_bounds(day)
    recorded, happened = marks(camera, day, list(events.started_between(start, end)))
    if not recorded and camera.record != Camera.Record.CONTINUOUS:
        return {}
    return {
        "timeline": {"recorded": recorded, "events": happened, "day": day, "start": start},
        "day_form": form,
        "previous_day": day - dt.timedelta(days=1),
        "next_day": day + dt.timedelta(days=1) if day < timezone.localdate() else None,
    }


@login_required
def camera_armed(request: HttpRequest, slug: str) -> HttpResponse:
    """Arm or disarm a camera's notifications (POST). Whoever may view a camera may: the
    household disarms the indoor cameras while at home. Recording goes on either way."""
    camera = camera_for_user(request.user, slug)  # first: 403 for others, whatever the method
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    camera.set_armed(request.POST.get("armed") == "on")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = camera.get_absolute_url()
    return redirect(back)
