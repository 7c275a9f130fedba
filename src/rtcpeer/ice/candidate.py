"""ICE candidates: the ``candidate`` attribute grammar (RFC 8839 §5.1), priorities and
foundations (RFC 8445 §5.1.1.3, §5.1.2, §6.1.2.3), TCP candidates (RFC 6544).

:meth:`Candidate.parse` reads the three forms a candidate travels in: the SDP
attribute value (``"842163049 1 udp ..."``), the W3C ``RTCIceCandidate.candidate``
string (``"candidate:842163049 1 udp ..."``) and the whole SDP line
(``"a=candidate:..."``). :meth:`Candidate.serialize` writes the W3C form in the order
Chromium uses::

    candidate:<foundation> <component> <transport> <priority> <address> <port>
        typ <type> [raddr <addr> rport <port>] [tcptype <t>] [<name> <value>]...

Extension attributes (``generation``, ``ufrag``, ``network-id``, ``network-cost``,
and any unknown ones) are kept in order and written back unchanged.

Parse errors: :class:`CandidateParseError` (a ``ValueError``), and nothing else on any
input.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Self

__all__ = [
    "CANDIDATE_TYPES",
    "TCP_TYPES",
    "TYPE_PREFERENCES",
    "Candidate",
    "CandidateParseError",
    "candidate_foundation",
    "candidate_priority",
    "ip_precedence",
    "local_preference",
    "pair_priority",
    "tcp_local_preference",
]


class CandidateParseError(ValueError):
    """The text is not a well-formed ICE candidate attribute."""


CANDIDATE_TYPES = ("host", "srflx", "prflx", "relay")
TCP_TYPES = ("active", "passive", "so")

#: Recommended type preferences (RFC 8445 §5.1.2.2).
TYPE_PREFERENCES: dict[str, int] = {"host": 126, "prflx": 110, "srflx": 100, "relay": 0}

_ICE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_HOST_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
_TOKEN_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`{|}~"
)


def _is_digits(text: str, max_len: int) -> bool:
    # ASCII digits only: str.isdigit() alone accepts other scripts' digits.
    return 0 < len(text) <= max_len and text.isascii() and text.isdigit()


def _is_token(text: str) -> bool:
    return bool(text) and all(c in _TOKEN_CHARS for c in text)


def _is_visible(text: str) -> bool:
    # Extension values are "byte-string" (RFC 8839 §5.1): anything but NUL, CR, LF,
    # and a space separates; refuse other control characters too.
    return bool(text) and all(c >= "!" and c != "\x7f" for c in text)


def _valid_address(text: str) -> bool:
    """IPv4, IPv6 or a host name (FQDN, mDNS ``<uuid>.local``)."""
    if not text or len(text) > 253:
        return False
    if ":" in text:
        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            return False
        return True
    if not all(c in _HOST_CHARS for c in text):
        return False
    labels = text.rstrip(".").split(".")
    if all(label.isdigit() for label in labels):  # looks numeric: must be dotted-quad
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            return False
        return True
    return all(0 < len(label) <= 63 for label in labels)


def _check_port(port: int, what: str) -> None:
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 0xFFFF:
        raise ValueError(f"{what} must be an int in 0..65535, got {port!r}")


@dataclass(frozen=True, slots=True)
class Candidate:
    """One ICE candidate (RFC 8445 §5.1, RFC 8839 §5.1).

    ``transport`` is lower case (``"udp"``/``"tcp"``); ``address`` an IP literal or a
    host name (an mDNS ``.local`` name from a browser that hides its addresses).
    ``extensions`` are the ``name value`` pairs after the known fields, in order.
    Constructing one checks every field and raises ``ValueError`` on a bad value.
    """

    foundation: str
    component: int
    transport: str
    priority: int
    address: str
    port: int
    type: str
    related_address: str | None = None
    related_port: int | None = None
    tcp_type: str | None = None
    extensions: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        f = self.foundation
        if not isinstance(f, str) or not 0 < len(f) <= 32 or not all(c in _ICE_CHARS for c in f):
            raise ValueError(f"foundation must be 1-32 of A-Z a-z 0-9 + /, got {f!r}")
        c = self.component
        if not isinstance(c, int) or isinstance(c, bool) or not 1 <= c <= 256:
            raise ValueError(f"component must be 1..256, got {c!r}")
        t = self.transport
        if not isinstance(t, str) or not _is_token(t) or t != t.lower():
            raise ValueError(f"transport must be a lower-case token such as 'udp', got {t!r}")
        p = self.priority
        if not isinstance(p, int) or isinstance(p, bool) or not 0 <= p <= 0xFFFFFFFF:
            raise ValueError(f"priority must be 0..2**32-1, got {p!r}")
        if not isinstance(self.address, str) or not _valid_address(self.address):
            raise ValueError(f"address must be an IP address or host name, got {self.address!r}")
        _check_port(self.port, "port")
        if not isinstance(self.type, str) or not _is_token(self.type):
            raise ValueError(f"type must be host, srflx, prflx or relay, got {self.type!r}")
        if self.related_address is not None and (
            not isinstance(self.related_address, str) or not _valid_address(self.related_address)
        ):
            raise ValueError(f"related address is not an address: {self.related_address!r}")
        if self.related_port is not None:
            _check_port(self.related_port, "related port")
        if self.tcp_type is not None and (
            not isinstance(self.tcp_type, str) or not _is_token(self.tcp_type)
        ):
            raise ValueError(f"tcptype must be active, passive or so, got {self.tcp_type!r}")
        for pair in self.extensions:
            if (
                not isinstance(pair, tuple)
                or len(pair) != 2
                or not isinstance(pair[0], str)
                or not isinstance(pair[1], str)
                or not _is_token(pair[0])
                or not _is_visible(pair[1])
            ):
                raise ValueError(f"extension must be a (name, value) pair of tokens, got {pair!r}")
            if pair[0].lower() in _RESERVED_NAMES:
                raise ValueError(f"{pair[0]!r} has its own field; it is not an extension")

    # -- text --------------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse a candidate from its SDP value, W3C string or ``a=`` line.

        Transport names and ``typ``/``raddr``/``rport``/``tcptype`` keywords are
        case-insensitive; types are taken as written (lower case in practice).
        """
        if not isinstance(text, str):
            raise CandidateParseError(f"candidate must be str, got {type(text).__name__}")
        line = text.strip()
        if line[:2] in ("a=", "A="):
            line = line[2:]
        if line[:10].lower() == "candidate:":
            line = line[10:]
        tokens = line.split()
        if len(tokens) < 8:
            raise CandidateParseError(f"candidate needs at least 8 fields: {text!r}")
        foundation, component, transport, priority, address, port, typ, ctype = tokens[:8]
        if typ.lower() != "typ":
            raise CandidateParseError(f"expected 'typ' as the 7th field: {text!r}")
        if not _is_digits(component, 3):
            raise CandidateParseError(f"bad component id {component!r}")
        if not _is_digits(priority, 10):
            raise CandidateParseError(f"bad priority {priority!r}")
        if not _is_digits(port, 5):
            raise CandidateParseError(f"bad port {port!r}")
        raddr: str | None = None
        rport: int | None = None
        tcp_type: str | None = None
        extensions: list[tuple[str, str]] = []
        rest = tokens[8:]
        if len(rest) & 1:
            raise CandidateParseError(f"extension {rest[-1]!r} has no value: {text!r}")
        for i in range(0, len(rest), 2):
            name, value = rest[i], rest[i + 1]
            key = name.lower()
            if key == "raddr" and raddr is None:
                raddr = value
            elif key == "rport" and rport is None:
                if not _is_digits(value, 5):
                    raise CandidateParseError(f"bad rport {value!r}")
                rport = int(value)
            elif key == "tcptype" and tcp_type is None:
                tcp_type = value.lower()
            else:
                extensions.append((name, value))
        try:
            return cls(
                foundation,
                int(component),
                transport.lower(),
                int(priority),
                address,
                int(port),
                ctype,
                raddr,
                rport,
                tcp_type,
                tuple(extensions),
            )
        except ValueError as exc:
            raise CandidateParseError(f"{exc}: {text!r}") from None

    def to_sdp(self) -> str:
        """The SDP attribute value: what follows ``a=candidate:``."""
        parts = [
            self.foundation,
            str(self.component),
            self.transport,
            str(self.priority),
            self.address,
            str(self.port),
            "typ",
            self.type,
        ]
        if self.related_address is not None:
            parts += ("raddr", self.related_address)
        if self.related_port is not None:
            parts += ("rport", str(self.related_port))
        if self.tcp_type is not None:
            parts += ("tcptype", self.tcp_type)
        for name, value in self.extensions:
            parts += (name, value)
        return " ".join(parts)

    def serialize(self) -> str:
        """The W3C ``RTCIceCandidate.candidate`` form, ``candidate:...``."""
        return "candidate:" + self.to_sdp()

    def __str__(self) -> str:
        return self.serialize()

    # -- extensions ------------------------------------------------------------------------

    def extension(self, name: str) -> str | None:
        """The first value of an extension attribute, or ``None``."""
        for key, value in self.extensions:
            if key == name:
                return value
        return None

    def _int_extension(self, name: str) -> int | None:
        value = self.extension(name)
        return int(value) if value is not None and _is_digits(value, 10) else None

    @property
    def generation(self) -> int | None:
        """``generation`` (a Chromium extension: the ICE restart count)."""
        return self._int_extension("generation")

    @property
    def ufrag(self) -> str | None:
        """``ufrag``: the ICE username fragment the candidate belongs to."""
        return self.extension("ufrag")

    @property
    def network_id(self) -> int | None:
        return self._int_extension("network-id")

    @property
    def network_cost(self) -> int | None:
        return self._int_extension("network-cost")

    @property
    def is_mdns(self) -> bool:
        """Whether the address is an mDNS name (``<uuid>.local``) to resolve first."""
        return self.address.lower().rstrip(".").endswith(".local")

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """The address as an IP object, or ``None`` for a host name."""
        try:
            return ipaddress.ip_address(self.address)
        except ValueError:
            return None

    def with_extensions(self, **values: str | int) -> Candidate:
        """A copy with extensions set (``network_id=1`` becomes ``network-id 1``);
        existing names are replaced in place, new ones appended."""
        ext = list(self.extensions)
        for raw_name, raw_value in values.items():
            name = raw_name.replace("_", "-")
            value = str(raw_value)
            for i, (key, _) in enumerate(ext):
                if key == name:
                    ext[i] = (name, value)
                    break
            else:
                ext.append((name, value))
        return Candidate(
            self.foundation,
            self.component,
            self.transport,
            self.priority,
            self.address,
            self.port,
            self.type,
            self.related_address,
            self.related_port,
            self.tcp_type,
            tuple(ext),
        )


