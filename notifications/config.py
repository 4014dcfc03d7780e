"""The notification settings read from their URLs, with the error a person can act on."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Server:
    """A broker or mail server: where it is, how to reach it, who we are there."""

    host: str
    port: int
    tls: bool
    username: str = ""
    password: str = ""
    starttls: bool = False

    def __str__(self) -> str:  # for logs: never the password
        return f"{self.host}:{self.port}{' (TLS)' if self.tls or self.starttls else ''}"


def _server(name: str, url: str, schemes: dict[str, tuple[bool, int]]) -> Server:
    example = " or ".join(f"{scheme}://" for scheme in schemes)
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        raise ConfigError(f"{name} must start with {example}")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"{name}: the port must be a number from 1 to 65535") from None
    if not parts.hostname:
        raise ConfigError(f"{name} has no host: {example}host[:port]")
    if port == 0:
        raise ConfigError(f"{name}: the port must be a number from 1 to 65535")
    tls, default_port = schemes[parts.scheme]
    return Server(
        host=parts.hostname,
        port=port or default_port,
        tls=tls,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        starttls=parse_qs(parts.query).get("starttls", ["0"])[0] in {"1", "true", "yes"},
    )


def mqtt_server(url: str | None = None) -> Server | None:
    """The broker of SURVEILLANCE_MQTT_URL (None: MQTT is off); ConfigError if it is wrong."""
    url = settings.MQTT_URL if url is None else url
    if not url:
        return None
    return _server("SURVEILLANCE_MQTT_URL", url, {"mqtt": (False, 1883), "mqtts": (True, 8883)})


def email_server(url: str | None = None) -> Server | None:
    """The mail server of SURVEILLANCE_EMAIL_URL (None: e-mail is off)."""
    url = settings.EMAIL_URL if url is None else url
    if not url:
        return None
    return _server("SURVEILLANCE_EMAIL_URL", url, {"smtp": (False, 25), "smtps": (True, 465)})


def public_url(url: str | None = None) -> str:
    """SURVEILLANCE_PUBLIC_URL without its trailing slash ("" when unset)."""
    url = settings.PUBLIC_URL if url is None else url
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError("SURVEILLANCE_PUBLIC_URL must be http(s)://host[:port][/path]")
    return url.rstrip("/")


def absolute_links(event: dict) -> dict[str, str]:
    """The event's links (url, snapshot_url, clip_url, …) made absolute with the public URL;
    empty without one, rather than links to 127.0.0.1."""
    base = public_url()
    if not base:
        return {}
    return {
        key: base + value
        for key, value in event.items()
        if key.endswith("url") and isinstance(value, str) and value.startswith("/")
    }
