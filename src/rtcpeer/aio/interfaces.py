"""Which local IP addresses become host candidates.

By default every usable interface address except loopback and link-local (what a
browser offers). The configuration key ``hostAddresses`` (a list of IP literals)
replaces that set for one connection, and the environment variable
``RTCPEER_HOST_ADDRESSES`` (comma-separated, e.g. ``127.0.0.1,::1``) sets the default
for every connection in the process, so code written for the browser runs unchanged
in a test that must stay on loopback.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence

__all__ = ["ENV_HOST_ADDRESSES", "host_addresses", "parse_host_addresses"]

ENV_HOST_ADDRESSES = "RTCPEER_HOST_ADDRESSES"


def parse_host_addresses(values: Sequence[str], source: str) -> list[str]:
    """Validate IP literals; raise ``TypeError`` naming ``source`` for a bad one."""
    result: list[str] = []
    for value in values:
        text = value.strip()
        if not text:
            continue
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise TypeError(
                f"{source}: {text!r} is not an IP address; give IP literals such as "
                "'127.0.0.1' or '::1'"
            ) from None
        if str(address) not in result:
            result.append(str(address))
    return result


def _interface_addresses() -> list[str]:
    import ifaddr

    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            raw = ip.ip[0] if isinstance(ip.ip, tuple) else ip.ip
            try:
                address = ipaddress.ip_address(raw)
            except ValueError:
                continue
            if address.is_loopback or address.is_link_local or address.is_unspecified:
                continue
            if address.is_multicast:
                continue
            text = str(address)
            if text not in found:
                found.append(text)
    return found


def host_addresses(configured: Sequence[str] | None = None) -> list[str]:
    """The addresses to gather host candidates on, most specific setting first:
    ``configured`` (the ``hostAddresses`` key), then ``RTCPEER_HOST_ADDRESSES``,
    then the machine's interfaces."""
    if configured is not None:
        return parse_host_addresses(configured, "hostAddresses")
    env = os.environ.get(ENV_HOST_ADDRESSES)
    if env:
        return parse_host_addresses(env.split(","), ENV_HOST_ADDRESSES)
    return _interface_addresses()
