"""The event history: the filtered, paginated list at /events/ and each event's page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cameras.models import Camera
from events.models import MotionEvent
from tests.conftest import client_for

NOON = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
JPEG, CLEAN_JPEG = b"\xff\xd8a\xff\xd9", b"\xff\xd8c\xff\xd9"


def make_event(
    camera: Camera, started_at: dt.datetime, seconds: float | None = 5, area: float = 0.1
) -> MotionEvent:
    """An event `seconds` long (None: still ongoing)."""
    ended_at = None if seconds is None else started_at + dt.timedelta(seconds=seconds)
    return MotionEvent.objects.create(
        camera=camera, started_at=started_at, ended_at=ended_at, peak_area=area
    )


def listed(page: str) -> list[int]:
    """Ids of the events a list page shows, top to bottom (each row links once by its time)."""
    return [int(pk) for pk in re.findall(r'<a href="/events/(\d+)/"><time', page)]


@pytest.fixture
def household(member: User, front_door: Camera, garage: Camera) -> User:
    """The member may view the front door only."""
    front_door.viewers.add(member)
    return member


# -- the list --


def test_event_list_needs_login(db: None) -> None:
    response = Client().get("/events/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/events/"


def test_events_are_listed_newest_first(owner: User, front_door: Camera, garage: Camera) -> None:
    middle = make_event(garage, NOON)
    oldest = make_event(front_door, NOON - dt.timedelta(hours=1))
    newest = make_event(front_door, NOON + dt.timedelta(hours=1))
    page = client_for(owner).get("/events/").content.decode()
    assert listed(page) == [newest.pk, middle.pk, oldest.pk]


def test_a_row_shows_thumbnail_camera_local_start_duration_and_area(
    owner: User, front_door: Camera, settings: object
) -> None:
    settings.TIME_ZONE = "Europe/Berlin"
    event = make_event(front_door, NOON, seconds=12.5, area=0.234)
    event.save_snapshots(JPEG, CLEAN_JPEG)
    page = client_for(owner).get("/events/").content.decode()
    assert f'<img src="/events/{event.pk}/snapshot.jpg" alt="" loading="lazy"' in page
    assert f'href="/events/{event.pk}/"' in page
    assert "Front door" in page
    assert '<time datetime="2026-03-02T13:00:00+01:00">2026-03-02 13:00:00</time>' in page
    assert "12.5 s" in page and "23.4%" in page


def test_an_ongoing_event_has_no_duration_yet(owner: User, front_door: Camera) -> None:
    make_event(front_door, NOON, seconds=None)
    page = client_for(owner).get("/events/").content.decode()
    assert "ongoing" in page and "no snapshot" in page


def test_member_sees_only_events_of_cameras_they_may_view(
    household: User, front_door: Camera, garage: Camera
) -> None:
    mine = make_event(front_door, NOON)
    make_event(garage, NOON + dt.timedelta(minutes=1)).save_snapshots(JPEG, CLEAN_JPEG)
    page = client_for(household).get("/events/").content.decode()
    assert listed(page) == [mine.pk]
    assert "Garage" not in page and "garage" not in page


@pytest.mark.parametrize("slug", ["garage", "no-such-camera"])
def test_asking_for_a_camera_one_may_not_view_is_an_error_that_names_nothing(
    household: User, front_door: Camera, garage: Camera, slug: str
) -> None:
    make_event(front_door, NOON)
    make_event(garage, NOON)
    response = client_for(household).get(f"/events/?camera={slug}")
    page = response.content.decode()
    assert response.status_code == 400
    assert "Choose one of your cameras." in page  # the same words for foreign and unknown
    assert listed(page) == []
    assert "Garage" not in page and "garage" not in page and "no-such-camera" not in page


def test_camera_filter_shows_that_camera_only(
    owner: User, front_door: Camera, garage: Camera
) -> None:
    make_event(front_door, NOON)
    in_garage = make_event(garage, NOON - dt.timedelta(hours=1))
    page = client_for(owner).get("/events/?camera=garage").content.decode()
    assert listed(page) == [in_garage.pk]


@pytest.fixture
def around_march_2nd(front_door: Camera) -> dict[str, MotionEvent]:
    """Events just inside and just outside the day 2026-03-02 (UTC, the test site's zone)."""
    day = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    second = dt.timedelta(seconds=1)
    return {
        "before": make_event(front_door, day - second),
        "first": make_event(front_door, day),
        "last": make_event(front_door, day + dt.timedelta(days=1) - second),
        "after": make_event(front_door, day + dt.timedelta(days=1)),
    }


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("from=2026-03-02", ["after", "last", "first"]),
        ("to=2026-03-02", ["last", "first", "before"]),
        ("from=2026-03-02&to=2026-03-02", ["last", "first"]),
        ("from=2026-03-01&to=2026-03-03", ["after", "last", "first", "before"]),
    ],
)
def test_date_filters_include_whole_days(
    owner: User, around_march_2nd: dict[str, MotionEvent], query: str, shown: list[str]
) -> None:
    page = client_for(owner).get(f"/events/?{query}").content.decode()
    assert listed(page) == [around_march_2nd[name].pk for name in shown]


