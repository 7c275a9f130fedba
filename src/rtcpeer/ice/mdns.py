"""Multicast DNS messages for ICE candidates (RFC 6762 on RFC 1035 wire format).

Browsers hide host addresses behind random ``<uuid>.local`` names
(draft-ietf-mmusic-mdns-ice-candidates): the peer resolves them with an mDNS query on
the local link, and the owner answers with an A or AAAA record. This module is the
wire format only — queries, responses and their parsing — with
:class:`MdnsParseError` the one error parsing raises; the asyncio shell sends and
receives the datagrams (224.0.0.251 / ff02::fb, port 5353).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Final

__all__ = [
    "MDNS_ADDRESS_V4",
    "MDNS_ADDRESS_V6",
    "MDNS_PORT",
    "TYPE_A",
    "TYPE_AAAA",
    "MdnsAnswer",
    "MdnsMessage",
    "MdnsParseError",
    "build_query",
    "build_response",
    "is_mdns_name",
    "parse_message",
]

MDNS_ADDRESS_V4: Final = "224.0.0.251"
MDNS_ADDRESS_V6: Final = "ff02::fb"
MDNS_PORT: Final = 5353
TYPE_A: Final = 1
TYPE_AAAA: Final = 28
_CLASS_IN: Final = 1
_CACHE_FLUSH: Final = 0x8000  # RFC 6762 §10.2 (answers) / unicast-response bit (questions)
_FLAG_RESPONSE: Final = 0x8400  # QR + AA (§18.4: responses are authoritative)
_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_QUESTION = struct.Struct("!HH")
_MAX_POINTERS: Final = 32


class MdnsParseError(ValueError):
    """Not a well-formed DNS message."""


@dataclass(frozen=True, slots=True)
class MdnsAnswer:
    """An A/AAAA record: ``name`` (lower case, no trailing dot) has ``address``."""

    name: str
    address: str
    ttl: int


@dataclass(frozen=True, slots=True)
class MdnsMessage:
    """A parsed message: questions as ``(name, type)``, address answers."""

    response: bool
    questions: tuple[tuple[str, int], ...]
    answers: tuple[MdnsAnswer, ...]


def is_mdns_name(name: str) -> bool:
    """Whether an ICE candidate address is an mDNS name (``*.local``)."""
    return name.lower().rstrip(".").endswith(".local")


def _encode_name(name: str) -> bytes:
    labels = name.rstrip(".").split(".")
    out = bytearray()
    for label in labels:
        raw = label.encode()
        if not 0 < len(raw) < 64:
            raise ValueError(f"DNS label {label!r} must be 1..63 bytes")
        out.append(len(raw))
        out += raw
    out.append(0)
    if len(out) > 255:
        raise ValueError("DNS names are at most 255 bytes")
    return bytes(out)


def build_query(name: str, qtype: int = TYPE_A, *, unicast_response: bool = False) -> bytes:
    """A one-question query (RFC 6762 §5): id 0, no flags."""
    qclass = _CLASS_IN | (_CACHE_FLUSH if unicast_response else 0)
    return _HEADER.pack(0, 0, 1, 0, 0, 0) + _encode_name(name) + _QUESTION.pack(qtype, qclass)


def build_response(name: str, address: str, ttl: int = 120) -> bytes:
    """An authoritative answer (RFC 6762 §6) giving ``name`` the A or AAAA ``address``,
    with the cache-flush bit (the name is unique to us, §10.2)."""
    ip = ipaddress.ip_address(address)
    rtype = TYPE_A if ip.version == 4 else TYPE_AAAA
    rdata = ip.packed
    record = _encode_name(name) + _RR.pack(rtype, _CLASS_IN | _CACHE_FLUSH, ttl, len(rdata))
    return _HEADER.pack(0, _FLAG_RESPONSE, 0, 1, 0, 0) + record + rdata


def _read_name(data: bytes, pos: int) -> tuple[str, int]:
    """The name at ``pos`` (following compression pointers) and where it ends."""
    labels: list[str] = []
    end = -1
    jumps = 0
    length = 0
    while True:
        if pos >= len(data):
            raise MdnsParseError("name runs past the message")
        size = data[pos]
        if size & 0xC0 == 0xC0:
            if pos + 1 >= len(data):
                raise MdnsParseError("truncated compression pointer")
            jumps += 1
            if jumps > _MAX_POINTERS:
                raise MdnsParseError("compression pointer loop")
            if end < 0:
                end = pos + 2
            pos = ((size & 0x3F) << 8) | data[pos + 1]
            continue
        if size & 0xC0:
            raise MdnsParseError(f"label type {size >> 6} is not supported")
        pos += 1
        if size == 0:
            break
        if pos + size > len(data):
            raise MdnsParseError("label runs past the message")
        length += size + 1
        if length > 255:
            raise MdnsParseError("name longer than 255 bytes")
        labels.append(data[pos : pos + size].decode("utf-8", "replace").lower())
        pos += size
    return ".".join(labels), (end if end >= 0 else pos)


def parse_message(data: bytes) -> MdnsMessage:
    """Parse a DNS message; only A/AAAA answers are kept. Raises
    :class:`MdnsParseError` for anything malformed."""
    if len(data) < _HEADER.size:
        raise MdnsParseError("shorter than a DNS header")
    _id, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data)
    pos = _HEADER.size
    questions = []
    for _ in range(qdcount):
        name, pos = _read_name(data, pos)
        if pos + 4 > len(data):
            raise MdnsParseError("truncated question")
        qtype, _qclass = _QUESTION.unpack_from(data, pos)
        pos += 4
        questions.append((name, qtype))
    answers = []
    for _ in range(ancount + nscount + arcount):
        name, pos = _read_name(data, pos)
        if pos + _RR.size > len(data):
            raise MdnsParseError("truncated resource record")
        rtype, rclass, ttl, rdlength = _RR.unpack_from(data, pos)
        pos += _RR.size
        if pos + rdlength > len(data):
            raise MdnsParseError("resource record data runs past the message")
        rdata = data[pos : pos + rdlength]
        pos += rdlength
        if rclass & 0x7FFF != _CLASS_IN:
            continue
        if rtype == TYPE_A and rdlength == 4:
            answers.append(MdnsAnswer(name, str(ipaddress.IPv4Address(rdata)), ttl))
        elif rtype == TYPE_AAAA and rdlength == 16:
            answers.append(MdnsAnswer(name, str(ipaddress.IPv6Address(rdata)), ttl))
    return MdnsMessage(bool(flags & 0x8000), tuple(questions), tuple(answers))