_RESERVED_NAMES = frozenset({"raddr", "rport", "tcptype", "typ"})

# -- priorities and foundations ------------------------------------------------------------------


def candidate_priority(type: str, local_preference: int = 65535, component: int = 1) -> int:
    """Candidate priority (RFC 8445 §5.1.2.1):
    ``2^24·type-preference + 2^8·local-preference + (256 − component)``."""
    try:
        type_pref = TYPE_PREFERENCES[type]
    except KeyError:
        raise ValueError(f"unknown candidate type {type!r}; use {CANDIDATE_TYPES}") from None
    if not 0 <= local_preference <= 65535:
        raise ValueError(f"local preference must be 0..65535, got {local_preference}")
    if not 1 <= component <= 256:
        raise ValueError(f"component must be 1..256, got {component}")
    return (type_pref << 24) | (local_preference << 8) | (256 - component)


# RFC 6724 §2.1 default policy table: (prefix, precedence), most specific first.
_POLICY = tuple(
    (ipaddress.IPv6Network(prefix), precedence)
    for prefix, precedence in (
        ("::1/128", 50),
        ("::ffff:0:0/96", 35),
        ("2002::/16", 30),
        ("2001::/32", 5),
        ("fc00::/7", 3),
        ("::/96", 1),
        ("fec0::/10", 1),
        ("3ffe::/16", 1),
        ("::/0", 40),
    )
)


