"""An event's stored snapshot through the real server: never cached, and named by the event, not
by the file it is stored in."""

from __future__ import annotations

import pytest

from cameras.models import Camera
from events.models import MotionEvent
from tests.conftest import LiveServer
from tests.web import logged_in_client

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_snapshot_is_private_uncached_and_named_by_its_event(
    web_server: LiveServer, owner: object, front_door: Camera
) -> None:
    event = MotionEvent.objects.create(camera=front_door)
    event.save_snapshots(b"\xff\xd8boxes\xff\xd9", b"\xff\xd8clean\xff\xd9")
    client = logged_in_client(web_server.url, "owner")
    for query, name in (("", f"event-{event.pk}.jpg"), ("?clean=1", f"event-{event.pk}-clean.jpg")):
        # A connection each: a kept-alive one was once dropped here under both CI suites' load.
        response = client.get(f"/events/{event.pk}/snapshot.jpg{query}",
                              headers={"Connection": "close"})  # fmt: skip
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        cache = {part.strip() for part in response.headers["cache-control"].split(",")}
        assert {"private", "no-store"} <= cache
        assert response.headers["content-disposition"] == f'inline; filename="{name}"'
        stored = (event.snapshot_clean if query else event.snapshot).name
        assert stored.rsplit("/", 1)[-1] not in str(response.headers)
