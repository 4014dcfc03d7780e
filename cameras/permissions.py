"""Who may still watch: the one check that long-lived streams and sockets repeat while they run,
so that a logout, a deactivated account or a camera taken away ends them."""

from __future__ import annotations

import asyncio
import time

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase

from cameras.models import Camera

RECHECK_EVERY = 30.0  # seconds between checks of a running stream or socket


def current_user(
    session: SessionBase | None, user: AbstractBaseUser | AnonymousUser | None
) -> AbstractBaseUser | None:
    """The user as the database knows them now; None once logged out or deactivated."""
    if session is None or user is None or not user.is_authenticated:
        return None
    if not session.exists(session.session_key):
        return None
    return get_user_model().objects.filter(pk=user.pk, is_active=True).first()


def may_still_view(
    session: SessionBase | None, user: AbstractBaseUser | AnonymousUser | None, camera: Camera
) -> bool:
    user = current_user(session, user)
    return user is not None and Camera.objects.visible_to(user).filter(pk=camera.pk).exists()


class Recheck:
    """When a running stream or socket must check again: every RECHECK_EVERY seconds."""

    def __init__(self) -> None:
        self.at = time.monotonic() + RECHECK_EVERY

    def due(self) -> bool:
        if time.monotonic() < self.at:
            return False
        self.at = time.monotonic() + RECHECK_EVERY
        return True

    async def wait(self) -> None:
        """Sleep until the next check is due."""
        await asyncio.sleep(max(0.0, self.at - time.monotonic()))
        self.at = time.monotonic() + RECHECK_EVERY
