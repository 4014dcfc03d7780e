"""The dashboard and a camera's page, rendered by Django (Chromium covers what the JS adds)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from cameras.models import Camera
from events.activity import hourly_bars
from events.models import MotionEvent
from tests.conftest import client_for


def event_at(camera: Camera, minutes_ago: float, seconds: float | None = 5) -> MotionEvent:
    started = timezone.now() - dt.timedelta(minutes=minutes_ago)
    ended = started + dt.timedelta(seconds=seconds) if seconds is not None else None
    return MotionEvent.objects.create(camera=camera, started_at=started, ended_at=ended)


def test_recent_events_strip_shows_only_the_users_cameras_newest_first(
    member: object, front_door: Camera, garage: Camera
) -> None:
    front_door.viewers.add(member)
    older, newer = event_at(front_door, 30), event_at(front_door, 5)
    hidden = event_at(garage, 1)
    page = client_for(member).get("/").content.decode()
    assert page.index(f'data-event-id="{newer.pk}"') < page.index(f'data-event-id="{older.pk}"')
    assert f'data-event-id="{hidden.pk}"' not in page and "Garage" not in page
    assert f'href="/events/{newer.pk}/"' in page


def test_each_tile_charts_its_cameras_events_per_hour(owner: object, front_door: Camera) -> None:
    event_at(front_door, 10)
    event_at(front_door, 20)
    event_at(front_door, 60 * 5)
    event_at(front_door, 60 * 30)  # older than the chart
    page = client_for(owner).get("/").content.decode()
    chart = page[page.index('data-activity="front-door"') :]
    chart = chart[: chart.index("</div>")]
    counts = [int(part.split('"')[1]) for part in chart.split("data-count=")[1:]]
    assert len(counts) == 24 and sum(counts) == 3
    assert counts[-1] == 2 and 'y="0.0" height="100.0" data-count="2"' in chart


def test_hourly_activity_counts_by_camera_and_hour(front_door: Camera, garage: Camera) -> None:
    now = timezone.now()
    event_at(front_door, 90)
    event_at(garage, 1)
    event_at(garage, 2)
    counts = MotionEvent.objects.hourly_activity(hours=3, now=now)
    assert counts == {front_door.pk: [0, 1, 0], garage.pk: [0, 0, 2]}
    bars = hourly_bars(counts[garage.pk], now)
    assert [bar.height for bar in bars] == [0, 0, 100]
    assert bars[-1].start == timezone.localtime(now) - dt.timedelta(hours=1)


def tile_of(page: str, slug: str) -> str:
    match = re.search(rf'<article class="tile" data-camera="{slug}">(.*?)</article>', page, re.S)
    assert match, f"no tile for {slug}"
    return match.group(1)


def test_tiles_link_their_live_picture_to_the_cameras_full_size_page(
    owner: object, front_door: Camera
) -> None:
    tile = tile_of(client_for(owner).get("/").content.decode(), "front-door")
    link = re.search(r'<a href="/cameras/front-door/"[^>]*>\s*<img class="live"', tile)
    assert link, "the live picture is not a link to the camera's page"


def test_disabled_cameras_have_no_tile(owner: object, front_door: Camera, garage: Camera) -> None:
    Camera.objects.filter(pk=garage.pk).update(enabled=False)
    page = client_for(owner).get("/").content.decode()
    tile_of(page, "front-door")
    assert 'data-camera="garage"' not in page


def test_camera_page_plays_the_full_size_stream_and_lists_its_events(
    member: object, front_door: Camera, garage: Camera
) -> None:
    front_door.viewers.add(member)
    mine, theirs = event_at(front_door, 3), event_at(garage, 2)
    response = client_for(member).get("/cameras/front-door/")
    page = response.content.decode()
    assert response.status_code == 200
    assert 'src="/cameras/front-door/stream.mjpg"' in page
    assert f'data-event-id="{mine.pk}"' in page and f'data-event-id="{theirs.pk}"' not in page
    assert "Garage" not in page


@pytest.mark.parametrize("slug", ["garage", "no-such-camera"])
def test_camera_page_is_403_for_a_camera_the_user_may_not_view_or_that_is_missing(
    member: object, garage: Camera, slug: str
) -> None:
    assert client_for(member).get(f"/cameras/{slug}/").status_code == 403


def test_camera_page_needs_login_and_staff_get_404_for_a_missing_camera(
    owner: object, front_door: Camera
) -> None:
    assert Client().get("/cameras/front-door/")["Location"].startswith("/accounts/login/")
    assert client_for(owner).get("/cameras/no-such-camera/").status_code == 404


def test_offline_badge_says_since_when(owner: object, front_door: Camera) -> None:
    front_door.set_status(Camera.Status.OFFLINE, "connection refused")
    front_door.status_since = timezone.make_aware(dt.datetime(2026, 11, 21, 9, 41))
    front_door.save(update_fields=["status_since"])
    page = client_for(owner).get("/").content.decode()
    assert "offline since 09:41" in " ".join(page.split())


def test_camera_names_are_escaped_in_the_dashboard(owner: object, db: None) -> None:
    camera = Camera.objects.create(slug="x", name="<script>alert(1)</script>", source="demo")
    event_at(camera, 1)
    page = client_for(owner).get("/").content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_pages_name_the_events_they_already_know_so_a_catch_up_does_not_alert_again(
    owner: object, front_door: Camera, garage: Camera
) -> None:
    just_now, earlier = event_at(garage, 0.2), event_at(garage, 30)
    for url in ("/", "/cameras/front-door/"):  # a camera's page alerts for every camera
        page = client_for(owner).get(url).content.decode()
        known = page.split('data-known-events="')[1].split('"')[0].split(",")
        assert str(just_now.pk) in known and str(earlier.pk) not in known, url


def test_the_live_status_carries_the_words_the_page_was_rendered_with(
    owner: object, front_door: Camera
) -> None:
    front_door.set_status(Camera.Status.OFFLINE, "no frame from the camera")
    front_door.dropped_frames, front_door.reconnects = 3, 2
    front_door.save_health()
    page = client_for(owner).get("/").content.decode()
    message = Camera.objects.get(pk=front_door.pk).status_message()
    assert message["status_label"].startswith("offline since ")
    assert message["health_label"] == "3 dropped · 2 reconnects"
    tile = tile_of(page, "front-door")
    assert f">{message['status_label']}</span>" in tile
    assert f">{message['health_label']}</p>" in tile


def test_an_events_wire_dict_has_the_length_as_the_pages_write_it(front_door: Camera) -> None:
    event = event_at(front_door, 3, seconds=75.4)
    assert event.to_dict()["duration"] == 75.4
    assert event.to_dict()["duration_label"] == event.duration_label == "1 min 15 s"
    assert event_at(front_door, 1, seconds=None).to_dict()["duration_label"] == "ongoing"
