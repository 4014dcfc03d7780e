"""Fixtures with real parts: a private Redis, Daphne and capture workers as subprocesses, personas.

Servers listen on 127.0.0.1 or on unix sockets in the suite's own temp dir, and every process a
fixture starts is stopped by its PID.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, connections
from django.test import Client
from playwright.sync_api import Browser, Page, sync_playwright

from cameras.models import Camera
from tests import harness
from tests.harness import LiveServer
from tests.processes import free_port, stop_process, wait_until
from tests.videos import write_video

ROOT = harness.REPO
PASSWORD = "correct horse battery staple"


def wait_for_database_sessions_to_close(app_name: str, timeout: float = 10) -> None:
    """PostgreSQL ends a stopped process's session a moment later; the test database can be
    flushed or dropped only once it has. Each child names its sessions with PGAPPNAME."""
    if connection.vendor != "postgresql":
        return

    def closed() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [app_name]
            )
            return cursor.fetchone()[0] == 0

    wait_until(closed, timeout, f"the database sessions of {app_name} to close")


# -- the channel layer, as a web process sees it --


async def collect(channel: str, seconds: float) -> list[dict]:
    layer, messages = get_channel_layer(), []
    try:
        async with asyncio.timeout(seconds):
            while True:
                messages.append(await layer.receive(channel))
    except TimeoutError:
        return messages


async def subscribe(group: str) -> str:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return channel


# -- the ASGI stack in this process --


@pytest_asyncio.fixture
async def close_thread_connections() -> AsyncIterator[None]:
    """ORM calls from async tests run in asgiref's shared worker thread, whose connection Django
    never closes: close it, or PostgreSQL refuses to drop the test database at the end."""
    yield
    await sync_to_async(connections.close_all)()


def client_for(user: User) -> Client:
    """Django's test client, logged in as `user`."""
    client = Client()
    client.force_login(user)
    return client


def session_cookie(user: User) -> tuple[Client, bytes]:
    client = client_for(user)
    return client, f"sessionid={client.cookies['sessionid'].value}".encode()


def socket_for(cookie: bytes, path: str = "/ws/alerts/") -> WebsocketCommunicator:
    from surveillance.asgi import application

    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"), (b"cookie", cookie)]
    return WebsocketCommunicator(application, path, headers=headers)


async def connected(socket: WebsocketCommunicator) -> WebsocketCommunicator:
    connected, _ = await socket.connect()
    assert connected
    return socket


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 3) -> None:
    async with asyncio.timeout(seconds):
        while not await check():
            await asyncio.sleep(0.05)


def start_redis(sock: str, directory: str) -> subprocess.Popen:
    """A private redis-server on a unix socket, once it answers; skips without the package."""
    try:
        return harness.start_redis(sock, directory)
    except harness.RedisMissingError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """The suite's Redis, in its data dir."""
    process = start_redis(settings.REDIS_URL.removeprefix("unix://"), str(settings.DATA_DIR))
    yield settings.REDIS_URL
    stop_process(process)


