"""Who may still watch: the one check that long-lived streams and sockets repeat while they run,
so that a logout, a revoked token, a deactivated account or a camera taken away ends them."""

from __future__ import annotations

import asyncio
import time

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser

from accounts.auth import Credential, session_credential
from cameras.models import Camera

RECHECK_EVERY = settings.RECHECK_SECONDS  # seconds between checks of a running stream or socket


def current_user(credential: Credential | None) -> AbstractBaseUser | None:
    """The user as the database knows them now; None once the session or token is gone or the
    user deactivated (accounts.auth.Credential)."""
    return credential.current_user() if credential is not None else None


def socket_user(scope: dict) -> AbstractBaseUser | None:
    """current_user for a websocket, which has its session only."""
    return current_user(session_credential(scope.get("session"), scope.get("user")))


def may_still_view(credential: Credential | None, camera: Camera) -> bool:
    user = current_user(credential)
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
