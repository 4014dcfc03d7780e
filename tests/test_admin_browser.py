"""The admin's own scripts and forms in headless Chromium against the real web server: the mask
editor on the camera page, the date range filter on the events list."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from cameras.models import Camera
from events.models import MotionEvent
from tests.conftest import (
    logged_in_page,
    outside_the_browser_loop,
    start_web_server,
    wait_for_database_sessions_to_close,
)
from tests.processes import free_port, stop_process, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDE = {"viewport": {"width": 1400, "height": 1000}}  # the editor at its full 640 px
TRIANGLE = [[0.25, 0.25], [0.75, 0.25], [0.5, 0.75]]


def open_camera_page(page: Page, camera: Camera) -> None:
    # Not "load": the live preview is an MJPEG <img>, which never finishes loading.
    page.goto(f"/admin/cameras/camera/{camera.pk}/change/", wait_until="domcontentloaded")
    expect(page.locator(".mask-editor-tools")).to_be_visible()


def save_and_continue(page: Page, camera: Camera) -> None:
    page.get_by_role("button", name="Save and continue editing").click()
    page.wait_for_url(f"**/admin/cameras/camera/{camera.pk}/change/", wait_until="commit")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")


def click_at(page: Page, x: float, y: float) -> None:
    """A click on the editor at (x, y), fractions of its width and height."""
    canvas = page.locator(".mask-editor-canvas")
    box = canvas.bounding_box()
    canvas.click(position={"x": x * box["width"], "y": y * box["height"]})


def mask_text(page: Page) -> list:
    return json.loads(page.locator("textarea[name=mask]").input_value())


def assert_near(mask: list, expected: list) -> None:
    """Within a pixel of the editor, each coordinate rounded to 4 decimals."""
    assert len(mask) == len(expected)
    for polygon, wanted in zip(mask, expected, strict=True):
        assert len(polygon) == len(wanted)
        for point, target in zip(polygon, wanted, strict=True):
            for value, goal in zip(point, target, strict=True):
                assert abs(value - goal) < 0.004 and round(value, 4) == value


def painted(page: Page, x: float, y: float) -> bool:
    """Whether the editor's canvas has paint at (x, y), fractions of its size."""
    return page.evaluate(
        """([x, y]) => {
            const canvas = document.querySelector(".mask-editor-canvas");
            const pixel = canvas.getContext("2d").getImageData(
                Math.floor(x * canvas.width), Math.floor(y * canvas.height), 1, 1).data;
            return pixel[3] > 0;
        }""",
        [x, y],
    )


def stage_ratio(page: Page) -> float:
    box = page.locator(".mask-editor-stage").bounding_box()
    return box["width"] / box["height"]


@pytest.fixture
def saving_server_url(child_env: dict[str, str], transactional_db: None) -> Iterator[str]:
    """A web server of this test's own, for saving through the admin: the admin logs each save
    by content type id, which a long-lived server caches, and every flush between tests gives
    the content types new ids."""
    server = start_web_server(child_env, free_port(), "test-daphne-admin")
    yield server.url
    stop_process(server.process)
    wait_for_database_sessions_to_close("test-daphne-admin")


@pytest.fixture
def porch(front_door: Camera) -> Camera:
    """A camera with no worker: its snapshot is offline. Made before the browser starts."""
    front_door.mask = [[[0, 0], [0.2, 0], [0.2, 0.2]]]
    front_door.save()
    return front_door


def test_mask_editor_draws_polygons_on_a_placeholder_when_the_camera_is_offline(
    saving_server_url: str, owner: object, porch: Camera, browser: Browser
) -> None:
    page = logged_in_page(browser, saving_server_url, "owner", **WIDE)
    open_camera_page(page, porch)
    note = page.locator(".mask-editor-note")
    # The snapshot view gives up after 5 s without a frame; the editor says so and carries on.
    expect(note).to_contain_text("offline", timeout=15_000)
    assert abs(stage_ratio(page) - 16 / 9) < 0.02
    close = page.get_by_role("button", name="Close polygon")
    for x, y in [*TRIANGLE, (0.9, 0.9)]:
        click_at(page, x, y)
    page.get_by_role("button", name="Undo point").click()  # the stray fourth point
    expect(close).to_be_enabled()
    close.click()
    assert_near(mask_text(page), [[[0, 0], [0.2, 0], [0.2, 0.2]], TRIANGLE])
    expect(close).to_be_disabled()
    page.get_by_role("button", name="Undo point").click()  # reopens the triangle, minus a point
    assert_near(mask_text(page), [[[0, 0], [0.2, 0], [0.2, 0.2]]])
    click_at(page, *TRIANGLE[-1])
    close.click()
    assert_near(mask_text(page), [[[0, 0], [0.2, 0], [0.2, 0.2]], TRIANGLE])

    save_and_continue(page, porch)
    page.reload(wait_until="domcontentloaded")
    saved = mask_text(page)
    assert_near(saved, [[[0, 0], [0.2, 0], [0.2, 0.2]], TRIANGLE])
    assert outside_the_browser_loop(lambda: Camera.objects.get(pk=porch.pk).mask) == saved

    page.get_by_role("button", name="Clear all").click()
    assert mask_text(page) == []
    page.close()


