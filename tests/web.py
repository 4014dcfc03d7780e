"""Talking to the real web server as a browser or an attacker would: logins through the form,
raw sockets, and what the server process costs."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.conftest import PASSWORD


def log_in(
    client: httpx.Client, username: str, password: str = PASSWORD, path: str = "/accounts/login/"
) -> httpx.Response:
    """Post the login form as a browser does (its CSRF cookie and token); the response as is."""
    if "csrftoken" not in client.cookies:
        client.get(path)
    form = {
        "username": username,
        "password": password,
        "csrfmiddlewaretoken": client.cookies["csrftoken"],
    }
    return client.post(path, data=form)


def browser_client(base_url: str, **options: object) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=10, **options)


def logged_in_client(base_url: str, username: str, password: str = PASSWORD) -> httpx.Client:
    client = browser_client(base_url)
    response = log_in(client, username, password)
    assert response.status_code == 302, f"login as {username}: {response.status_code}"
    return client


def connect(base_url: str, timeout: float = 10) -> socket.socket:
    parts = urlsplit(base_url)
    return socket.create_connection((parts.hostname, parts.port), timeout=timeout)


def read_response(conn: socket.socket, limit: int = 65536) -> bytes:
    """What the server sends until it closes the connection (or `limit` bytes)."""
    data = b""
    try:
        while len(data) < limit and (chunk := conn.recv(65536)):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/") else 0


def rss_mb(pid: int) -> float:
    """Resident memory of a process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
