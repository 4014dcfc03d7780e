"""The notification pages: a person's own choices, their browsers' push subscriptions, and the
service worker and manifest that make the site an installable app that can show pushes."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from notifications.forms import PreferenceForm, SubscriptionForm
from notifications.models import Preference, PushSubscription
from notifications.push import application_server_key, endpoint_policy
from notifications.targets import TargetRefused, checked_address

STATIC = settings.BASE_DIR / "static"


@login_required
@never_cache
def preferences(request: HttpRequest) -> HttpResponse:
    preference = Preference.of(request.user)
    form = PreferenceForm(request.POST or None, instance=preference, user=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Notification choices saved.")
        return redirect("notifications")
    context = {"form": form, "browsers": request.user.push_subscriptions.order_by("created_at")}
    return render(
        request, "notifications/preferences.html", context, status=400 if form.errors else 200
    )


@login_required
@require_GET
def push_key(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"key": application_server_key()})


def _json(request: HttpRequest) -> dict:
    try:
        data = json.loads(request.body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@login_required
@require_POST
def push_subscribe(request: HttpRequest) -> JsonResponse:
    data = _json(request)
    keys = data.get("keys") if isinstance(data.get("keys"), dict) else {}
    form = SubscriptionForm({"endpoint": data.get("endpoint"), **keys})
    if not form.is_valid():
        return JsonResponse({"error": form.errors.get_json_data()}, status=400)
    endpoint = form.cleaned_data["endpoint"]
    policy = endpoint_policy()
    try:
        if not endpoint.startswith("https://") and not policy.allow_local:
            raise TargetRefused("a push endpoint must be https://")
        checked_address(endpoint, policy)
    except TargetRefused as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    PushSubscription.objects.update_or_create(
        endpoint=endpoint,
        defaults={"user": request.user, "p256dh": form.cleaned_data["p256dh"],
                  "auth": form.cleaned_data["auth"],
                  "user_agent": request.headers.get("User-Agent", "")[:300]},
    )  # fmt: skip
    return JsonResponse({"subscribed": True}, status=201)


@login_required
@require_POST
def push_unsubscribe(request: HttpRequest) -> JsonResponse:
    endpoint = _json(request).get("endpoint")
    deleted, _ = PushSubscription.objects.filter(user=request.user, endpoint=endpoint).delete()
    return JsonResponse({"subscribed": False, "removed": bool(deleted)})


@login_required
@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """Served from / so that its scope is the whole site."""
    script = (STATIC / "js" / "sw.js").read_bytes()
    response = HttpResponse(script, content_type="text/javascript")
    response["Cache-Control"] = "no-cache"  # browsers look for a new one at every visit
    return response


@login_required
@require_GET
def manifest(request: HttpRequest) -> HttpResponse:
    body = {
        "name": "Surveillance",
        "short_name": "Cameras",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#111418",
        "theme_color": "#111418",
        "icons": [{"src": "/static/img/icon.svg", "sizes": "any", "type": "image/svg+xml"}],
    }
    return HttpResponse(json.dumps(body), content_type="application/manifest+json")