def test_mask_editor_keeps_text_and_picture_in_step(
    saving_server_url: str, owner: object, porch: Camera, browser: Browser
) -> None:
    """Typed JSON redraws the picture; clicks write the JSON; unclosed points close on save."""
    page = logged_in_page(browser, saving_server_url, "owner", **WIDE)
    open_camera_page(page, porch)
    textarea = page.locator("textarea[name=mask]")
    assert painted(page, 0.1, 0.05) and not painted(page, 0.9, 0.6)
    textarea.fill("[[[0.5, 0.5], [1, 0.5], [1, 1]]]")
    assert painted(page, 0.9, 0.6) and not painted(page, 0.1, 0.05)
    textarea.fill("[[[0.5, 0.5], [1, 0.5], [1, 1]")
    expect(page.locator(".mask-editor-note")).to_contain_text("not a JSON list")
    assert painted(page, 0.9, 0.6)  # the last good mask stays drawn
    textarea.fill("[]")
    assert not painted(page, 0.9, 0.6)
    for x, y in TRIANGLE:
        click_at(page, x, y)
    assert mask_text(page) == []  # an open polygon is not in the field yet
    save_and_continue(page, porch)
    assert_near(outside_the_browser_loop(lambda: Camera.objects.get(pk=porch.pk).mask), [TRIANGLE])
    page.close()


@pytest.fixture
def live_porch(porch: Camera, start_worker: Callable) -> Camera:
    start_worker(porch.slug)
    wait_until(lambda: Camera.objects.get(pk=porch.pk).status == "online", 30, "the worker")
    return porch


def test_mask_editor_takes_the_shape_of_the_live_picture(
    live_server_url: str, owner: object, live_porch: Camera, browser: Browser
) -> None:
    page = logged_in_page(browser, live_server_url, "owner", **WIDE)
    open_camera_page(page, live_porch)
    image = page.locator(".mask-editor-image")
    expect(image).to_be_visible(timeout=15_000)
    assert page.evaluate("() => document.querySelector('.mask-editor-image').naturalWidth") == 320
    assert abs(stage_ratio(page) - 4 / 3) < 0.02  # the test video is 320x240
    for x, y in TRIANGLE:
        click_at(page, x, y)
    page.get_by_role("button", name="Close polygon").click()
    assert_near(mask_text(page), [[[0, 0], [0.2, 0], [0.2, 0.2]], TRIANGLE])
    page.close()


# -- the date range filter --


@pytest.fixture
def week_of_events(front_door: Camera) -> dict[str, int]:
    """One event at noon UTC each day from 1 to 7 March 2026, by ISO date."""
    events = {}
    for day in range(1, 8):
        started = dt.datetime(2026, 3, day, 12, tzinfo=dt.UTC)
        event = MotionEvent.objects.create(
            camera=front_door, started_at=started, ended_at=started + dt.timedelta(seconds=5)
        )
        events[started.date().isoformat()] = event.pk
    return events


def listed(page: Page) -> list[int]:
    return [int(v) for v in page.locator("input[name=_selected_action]").evaluate_all(
        "boxes => boxes.map(b => b.value)"
    )]  # fmt: skip


def test_date_range_filter_narrows_the_events_list_exports_it_and_clears(
    live_server_url: str, owner: object, week_of_events: dict[str, int], browser: Browser
) -> None:
    page = logged_in_page(browser, live_server_url, "owner")
    page.goto("/admin/events/motionevent/?q=front")
    assert len(listed(page)) == 7
    form = page.locator("form.date-range-filter")
    form.locator("input[name=started_at__from]").fill("2026-03-03")
    form.locator("input[name=started_at__to]").fill("2026-03-05")
    form.get_by_role("button", name="Filter").click()
    page.wait_for_url("**started_at__from=2026-03-03**")
    assert "q=front" in page.url  # the search is kept
    assert listed(page) == [week_of_events[f"2026-03-0{day}"] for day in (5, 4, 3)]
    expect(form.locator("input[name=started_at__from]")).to_have_value("2026-03-03")

    # The export, streamed by the real server, has the rows the filter shows.
    page.locator("#action-toggle").check()
    page.select_option("select[name=action]", "export_csv")
    with page.expect_download() as download:
        page.get_by_role("button", name="Go", exact=True).click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert rows[0][:2] == ["id", "camera_slug"]
    assert [int(row[0]) for row in rows[1:]] == listed(page)

    page.get_by_role("link", name="Any date").click()
    page.wait_for_url(lambda url: "started_at__from" not in url)
    assert len(listed(page)) == 7
    page.close()
