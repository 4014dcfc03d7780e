"""Brute force against the login forms is throttled by django-axes (username + address)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client

from tests.conftest import PASSWORD


def attempt(client: Client, username: str, password: str, path: str = "/accounts/login/") -> int:
    response = client.post(path, {"username": username, "password": password})
    return response.status_code


def logged_in(client: Client) -> bool:
    return client.get("/").status_code == 200


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(member: User) -> None:
    client = Client()
    for _ in range(4):
        assert attempt(client, "member", "wrong") == 200  # the form again, with an error
    assert attempt(client, "member", "wrong") == 429
    assert attempt(client, "member", PASSWORD) == 429
    assert not logged_in(client)
    page = client.post("/accounts/login/", {"username": "member", "password": PASSWORD})
    assert b"Too many failed logins" in page.content and PASSWORD.encode() not in page.content


def test_a_lockout_is_per_username_and_address(member: User, stranger: User) -> None:
    attacker = Client(REMOTE_ADDR="192.0.2.66")
    for _ in range(5):
        attempt(attacker, "member", "wrong")
    assert attempt(attacker, "member", PASSWORD) == 429
    assert attempt(attacker, "stranger", PASSWORD) == 302  # another account from there
    assert attempt(Client(), "member", PASSWORD) == 302  # the member from home


def test_a_successful_login_gives_the_browser_an_allowance_of_its_own(member: User) -> None:
    client = Client()
    for _ in range(4):
        attempt(client, "member", "wrong")
    assert attempt(client, "member", PASSWORD) == 302
    client.post("/accounts/logout/")  # as the page does: the browser keeps its other cookies
    for _ in range(5):
        assert attempt(client, "member", "wrong") == 200
    assert attempt(client, "member", PASSWORD) == 302
    assert attempt(Client(), "member", "wrong") == 429  # the fifth at that address: it counted


def test_the_admin_login_is_throttled_too(owner: User) -> None:
    client = Client()
    for _ in range(5):
        attempt(client, "owner", "wrong", "/admin/login/")
    assert attempt(client, "owner", PASSWORD, "/admin/login/") == 429
