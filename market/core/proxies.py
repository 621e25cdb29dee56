"""The client's address, the one every throttle and lockout counts by.

``X-Forwarded-For`` is written by whoever sent the request, so it is believed only from the
proxies named in ``TRUSTED_PROXIES``: walking the header from the right (the hop nearest us),
each trusted proxy vouches for the address before it, and the first address that is not a
trusted proxy is the client. From anyone else the header is ignored.
"""

import functools
import ipaddress
from typing import Any

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# A real chain of proxies is a few hops; a longer header is someone padding it.
MAX_FORWARDED_HOPS = 20


@functools.lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _parse(raw: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:192.0.2.1 is 192.0.2.1
    return address


def _is_trusted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in networks)


def client_ip(request: Any) -> str:
    """The client's IP address for ``request`` (a Django or DRF request); "" when unknown.

    Used by the API throttle, django-axes (``AXES_CLIENT_IP_CALLABLE``) and the sign-up and
    reset limits, so they all agree on who the client is."""
    meta = request.META
    peer = _parse(str(meta.get("REMOTE_ADDR") or ""))
    if peer is None:
        return ""
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not _is_trusted(peer, networks):
        return str(peer)
    client = peer
    forwarded = str(meta.get("HTTP_X_FORWARDED_FOR") or "").split(",")
    for hop in reversed(forwarded[-MAX_FORWARDED_HOPS:]):
        address = _parse(hop)
        if address is None:  # garbage can only come from beyond the last trusted proxy
            break
        client = address
        if not _is_trusted(address, networks):
            break
    return str(client)
