"""Who is calling a stream, image, clip or API URL: the one authentication helper.

Besides the session, those URLs take an API token: `Authorization: Bearer TOKEN`, or HTTP Basic
with the username and a token as the password (what Home Assistant, VLC and ffmpeg send). Never
the account password (a leaked camera URL is revoked without changing the password), never a
token in the query string (it would be in every access log). A token reads what its user may
see, and only reads.

Anonymous requests get 401 with a Basic challenge, which is what makes those clients send their
credentials, except requests from our own pages (Sec-Fetch-Site: same-origin): a challenge would
make the browser ask for the account password in a dialog, so they get 403 and the page sends
them to the login form.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from accounts.devices import client_address
from accounts.models import ApiToken

logger = logging.getLogger(__name__)

REALM = "Surveillance"
SAFE_METHODS = ("GET", "HEAD")  # a token only reads
# Wrong tokens per client address before that address gets 429 for a while. Apart from the login
# form's count: a stale token in Home Assistant never locks its owner out of logging in.
WRONG_TOKENS_LIMIT, WRONG_TOKENS_WINDOW = 20, 300  # tries, seconds
KNOWN_TOKEN_FOR = 30 * 24 * 3600  # seconds a token that worked from an address keeps its pass


@dataclass
class Credential:
    """How a caller authenticated: a session (the site's login) or an API token."""

    user: AbstractBaseUser
    session: SessionBase | None = None
    token: ApiToken | None = None

    def current_user(self) -> AbstractBaseUser | None:
        """The user as the database knows them now; None once logged out, the token revoked,
        or the user deactivated. What long-lived streams and sockets check again and again."""
        if self.token is not None:
            token = ApiToken.objects.active().select_related("user").filter(pk=self.token.pk)
            found = token.first()
            return found.user if found is not None else None
        if self.session is None or not self.user.is_authenticated:
            return None
        if not self.session.exists(self.session.session_key):
            return None
        return get_user_model().objects.filter(pk=self.user.pk, is_active=True).first()


def session_credential(
    session: SessionBase | None, user: AbstractBaseUser | None
) -> Credential | None:
    """A logged-in session's credential (websockets have only the session)."""
    if session is None or user is None or not user.is_authenticated:
        return None
    return Credential(user, session=session)


class Refused(Exception):
    """The request may not go on: its answer."""

    def __init__(self, status: int, text: str, challenge: bool = False) -> None:
        super().__init__(text)
        self.status, self.text, self.challenge = status, text, challenge

    def response(self) -> HttpResponse:
        response = HttpResponse(self.text, status=self.status, content_type="text/plain")
        if self.challenge:
            response["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
        if self.status == 429:
            response["Retry-After"] = str(WRONG_TOKENS_WINDOW)
        response["Cache-Control"] = "private, no-store"
        return response


def presented_token(request: HttpRequest) -> tuple[str, str | None] | None:
    """(token, the username it came with) from the Authorization header; None without one."""
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip(), None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return "", None
        username, _, secret = decoded.partition(":")
        return secret, username
    return "", None  # a scheme we do not take (Digest, …)


def token_credential(request: HttpRequest, token: str, username: str | None) -> Credential:
    """The token's credential, or Refused. Wrong tokens are counted per address; past the limit
    that address gets 429, except for a token that has worked from it before (as a device
    cookie keeps a browser's login allowance): a stale token in Home Assistant must not stop
    the owner's other clients on the same host, while a guess is refused whether right or not."""
    address = client_address(request)
    key = f"accounts.wrong-tokens:{address}"
    row = ApiToken.find(token)
    if row is not None and username is not None and username != row.user.get_username():
        row = None
    known = f"accounts.known-token:{address}:{row.pk}" if row is not None else ""
    if (cache.get(key) or 0) >= WRONG_TOKENS_LIMIT and not (known and cache.get(known)):
        raise Refused(429, "Too many wrong tokens from this address; try again later.\n")
    if row is None:
        cache.add(key, 0, WRONG_TOKENS_WINDOW)
        cache.incr(key)
        prefix = ApiToken.prefix_of(token)
        # By its public prefix only, and only if it is one of ours: a password typed in by
        # mistake must not reach the log.
        named = f"token {ApiToken.TAG}{prefix}…" if prefix else "credentials that are no token"
        logger.warning("%s %s refused from %s", request.path, named, address)
        raise Refused(401, "This needs a valid API token.\n", challenge=True)
    if request.method not in SAFE_METHODS:
        raise Refused(403, "API tokens only read.\n")
    cache.set(known, True, KNOWN_TOKEN_FOR)
    row.touch()
    return Credential(row.user, token=row)


def authenticate(request: HttpRequest) -> Credential:
    """The caller's credential, set on the request (request.user is its user), or Refused."""
    presented = presented_token(request)
    if presented is not None:
        credential = token_credential(request, *presented)
    elif request.user.is_authenticated:
        credential = Credential(request.user, session=request.session)
    elif request.headers.get("Sec-Fetch-Site") == "same-origin":
        raise Refused(403, "Log in first.\n")
    else:
        raise Refused(401, "Log in, or send an API token.\n", challenge=True)
    user = credential.user
    request.user, request.credential = user, credential

    async def auser() -> AbstractBaseUser:
        return user

    request.auser = auser
    return credential


def token_or_session(view: Callable) -> Callable:
    """For stream, image, clip and API views: the caller authenticated by session or token (see
    authenticate), or the refusal. Marked so that tests find every view that takes tokens."""
    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            try:
                await sync_to_async(authenticate)(request)
            except Refused as refused:
                return refused.response()
            return await view(request, *args, **kwargs)

    else:

        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            try:
                authenticate(request)
            except Refused as refused:
                return refused.response()
            return view(request, *args, **kwargs)

    wrapped.accepts_tokens = True
    return wrapped
