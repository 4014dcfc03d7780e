"""Web Push in Chromium: the service worker registers for real from our origin, "Notify"
subscribes this browser through the site, and a push delivered to the worker (DevTools'
ServiceWorker.deliverPushMessage) shows a notification. Only pushManager.subscribe() is stood
in for: it needs the browser vendor's push service on the internet."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect

from cameras.models import Camera
from notifications.models import PushSubscription
from notifications.push import application_server_key
from tests import notify_parts
from tests.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    LiveServer,
    logged_in_page,
    outside_the_browser_loop,
    start_web_server,
    wait_for_database_sessions_to_close,
)  # fmt: skip
from tests.notify_parts import start_motion
from tests.processes import free_port, stop_process, wait_until
from tests.push_service import BrowserKeys, PushService

pytestmark = pytest.mark.e2e
start_notifier = notify_parts.start_notifier  # fixture
LOCAL = {"SURVEILLANCE_PUSH_ALLOW_LOCAL": "1"}  # the push service is on 127.0.0.1

# The browser's half of subscribe(), as the push service would have answered it.
SUBSCRIBE_STAND_IN = """
  let current = null;
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    window.subscribedWith = btoa(String.fromCharCode(...key))
      .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
    current = { endpoint: SUBSCRIPTION.endpoint, toJSON: () => SUBSCRIPTION,
                unsubscribe: async () => { current = null; return true; } };
    return current;
  };
  PushManager.prototype.getSubscription = async function () { return current; };
"""


@pytest.fixture(scope="module")
def push_site(child_env: dict[str, str], django_db_blocker: object) -> Iterator[LiveServer]:
    """The site, allowing a push service on 127.0.0.1, and answering to cams.test too."""
    env = {**child_env, **LOCAL, "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,cams.test"}
    server = start_web_server(env, free_port(), "test-push-daphne")
    yield server
    stop_process(server.process)
    with django_db_blocker.unblock():
        wait_for_database_sessions_to_close("test-push-daphne")


@pytest.fixture
def porch(transactional_db: None, member: User) -> Camera:
    camera = Camera.objects.create(slug="porch", name="Porch", source="demo")
    camera.viewers.add(member)
    return camera


def notifications_shown(page: Page) -> list[str]:
    return page.evaluate(
        "async () => (await (await navigator.serviceWorker.ready).getNotifications())"
        ".map((n) => n.title)"
    )


def registration_id(page: Page, cdp: object, scope: str) -> str:
    found: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: found.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    for _ in range(100):
        ours = [r for r in found if r["scopeURL"] == scope and not r["isDeleted"]]
        if ours:
            return ours[-1]["registrationId"]
        page.wait_for_timeout(50)  # lets Playwright hand over the protocol's events
    raise AssertionError(f"no service worker registration for {scope}")


def subscribed_page(
    browser: Browser, base: str, keys: BrowserKeys, service: PushService, **options: object
) -> Page:
    """A member's dashboard whose "Notify" has been clicked: the site holds this browser."""
    page = logged_in_page(browser, base, "member", **options)
    page.context.grant_permissions(["notifications"], origin=base)
    subscription = json.dumps(keys.subscription(service.endpoint))
    page.add_init_script(f"const SUBSCRIPTION = {subscription};" + SUBSCRIBE_STAND_IN)
    page.reload()
    notify = page.locator("#notify-toggle")
    expect(notify).to_have_text("Notify off")
    notify.click()
    expect(notify).to_have_text("Notify on")
    assert page.evaluate("() => window.subscribedWith") == application_server_key()
    stored = outside_the_browser_loop(lambda: list(PushSubscription.objects.values("endpoint")))
    assert stored == [{"endpoint": service.endpoint}]
    return page


def wait_for_notifications(page: Page) -> list[str]:
    for _ in range(100):
        if shown := notifications_shown(page):
            return shown
        page.wait_for_timeout(50)
    return []


def deliver(cdp: object, base: str, registration: str, push: dict) -> None:
    message = {"origin": base, "registrationId": registration, "data": json.dumps(push)}
    cdp.send("ServiceWorker.deliverPushMessage", message)


