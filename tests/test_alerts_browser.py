"""Alerts, reconnection, permissions and small screens in headless Chromium, against real
servers and capture workers. The motion video loops every 8 s with motion at 2-4 s."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from cameras.models import Camera
from events.models import MotionEvent
from tests.conftest import (
    ROOT,
    LiveServer,
    logged_in_page,
    outside_the_browser_loop,
    start_redis,
    start_web_server,
    wait_for_database_sessions_to_close,
)
from tests.processes import free_port, stop_process, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Records every toast the page adds, with the page's clock, so a test can count them.
RECORD_TOASTS = """() => {
  window.toastLog = [];
  new MutationObserver((records) => records.forEach((record) => record.addedNodes.forEach(
    (node) => node.classList && node.classList.contains("toast") &&
      window.toastLog.push({ id: Number(node.dataset.eventId), at: Date.now() / 1000 })
  ))).observe(document.getElementById("toasts"), { childList: true });
}"""


def toast_log(page: Page) -> list[dict]:
    return page.evaluate("() => window.toastLog")


def event_started_after(started: float) -> MotionEvent | None:
    """The first event that started after `started` (Unix seconds), once it has."""

    def query() -> MotionEvent | None:
        return (
            MotionEvent.objects.filter(started_at__gt=dt.datetime.fromtimestamp(started, dt.UTC))
            .order_by("started_at")
            .first()
        )

    return outside_the_browser_loop(query)


def test_an_alert_toast_appears_within_two_seconds_of_motion_and_links_to_the_event(
    live_server_url: str, owner: object, front_door: Camera, start_worker: Callable,
    browser: Browser,
) -> None:  # fmt: skip
    start_worker("front-door")
    page = logged_in_page(browser, live_server_url, "owner")
    page.evaluate(RECORD_TOASTS)
    expect(page.locator("#socket-state")).to_have_text("live", timeout=10_000)
    watching_since = page.evaluate("() => Date.now() / 1000")

    def new_toast() -> dict | None:
        return next((t for t in toast_log(page) if t["at"] > watching_since + 0.5), None)

    toast = wait_until(new_toast, 30, "a motion toast")
    event = outside_the_browser_loop(lambda: MotionEvent.objects.get(pk=toast["id"]))
    delay = toast["at"] - event.started_at.timestamp()
    assert 0 < delay < 2.0, f"the toast came {delay:.2f} s after the motion began"

    shown = page.locator(f".toast[data-event-id='{event.pk}']")
    assert shown.locator("a").get_attribute("href") == f"/events/{event.pk}/"
    expect(shown.locator(".toast-camera")).to_have_text("Front door")
    expect(page.locator(f"#recent-events [data-event-id='{event.pk}']")).to_have_count(1)
    assert int(page.locator("#alert-count").inner_text()) >= 1
    assert page.title().startswith("(")
    bars = page.locator("[data-activity='front-door'] .bar")
    assert int(bars.last.get_attribute("data-count")) >= 1
    page.locator("#alert-reset").click()
    expect(page.locator("#alert-count")).to_have_text("0")
    shown.locator("a").click()
    page.wait_for_url(f"**/events/{event.pk}/")
    page.close()


@dataclass
class RestartableServer:
    port: int
    env: dict[str, str]
    current: LiveServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.current = start_web_server(self.env, self.port, "test-daphne-restart")

    def stop(self) -> None:
        if self.current is not None:
            stop_process(self.current.process)
            self.current = None


@pytest.fixture
def restartable_server(child_env: dict[str, str], transactional_db: None) -> Iterator:
    """A web server of this test's own, which the test stops and starts on the same port."""
    server = RestartableServer(free_port(), child_env)
    server.start()
    yield server
    server.stop()
    wait_for_database_sessions_to_close("test-daphne-restart")


