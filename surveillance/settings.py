"""The one settings file: every knob is an environment variable with a default that runs as is."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import socket
from pathlib import Path
from urllib.parse import unquote, urlsplit

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    return env(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DATA_DIR = Path(env("SURVEILLANCE_DATA_DIR", str(BASE_DIR / "var"))).resolve()
# The database holds camera passwords and sessions, media holds what the cameras saw: nobody
# else on the machine reads any of it.
os.umask(0o077)
DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
RUN_DIR = DATA_DIR / "run"
REDIS_SOCKET = RUN_DIR / "redis.sock"  # the private Redis runsurveillance starts


def _secret_key() -> str:
    """The env's key, else one generated once and kept in the data dir, readable by us only."""
    if key := env("DJANGO_SECRET_KEY"):
        return key
    path = DATA_DIR / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def _database(url: str) -> dict:
    """A Django DATABASES entry from a URL; empty means the SQLite file in the data dir."""
    parts = urlsplit(url)
    if not url or parts.scheme == "sqlite":
        # sqlite:///relative.db and sqlite:////absolute/path.db, as dj-database-url reads them
        name = unquote(parts.path)[1:] if url else str(DATA_DIR / "db.sqlite3")
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name,
            "TEST": {"NAME": str(Path(name).with_name("test_" + Path(name).name))},
            # WAL + IMMEDIATE + busy_timeout: several worker processes write without
            # "database is locked" (measured: 0 errors of 1800, see FACTS.md).
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA busy_timeout=5000;",
                "transaction_mode": "IMMEDIATE",
            },
        }
    if parts.scheme in {"postgres", "postgresql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 0,
        }
    raise ValueError(
        f"DATABASE_URL: unsupported scheme {parts.scheme!r} (use sqlite:// or postgres://)"
    )


SECRET_KEY = _secret_key()
DEBUG = env_bool("DJANGO_DEBUG")


def _bind_hosts(bind: str) -> list[str]:
    """Host names the server answers to for a HOST:PORT bind; all interfaces add this machine's."""
    host = bind.rsplit(":", 1)[0].strip("[]")
    if host not in {"0.0.0.0", "::", ""}:  # noqa: S104 (a comparison, not a bind)
        return [host]
    name = socket.gethostname()
    return [name, f"{name}.local", *_own_addresses(name)]


def _own_addresses(name: str) -> list[str]:
    addresses = set()
    with contextlib.suppress(OSError):
        addresses |= {info[4][0] for info in socket.getaddrinfo(name, None)}
    # The LAN address: the one a route out would use. A UDP connect sends nothing.
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never reached
        addresses.add(probe.getsockname()[0])
    return sorted(addresses)


BIND = env("SURVEILLANCE_BIND", "127.0.0.1:8000")
ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ",".join(["localhost", "127.0.0.1", *_bind_hosts(BIND)])
)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "ninja",  # its Swagger UI files, served from here: the docs work offline
    "axes",
    "accounts",
    "cameras",
    "recordings",
    "events",
    "objects",
    "dashboard",
    "notifications",
    "capture",
    "api",
]

# A process that serves no HTTP (the supervisor, a capture worker, the notifier: set to "back" by
# manage.py and the supervisor) needs the models, not Daphne and Twisted, the admin, the API or
# the pages: leaving them out saves every such process some 35 MB (bench/process_memory.py).
PROCESS = env("SURVEILLANCE_PROCESS", "web")
if PROCESS not in ("web", "back"):
    raise ImproperlyConfigured(f"SURVEILLANCE_PROCESS must be web or back, not {PROCESS!r}")
WEB_ONLY_APPS = [
    "daphne", "django.contrib.admin", "django.contrib.messages", "django.contrib.staticfiles",
    "ninja", "axes", "dashboard", "api",
]  # fmt: skip
if PROCESS == "back":
    INSTALLED_APPS = [app for app in INSTALLED_APPS if app not in WEB_ONLY_APPS]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "accounts.devices.device_cookies",
    "axes.middleware.AxesMiddleware",  # last: it turns a lockout into the page below
]

if PROCESS == "back":
    MIDDLEWARE = []  # no requests (the system checks would import django-axes' for nothing)
