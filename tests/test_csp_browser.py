"""The Content-Security-Policy in headless Chromium: every page works under it, and a script
slipped into a page does not run."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from playwright.sync_api import Page, Route, expect

from cameras.jpeg import encode_jpeg
from cameras.models import Camera
from events.models import MotionEvent
from tests.conftest import logged_in_page, wait_for_tile_picture

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Every violation the page reports, as "directive blocked-URL" (Chromium reports them as events
# even where nothing is visibly broken).
WATCH_VIOLATIONS = """
window.violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.violations.push(e.effectiveDirective + " " + (e.blockedURI || "inline"));
});
"""


def violations(page: Page) -> list[str]:
    return page.evaluate("() => window.violations")


@pytest.fixture
def recorded_event(front_door: Camera) -> MotionEvent:
    event = MotionEvent.objects.create(camera=front_door, peak_area=0.05)
    jpeg = encode_jpeg(np.full((240, 320, 3), 120, np.uint8))
    event.save_snapshots(jpeg, jpeg)
    return event


def test_every_page_works_under_the_policy(
    live_server_url: str, owner: object, front_door: Camera, recorded_event: MotionEvent,
    start_worker: Callable, browser: object,
) -> None:  # fmt: skip
    start_worker("front-door")
    page = logged_in_page(browser, live_server_url, "owner")
    page.add_init_script(WATCH_VIOLATIONS)

    page.goto("/")
    expect(page.locator("#socket-state")).to_have_text("live", timeout=10_000)
    wait_for_tile_picture(page, "front-door")  # a blob: JPEG, or blob: MediaSource video
    assert violations(page) == []

    pages = [
        "/cameras/front-door/",
        "/events/",
        f"/events/{recorded_event.pk}/",
        "/admin/",
        "/admin/cameras/camera/",
        f"/admin/cameras/camera/{front_door.pk}/change/",
        "/admin/events/motionevent/",
        f"/admin/events/motionevent/{recorded_event.pk}/change/",
        "/admin/auth/user/",
        "/accounts/tokens/",
        "/admin/accounts/apitoken/",
        "/notifications/",
        "/admin/notifications/webhook/",
        "/admin/notifications/webhook/add/",
        "/admin/notifications/delivery/",
        "/admin/notifications/preference/",
        "/admin/notifications/pushsubscription/",
        "/api/docs/",
    ]
    for path in pages:
        # Not "load": the camera pages hold an MJPEG <img>, which never finishes loading.
        page.goto(path, wait_until="domcontentloaded")
        page.wait_for_timeout(500)  # the page's own scripts run
        assert violations(page) == [], path
    page.goto(f"/admin/cameras/camera/{front_door.pk}/change/", wait_until="domcontentloaded")
    expect(page.locator(".mask-editor-tools")).to_be_visible()  # the admin's script ran
    page.close()


def test_a_script_slipped_into_a_page_is_refused(
    live_server_url: str, owner: object, front_door: Camera, browser: object
) -> None:
    page = logged_in_page(browser, live_server_url, "owner")
    page.add_init_script(WATCH_VIOLATIONS)

    def slip_in(route: Route) -> None:
        response = route.fetch()
        html = response.text().replace(
            "</main>",
            '<script>window.ran = "inline"</script>'
            "<img src=/static/none.png onerror=\"window.ran = 'handler'\"></main>",
        )
        route.fulfill(response=response, body=html)

    page.route("**/events/", slip_in)
    page.goto("/events/")
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.ran") is None
    blocked = violations(page)
    assert any(v.startswith("script-src") for v in blocked), blocked
    page.close()


def test_the_login_page_works_under_the_policy(live_server_url: str, browser: object) -> None:
    page = browser.new_page(base_url=live_server_url)
    page.add_init_script(WATCH_VIOLATIONS)
    page.goto("/accounts/login/")
    expect(page.locator("input[name=username]")).to_be_visible()
    assert violations(page) == []
    policy = page.request.get("/accounts/login/").headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'self'" in policy
    page.close()
