"""Screenshots of the product for the README, taken from a real run in a throwaway data dir.

    .venv/bin/python bench/screenshots.py [--seconds 120] [--out docs]

Starts `runsurveillance` (its own Redis, Daphne, a worker per camera) with three demo cameras,
lets the demo scenes make motion events for --seconds, then has headless Chromium (Debian's
`chromium`) log in and capture the dashboard, a camera page, the event history, an event page,
the admin's event list and the dashboard at phone width. Everything listens on 127.0.0.1 and
is stopped by PID at the end.
"""

from __future__ import annotations

import argparse
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO,
    child_env,
    free_port,
    manage,
    serves_healthz,
    spawn,
    stop_process,
    wait_until,
)  # fmt: skip

PASSWORD = secrets.token_urlsafe(16)  # for this throwaway run only
CAMERAS = [("front-door", "Front door"), ("driveway", "Driveway"), ("garden", "Garden")]


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def prepare(env: dict[str, str]) -> None:
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    for slug, name in CAMERAS:
        manage(env, "addcamera", slug, f"demo:{slug}", "--name", name)
    manage(env, "bootstrap")  # the admin, with SURVEILLANCE_ADMIN_PASSWORD


def log_in(page: Page) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def shoot(page: Page, path: str, out: Path, name: str, settle: float = 2.0) -> None:
    page.goto(path, wait_until="domcontentloaded")
    page.wait_for_timeout(settle * 1000)
    page.screenshot(path=str(out / name))
    say(f"wrote {out / name}")


def take(url: str, out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(base_url=url, viewport={"width": 1280, "height": 900})
        log_in(page)
        shoot(page, "/", out, "dashboard.png", settle=4)
        shoot(page, f"/cameras/{CAMERAS[0][0]}/", out, "camera.png", settle=3)
        shoot(page, "/events/", out, "events.png")
        event = page.evaluate(
            "() => [...document.querySelectorAll('main a')].map(a => a.getAttribute('href'))"
            ".find(href => /^\\/events\\/\\d+\\/$/.test(href))"
        )
        if event:
            shoot(page, event, out, "event.png")
        shoot(page, "/admin/events/motionevent/", out, "admin-events.png")
        phone = browser.new_page(
            base_url=url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
        log_in(phone)
        shoot(phone, "/", out, "phone.png", settle=4)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120, help="motion to collect first")
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="screenshots-") as data:
        port = free_port()
        # No REDIS_URL: runsurveillance starts its own Redis, as `make run` does.
        env = {**child_env(data), "SURVEILLANCE_ADMIN_PASSWORD": PASSWORD}
        prepare(env)
        bind = f"127.0.0.1:{port}"
        argv = [sys.executable, "manage.py", "runsurveillance", "--bind", bind]
        server = spawn(argv, env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://{bind}"
        try:
            wait_until(lambda: serves_healthz(url), 60, "the site to serve /healthz")
            for done in range(0, int(args.seconds), 15):
                say(f"collecting motion: {done}/{int(args.seconds)} s")
                time.sleep(min(15, args.seconds - done))
            take(url, args.out)
        finally:
            stop_process(server, timeout=20)


if __name__ == "__main__":
    main()
