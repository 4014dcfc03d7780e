"""The admin for events and cameras, through Django's test client: filters, CSV, deletion, the
camera page's live preview and mask editor. Staff only."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.db import connection
from django.test import AsyncClient, Client
from django.test.utils import CaptureQueriesContext

from cameras.admin import SECRET_MASK
from cameras.models import Camera
from cameras.sources import redact
from events.admin import ChangeListEvents
from events.models import MotionEvent
from tests.conftest import client_for

EVENTS = "/admin/events/motionevent/"
CAMERAS = "/admin/cameras/camera/"
NOON = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
JPEG, CLEAN_JPEG = b"\xff\xd8a\xff\xd9", b"\xff\xd8c\xff\xd9"


def make_event(
    camera: Camera, started_at: dt.datetime = NOON, seconds: float | None = 5
) -> MotionEvent:
    """An event `seconds` long (None: still ongoing)."""
    ended_at = None if seconds is None else started_at + dt.timedelta(seconds=seconds)
    return MotionEvent.objects.create(camera=camera, started_at=started_at, ended_at=ended_at)


def with_files(event: MotionEvent) -> MotionEvent:
    event.save_snapshots(JPEG, CLEAN_JPEG)
    return event


def listed(page: str) -> list[int]:
    """Ids of the events a changelist page shows, top to bottom (one checkbox per row)."""
    return [int(pk) for pk in re.findall(r'name="_selected_action" value="(\d+)"', page)]


def files_of(event: MotionEvent) -> list[str]:
    return [event.snapshot.name, event.snapshot_clean.name]


def stored(names: list[str]) -> list[bool]:
    storage = MotionEvent.snapshot.field.storage
    return [storage.exists(name) for name in names]


def camera_form(camera: Camera, **changes: object) -> dict:
    """The camera change form as a browser would post it unchanged (password masked)."""
    return {
        "name": camera.name, "slug": camera.slug, "source": redact(camera.source),
        "password": SECRET_MASK,
        "enabled": "on", "sensitivity": camera.sensitivity, "min_area": camera.min_area,
        "detection_fps": camera.detection_fps, "detection_width": camera.detection_width,
        "start_after": camera.start_after, "end_after": camera.end_after,
        "max_event_length": camera.max_event_length, "mask": "[]",
        "keep_days": camera.keep_days, "record": camera.record, "pre_roll": camera.pre_roll,
        "post_roll": camera.post_roll, "segment_keep_days": camera.segment_keep_days,
        "alert_on": camera.alert_on, "alert_objects": camera.alert_objects, **changes,
    }  # fmt: skip


def export(client: Client, data: dict, query: str = "") -> list[list[str]]:
    response = client.post(EVENTS + query, {"action": "export_csv", "index": "0", **data})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="motion-events-')
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


# -- the events changelist --


def test_changelist_lists_events_newest_first_with_thumbnails(
    owner: User, front_door: Camera, garage: Camera
) -> None:
    old = with_files(make_event(front_door, NOON - dt.timedelta(days=1)))
    new = with_files(make_event(garage, NOON))
    page = client_for(owner).get(EVENTS).content.decode()
    assert listed(page) == [new.pk, old.pk]
    for event in (old, new):
        assert f'<img src="/events/{event.pk}/snapshot.jpg" alt="" height="60"' in page
    assert "5.0 s" in page


def test_camera_filter_shows_only_that_cameras_events(
    owner: User, front_door: Camera, garage: Camera
) -> None:
    mine = make_event(garage)
    make_event(front_door)
    page = client_for(owner).get(f"{EVENTS}?camera__id__exact={garage.pk}").content.decode()
    assert listed(page) == [mine.pk]


@pytest.fixture
def four_days(front_door: Camera) -> dict[str, MotionEvent]:
    """Events at the edges of 1 to 2 March (UTC): the first and last moments of each day."""
    return {
        "28 Feb late": make_event(front_door, dt.datetime(2026, 2, 28, 23, 59, 59, tzinfo=dt.UTC)),
        "1 Mar early": make_event(front_door, dt.datetime(2026, 3, 1, 0, 0, tzinfo=dt.UTC)),
        "2 Mar late": make_event(front_door, dt.datetime(2026, 3, 2, 23, 59, 59, tzinfo=dt.UTC)),
        "3 Mar early": make_event(front_door, dt.datetime(2026, 3, 3, 0, 0, tzinfo=dt.UTC)),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("started_at__from=2026-03-01&started_at__to=2026-03-02", ["2 Mar late", "1 Mar early"]),
        ("started_at__from=2026-03-02", ["3 Mar early", "2 Mar late"]),
        ("started_at__to=2026-02-28", ["28 Feb late"]),
        (
            "started_at__from=&started_at__to=",
            ["3 Mar early", "2 Mar late", "1 Mar early", "28 Feb late"],
        ),
    ],
)
def test_date_range_takes_whole_days_from_and_to_inclusive(
    owner: User, four_days: dict[str, MotionEvent], query: str, expected: list[str]
) -> None:
    page = client_for(owner).get(f"{EVENTS}?{query}").content.decode()
    assert listed(page) == [four_days[name].pk for name in expected]


def test_date_range_days_are_local_days(
    owner: User, four_days: dict[str, MotionEvent], settings: object
) -> None:
    settings.TIME_ZONE = "Europe/Berlin"  # UTC+1: a Berlin day starts at 23:00 UTC the day before
    client = client_for(owner)
    assert listed(client.get(f"{EVENTS}?started_at__to=2026-02-28").content.decode()) == []
    page = client.get(f"{EVENTS}?started_at__from=2026-03-03").content.decode()
    assert listed(page) == [four_days["3 Mar early"].pk, four_days["2 Mar late"].pk]


def test_date_range_filter_is_two_date_inputs_that_keep_the_other_filters(
    owner: User, front_door: Camera
) -> None:
    query = f"?camera__id__exact={front_door.pk}&q=front&started_at__from=2026-03-01"
    page = client_for(owner).get(EVENTS + query).content.decode()
    form = re.search(r'<form method="get" class="date-range-filter">(.*?)</form>', page, re.S)
    assert form, "the date range form is missing"
    fields = form.group(1)
    assert '<input type="date" name="started_at__from" value="2026-03-01">' in fields
    assert '<input type="date" name="started_at__to" value="">' in fields
    assert f'<input type="hidden" name="camera__id__exact" value="{front_door.pk}">' in fields
    assert '<input type="hidden" name="q" value="front">' in fields
    assert 'type="hidden" name="started_at__from"' not in fields
    assert "Any date" in fields


def test_a_malformed_date_is_an_error_page_not_a_crash(owner: User, front_door: Camera) -> None:
    response = client_for(owner).get(f"{EVENTS}?started_at__from=2026-02-30")
    assert response.status_code == 302
    assert response["Location"] == f"{EVENTS}?e=1"


def test_state_filter_separates_ongoing_from_finished(owner: User, front_door: Camera) -> None:
    ongoing = make_event(front_door, NOON, seconds=None)
    finished = make_event(front_door, NOON - dt.timedelta(hours=1))
    client = client_for(owner)
    assert listed(client.get(f"{EVENTS}?state=ongoing").content.decode()) == [ongoing.pk]
    assert listed(client.get(f"{EVENTS}?state=finished").content.decode()) == [finished.pk]


@pytest.mark.parametrize(
    ("bucket", "expected"),
    [("short", [3, 9.9]), ("medium", [10, 59.9]), ("long", [60, 600])],
)
def test_duration_filter_puts_each_finished_event_in_one_bucket(
    owner: User, front_door: Camera, bucket: str, expected: list[float]
) -> None:
    events = {
        seconds: make_event(front_door, NOON + dt.timedelta(minutes=index), seconds)
        for index, seconds in enumerate([3, 9.9, 10, 59.9, 60, 600])
    }
    make_event(front_door, NOON + dt.timedelta(hours=1), seconds=None)  # in none: no length yet
    page = client_for(owner).get(f"{EVENTS}?duration={bucket}").content.decode()
    assert sorted(listed(page)) == sorted(events[seconds].pk for seconds in expected)


def test_search_finds_events_by_camera_name_or_slug(
    owner: User, front_door: Camera, garage: Camera
) -> None:
    door = make_event(front_door)
    make_event(garage)
    client = client_for(owner)
    assert listed(client.get(f"{EVENTS}?q=Front").content.decode()) == [door.pk]
    assert listed(client.get(f"{EVENTS}?q=front-d").content.decode()) == [door.pk]
    assert listed(client.get(f"{EVENTS}?q=nowhere").content.decode()) == []


@pytest.mark.parametrize("kind", ["year", "month", "day"])
@pytest.mark.parametrize("within", [None, "2025-01-01T05:00Z/2025-04-01T04:00Z"])
def test_date_hierarchy_periods_are_those_djangos_distinct_query_finds(
    front_door: Camera, garage: Camera, settings: object, kind: str, within: str | None
) -> None:
    """`within` is a New York quarter: its days are asked one by one, a wider span of days is
    left to Django's query."""
    settings.TIME_ZONE = "America/New_York"  # local periods, not UTC ones
    for moment in ["2024-12-31T23:30Z", "2025-01-01T04:59Z", "2025-01-01T05:00Z",
                   "2025-03-31T12:00Z", "2025-04-01T03:00Z", "2027-06-01T12:00Z"]:  # fmt: skip
        make_event(front_door, dt.datetime.fromisoformat(moment))
    make_event(garage, dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    span = [dt.datetime.fromisoformat(end) for end in within.split("/")] if within else [None] * 2
    events = MotionEvent.objects.filter(camera=front_door).started_between(*span)
    asked = ChangeListEvents(MotionEvent).filter(camera=front_door).started_between(*span)
    assert list(asked.datetimes("started_at", kind)) == list(events.datetimes("started_at", kind))


def test_date_hierarchy_links_only_months_with_events(owner: User, front_door: Camera) -> None:
    for month in (1, 3):
        make_event(front_door, dt.datetime(2025, month, 15, tzinfo=dt.UTC))
    page = client_for(owner).get(EVENTS).content.decode()
    assert "started_at__month=1&amp;started_at__year=2025" in page
    assert "started_at__month=3&amp;started_at__year=2025" in page
    assert "started_at__month=2&amp;" not in page


def test_changelist_queries_do_not_grow_with_the_events(
    owner: User, front_door: Camera, garage: Camera
) -> None:
    client = client_for(owner)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(EVENTS).status_code == 200
        return len(captured)

    make_event(front_door)
    few = queries()
    for minutes in range(30):
        with_files(
            make_event([front_door, garage][minutes % 2], NOON + dt.timedelta(minutes=minutes))
        )
    assert queries() == few


def test_a_filtered_changelist_never_counts_the_whole_table(
    owner: User, front_door: Camera, garage: Camera
) -> None:
    """Two cameras: with one, Django hides the camera filter and ignores its parameter."""
    make_event(front_door)
    client = client_for(owner)
    for query in [f"?camera__id__exact={front_door.pk}", "?started_at__from=2026-01-01",
                  "?state=ongoing", "?duration=short", "?q=door"]:  # fmt: skip
        with CaptureQueriesContext(connection) as captured:
            assert client.get(EVENTS + query).status_code == 200
        counts = [q["sql"] for q in captured if "COUNT(" in q["sql"].upper()]
        assert len(counts) == 1, (query, counts)  # the paginator's, over the filtered events
        assert "WHERE" in counts[0], (query, counts[0])


# -- CSV export --


def test_csv_export_has_a_row_per_selected_event(
    owner: User, front_door: Camera, garage: Camera
) -> None:
    done = with_files(make_event(front_door, NOON, seconds=12.3456))
    done.peak_area = 0.123456
    done.save()
    ongoing = make_event(garage, NOON + dt.timedelta(minutes=1), seconds=None)
    make_event(garage, NOON - dt.timedelta(days=1))  # not selected
    rows = export(client_for(owner), {"_selected_action": [done.pk, ongoing.pk]})
    assert rows == [
        ["id", "camera_slug", "camera_name", "started_at", "ended_at", "duration_s",
         "peak_area", "snapshot_url"],
        [str(ongoing.pk), "garage", "Garage", "2026-03-02T12:01:00+00:00", "", "", "0.0", ""],
        [str(done.pk), "front-door", "Front door", "2026-03-02T12:00:00+00:00",
         "2026-03-02T12:00:12.345600+00:00", "12.346", "0.1235",
         f"http://testserver/events/{done.pk}/snapshot.jpg"],
    ]  # fmt: skip


def test_csv_export_of_every_matching_event_follows_the_filters(
    owner: User, front_door: Camera, garage: Camera
) -> None:
    wanted = [make_event(garage, NOON + dt.timedelta(minutes=m)) for m in range(3)]
    make_event(front_door)
    rows = export(
        client_for(owner),
        {"select_across": "1", "_selected_action": [wanted[0].pk]},
        query=f"?camera__id__exact={garage.pk}",
    )
    assert [int(row[0]) for row in rows[1:]] == [event.pk for event in reversed(wanted)]


@pytest.mark.parametrize(
    "name", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rReturn"]
)
def test_csv_export_turns_formula_like_camera_names_into_text(
    owner: User, db: None, name: str
) -> None:
    camera = Camera.objects.create(slug="odd", name=name, source="demo")
    event = make_event(camera)
    rows = export(client_for(owner), {"_selected_action": [event.pk]})
    assert rows[1][2] == "'" + name


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_csv_export_under_asgi_is_streamed_asynchronously(front_door: Camera) -> None:
    """Daphne gets an async iterator: a sync one Django would read whole before sending."""
    owner = await User.objects.acreate(username="boss", is_staff=True, is_superuser=True)
    events = [await sync_to_async(make_event)(front_door, NOON + dt.timedelta(seconds=s))
              for s in range(3)]  # fmt: skip
    client = AsyncClient()
    await client.aforce_login(owner)
    data = {"action": "export_csv", "index": "0", "select_across": "1",
            "_selected_action": [events[0].pk]}  # fmt: skip
    response = await client.post(EVENTS, data)
    assert response.status_code == 200 and response.is_async
    body = b"".join([chunk async for chunk in response.streaming_content]).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert [int(row[0]) for row in rows[1:]] == [event.pk for event in reversed(events)]


# -- deleting --


def test_deleting_an_event_removes_its_snapshot_files(
    owner: User, front_door: Camera, django_capture_on_commit_callbacks: Callable
) -> None:
    event, other = with_files(make_event(front_door)), with_files(make_event(front_door))
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).post(f"{EVENTS}{event.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not MotionEvent.objects.filter(pk=event.pk).exists()
    assert stored(files_of(event)) == [False, False]
    assert stored(files_of(other)) == [True, True]


def test_deleting_selected_events_removes_their_snapshot_files(
    owner: User, front_door: Camera, django_capture_on_commit_callbacks: Callable
) -> None:
    doomed = [with_files(make_event(front_door)) for _ in range(3)]
    kept = with_files(make_event(front_door))
    data = {"action": "delete_selected", "post": "yes", "index": "0",
            "_selected_action": [event.pk for event in doomed]}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).post(EVENTS, data)
    assert response.status_code == 302
    assert list(MotionEvent.objects.all()) == [kept]
    assert not any(stored([name for event in doomed for name in files_of(event)]))
    assert stored(files_of(kept)) == [True, True]


