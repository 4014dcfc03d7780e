"""Websockets only from the site's own pages: the same origin rule as Django's CSRF check.

Channels' AllowedHostsOriginValidator compares the Origin's host with ALLOWED_HOSTS and nothing
else, so any other web app on the same host (another port, or plain http beside https) could
open the sockets with a logged-in browser's cookies and watch the cameras. Here the Origin must
be the site's own scheme, host and port, or one of DJANGO_CSRF_TRUSTED_ORIGINS, as for a POST.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]  # scheme, host, port


def parse_origin(text: str) -> Origin | None:
    """(scheme, host, port) of an origin or a trusted-origin setting; None if it is none."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:  # a port that is no number
        return None
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port


def site_scheme(scope: dict, headers: dict[bytes, str]) -> str:
    """https when the browser used it: the server says so (or a trusted proxy told it), or the
    proxy header Django itself believes (SECURE_PROXY_SSL_HEADER) does."""
    if scope.get("scheme") in ("wss", "https"):
        return "https"
    if settings.SECURE_PROXY_SSL_HEADER:
        name, value = settings.SECURE_PROXY_SSL_HEADER
        header = name.removeprefix("HTTP_").lower().replace("_", "-").encode()
        if headers.get(header, "").split(",")[0].strip() == value:
            return "https"
    return "http"


def allowed_hosts() -> list[str]:
    if settings.DEBUG and not settings.ALLOWED_HOSTS:  # as Django's own get_host()
        return [".localhost", "127.0.0.1", "[::1]"]
    return settings.ALLOWED_HOSTS


def trusted(origin: Origin) -> bool:
    """One of CSRF_TRUSTED_ORIGINS, where https://*.example.org stands for its subdomains."""
    scheme, host, port = origin
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        if "://*." in entry:
            pattern = parse_origin(entry.replace("://*.", "://", 1))
            if (
                pattern
                and (scheme, port) == (pattern[0], pattern[2])
                and is_same_domain(host, "." + pattern[1])
            ):
                return True
        elif parse_origin(entry) == origin:
            return True
    return False


def origin_allowed(scope: dict) -> bool:
    headers = {name: value.decode("latin-1") for name, value in scope.get("headers", [])}
    host, origin = headers.get(b"host", ""), parse_origin(headers.get(b"origin", ""))
    domain, _ = split_domain_port(host)
    if origin is None or not domain or not validate_host(domain, allowed_hosts()):
        return False
    scheme = site_scheme(scope, headers)
    return origin == parse_origin(f"{scheme}://{host}") or trusted(origin)


class SameOriginValidator:
    """ASGI middleware for websockets: refuses the handshake (403) from any other origin."""

    def __init__(self, application: object) -> None:
        self.application = application

    async def __call__(self, scope: dict, receive: object, send: object) -> None:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
