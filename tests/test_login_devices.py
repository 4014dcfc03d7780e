"""Login throttling that stops attackers without locking the owner out, through the real server:
behind a trusted reverse proxy each client is throttled by its own address, a browser that has
logged in before keeps its own allowance (a signed device cookie), and a forwarded address from
anyone but the proxy counts for nothing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from django.contrib.auth.models import User

from tests.conftest import (
    PASSWORD,
    LiveServer,
    start_web_server,
    wait_for_database_sessions_to_close,
)
from tests.processes import free_port, stop_process
from tests.web import browser_client, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEVICE_COOKIE = "surveillance_device"
HOME, CAFE, ATTACKER = "198.51.100.7", "198.51.100.8", "203.0.113.66"


@pytest.fixture(scope="module")
def proxied_server(child_env: dict[str, str], django_db_blocker: object) -> Iterator[LiveServer]:
    """The web server behind a reverse proxy on 127.0.0.1: the tests play the proxy."""
    env = {**child_env, "SURVEILLANCE_TRUSTED_PROXIES": "127.0.0.1,::1"}
    server = start_web_server(env, free_port(), "test-daphne-proxied")
    yield server
    stop_process(server.process)
    with django_db_blocker.unblock():
        wait_for_database_sessions_to_close("test-daphne-proxied")


def via_proxy(server: LiveServer, address: str, sent: str = "") -> httpx.Client:
    """A browser at `address`, as the proxy forwards it: the proxy appends the address it saw to
    whatever X-Forwarded-For the client sent."""
    forwarded = f"{sent}, {address}" if sent else address
    return browser_client(server.url, headers={"X-Forwarded-For": forwarded})


def attempts(client: httpx.Client, username: str, password: str, times: int) -> list[int]:
    return [log_in(client, username, password).status_code for _ in range(times)]


def test_behind_the_proxy_a_flood_locks_the_attacker_and_not_the_owner(
    proxied_server: LiveServer, owner: User
) -> None:
    owners_browser = via_proxy(proxied_server, HOME)
    assert log_in(owners_browser, "owner").status_code == 302
    assert DEVICE_COOKIE in owners_browser.cookies
    owners_browser.post("/accounts/logout/", data={"csrfmiddlewaretoken": _csrf(owners_browser)})

    attacker = via_proxy(proxied_server, ATTACKER)
    statuses = attempts(attacker, "owner", "wrong", 30)
    assert statuses[:4] == [200] * 4 and set(statuses[4:]) == {429}
    assert log_in(attacker, "owner", PASSWORD).status_code == 429  # the right one, too late

    # The owner's browser, even from the attacker's own network, keeps its allowance.
    owners_browser.headers["X-Forwarded-For"] = ATTACKER
    assert log_in(owners_browser, "owner").status_code == 302
    # A browser that never logged in: from elsewhere it may log in, from there it may not.
    assert log_in(via_proxy(proxied_server, CAFE), "owner").status_code == 302
    assert log_in(via_proxy(proxied_server, ATTACKER), "owner").status_code == 429


def test_an_address_the_client_wrote_itself_gives_it_no_new_tries(
    proxied_server: LiveServer, owner: User
) -> None:
    statuses = [
        log_in(via_proxy(proxied_server, ATTACKER, sent=f"192.0.2.{n}"), "owner", "x").status_code
        for n in range(8)
    ]
    assert statuses[:4] == [200] * 4 and set(statuses[4:]) == {429}


def test_without_a_trusted_proxy_forwarded_addresses_are_ignored(
    web_server: LiveServer, owner: User
) -> None:
    statuses = [
        log_in(via_proxy(web_server, f"192.0.2.{n}"), "owner", "wrong").status_code
        for n in range(8)
    ]
    assert statuses[:4] == [200] * 4 and set(statuses[4:]) == {429}


def test_a_device_has_its_own_allowance_and_loses_it_to_a_flood_of_its_own(
    proxied_server: LiveServer, owner: User
) -> None:
    browser = via_proxy(proxied_server, HOME)
    assert log_in(browser, "owner").status_code == 302
    browser.cookies.delete("sessionid")
    assert attempts(browser, "owner", "wrong", 5) == [200] * 5  # its own five
    # Its allowance spent, it is a browser like any other at its address: five more there.
    assert attempts(browser, "owner", "wrong", 5) == [200] * 4 + [429]
    assert log_in(browser, "owner").status_code == 429


def test_a_device_cookie_is_good_only_for_its_user_and_only_as_signed(
    proxied_server: LiveServer, owner: User, member: User
) -> None:
    members_browser = via_proxy(proxied_server, HOME)
    assert log_in(members_browser, "member").status_code == 302
    cookie = members_browser.cookies[DEVICE_COOKIE]
    forged = (cookie, cookie.replace("member", "owner"), "owner:abc:def")
    for n, value in enumerate(forged):
        browser = via_proxy(proxied_server, f"203.0.113.{70 + n}")
        browser.cookies.set(DEVICE_COOKIE, value)
        assert attempts(browser, "owner", "wrong", 6) == [200] * 4 + [429] * 2, value


def _csrf(client: httpx.Client) -> str:
    return client.cookies["csrftoken"]