def ip_precedence(address: str) -> int:
    """The RFC 6724 §2.1 precedence of an address (IPv4 as ``::ffff:a.b.c.d``):
    50 loopback, 40 IPv6, 35 IPv4, 30 6to4, 5 Teredo, 3 ULA, 1 deprecated."""
    ip = ipaddress.ip_address(address.partition("%")[0])
    v6 = ipaddress.IPv6Address(b"\x00" * 10 + b"\xff\xff" + ip.packed) if ip.version == 4 else ip
    for network, precedence in _POLICY:
        if v6 in network:
            return precedence
    return 40  # pragma: no cover - ::/0 matches everything


def local_preference(address: str, interface_preference: int = 255) -> int:
    """A local preference for a host candidate (RFC 8445 §5.1.2.1, RFC 8421 §4).

    The high byte ranks the interface (``interface_preference``, 0–255, higher is
    better: give the first interface 255, the next 254...), the low byte the address
    family and scope by the RFC 6724 precedence, so that on one interface IPv6 is tried
    before IPv4 and IPv6 and IPv4 interleave across interfaces.
    """
    if not 0 <= interface_preference <= 255:
        raise ValueError(f"interface preference must be 0..255, got {interface_preference}")
    return (interface_preference << 8) | ip_precedence(address) * 5


