"""Where the notifier may connect, and the one way it posts: to the address it checked.

A webhook URL (or a push endpoint) names a host; the host is resolved at every delivery, every
address it resolves to is checked, and the connection goes to the checked address, with the
URL's host name for the Host header and for TLS. Redirects are never followed (http.client does
not). So a name that later resolves to 127.0.0.1 or to a cloud's metadata service reaches
neither unless the admin allowed local targets.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

# Cloud metadata services: they hand out credentials to whoever asks from the machine.
METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
}
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(ValueError):
    """The URL may not be posted to; the message says why, for the admin and the log."""


@dataclass(frozen=True)
class Policy:
    allow_local: bool = False  # loopback, link-local, metadata: only when the admin says so
    allow_private: bool = True  # the home LAN (RFC 1918, IPv6 ULA): where Home Assistant lives


def address_problem(address: Address, policy: Policy) -> str | None:
    """Why this address may not be a target, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return f"{address} is not a routable address"
    if address in METADATA:
        kind = "a cloud metadata address"
    elif address.is_loopback:
        kind = "a loopback address"
    elif address.is_link_local:
        kind = "a link-local address"
    elif address.is_private and not policy.allow_private:
        return f"{address} is a private address"
    else:
        return None
    return None if policy.allow_local else f"{address} is {kind} (allow local targets to use it)"


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, or TargetRefused saying what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"not a valid URL: {exc}") from None
    if parts.scheme not in {"http", "https"}:
        raise TargetRefused("the URL must start with http:// or https://")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    if parts.username or parts.password:
        raise TargetRefused("put no user or password in the URL; the secret signs each message")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def checked_address(url: str, policy: Policy) -> Address:
    """The address to connect to for `url`: every address its host resolves to must pass."""
    _, host, port = split_url(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TargetRefused(f"{host} does not resolve: {exc.strerror}") from None
    addresses = list(
        dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos)
    )
    for address in addresses:
        if problem := address_problem(address, policy):
            raise TargetRefused(f"{host}: {problem}")
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, address: Address, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = str(address)

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, address: Address, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = str(address)

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass
class Answer:
    status: int
    reason: str
    body: bytes


def post(url: str, body: bytes, headers: dict[str, str], policy: Policy, timeout: float) -> Answer:
    """POST `body` to `url` at the address checked for it. OSError for a network failure,
    TargetRefused for an address the policy forbids."""
    scheme, host, port = split_url(url)
    address = checked_address(url, policy)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    kind = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    connection = kind(address, host, port, timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return Answer(response.status, response.reason, response.read(4096))
    except http.client.HTTPException as exc:
        raise OSError(f"bad HTTP answer: {exc!r}") from exc
    finally:
        connection.close()