def test_deleting_a_camera_removes_its_events_files(
    owner: User, front_door: Camera, garage: Camera, django_capture_on_commit_callbacks: Callable
) -> None:
    doomed, kept = with_files(make_event(front_door)), with_files(make_event(garage))
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).post(f"{CAMERAS}{front_door.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert list(Camera.objects.all()) == [garage]
    assert stored(files_of(doomed)) == [False, False]
    assert stored(files_of(kept)) == [True, True]


def test_deleting_selected_cameras_removes_their_events_files(
    owner: User, front_door: Camera, garage: Camera, django_capture_on_commit_callbacks: Callable
) -> None:
    events = [with_files(make_event(camera)) for camera in (front_door, garage)]
    data = {"action": "delete_selected", "post": "yes", "index": "0",
            "_selected_action": [front_door.pk, garage.pk]}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).post(CAMERAS, data)
    assert response.status_code == 302
    assert not Camera.objects.exists() and not MotionEvent.objects.exists()
    assert not any(stored([name for event in events for name in files_of(event)]))


# -- the camera page --


@pytest.fixture
def porch(db: None) -> Camera:
    return Camera.objects.create(
        slug="porch", name="Porch", source="rtsp://u:hunter2@192.0.2.1/s",
        mask=[[[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]],
    )  # fmt: skip


def test_camera_page_masks_the_password_and_shows_the_live_view(owner: User, porch: Camera) -> None:
    page = client_for(owner).get(f"{CAMERAS}{porch.pk}/change/").content.decode()
    assert "hunter2" not in page and 'value="rtsp://u@192.0.2.1/s"' in page
    assert '<img class="live-preview" src="/cameras/porch/stream.mjpg?width=640&amp;fps=5"' in page


def test_camera_page_has_the_mask_editor_over_the_snapshot(owner: User, porch: Camera) -> None:
    page = client_for(owner).get(f"{CAMERAS}{porch.pk}/change/").content.decode()
    assert (
        'data-mask-editor data-field="id_mask" data-snapshot-url="/cameras/porch/snapshot.jpg"'
        in page
    )
    assert '<script src="/static/js/mask_editor.js"></script>' in page
    for label in ("Close polygon", "Undo point", "Clear all"):
        assert f">{label}</button>" in page
    # the JSON stays editable as text: the editor without JavaScript
    textarea = re.search(r'<textarea name="mask"[^>]*>(.*?)</textarea>', page, re.S)
    assert textarea and textarea.group(1).strip() == "[[[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]]"


def test_new_camera_page_has_the_editor_but_no_picture_yet(owner: User) -> None:
    page = client_for(owner).get(f"{CAMERAS}add/").content.decode()
    assert 'data-mask-editor data-field="id_mask" data-snapshot-url=""' in page
    assert "stream.mjpg" not in page and "Shown once the camera is saved." in page


def test_a_disabled_camera_page_shows_no_stream(owner: User, porch: Camera) -> None:
    Camera.objects.filter(pk=porch.pk).update(enabled=False)
    page = client_for(owner).get(f"{CAMERAS}{porch.pk}/change/").content.decode()
    assert "stream.mjpg" not in page and "The camera is disabled." in page


def test_posting_a_mask_saves_it_and_keeps_the_password(owner: User, porch: Camera) -> None:
    mask = "[[[0.1234, 0.5], [0.9, 0.5], [0.9, 1]], [[0, 0], [1, 0], [1, 0.25], [0, 0.25]]]"
    response = client_for(owner).post(f"{CAMERAS}{porch.pk}/change/", camera_form(porch, mask=mask))
    assert response.status_code == 302
    porch.refresh_from_db()
    assert porch.mask == [
        [[0.1234, 0.5], [0.9, 0.5], [0.9, 1]],
        [[0, 0], [1, 0], [1, 0.25], [0, 0.25]],
    ]
    assert (porch.source, porch.password) == ("rtsp://u@192.0.2.1/s", "hunter2")


@pytest.mark.parametrize("mask", ["[[[0.1, 0.1], [0.5, 0.5]]]", "[[[0.1, 1.5], [0, 0], [1, 1]]]",
                                  "not json"])  # fmt: skip
def test_a_bad_mask_is_refused_and_nothing_saved(owner: User, porch: Camera, mask: str) -> None:
    response = client_for(owner).post(f"{CAMERAS}{porch.pk}/change/", camera_form(porch, mask=mask))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["mask"]
    porch.refresh_from_db()
    assert porch.mask == [[[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]]


@pytest.mark.parametrize("blank", ["", " \r\n"])
def test_an_emptied_mask_box_means_no_mask(owner: User, porch: Camera, blank: str) -> None:
    """Not a NULL: the column is NOT NULL, and "" would otherwise reach it as None (a 500)."""
    form = camera_form(porch, mask=blank)
    response = client_for(owner).post(f"{CAMERAS}{porch.pk}/change/", form)
    assert response.status_code == 302
    porch.refresh_from_db()
    assert porch.mask == []


# -- staff only --


@pytest.mark.parametrize("path", [EVENTS, f"{EVENTS}?state=ongoing", CAMERAS, f"{CAMERAS}add/"])
def test_non_staff_are_sent_to_the_admin_login(member: User, front_door: Camera, path: str) -> None:
    for client in (client_for(member), Client()):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=/admin/")


def test_non_staff_cannot_export_or_delete(
    member: User, front_door: Camera, django_capture_on_commit_callbacks: Callable
) -> None:
    event = with_files(make_event(front_door))
    client = client_for(member)
    for action in ("export_csv", "delete_selected"):
        data = {"action": action, "post": "yes", "index": "0", "_selected_action": [event.pk]}
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(EVENTS, data)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert MotionEvent.objects.filter(pk=event.pk).exists()
    assert stored(files_of(event)) == [True, True]


def test_events_can_be_marked_keep_from_the_list_and_the_event_page(
    owner: User, front_door: Camera
) -> None:
    first, second = (MotionEvent.objects.create(camera=front_door) for _ in range(2))
    client, url = client_for(owner), "/admin/events/motionevent/"
    client.post(url, {"action": "keep", "_selected_action": [first.pk]})
    first.refresh_from_db(), second.refresh_from_db()
    assert first.keep and not second.keep
    kept = client.get(url, {"keep__exact": "1"}).content.decode()
    assert f"/{first.pk}/change/" in kept and f"/{second.pk}/change/" not in kept
    client.post(url, {"action": "unkeep", "_selected_action": [first.pk]})
    first.refresh_from_db()
    assert not first.keep
    page = client.get(f"{url}{second.pk}/change/").content.decode()
    assert 'name="keep"' in page and 'name="started_at' not in page
    client.post(f"{url}{second.pk}/change/", {"keep": "on"})
    second.refresh_from_db()
    assert second.keep