def tcp_local_preference(tcp_type: str, type: str = "host", other_preference: int = 8191) -> int:
    """Local preference of a TCP candidate (RFC 6544 §4.2):
    ``2^13·direction-pref + other-pref``; direction preference ranks active over
    passive over S-O for host and relayed candidates, S-O first for NATed ones."""
    if not 0 <= other_preference <= 8191:
        raise ValueError(f"other preference must be 0..8191, got {other_preference}")
    if type in ("srflx", "prflx"):
        order = {"so": 6, "active": 4, "passive": 2}
    else:
        order = {"active": 6, "passive": 4, "so": 2}
    try:
        direction = order[tcp_type]
    except KeyError:
        raise ValueError(f"tcptype must be one of {TCP_TYPES}, got {tcp_type!r}") from None
    return (direction << 13) | other_preference


def candidate_foundation(
    type: str, base_address: str, transport: str = "udp", server: str | None = None
) -> str:
    """A foundation (RFC 8445 §5.1.1.3): equal for candidates of the same type, base IP,
    transport and (for srflx/relay) STUN/TURN server, different otherwise.

    Deterministic: the decimal value of the first 32 bits of a BLAKE2s hash of those
    four things (decimal digits, like Chromium's, are valid ``ice-char``).
    """
    key = f"{type}\x00{base_address.lower()}\x00{transport.lower()}\x00{server or ''}"
    digest = hashlib.blake2s(key.encode(), digest_size=4).digest()
    return str(int.from_bytes(digest))


def pair_priority(controlling: int, controlled: int) -> int:
    """Candidate-pair priority (RFC 8445 §6.1.2.3), ``G`` the controlling agent's
    candidate priority and ``D`` the controlled agent's:
    ``2^32·MIN(G,D) + 2·MAX(G,D) + (G > D ? 1 : 0)``."""
    g, d = controlling, controlled
    return (min(g, d) << 32) + 2 * max(g, d) + (1 if g > d else 0)
