"""ASGI entry point: HTTP through Django, /ws/ through Channels, both behind auth."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "surveillance.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from cameras.routing import websocket_urlpatterns as live_urls  # noqa: E402
from events.routing import websocket_urlpatterns as alert_urls  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Static files come from the app folders directly: no collectstatic, no extra server.
        "http": ASGIStaticFilesHandler(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(alert_urls + live_urls))
        ),
    }
)
