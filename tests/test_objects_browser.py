"""The dashboard in headless Chromium raises its toast only for an event that qualifies for its
camera's alert: a quiet event is listed, and its motion.update that finds a person alerts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from playwright.sync_api import Browser, expect

from cameras.models import Camera
from events.models import MotionEvent
from tests.conftest import logged_in_page, outside_the_browser_loop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def send(group: str, message: dict) -> None:
    """Through the real channel layer, from a thread of its own (Playwright's loop is here)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(async_to_sync(get_channel_layer().group_send), group, message).result()


@pytest.fixture
def quiet_event(db: None) -> MotionEvent:
    """Made before the browser starts: Playwright's loop forbids the ORM in the test's thread."""
    porch = Camera.objects.create(slug="porch", name="Porch", source="demo", alert_on="objects")
    return MotionEvent.objects.create(camera=porch, quiet=True)


def test_a_quiet_event_is_listed_without_a_toast_until_a_person_is_found(
    live_server_url: str, owner: object, quiet_event: MotionEvent, browser: Browser
) -> None:
    event, porch = quiet_event, quiet_event.camera
    page = logged_in_page(browser, live_server_url, "owner")
    expect(page.locator("#socket-state")).to_have_text("live", timeout=10_000)

    send(porch.group_name, {"type": "motion.start", "event": event.to_dict()})
    later = outside_the_browser_loop(lambda: MotionEvent.objects.create(camera=porch, quiet=True))
    send(porch.group_name, {"type": "motion.start", "event": later.to_dict()})
    for shown in (event, later):  # the first as the page was rendered, the second live
        expect(page.locator(f"#recent-events [data-event-id='{shown.pk}']")).to_have_count(1)
    page.wait_for_timeout(1000)
    expect(page.locator(".toast")).to_have_count(0)
    assert page.locator("#alert-count").inner_text() == "0"

    def found() -> dict:
        event.add_found({"person": {"score": 0.91, "box": [0.1, 0.2, 0.3, 0.5]}}, lambda *_: None)
        return event.to_dict()

    send(porch.group_name, {"type": "motion.update", "event": outside_the_browser_loop(found)})
    toast = page.locator(f".toast[data-event-id='{event.pk}']")
    expect(toast).to_be_visible(timeout=5_000)
    expect(toast.locator(".toast-text")).to_contain_text("Person at")
    assert page.locator("#alert-count").inner_text() == "1"
    expect(page.locator(f"#recent-events [data-event-id='{event.pk}']")).to_have_count(1)
    page.close()