def test_days_are_days_in_the_site_time_zone(
    owner: User, front_door: Camera, settings: object
) -> None:
    settings.TIME_ZONE = "Europe/Berlin"
    late = make_event(front_door, dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC))  # 00:30 there
    make_event(front_door, dt.datetime(2026, 3, 2, 23, 30, tzinfo=dt.UTC))  # the 3rd there
    page = client_for(owner).get("/events/?from=2026-03-02&to=2026-03-02").content.decode()
    assert listed(page) == [late.pk]


def test_from_after_to_is_an_error(owner: User, front_door: Camera) -> None:
    make_event(front_door, NOON)
    response = client_for(owner).get("/events/?from=2026-03-03&to=2026-03-02")
    assert response.status_code == 400
    assert "The From day is after the To day." in response.content.decode()
    assert listed(response.content.decode()) == []


def test_min_duration_leaves_out_short_and_ongoing_events(owner: User, front_door: Camera) -> None:
    long = make_event(front_door, NOON, seconds=30)
    exactly = make_event(front_door, NOON + dt.timedelta(minutes=1), seconds=10)
    make_event(front_door, NOON + dt.timedelta(minutes=2), seconds=9.9)
    make_event(front_door, NOON + dt.timedelta(minutes=3), seconds=None)
    page = client_for(owner).get("/events/?min_duration=10").content.decode()
    assert listed(page) == [exactly.pk, long.pk]


def test_min_duration_zero_means_any_length(owner: User, front_door: Camera) -> None:
    ongoing = make_event(front_door, NOON, seconds=None)
    page = client_for(owner).get("/events/?min_duration=0").content.decode()
    assert listed(page) == [ongoing.pk]


@pytest.mark.parametrize(
    "query",
    [
        "from=2026-13-45",
        "to=03/02/2026",
        "to=9999-12-31",  # the day after would not be a datetime
        "from=0001-01-01",
        "min_duration=-1",
        "min_duration=abc",
        "min_duration=1e999",
        "min_duration=99999999999999999999999",
        "camera=%00",
    ],
)
def test_malformed_queries_get_the_form_errors_not_a_500(
    owner: User, front_door: Camera, query: str
) -> None:
    make_event(front_door, NOON)
    response = client_for(owner).get(f"/events/?{query}")
    page = response.content.decode()
    assert response.status_code == 400
    assert 'class="errorlist' in page and "Correct the filters" in page
    assert listed(page) == []


@pytest.mark.parametrize(("number", "shown"), [("999", "last"), ("x", "first"), ("0", "last")])
def test_out_of_range_or_malformed_page_numbers_show_a_page(
    owner: User, front_door: Camera, number: str, shown: str
) -> None:
    events = MotionEvent.objects.bulk_create(
        MotionEvent(camera=front_door, started_at=NOON - dt.timedelta(minutes=i)) for i in range(51)
    )
    response = client_for(owner).get(f"/events/?page={number}")
    assert response.status_code == 200
    ids = listed(response.content.decode())
    assert ids == ([events[-1].pk] if shown == "last" else [e.pk for e in events[:50]])


def test_page_links_keep_the_filters(owner: User, front_door: Camera, garage: Camera) -> None:
    MotionEvent.objects.bulk_create(
        MotionEvent(camera=camera, started_at=NOON - dt.timedelta(minutes=i), ended_at=NOON)
        for i in range(1, 52)
        for camera in (front_door, garage)
    )
    client = client_for(owner)
    first = client.get("/events/?camera=garage&min_duration=60&junk=1").content.decode()
    assert 'href="?camera=garage&amp;min_duration=60&amp;page=2" rel="next"' in first
    assert "junk" not in first
    second = client.get("/events/?camera=garage&min_duration=60&page=2").content.decode()
    assert len(listed(second)) == 1  # 51 garage events, 50 to a page
    assert 'href="?camera=garage&amp;min_duration=60&amp;page=1" rel="prev"' in second