ROOT_URLCONF = "surveillance.urls"
ASGI_APPLICATION = "surveillance.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": _database(env("DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Unset: the private Redis that runsurveillance starts on a unix socket in the data dir.
REDIS_URL = env("REDIS_URL", f"unix://{REDIS_SOCKET}")
# Object detection on motion (objects/): unset, the bundled person detector; "off", none (every
# event alerts, as motion alone did before).
OBJECT_MODEL = env("SURVEILLANCE_OBJECT_MODEL")
OBJECT_DETECTION = OBJECT_MODEL.strip().lower() != "off"
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "capacity": 200, "expiry": 10},
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if env_bool("SURVEILLANCE_FAST_PASSWORD_HASHER"):  # the test suite only
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Brute force: django-axes counts failed logins (the dashboard's and the admin's alike) and
# locks a username from an address after 5 failures for 15 minutes. A success resets nothing:
# the browser that logged in gets its own allowance (its device cookie, below), and the owner
# logging in from an attacker's address must not hand the attacker five more tries.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# The client's address is resolved once, by the web server (surveillance/server.py), from
# X-Forwarded-For only when the connection comes from one of these reverse proxies (addresses or
# CIDR networks); unset, no forwarded address is believed. Axes takes REMOTE_ADDR as it is, and
# never X-Forwarded-For itself (it would with django-ipware installed).
TRUSTED_PROXIES = env_list("SURVEILLANCE_TRUSTED_PROXIES")
AXES_CLIENT_IP_CALLABLE = "accounts.devices.client_address"
# A browser that has logged in before keeps an allowance of its own (a signed device cookie,
# accounts/devices.py): a flood of wrong passwords from elsewhere does not lock its owner out.
AXES_WHITELIST_CALLABLE = "accounts.devices.has_own_allowance"
DEVICE_COOKIE_AGE = dt.timedelta(days=365)
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT")
if SECURE_SSL_REDIRECT:  # behind an HTTPS reverse proxy, which says so in this header
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES")
# Only once the site is served over HTTPS for good: browsers then refuse plain HTTP for this long.
SECURE_HSTS_SECONDS = int(env("DJANGO_HSTS_SECONDS", "0"))
# HSTS for every subdomain, and a place on the browsers' preload list, bind the whole domain
# the cameras happen to live under: that is its owner's decision, not this site's.
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
# Content-Security-Policy (django-csp): every script, style, image and connection from this
# site only, and no inline script or handler, so that markup slipped into a page cannot run.
# blob: images are the live tiles (frames the page's websocket brings), blob: media the live
# H.264 view (Media Source Extensions).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "blob:"],
        "media-src": [SELF, "blob:"],
        "connect-src": [SELF],
        "worker-src": [SELF],  # /sw.js, the service worker that shows pushes
        "manifest-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TZ", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"  # never served directly: event images go through a permission check
# Retention (events/retention.py, `manage.py prune`, run by runsurveillance every 10 min):
# besides each camera's keep_days, the oldest events go while the snapshots use more than the
# budget (0: no budget) or the disk has less free space than the reserve.
# Request bodies larger than this are refused (413) by the web server before they are read
# (surveillance/limits.py); the longest matching path prefix decides. The largest form here (a
# camera with its mask) is a few KB. A URL that takes uploads gets an entry of its own, larger;
# its view still decides who may upload.
REQUEST_BODY_LIMITS = {"/": 256 * 1024}
STORAGE_BUDGET_BYTES = int(float(env("SURVEILLANCE_STORAGE_GB", "0")) * 1e9)
FREE_SPACE_RESERVE_BYTES = int(float(env("SURVEILLANCE_FREE_SPACE_GB", "1")) * 1e9)

# Notifications (notifications/, the `notifier` process runsurveillance starts). Each URL is
# checked at start-up (surveillance.E010-E012). Unset, a channel is off.
PUBLIC_URL = env("SURVEILLANCE_PUBLIC_URL")  # base of links in e-mails, pushes, MQTT, webhooks
MQTT_URL = env("SURVEILLANCE_MQTT_URL")  # mqtt://[user:pass@]host[:port] or mqtts://
MQTT_TOPIC = env("SURVEILLANCE_MQTT_TOPIC", "surveillance").strip("/") or "surveillance"
MQTT_DISCOVERY = env("SURVEILLANCE_MQTT_DISCOVERY", "homeassistant").strip("/")  # "": off
MQTT_SNAPSHOTS = env_bool("SURVEILLANCE_MQTT_SNAPSHOTS", True)
# Seconds between the notifier's pings to the broker. A notifier that vanishes without a word
# (power cut, frozen machine) is marked offline by its last will 1.5 times this later.
MQTT_KEEPALIVE = max(1, int(env("SURVEILLANCE_MQTT_KEEPALIVE", "30")))
EMAIL_URL = env("SURVEILLANCE_EMAIL_URL")  # smtp://[user:pass@]host[:port] or smtps://
EMAIL_FROM = env("SURVEILLANCE_EMAIL_FROM", "surveillance@localhost")
# Seconds before a failed delivery's first retry; each retry waits twice as long (≤ 15 min),
# for 6 hours, then the delivery shows as failed in admin.
NOTIFY_RETRY_FIRST = float(env("SURVEILLANCE_NOTIFY_RETRY_FIRST", "5"))
# Seconds between the checks a running stream or socket makes that its viewer still may (a
# logout, a revoked token, a camera taken away ends it within this).
RECHECK_SECONDS = float(env("SURVEILLANCE_RECHECK_SECONDS", "30"))
VAPID_KEY_FILE = DATA_DIR / "vapid_private.pem"  # Web Push's key, made once (mode 0600)
# Push endpoints on this machine or the LAN: only for the test suite's own push receiver.
PUSH_ALLOW_LOCAL = env_bool("SURVEILLANCE_PUSH_ALLOW_LOCAL")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stderr"], "level": env("SURVEILLANCE_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},  # 4xx are answers, not faults
        "daphne": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # failed logins and lockouts; not every success
    },
}
