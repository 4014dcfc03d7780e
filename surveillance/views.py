"""The one view that is plumbing: whether this web process works."""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache


def _database_answers() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


@never_cache
async def healthz(request: HttpRequest) -> JsonResponse:
    """200 while this process, its database and its channel layer work; names nothing."""
    try:
        await asyncio.wait_for(get_channel_layer().group_send("healthz", {"type": "ping"}), 2)
        await sync_to_async(_database_answers)()
    except Exception:
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})