def test_an_empty_result_says_so(owner: User, front_door: Camera) -> None:
    client = client_for(owner)
    assert "No events yet" in client.get("/events/").content.decode()
    make_event(front_door, NOON)
    filtered = client.get("/events/?from=2027-01-01")
    assert filtered.status_code == 200
    assert "No events match these filters." in filtered.content.decode()


def test_the_list_costs_the_same_queries_for_5_or_50_events_and_counts_once(
    household: User, front_door: Camera
) -> None:
    client = client_for(household)
    client.get("/events/")  # the first request of a session may do one-off work

    def queries_for(number: int) -> list[str]:
        MotionEvent.objects.all().delete()
        MotionEvent.objects.bulk_create(
            MotionEvent(camera=front_door, started_at=NOON - dt.timedelta(minutes=i))
            for i in range(number)
        )
        with CaptureQueriesContext(connection) as context:
            page = client.get("/events/").content.decode()
        assert len(listed(page)) == number
        return [query["sql"] for query in context.captured_queries]

    few, many = queries_for(5), queries_for(50)
    assert len(few) == len(many)
    assert sum("COUNT(" in sql.upper() for sql in many) == 1


# -- the event page --


def test_event_page_needs_login(front_door: Camera) -> None:
    event = make_event(front_door, NOON)
    response = Client().get(f"/events/{event.pk}/")
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/events/{event.pk}/"


def test_event_page_shows_the_facts_both_snapshots_and_the_camera_link(
    household: User, front_door: Camera
) -> None:
    event = make_event(front_door, NOON, seconds=75, area=0.05)
    event.save_snapshots(JPEG, CLEAN_JPEG)
    response = client_for(household).get(event.get_absolute_url())
    page = response.content.decode()
    assert response.status_code == 200
    assert f'href="{reverse("camera-detail", args=["front-door"])}"' in page
    assert f'<img src="/events/{event.pk}/snapshot.jpg"' in page
    assert f'<img src="/events/{event.pk}/snapshot.jpg?clean=1"' in page
    assert '<time datetime="2026-03-02T12:00:00+00:00">' in page
    assert '<time datetime="2026-03-02T12:01:15+00:00">' in page
    assert "1 min 15 s" in page and "5.0%" in page


def test_event_page_without_snapshots_shows_no_images(owner: User, front_door: Camera) -> None:
    event = make_event(front_door, NOON, seconds=None)
    page = client_for(owner).get(event.get_absolute_url()).content.decode()
    assert "snapshot.jpg" not in page
    assert "No snapshot was saved" in page and "ongoing" in page


def test_event_page_links_the_previous_and_next_event_of_the_same_camera(
    owner: User, front_door: Camera, garage: Camera
) -> None:
    older = make_event(front_door, NOON - dt.timedelta(hours=2))
    make_event(garage, NOON - dt.timedelta(hours=1))
    event = make_event(front_door, NOON)
    make_event(garage, NOON + dt.timedelta(hours=1))
    newer = make_event(front_door, NOON + dt.timedelta(hours=2))
    page = client_for(owner).get(event.get_absolute_url()).content.decode()
    assert f'<a href="/events/{older.pk}/" rel="prev">' in page
    assert f'<a href="/events/{newer.pk}/" rel="next">' in page
    newest = client_for(owner).get(newer.get_absolute_url()).content.decode()
    assert 'rel="next"' not in newest


def test_others_cannot_tell_a_missing_event_from_a_forbidden_one(
    household: User, owner: User, garage: Camera
) -> None:
    hidden = make_event(garage, NOON)
    member = client_for(household)
    assert member.get(f"/events/{hidden.pk}/").status_code == 403
    assert member.get("/events/999999/").status_code == 403
    assert client_for(owner).get("/events/999999/").status_code == 404


def test_camera_names_are_escaped_in_the_list_and_the_event_page(owner: User, db: None) -> None:
    camera = Camera.objects.create(slug="evil", name="<script>alert(1)</script>", source="demo")
    event = make_event(camera, NOON)
    client = client_for(owner)
    for url in ("/events/", event.get_absolute_url()):
        page = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