def test_after_the_server_drops_the_socket_the_page_catches_up_on_the_missed_event_once(
    restartable_server: RestartableServer, owner: object, front_door: Camera,
    start_worker: Callable, browser: Browser,
) -> None:  # fmt: skip
    start_worker("front-door")
    page = logged_in_page(browser, restartable_server.url, "owner")
    page.evaluate(RECORD_TOASTS)
    state = page.locator("#socket-state")
    expect(state).to_have_text("live", timeout=10_000)

    down_since = page.evaluate("() => Date.now() / 1000")
    restartable_server.stop()
    expect(state).to_have_text("reconnecting…", timeout=10_000)
    missed = wait_until(lambda: event_started_after(down_since), 30, "motion while it was down")
    restartable_server.start()
    expect(state).to_have_text("live", timeout=20_000)

    def shown(event_id: int) -> int:
        return sum(1 for t in toast_log(page) if t["id"] == event_id)

    wait_until(lambda: shown(missed.pk), 10, "the missed event's toast")
    # A second drop: its catch-up covers the missed event again, which must not show twice.
    restartable_server.stop()
    expect(state).to_have_text("reconnecting…", timeout=10_000)
    restartable_server.start()
    expect(state).to_have_text("live", timeout=20_000)
    page.wait_for_timeout(2000)
    assert shown(missed.pk) == 1
    expect(page.locator(f"#recent-events [data-event-id='{missed.pk}']")).to_have_count(1)
    page.close()


@pytest.fixture
def front_door_member(member: object, front_door: Camera) -> object:
    front_door.viewers.add(member)
    return member


@pytest.fixture
def garage_event(garage: Camera) -> MotionEvent:
    event = MotionEvent.objects.create(camera=garage, peak_area=0.2)
    event.save_snapshots(b"\xff\xd8garage\xff\xd9", b"\xff\xd8garage-clean\xff\xd9")
    return event


# What the page hears on a socket in `seconds`: live tiles' camera slugs, or alert JSON.
LISTEN = """async ([path, first, seconds]) => {
  const socket = new WebSocket("ws://" + location.host + path);
  socket.binaryType = "arraybuffer";
  const heard = [];
  socket.onopen = () => socket.send(JSON.stringify(first));
  socket.onmessage = (msg) => {
    if (typeof msg.data === "string") { heard.push(JSON.parse(msg.data)); return; }
    const bytes = new Uint8Array(msg.data);
    const head = JSON.parse(new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(10))));
    heard.push(head.camera);
    socket.send(JSON.stringify({ shown: head.camera }));
  };
  await new Promise((done) => setTimeout(done, seconds * 1000));
  socket.close();
  return heard;
}"""


def test_a_member_allowed_one_camera_never_sees_anything_of_another(
    live_server_url: str, front_door_member: object, garage_event: MotionEvent,
    start_worker: Callable, browser: Browser,
) -> None:  # fmt: skip
    start_worker("front-door")
    start_worker("garage")  # its motion must raise no alert on this page
    page = logged_in_page(browser, live_server_url, "member")
    page.evaluate(RECORD_TOASTS)
    expect(page.locator("#socket-state")).to_have_text("live", timeout=10_000)

    gid = garage_event.pk
    for url in (
        "/cameras/garage/", "/cameras/garage/stream.mjpg", "/cameras/garage/snapshot.jpg",
        f"/events/{gid}/", f"/events/{gid}/snapshot.jpg", f"/events/{gid}/snapshot.jpg?clean=1",
    ):  # fmt: skip
        assert page.request.get(url).status == 403, url
    for url in ("/events/?camera=garage", "/admin/", f"/admin/events/motionevent/{gid}/change/"):
        response = page.goto(url)
        assert response.status in (200, 400), url  # a form error, or the admin's login form
        assert "Garage" not in page.content() and f"/events/{gid}/" not in page.content(), url

    page.goto("/")
    page.evaluate(RECORD_TOASTS)
    live = page.evaluate(LISTEN, ["/ws/live/", {"watch": ["garage", "front-door"]}, 5])
    assert "front-door" in live and "garage" not in live
    missed = page.evaluate(LISTEN, ["/ws/alerts/", {"since": "2000-01-01T00:00:00+00:00"}, 2])
    assert all(m.get("camera", m.get("event", {}).get("camera")) != "garage" for m in missed)

    # Both scenes move every 8 s: wait for front door's alert, then long enough for garage's.
    wait_until(lambda: toast_log(page), 20, "front door's motion toast")
    page.wait_for_timeout(9000)
    assert "Garage" not in page.content() and "garage" not in page.locator("main").inner_html()
    page.close()


