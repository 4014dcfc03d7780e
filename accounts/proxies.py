"""Which address a request comes from, behind the reverse proxies the owner trusts.

Behind a reverse proxy every connection comes from the proxy, and the client's address is in
X-Forwarded-For. Anyone can write that header, so it is read only from a proxy named in
SURVEILLANCE_TRUSTED_PROXIES, and from the right: each proxy appends the address it saw, so the
first address from the right that is not a trusted proxy is the client. What a client wrote
itself stands further left and is never taken.

Plain Python: the web server resolves the address before Django sees the request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(entries: Iterable[str]) -> list[Network]:
    """Addresses and CIDR networks; ValueError naming the entry that is neither."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"SURVEILLANCE_TRUSTED_PROXIES: {entry.strip()!r} is not an IP address or network"
            ) from None
    return networks


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.split(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped  # ::ffff:192.0.2.1 from a dual-stack socket
    return address


class TrustedProxies:
    def __init__(self, networks: list[Network]) -> None:
        self.networks = networks

    def trusts(self, address: Address | None) -> bool:
        return address is not None and any(address in network for network in self.networks)

    def client(self, peer: str, forwarded_for: list[str]) -> str | None:
        """The client's address for a connection from `peer` with these X-Forwarded-For header
        values; None when it is the peer itself."""
        if not self.trusts(_address(peer)):
            return None
        hops = [hop for value in forwarded_for for hop in value.split(",")]
        client = None
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:  # not an address: nothing to its left can be believed
                break
            client = str(address)
            if not self.trusts(address):
                break
        return client