def database_url() -> str:
    """The test database as a DATABASE_URL, for subprocesses to share it with the suite."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(scope="session")
def child_env(django_db_setup: None, redis_server: str) -> dict[str, str]:
    return harness.child_env(settings.DATA_DIR, redis_server, database_url())


def start_web_server(env: dict[str, str], port: int, app_name: str) -> LiveServer:
    """The real web server (Daphne, surveillance.server) on 127.0.0.1, once it serves."""
    return harness.start_web_server(env, port, app_name)


@pytest.fixture(scope="session")
def web_server(child_env: dict[str, str], django_db_blocker: object) -> Iterator[LiveServer]:
    """The web server for the whole session."""
    server = start_web_server(child_env, free_port(), "test-daphne")
    yield server
    stop_process(server.process)
    with django_db_blocker.unblock():  # the session's last test may not have used the database
        wait_for_database_sessions_to_close("test-daphne")


@pytest.fixture(scope="session")
def live_server_url(web_server: LiveServer) -> str:
    return web_server.url


QUICK_RECHECK = 1.0  # seconds


@pytest.fixture
def quick_rechecks(child_env: dict[str, str], transactional_db: None) -> Iterator[LiveServer]:
    """A web server of its own whose streams and sockets check their viewer every second, not
    every 30 (SURVEILLANCE_RECHECK_SECONDS); stopped before the database is flushed."""
    env = {**child_env, "SURVEILLANCE_RECHECK_SECONDS": str(QUICK_RECHECK)}
    server = start_web_server(env, free_port(), "test-daphne-rechecks")
    yield server
    stop_process(server.process)
    wait_for_database_sessions_to_close("test-daphne-rechecks")


@pytest.fixture
def start_worker(
    child_env: dict[str, str], transactional_db: None
) -> Iterator[Callable[[str], subprocess.Popen]]:
    """Starts `manage.py capture SLUG` subprocesses; stops them before the database is flushed."""
    processes: list[subprocess.Popen] = []

    def start(slug: str) -> subprocess.Popen:
        processes.append(harness.start_worker(child_env, slug, app_name="test-worker"))
        return processes[-1]

    yield start
    for process in processes:
        stop_process(process)
    if processes:
        wait_for_database_sessions_to_close("test-worker")


@pytest.fixture
def owner(db: None) -> User:
    return User.objects.create_user("owner", password=PASSWORD, is_staff=True, is_superuser=True)


@pytest.fixture
def member(db: None) -> User:
    """A household member who may view only the cameras added to their list."""
    return User.objects.create_user("member", password=PASSWORD)


@pytest.fixture
def stranger(db: None) -> User:
    return User.objects.create_user("stranger", password=PASSWORD)


@pytest.fixture(scope="session")
def motion_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s, looping well: still 0-2 s, a box crosses 2-4 s, still again 4-8 s."""
    return write_video(tmp_path_factory.mktemp("videos") / "motion.mp4", 8, moving=(2, 4))


@pytest.fixture(scope="session")
def still_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("videos") / "still.mp4", 6)


@pytest.fixture
def front_door(db: None, motion_video: Path) -> Camera:
    return Camera.objects.create(
        slug="front-door", name="Front door", source=str(motion_video), end_after=1.0
    )


@pytest.fixture
def garage(db: None, motion_video: Path) -> Camera:
    return Camera.objects.create(
        slug="garage", name="Garage", source=str(motion_video), end_after=1.0
    )


# -- headless Chromium (Debian's package) --

CHROMIUM, CHROMIUM_ARGS = harness.CHROMIUM, harness.CHROMIUM_ARGS


@pytest.fixture
def browser(transactional_db: None) -> Iterator[Browser]:
    """Chromium for one test: Playwright runs an event loop in this thread, so it must be gone
    before the database is flushed (Django refuses sync queries beside a running loop)."""
    if shutil.which("chromium") is None:
        pytest.skip("needs the chromium package (apt install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def logged_in_page(browser: Browser, base_url: str, username: str, **options: object) -> Page:
    """A page of its own context (closing the page closes it); with `own_context=False`, a page
    of a context that outlives it (closed by the caller), as when a browser keeps running."""
    if options.pop("own_context", True):
        page = browser.new_page(base_url=base_url, **options)
    else:
        page = browser.new_context(base_url=base_url, **options).new_page()
    page.goto("/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{base_url}/")
    return page


# A dashboard tile shows the camera's JPEGs in its <img>, or, for a camera the page knows sends
# H.264, the camera's own video in its <video> (static/js/dashboard.js): whichever is not hidden.
SHOWN_TILE_PICTURE = """(tile) => {
  const shown = tile.querySelector(".live:not([hidden])");
  if (!shown) return false;
  return shown.tagName === "VIDEO" ? shown.readyState >= 2 : shown.naturalWidth > 0;
}"""


def wait_for_tile_picture(page: Page, slug: str, timeout: float = 20_000) -> None:
    """Until the camera's dashboard tile shows a decoded picture, as JPEG or as video."""
    tile = page.locator(f".tile[data-camera='{slug}']")
    page.wait_for_function(SHOWN_TILE_PICTURE, arg=tile.element_handle(), timeout=timeout)


def tile_frame_times(page: Page) -> list[float]:
    """The capture time of the frame each dashboard tile shows (0 before its first)."""
    return page.eval_on_selector_all(
        ".tile[data-camera]",
        "tiles => tiles.map(t => Number(t.querySelector('.live:not([hidden])')"
        "?.dataset.capturedAt || 0))",
    )


def outside_the_browser_loop(query: Callable[[], object]) -> object:
    """Runs ORM code from a test that drives Chromium: Playwright's loop runs in the test's
    thread, where Django refuses sync queries, so the query runs in a thread of its own."""

    def run() -> object:
        try:
            return query()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()