@pytest.fixture
def front_door_event(front_door: Camera) -> MotionEvent:
    event = MotionEvent.objects.create(camera=front_door, peak_area=0.05)
    event.save_snapshots(b"\xff\xd8a\xff\xd9", b"\xff\xd8c\xff\xd9")
    return event


@pytest.mark.parametrize("path", ["/", "/events/", "/cameras/front-door/", "/events/{id}/"])
def test_pages_fit_a_phone_screen(
    live_server_url: str, owner: object, front_door_event: MotionEvent, browser: Browser,
    path: str,
) -> None:  # fmt: skip
    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    page = logged_in_page(browser, live_server_url, "owner", **phone)
    # No worker runs: the camera page's MJPEG image never loads, so "load" never fires.
    page.goto(path.format(id=front_door_event.pk), wait_until="domcontentloaded")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{path} is {overflow} px wider than the phone"
    page.close()


# Stands in for what headless Chromium cannot do: a tab in the background, a desktop to show
# notifications on. The page's code runs unchanged against the browser's real interfaces.
# Without Web Push (deleted here; tests/test_push_browser.py has it), the page notifies by itself.
BACKGROUND_TAB_WITH_NOTIFICATIONS = """
  delete window.PushManager;
  Object.defineProperty(document, "hidden", { get: () => window.pretendHidden === true });
  window.notified = [];
  window.Notification = class {
    static get permission() { return sessionStorage.getItem("permission") || "default"; }
    static async requestPermission() {
      sessionStorage.setItem("permission", "granted");
      return "granted";
    }
    constructor(title, options) { window.notified.push({ title: title, tag: options.tag }); }
    addEventListener() {}
  };
"""


def test_opted_in_notifications_and_sound_come_while_the_tab_is_in_the_background(
    live_server_url: str, owner: object, front_door: Camera, start_worker: Callable,
    browser: Browser,
) -> None:  # fmt: skip
    start_worker("front-door")
    page = logged_in_page(browser, live_server_url, "owner")
    page.add_init_script(BACKGROUND_TAB_WITH_NOTIFICATIONS)
    page.reload()
    notify, sound = page.locator("#notify-toggle"), page.locator("#sound-toggle")
    expect(notify).to_have_text("Notify off")
    notify.click()
    expect(notify).to_have_attribute("aria-pressed", "true")
    sound.click()
    expect(sound).to_have_text("Sound on")
    page.reload()  # both choices are remembered by this browser
    expect(sound).to_have_text("Sound on")
    expect(notify).to_have_text("Notify on")

    page.evaluate("() => { window.pretendHidden = true; }")
    notified = wait_until(lambda: page.evaluate("() => window.notified"), 30, "a notification")
    assert notified[0]["title"] == "Motion: Front door"
    assert notified[0]["tag"].startswith("event-")
    page.evaluate("() => { window.pretendHidden = false; window.notified = []; }")
    wait_until(lambda: toast_log_len(page) >= 2, 30, "a toast in the foreground")
    assert page.evaluate("() => window.notified") == []  # none while the page is in view
    page.close()


def toast_log_len(page: Page) -> int:
    return page.evaluate("() => document.querySelectorAll('.toast').length")


@pytest.fixture
def garage_event_just_now(garage: Camera) -> MotionEvent:
    return MotionEvent.objects.create(camera=garage, ended_at=None)


def test_opening_a_page_does_not_alert_for_events_that_were_already_there(
    live_server_url: str, owner: object, front_door: Camera,
    garage_event_just_now: MotionEvent, browser: Browser,
) -> None:  # fmt: skip
    page = logged_in_page(browser, live_server_url, "owner")
    for path in ("/", "/cameras/front-door/"):
        page.goto(path, wait_until="domcontentloaded")
        expect(page.locator("#socket-state")).to_have_text("live", timeout=10_000)
        page.wait_for_timeout(1000)  # the catch-up has come by now: it repeats the event
        expect(page.locator(".toast")).to_have_count(0)
        expect(page.locator("#alert-count")).to_have_text("0")
    page.close()