def test_notify_subscribes_this_browser_and_a_push_shows_a_notification(
    push_site: LiveServer, porch: Camera, start_notifier: Callable, browser: Browser
) -> None:
    base = push_site.url
    keys = BrowserKeys()
    service = PushService(keys, application_server_key())
    page = subscribed_page(browser, base, keys, service)
    scope = page.evaluate("async () => (await navigator.serviceWorker.ready).scope")
    assert scope == f"{base}/"  # /sw.js, registered for real, for the whole site
    # Installable: the page's manifest, and the icon it names.
    kind, manifest, icon = page.evaluate("""async () => {
      const answer = await fetch(document.querySelector("link[rel=manifest]").href);
      const manifest = await answer.json();
      const icon = await fetch(manifest.icons[0].src);
      return [answer.headers.get("content-type"), manifest, icon.status];
    }""")
    assert kind == "application/manifest+json" and icon == 200
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"

    start_notifier(**LOCAL)
    event = outside_the_browser_loop(lambda: start_motion(porch))
    wait_until(lambda: service.pushes or service.refused, 10, "the push")
    assert service.refused == []
    cdp = page.context.new_cdp_session(page)
    deliver(cdp, base, registration_id(page, cdp, scope), service.pushes[0])
    assert wait_for_notifications(page) == ["Motion: Porch"]
    tag = page.evaluate(
        "async () => (await (await navigator.serviceWorker.ready).getNotifications())[0].tag"
    )
    assert tag == f"event-{event.pk}"

    notify = page.locator("#notify-toggle")
    notify.click()  # and off again: the site forgets this browser
    expect(notify).to_have_text("Notify off")
    assert outside_the_browser_loop(lambda: PushSubscription.objects.count()) == 0
    service.close()
    page.close()


def test_a_push_is_shown_while_no_tab_of_the_site_is_open(
    push_site: LiveServer, porch: Camera, start_notifier: Callable, browser: Browser
) -> None:
    """What pushes are for: the browser runs, the site's tab was closed, its service worker was
    stopped; the push starts the worker, which shows the notification."""
    base = push_site.url
    keys = BrowserKeys()
    service = PushService(keys, application_server_key())
    page = subscribed_page(browser, base, keys, service, own_context=False)
    context = page.context
    scope = page.evaluate("async () => (await navigator.serviceWorker.ready).scope")
    cdp = context.new_cdp_session(page)
    registration = registration_id(page, cdp, scope)
    cdp.detach()
    page.close()
    blank = context.new_page()  # about:blank, so that the browser keeps a window
    cdp = context.new_cdp_session(blank)
    states: list[str] = []
    cdp.on("ServiceWorker.workerVersionUpdated",
           lambda e: states.extend(v["runningStatus"] for v in e["versions"]))  # fmt: skip
    cdp.send("ServiceWorker.enable")
    cdp.send("ServiceWorker.stopAllWorkers")
    for _ in range(100):
        if states and states[-1] == "stopped":
            break
        blank.wait_for_timeout(50)
    assert states[-1] == "stopped"
    assert [p.url for p in context.pages] == ["about:blank"]

    start_notifier(**LOCAL)
    event = outside_the_browser_loop(lambda: start_motion(porch))
    wait_until(lambda: service.pushes or service.refused, 10, "the push")
    assert service.refused == []
    stopped = len(states)
    deliver(cdp, base, registration, service.pushes[0])
    for _ in range(100):
        if "running" in states[stopped:]:
            break
        blank.wait_for_timeout(50)
    assert "running" in states[stopped:]  # the push woke the worker
    blank.goto(f"{base}/")  # a tab opened afterwards finds what the worker showed
    assert wait_for_notifications(blank) == ["Motion: Porch"]
    tag = blank.evaluate(
        "async () => (await (await navigator.serviceWorker.ready).getNotifications())[0].tag"
    )
    assert tag == f"event-{event.pk}"
    service.close()
    context.close()


def test_where_the_page_is_not_a_secure_context_the_button_says_why(
    push_site: LiveServer, porch: Camera, browser: Browser
) -> None:
    port = push_site.url.rsplit(":", 1)[1]
    # A LAN name over plain HTTP, as a phone would open the site: not a secure context.
    insecure = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP cams.test 127.0.0.1"],
    )
    try:
        page = insecure.new_page(base_url=f"http://cams.test:{port}")
        page.goto("/")
        page.fill("input[name=username]", "member")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_url(f"http://cams.test:{port}/")
        assert page.evaluate("() => window.isSecureContext") is False
        notify = page.locator("#notify-toggle")
        expect(notify).to_have_text("Notify needs HTTPS")
        expect(notify).to_be_disabled()
        expect(page.locator("#notify-note")).to_contain_text(
            "“HTTPS for notifications” in the README"
        )
    finally:
        insecure.close()
