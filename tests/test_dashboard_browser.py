"""The dashboard in headless Chromium (Debian's package) against a real Daphne and workers."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from cameras.models import Camera
from tests.conftest import (
    PASSWORD,
    LiveServer,
    logged_in_page,
    tile_frame_times,
    wait_for_tile_picture,
)
from tests.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def live_image_changes(page: Page, slug: str) -> bool:
    """Two screenshots of the camera's live picture (JPEG or video) a second apart differ."""
    image = page.locator(f".tile[data-camera='{slug}'] .live:not([hidden])")
    first = image.screenshot()
    page.wait_for_timeout(1000)
    return image.screenshot() != first


def test_dashboard_shows_cameras_live_and_pops_an_alert_without_reload(
    live_server_url: str,
    owner: object,
    front_door: Camera,
    garage: Camera,
    start_worker: Callable,
    browser: Browser,
) -> None:
    start_worker("front-door")
    start_worker("garage")
    page = logged_in_page(browser, live_server_url, "owner")
    for slug in ("front-door", "garage"):
        wait_for_tile_picture(page, slug)
    expect(page.locator("#socket-state")).to_have_text("live", timeout=10_000)
    tile = page.locator("[data-camera='front-door']")
    expect(tile.locator("[data-status]")).to_contain_text("fps", timeout=10_000)
    expect(tile.locator("[data-health]")).to_contain_text("last frame", timeout=10_000)

    # The scene loops every 8 s with motion at 2-4 s: a toast must come without a reload.
    toast = page.locator(".toast").first
    expect(toast).to_be_visible(timeout=30_000)
    expect(toast).to_contain_text("Motion at")
    assert toast.locator(".toast-camera").inner_text() in {"Front door", "Garage"}
    page.wait_for_function(
        "() => [...document.querySelectorAll('.toast img')].some(i => i.naturalWidth > 0)",
        timeout=10_000,
    )
    assert int(page.locator("#alert-count").inner_text()) >= 1
    assert live_image_changes(page, "front-door")
    page.close()


@pytest.fixture
def sixteen_cameras(motion_video: Path, start_worker: Callable) -> list[str]:
    """Made before the browser starts: Playwright's loop forbids the ORM in the test's thread."""
    slugs = [f"cam-{index:02}" for index in range(16)]
    for slug in slugs:
        Camera.objects.create(slug=slug, name=slug, source=str(motion_video))
        start_worker(slug)
    return slugs


def test_sixteen_cameras_play_at_once_and_the_page_stays_usable(
    live_server_url: str, owner: object, sixteen_cameras: list[str], browser: Browser
) -> None:
    """Sixteen MJPEG <img>s would take every connection Chromium allows a host (six) and stall
    the rest; the grid's tiles share one websocket instead."""
    page = logged_in_page(
        browser, live_server_url, "owner", viewport={"width": 1600, "height": 2000}
    )
    expect(page.locator(".tile[data-camera]")).to_have_count(16)
    wait_until(lambda: all(tile_frame_times(page)), 120, "a frame in every tile")
    first = tile_frame_times(page)
    wait_until(
        lambda: all(now > then for now, then in zip(tile_frame_times(page), first, strict=True)),
        30,
        "a newer frame in every tile",
    )
    assert page.evaluate("async () => (await fetch('/healthz')).status") == 200
    expect(page.locator("#socket-state")).to_have_text("live", timeout=10_000)
    assert page.goto("/admin/").status == 200
    page.close()


def test_a_page_whose_session_ended_goes_to_the_login(
    quick_rechecks: LiveServer, owner: object, front_door: Camera, browser: Browser
) -> None:
    """Logged out in another tab: the dashboard's sockets are closed, and rather than knock on a
    closed door for ever the page goes to the login, to come back after it."""
    tabs = browser.new_context(base_url=quick_rechecks.url)  # one browser, so one session
    page = tabs.new_page()
    page.goto("/")
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#socket-state")).to_have_text("live", timeout=10_000)
    other_tab = tabs.new_page()
    other_tab.goto("/")
    other_tab.click("form.logout button, form.logout [type=submit]")
    other_tab.wait_for_url("**/accounts/login/**")

    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"), timeout=15_000)
    expect(page.locator("input[name=username]")).to_be_visible()
    tabs.close()
