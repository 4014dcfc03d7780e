"""Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies").

A successful login gives the browser a signed cookie naming the user and a random nonce. A later
login attempt for that user carrying it is counted against that device alone, so that wrong
passwords from anywhere else (django-axes throttles those by username and address) never lock
the owner's own browsers out. A device that sends too many wrong passwords itself loses its
allowance for the cool-off and is throttled like any other client.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware

from accounts.models import LoginDevice

COOKIE = "surveillance_device"
SALT = "accounts.devices"


def client_address(request: HttpRequest) -> str:
    """The client's address as the web server resolved it (see accounts/proxies.py)."""
    return request.META.get("REMOTE_ADDR", "")


def device_nonce(request: HttpRequest, username: str | None) -> str | None:
    """The nonce of this browser's device cookie, if it holds a valid one for this user."""
    value = request.COOKIES.get(COOKIE)
    if not value or not username:
        return None
    try:
        data = signing.loads(value, salt=SALT, max_age=settings.DEVICE_COOKIE_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("u") != username or not data.get("n"):
        return None
    return str(data["n"])


def has_own_allowance(request: HttpRequest, credentials: dict | None) -> bool:
    """Axes' whitelist: attempts from a known device that has not spent its own allowance are
    neither refused nor counted by axes (they are counted here, per device)."""
    if not hasattr(request, "login_device"):  # axes asks more than once per attempt
        nonce = device_nonce(request, (credentials or {}).get("username"))
        allowed = nonce is not None and not LoginDevice.objects.locked(nonce)
        request.login_device = nonce if allowed else None
    return request.login_device is not None


def count_failure(sender: object, credentials: dict, request: HttpRequest | None = None,
                  **kwargs: object) -> None:  # fmt: skip
    """user_login_failed: a wrong password from a known device counts against that device."""
    if nonce := getattr(request, "login_device", None):
        LoginDevice.count_failure(nonce, str(credentials.get("username", "")))


def remember(
    sender: object, request: HttpRequest, user: AbstractBaseUser, **kwargs: object
) -> None:
    """user_logged_in: a new device cookie for this browser (its old failures forgotten)."""
    if nonce := getattr(request, "login_device", None):
        LoginDevice.objects.filter(nonce=nonce).delete()
    value = {"u": user.get_username(), "n": secrets.token_hex(16)}
    request.new_device_cookie = signing.dumps(value, salt=SALT)


def _with_cookie(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if cookie := getattr(request, "new_device_cookie", None):
        response.set_cookie(
            COOKIE, cookie, max_age=settings.DEVICE_COOKIE_AGE, httponly=True,
            samesite="Lax", secure=settings.SESSION_COOKIE_SECURE,
        )  # fmt: skip
    return response


@sync_and_async_middleware
def device_cookies(get_response: Callable) -> Callable:
    """Sets the cookie a login made (the login signal has no response to set it on)."""
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> Awaitable[HttpResponse]:
            return _with_cookie(request, await get_response(request))

    else:

        def middleware(request: HttpRequest) -> HttpResponse:
            return _with_cookie(request, get_response(request))

    return middleware
