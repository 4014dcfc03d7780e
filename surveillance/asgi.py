"""ASGI entry point: HTTP through Django, /ws/ through Channels, both behind auth."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "surveillance.settings")
django_asgi_app = get_asgi_application()

from asgiref.sync import sync_to_async  # noqa: E402
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.core.exceptions import SuspiciousOperation  # noqa: E402
from django.core.handlers.exception import response_for_exception  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402

from cameras.routing import websocket_urlpatterns as live_urls  # noqa: E402
from events.routing import websocket_urlpatterns as alert_urls  # noqa: E402
from surveillance.origins import SameOriginValidator  # noqa: E402


class StaticFiles(ASGIStaticFilesHandler):
    """Static files straight from the app folders. Django's handler answers a path that leaves
    them (/static/../manage.py) with a 500 and a traceback; this one with a 400, as any other
    suspicious request, logged to django.security."""

    async def get_response_async(self, request: HttpRequest) -> HttpResponse:
        try:
            return await super().get_response_async(request)
        except SuspiciousOperation as exc:
            return await sync_to_async(response_for_exception, thread_sensitive=False)(request, exc)


application = ProtocolTypeRouter(
    {
        # Static files come from the app folders directly: no collectstatic, no extra server.
        "http": StaticFiles(django_asgi_app),
        # Channels' AllowedHostsOriginValidator in that place compares hosts only.
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(alert_urls + live_urls))),
    }
)
