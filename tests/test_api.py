"""The JSON API through the real server: cameras and events as to_dict() has them, newest first
a cursor page at a time, filters, nothing of a camera the caller may not view, an OpenAPI 3
schema it holds to under fuzzing (schemathesis), and docs that work offline under our CSP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import ApiToken
from cameras.models import Camera
from events.models import MotionEvent
from recordings.models import Recording
from tests.conftest import LiveServer, logged_in_page
from tests.test_csp_browser import WATCH_VIOLATIONS, violations

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def at(minutes: float, seconds_long: float | None = 5) -> dict:
    start = T0 + dt.timedelta(minutes=minutes)
    end = start + dt.timedelta(seconds=seconds_long) if seconds_long is not None else None
    return {"started_at": start, "ended_at": end}


@pytest.fixture
def events(front_door: Camera, garage: Camera) -> list[MotionEvent]:
    """Front door and garage events; some start at the same instant, one still goes on."""
    lengths = [(0, 2), (1, 30), (1, 60), (1, 8), (5, None), (9, 12), (9, 3)]
    made = [MotionEvent.objects.create(camera=front_door, **at(m, s)) for m, s in lengths]
    made += [MotionEvent.objects.create(camera=garage, **at(m)) for m in (0.5, 1, 7)]
    return made


def bearer(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {ApiToken.issue(user, 'test')[1]}"}


def newest_first(events: list[MotionEvent]) -> list[int]:
    return [e.pk for e in sorted(events, key=lambda e: (e.started_at, e.pk), reverse=True)]


def walk(url: str, headers: dict[str, str]) -> Iterator[dict]:
    """Every page, following `next`."""
    while url:
        response = httpx.get(url, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        page = response.json()
        yield page
        url = page["next"] and url.split("/api/")[0] + page["next"]


def test_events_come_newest_first_a_cursor_page_at_a_time(
    web_server: LiveServer, owner: User, events: list[MotionEvent]
) -> None:
    pages = list(walk(f"{web_server.url}/api/events/?limit=3", bearer(owner)))
    listed = [item["id"] for page in pages for item in page["items"]]
    assert listed == newest_first(events)  # each once, ties in started_at broken by id
    assert [len(page["items"]) for page in pages] == [3, 3, 3, 1] and pages[-1]["next"] is None
    first = MotionEvent.objects.select_related("camera").get(pk=listed[0])
    assert pages[0]["items"][0] == first.to_dict()  # the payload is the model's own dict


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("until=2026-11-21T08:35:00%2B20:35", lambda e: e.started_at < T0),  # PostgreSQL: ±15:59
        ("camera=garage", lambda e: e.camera.slug == "garage"),
        ("since=2026-11-20T12:01:00%2B00:00", lambda e: e.started_at >= T0 + MINUTE),
        ("until=2026-11-20T13:01:00%2B01:00", lambda e: e.started_at < T0 + MINUTE),
        ("min_duration=10", lambda e: e.ended_at and (e.ended_at - e.started_at).seconds >= 10),
        ("has_clip=false", lambda e: True),
        ("has_clip=true", lambda e: False),  # no event has a clip before recordings exist
        ("camera=front-door&min_duration=10&since=2026-11-20T12:05:00Z",
         lambda e: e.camera.slug == "front-door" and e.started_at >= T0 + dt.timedelta(minutes=5)
         and e.ended_at and (e.ended_at - e.started_at).seconds >= 10),
    ],
)  # fmt: skip
def test_events_are_filtered_and_the_filters_follow_the_pages(
    web_server: LiveServer, owner: User, events: list[MotionEvent], query: str, expected: object
) -> None:
    pages = list(walk(f"{web_server.url}/api/events/?limit=2&{query}", bearer(owner)))
    listed = [item["id"] for page in pages for item in page["items"]]
    assert listed == newest_first([e for e in events if expected(e)])


def test_a_member_gets_nothing_of_a_camera_they_may_not_view(
    web_server: LiveServer, member: User, events: list[MotionEvent]
) -> None:
    Camera.objects.get(slug="front-door").viewers.add(member)
    headers, api = bearer(member), f"{web_server.url}/api"
    cameras = httpx.get(f"{api}/cameras/", headers=headers).json()
    assert [c["slug"] for c in cameras] == ["front-door"]
    assert cameras[0] == Camera.objects.get(slug="front-door").to_dict()
    listed = [i for page in walk(f"{api}/events/", headers) for i in page["items"]]
    assert {item["camera"] for item in listed} == {"front-door"}
    assert next(walk(f"{api}/events/?camera=garage", headers))["items"] == []
    garage_event = next(e for e in events if e.camera.slug == "garage")
    for pk in (garage_event.pk, 999_999):  # theirs or nobody's: the same answer
        assert httpx.get(f"{api}/events/{pk}/", headers=headers).status_code == 403


def test_some_cameras_of_several_are_merged_newest_first_across_pages(
    web_server: LiveServer, member: User, events: list[MotionEvent], motion_video: object
) -> None:
    """Read camera by camera (MotionEventQuerySet.newest_for), one order across the pages."""
    garden = Camera.objects.create(slug="garden", name="Garden", source=str(motion_video))
    more = [MotionEvent.objects.create(camera=garden, **at(m)) for m in (1, 1, 4, 9.5)]
    for slug in ("front-door", "garden"):
        Camera.objects.get(slug=slug).viewers.add(member)
    pages = list(walk(f"{web_server.url}/api/events/?limit=3", bearer(member)))
    listed = [item["id"] for page in pages for item in page["items"]]
    theirs = [e for e in events + more if e.camera.slug in ("front-door", "garden")]
    assert listed == newest_first(theirs)


def test_bad_filters_get_400_with_what_is_wrong(web_server: LiveServer, owner: User) -> None:
    headers = bearer(owner)
    for query, words in [
        ("since=yesterday", "since"),
        ("since=2026-11-20T12:00:00", "timezone"),  # a naive time: whose?
        ("since=0001-01-01T00:00:00%2B01:00", "since"),  # before the first instant
        ("camera=front%00door", "camera"),
        ("min_duration=-1", "min_duration"),
        ("limit=0", "limit"),
        ("cursor=bm90IGEgY3Vyc29y", "cursor"),
        ("cursor=%F0%9F%92%A9", "cursor"),
    ]:
        response = httpx.get(f"{web_server.url}/api/events/?{query}", headers=headers)
        assert response.status_code == 400, query
        assert words in response.json()["detail"], query


def test_a_page_deep_in_the_list_counts_nothing(owner: User, events: list[MotionEvent]) -> None:
    client = Client(headers=bearer(owner))
    cursor = client.get("/api/events/?limit=2").json()["next"]
    with CaptureQueriesContext(connection) as queries:
        assert client.get(cursor).status_code == 200
    sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
    assert "COUNT(" not in sql and "OFFSET" not in sql


def test_the_schema_is_openapi_3_and_needs_a_caller(web_server: LiveServer, owner: User) -> None:
    assert httpx.get(f"{web_server.url}/api/schema/").status_code == 401
    schema = httpx.get(f"{web_server.url}/api/schema/", headers=bearer(owner)).json()
    assert schema["openapi"].startswith("3.")
    assert {"/api/cameras/", "/api/events/", "/api/events/{pk}/"} <= set(schema["paths"])
    assert {s["scheme"] for s in schema["components"]["securitySchemes"].values()} == {
        "bearer", "basic",
    }  # fmt: skip


def test_the_docs_work_offline_under_the_csp(
    live_server_url: str, owner: User, browser: object
) -> None:
    page = logged_in_page(browser, live_server_url, "owner")
    page.add_init_script(WATCH_VIOLATIONS)
    outside: list[str] = []

    def only_this_site(route: object) -> None:
        if route.request.url.startswith(live_server_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_site)
    page.goto("/api/")  # sends the caller to the docs
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Surveillance" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector("text=/api/events/")  # the operations, read from /api/schema/
    assert outside == [] and violations(page) == []


# -- fuzzing the API against its own schema --


@pytest.fixture
def fuzzed(web_server: LiveServer, member: User, events: list[MotionEvent]) -> dict:
    """A member allowed the front door only, and their token."""
    Camera.objects.get(slug="front-door").viewers.add(member)
    MotionEvent.objects.create(camera=Camera.objects.get(slug="garage"), started_at=timezone.now())
    return {"url": web_server.url, "headers": bearer(member)}


# Schemathesis' own pytest loader (from_fixture) does not run under pytest 9 yet (it writes
# Node._nodeid, gone): each operation's strategy is driven by Hypothesis here instead.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]  # fmt: skip


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_holds_to_its_schema_and_shows_nothing_else(
    fuzzed: dict, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(
        f"{fuzzed['url']}/api/schema/", headers=fuzzed["headers"]
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 6  # cameras, events, an event, recordings, the switch read and set

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=40, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def holds(case: object) -> None:
            response = case.call_and_validate(base_url=fuzzed["url"], headers=fuzzed["headers"],
                                              checks=CHECKS)  # fmt: skip
            assert b"garage" not in response.content.lower()

        holds()


def test_events_with_video_carry_its_url_and_a_camera_lists_its_recorded_spans(
    web_server: LiveServer, owner: User, member: User, events: list[MotionEvent]
) -> None:
    front_door = events[0].camera
    first, _ = (
        Recording.objects.create(
            camera=front_door,
            kind=Recording.Kind.SEGMENT,
            started_at=start,
            codec="h264",
            ended_at=start + dt.timedelta(seconds=60),
            file=f"recordings/{n}.mp4",
            size=1,
        )
        for n, start in enumerate((T0, T0 + MINUTE))
    )
    events[0].attach_clip(first)
    headers = bearer(owner)
    with_video = httpx.get(f"{web_server.url}/api/events/?has_clip=true", headers=headers).json()
    assert [e["id"] for e in with_video["items"]] == [events[0].pk]
    assert with_video["items"][0]["clip_url"] == f"/events/{events[0].pk}/clip.mp4"
    without = httpx.get(f"{web_server.url}/api/events/?has_clip=false", headers=headers).json()
    assert events[0].pk not in [e["id"] for e in without["items"]]

    query = f"start={(T0 - MINUTE).isoformat()}&end={(T0 + 5 * MINUTE).isoformat()}"
    url = f"{web_server.url}/api/cameras/front-door/recordings/?{query}".replace("+", "%2B")
    [span] = httpx.get(url, headers=headers).json()  # two segments that touch: one span
    assert span["start"] == T0.isoformat() and span["end"] == (T0 + 2 * MINUTE).isoformat()
    assert span["url"].startswith("/cameras/front-door/clip.mp4?start=")
    assert httpx.get(url, headers=bearer(member)).status_code == 403


def test_the_notify_switch_is_set_with_a_session_and_its_csrf_token_never_with_a_token(
    member: User, front_door: Camera, garage: Camera
) -> None:
    front_door.viewers.add(member)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member)
    browser.get("/")  # the page that gives the CSRF cookie
    csrf = {"X-CSRFToken": browser.cookies["csrftoken"].value}

    def put(client: Client, slug: str, armed: bool, **headers: str) -> object:
        return client.put(f"/api/cameras/{slug}/armed/", {"armed": armed},
                          content_type="application/json", headers=headers)  # fmt: skip

    answer = put(browser, "front-door", False, **csrf)
    assert answer.status_code == 200 and answer.json() == {"armed": False}
    front_door.refresh_from_db()
    assert front_door.armed is False
    assert put(browser, "front-door", True).status_code == 403  # no CSRF token: a forged request
    assert put(browser, "garage", False, **csrf).status_code == 403  # not a camera of theirs
    assert put(browser, "attic", False, **csrf).status_code == 404
    token = ApiToken.issue(member, "read only")[1]
    refused = put(Client(), "front-door", True, Authorization=f"Bearer {token}")
    assert refused.status_code == 403 and b"only read" in refused.content
    front_door.refresh_from_db()
    garage.refresh_from_db()
    assert front_door.armed is False and garage.armed is True
    read = Client().get(
        "/api/cameras/front-door/armed/", headers={"Authorization": f"Bearer {token}"}
    )
    assert read.status_code == 200 and read.json() == {"armed": False}  # a token reads it