def test_the_badge_follows_the_camera_from_live_to_offline_with_since_when(
    live_server_url: str, owner: object, front_door: Camera, start_worker: Callable,
    browser: Browser,
) -> None:  # fmt: skip
    worker = start_worker("front-door")
    page = logged_in_page(browser, live_server_url, "owner")
    badge = page.locator("[data-camera='front-door'] [data-status]")
    expect(badge).to_have_text(re.compile(r"^live · \d+\.\d fps$"), timeout=15_000)
    stop_process(worker)  # the worker says "offline" as it stops
    expect(badge).to_have_text(re.compile(r"^offline since \d\d:\d\d"), timeout=10_000)
    expect(page.locator("[data-camera='front-door'] [data-detail]")).to_have_text("worker stopped")
    page.close()


@dataclass
class RestartableRedis:
    sock: str
    directory: str
    process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = start_redis(self.sock, self.directory)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
            Path(self.sock).unlink(missing_ok=True)


@pytest.fixture
def restartable_redis(child_env: dict[str, str], tmp_path: Path) -> Iterator[RestartableRedis]:
    redis = RestartableRedis(str(tmp_path / "redis.sock"), str(tmp_path))
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def site_on_restartable_redis(
    restartable_redis: RestartableRedis, child_env: dict[str, str], transactional_db: None
) -> Iterator[tuple[RestartableServer, subprocess.Popen]]:
    """A web server and front door's worker whose Redis the test restarts."""
    env = {**child_env, "REDIS_URL": f"unix://{restartable_redis.sock}"}
    server = RestartableServer(free_port(), env)
    server.start()
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "capture", "front-door"],
        cwd=ROOT, env={**env, "PGAPPNAME": "test-worker-restart"},
    )  # fmt: skip
    yield server, worker
    stop_process(worker)
    server.stop()
    wait_for_database_sessions_to_close("test-daphne-restart")
    wait_for_database_sessions_to_close("test-worker-restart")


def test_after_a_redis_restart_the_page_recovers_and_catches_up_on_what_it_missed(
    restartable_redis: RestartableRedis, owner: object, front_door: Camera,
    site_on_restartable_redis: tuple, browser: Browser,
) -> None:  # fmt: skip
    server, worker = site_on_restartable_redis
    page = logged_in_page(browser, server.url, "owner")
    page.evaluate(RECORD_TOASTS)
    state = page.locator("#socket-state")
    expect(state).to_have_text("live", timeout=10_000)

    down_since = page.evaluate("() => Date.now() / 1000")
    restartable_redis.stop()
    # The worker goes on detecting and recording while Redis is away.
    missed = wait_until(lambda: event_started_after(down_since), 30, "motion while Redis is down")
    restartable_redis.start()
    wait_until(lambda: missed.pk in [t["id"] for t in toast_log(page)], 30, "the missed alert")
    expect(state).to_have_text("live", timeout=10_000)
    # Live again, not only caught up: the next motion's alert comes as it happens.
    back_since = page.evaluate("() => Date.now() / 1000")
    wait_until(lambda: any(t["at"] > back_since for t in toast_log(page)), 30, "a live alert")
    assert sum(1 for t in toast_log(page) if t["id"] == missed.pk) == 1
    assert worker.poll() is None
    page.close()


MARKUP = '<img src=x onerror="window.pwned=1">'


@pytest.fixture
def marked_up_camera(motion_video: Path) -> Camera:
    return Camera.objects.create(slug="xss", name=MARKUP, source=str(motion_video), end_after=1.0)


def test_markup_in_a_camera_name_is_shown_as_text_in_toasts_and_the_strip(
    live_server_url: str, owner: object, marked_up_camera: Camera, start_worker: Callable,
    browser: Browser,
) -> None:  # fmt: skip
    start_worker("xss")
    page = logged_in_page(browser, live_server_url, "owner")
    page.evaluate(RECORD_TOASTS)
    wait_until(lambda: toast_log(page), 30, "a toast for the camera")
    expect(page.locator(".toast .toast-camera").first).to_have_text(MARKUP)
    expect(page.locator("#recent-events .recent-camera").first).to_have_text(MARKUP)
    assert page.evaluate("() => window.pwned") is None
    assert page.locator("#toasts img[src='x'], #recent-events img[src='x']").count() == 0
    page.close()
