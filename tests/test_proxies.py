"""The client's address behind trusted proxies: read from the right, never what a client wrote."""

from __future__ import annotations

import pytest

from accounts.proxies import TrustedProxies, parse_networks

PROXIES = TrustedProxies(parse_networks(["127.0.0.1", "10.0.0.0/8", "2001:db8::/32"]))


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("192.0.2.5", ["203.0.113.9"], None),  # not a proxy: its header means nothing
        ("127.0.0.1", [], None),  # a proxy that forwarded nothing is the client
        ("127.0.0.1", ["203.0.113.9"], "203.0.113.9"),
        ("127.0.0.1", ["6.6.6.6, 203.0.113.9"], "203.0.113.9"),  # the client wrote 6.6.6.6
        ("127.0.0.1", ["6.6.6.6", "203.0.113.9, 10.1.2.3"], "203.0.113.9"),  # two proxies
        ("::ffff:127.0.0.1", ["203.0.113.9"], "203.0.113.9"),  # a dual-stack socket
        ("2001:db8::1", ["[2606:4700::1111]:443, 2001:0db8::7"], "2606:4700::1111"),
        ("127.0.0.1", ["203.0.113.9:5123"], "203.0.113.9"),
        ("127.0.0.1", ["garbage, 203.0.113.9"], "203.0.113.9"),
        ("127.0.0.1", ["203.0.113.9, unknown"], None),  # nothing left of that is believed
        ("127.0.0.1", ["10.0.0.2, 10.0.0.3"], "10.0.0.2"),  # proxies all the way
    ],
)
def test_the_client_is_the_first_address_from_the_right_that_is_no_proxy(
    peer: str, forwarded: list[str], client: str | None
) -> None:
    assert PROXIES.client(peer, forwarded) == client


def test_no_trusted_proxy_means_no_forwarded_address_is_believed() -> None:
    assert TrustedProxies(parse_networks([])).client("127.0.0.1", ["203.0.113.9"]) is None


def test_an_entry_that_is_no_address_is_named() -> None:
    with pytest.raises(ValueError, match=r"'proxy\.lan' is not an IP address or network"):
        parse_networks(["127.0.0.1", "proxy.lan"])
