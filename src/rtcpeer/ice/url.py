"""STUN and TURN server URLs (RFC 7064, RFC 7065) as ``RTCIceServer.urls`` takes them.

Errors follow the W3C "validate an ICE server" steps: a URL that does not parse is an
:class:`~rtcpeer.errors.InvalidSyntaxError` (W3C ``SyntaxError``), a scheme rtcpeer
does not know is a :class:`~rtcpeer.errors.NotSupportedError`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from rtcpeer.errors import InvalidSyntaxError, NotSupportedError

__all__ = ["IceServerUrl", "parse_ice_url"]

_DEFAULT_PORTS = {"stun": 3478, "stuns": 5349, "turn": 3478, "turns": 5349}


@dataclass(frozen=True, slots=True)
class IceServerUrl:
    """One parsed server URL: ``turn:turn.example.com:3478?transport=tcp`` →
    ``IceServerUrl("turn", "turn.example.com", 3478, "tcp")``."""

    scheme: str
    host: str
    port: int
    transport: str  # "udp" or "tcp"; stuns/turns are TLS over TCP

    @property
    def is_turn(self) -> bool:
        return self.scheme in ("turn", "turns")

    @property
    def secure(self) -> bool:
        return self.scheme in ("stuns", "turns")

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = f"?transport={self.transport}" if self.is_turn else ""
        return f"{self.scheme}:{host}:{self.port}{query}"


def _valid_hostname(host: str) -> bool:
    if not host or len(host) > 253:
        return False
    for label in host.rstrip(".").split("."):
        if not label or len(label) > 63 or label[0] == "-" or label[-1] == "-":
            return False
        if not all(c.isalnum() or c == "-" for c in label):
            return False
    return True


def parse_ice_url(url: str) -> IceServerUrl:
    """Parse a ``stun:``, ``stuns:``, ``turn:`` or ``turns:`` URL."""
    if not isinstance(url, str):
        raise TypeError(f"ICE server URL must be a string, got {type(url).__name__}")
    text = url.strip()
    scheme, sep, rest = text.partition(":")
    if not sep:
        raise InvalidSyntaxError(f"{url!r} is not a URL; expected e.g. 'stun:stun.example.org'")
    scheme = scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise NotSupportedError(
            f"{url!r}: scheme {scheme!r} is not supported; use stun:, stuns:, turn: or turns:"
        )
    if rest.startswith("//"):
        raise InvalidSyntaxError(f"{url!r}: STUN/TURN URLs have no '//' (write {scheme}:host)")
    hostport, qsep, query = rest.partition("?")
    transport = "tcp" if scheme in ("stuns", "turns") else "udp"
    if qsep:
        if scheme in ("stun", "stuns"):
            raise InvalidSyntaxError(f"{url!r}: a {scheme}: URL takes no query")
        key, eq, value = query.partition("=")
        if key.lower() != "transport" or not eq or value.lower() not in ("udp", "tcp"):
            raise InvalidSyntaxError(f"{url!r}: the only query is ?transport=udp or ?transport=tcp")
        transport = value.lower()
        if scheme == "turns" and transport == "udp":
            raise NotSupportedError(f"{url!r}: TURN over DTLS (turns: with udp) is not supported")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise InvalidSyntaxError(f"{url!r}: unterminated IPv6 literal")
        host = hostport[1:end]
        tail = hostport[end + 1 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise InvalidSyntaxError(f"{url!r}: {host!r} is not an IPv6 address") from None
        if tail and not tail.startswith(":"):
            raise InvalidSyntaxError(f"{url!r}: unexpected text after the IPv6 literal")
        port_text = tail[1:] if tail else ""
    else:
        host, _, port_text = hostport.partition(":")
        if ":" in port_text:
            raise InvalidSyntaxError(f"{url!r}: put an IPv6 address in brackets, e.g. stun:[::1]")
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            if not _valid_hostname(host):
                raise InvalidSyntaxError(f"{url!r}: {host!r} is not a valid host name") from None
    port = _DEFAULT_PORTS[scheme]
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise InvalidSyntaxError(f"{url!r}: port must be a number from 1 to 65535")
        port = int(port_text)
    return IceServerUrl(scheme, host.lower(), port, transport)
