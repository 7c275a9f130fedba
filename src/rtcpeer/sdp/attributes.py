"""Typed values of the SDP attributes WebRTC uses, and the ``a=`` line itself.

Each value type is a frozen dataclass with ``parse(value) -> Self`` (the text after
``a=<name>:``) and ``__str__`` giving that text back in canonical form. Construction
validates the fields, so a value built in code is as well-formed as a parsed one;
both raise :class:`~rtcpeer.sdp.errors.SdpParseError`.

A description keeps every attribute as an :class:`Attribute` (name and raw value
text) in its original order; the raw text is what gets serialized, so unusual
spacing in a known attribute (``a=msid-semantic: WMS``) and unknown attributes
round-trip unchanged. The typed value is parsed once, when the :class:`Attribute`
is created, which is also where a malformed known attribute is rejected.

Grammars: RFC 8866 (SDP), RFC 5888 (``group``, ``mid``), RFC 8843 (``bundle-only``),
RFC 8839 (ICE attributes), RFC 8122 (``fingerprint``), RFC 4145 (``setup``),
RFC 3605 (``rtcp``), RFC 5761/8858 (``rtcp-mux``/``rtcp-mux-only``), RFC 5506
(``rtcp-rsize``), RFC 4585 (``rtcp-fb``), RFC 8285 (``extmap``, ``extmap-allow-mixed``),
RFC 8830 (``msid``), RFC 5576 (``ssrc``, ``ssrc-group``), RFC 8851 (``rid``),
RFC 8853 (``simulcast``), RFC 8841 (``sctp-port``, ``max-message-size``),
draft-ietf-mmusic-sctp-sdp-05 (legacy ``sctpmap``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Self, cast

from rtcpeer.sdp.errors import SdpParseError

__all__ = [
    "DIRECTIONS",
    "FLAG_ATTRIBUTES",
    "SETUP_ROLES",
    "Attribute",
    "Direction",
    "Extmap",
    "Fingerprint",
    "Fmtp",
    "Group",
    "Msid",
    "MsidSemantic",
    "Rid",
    "Rtcp",
    "RtcpFb",
    "Rtpmap",
    "Sctpmap",
    "SetupRole",
    "Simulcast",
    "SimulcastStream",
    "Ssrc",
    "SsrcGroup",
    "format_parameters",
    "parse_parameters",
]

Direction = Literal["sendrecv", "sendonly", "recvonly", "inactive"]
DIRECTIONS: tuple[Direction, ...] = ("sendrecv", "sendonly", "recvonly", "inactive")
SetupRole = Literal["actpass", "active", "passive", "holdconn"]
SETUP_ROLES: tuple[SetupRole, ...] = ("actpass", "active", "passive", "holdconn")

# Property attributes: their presence is the information (RFC 8866 §5.13).
FLAG_ATTRIBUTES = frozenset(
    {
        "rtcp-mux",
        "rtcp-mux-only",
        "rtcp-rsize",
        "ice-lite",
        "end-of-candidates",
        "extmap-allow-mixed",
        "bundle-only",
        *DIRECTIONS,
    }
)

# RFC 8866 §9 token-char: visible US-ASCII except "()<>@,;:\\/[]?=" and '"'.
_TOKEN_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"(),/:;<=>?@[\\]')
_RID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_HEX = frozenset("0123456789abcdefABCDEF")
_UINT32 = 0xFFFFFFFF
_UINT64 = 0xFFFFFFFFFFFFFFFF


# -- small validators -------------------------------------------------------------


def _is_token(text: str) -> bool:
    return bool(text) and all(c in _TOKEN_CHARS for c in text)


def _is_word(text: str) -> bool:
    """Non-empty, and no white space or control characters (liberal identifiers)."""
    return bool(text) and all(c > " " and c != "\x7f" for c in text)


def _uint(text: str, what: str, maximum: int) -> int:
    # str.isdigit() would accept non-ASCII digits and int() signs, spaces and "_".
    if not text or not text.isascii() or not text.isdigit() or len(text) > 20:
        raise SdpParseError(f"{what} must be a decimal number, got {text!r}")
    value = int(text)
    if value > maximum:
        raise SdpParseError(f"{what} {value} is out of range (0..{maximum})")
    return value


def _check_uint(value: object, what: str, maximum: int, minimum: int = 0) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise SdpParseError(f"{what} must be an integer in {minimum}..{maximum}, got {value!r}")


def _check_word(value: object, what: str) -> None:
    if not isinstance(value, str) or not _is_word(value):
        raise SdpParseError(f"{what} must be a non-empty string without spaces, got {value!r}")


def _check_token(value: object, what: str) -> None:
    if not isinstance(value, str) or not _is_token(value):
        raise SdpParseError(f"{what} must be an SDP token (RFC 8866 §9), got {value!r}")


def _check_text(value: object, what: str) -> None:
    """Free text inside one line: no CR, LF or NUL (RFC 8866 §9 byte-string)."""
    if not isinstance(value, str) or any(c in value for c in "\r\n\x00"):
        raise SdpParseError(f"{what} must be a string without CR, LF or NUL, got {value!r}")


def _fields(value: str, what: str, minimum: int, maximum: int | None = None) -> list[str]:
    if not value:
        raise SdpParseError(f"{what} is empty")
    parts = value.split(" ")
    if any(not p for p in parts):
        raise SdpParseError(f"{what} fields must be separated by single spaces")
    if len(parts) < minimum or (maximum is not None and len(parts) > maximum):
        want = f"{minimum}" if maximum == minimum else f"{minimum}..{maximum or 'n'}"
        raise SdpParseError(f"{what} needs {want} space-separated fields, got {len(parts)}")
    return parts


# -- fmtp-style parameter lists -----------------------------------------------------


def parse_parameters(text: str) -> dict[str, str | None]:
    """``"minptime=10;useinbandfec=1"`` → ``{"minptime": "10", "useinbandfec": "1"}``.

    Items without ``=`` (``"0-15"`` for telephone-event, ``"111/111"`` for RED) map to
    ``None``. Space after ``;`` and empty items (a trailing ``;``) are tolerated.
    Insertion order is the order of the text.
    """
    result: dict[str, str | None] = {}
    for item in text.split(";"):
        item = item.strip(" \t")
        if not item:
            continue
        key, eq, value = item.partition("=")
        result[key.strip(" \t")] = value.strip(" \t") if eq else None
    return result


def format_parameters(parameters: Mapping[str, str | int | None]) -> str:
    """The inverse of :func:`parse_parameters`, ``;``-joined without spaces (as browsers)."""
    return ";".join(k if v is None else f"{k}={v}" for k, v in parameters.items())


# -- typed values -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rtpmap:
    """``a=rtpmap:<pt> <encoding name>/<clock rate>[/<channels>]`` (RFC 8866 §6.6)."""

    payload_type: int
    encoding_name: str
    clock_rate: int
    channels: int | None = None

    def __post_init__(self) -> None:
        _check_uint(self.payload_type, "rtpmap payload type", 127)
        _check_word(self.encoding_name, "rtpmap encoding name")
        if "/" in self.encoding_name:
            raise SdpParseError(f"rtpmap encoding name {self.encoding_name!r} contains '/'")
        _check_uint(self.clock_rate, "rtpmap clock rate", _UINT32)
        if self.channels is not None:
            _check_uint(self.channels, "rtpmap channel count", 255, 1)

    @classmethod
    def parse(cls, value: str) -> Self:
        pt, encoding = _fields(value, "rtpmap", 2, 2)
        parts = encoding.split("/")
        if len(parts) not in (2, 3):
            raise SdpParseError(f"rtpmap encoding must be name/clock[/channels], got {encoding!r}")
        channels = _uint(parts[2], "rtpmap channel count", 255) if len(parts) == 3 else None
        return cls(
            _uint(pt, "rtpmap payload type", 127),
            parts[0],
            _uint(parts[1], "rtpmap clock rate", _UINT32),
            channels,
        )

    def __str__(self) -> str:
        tail = "" if self.channels is None else f"/{self.channels}"
        return f"{self.payload_type} {self.encoding_name}/{self.clock_rate}{tail}"


@dataclass(frozen=True, slots=True)
class Fmtp:
    """``a=fmtp:<format> <format specific parameters>`` (RFC 8866 §6.15).

    ``parameters_text`` is kept as written; :attr:`parameters` is the ordered mapping.
    """

    payload_type: int
    parameters_text: str = ""

    def __post_init__(self) -> None:
        _check_uint(self.payload_type, "fmtp format", 0xFFFF)
        _check_text(self.parameters_text, "fmtp parameters")

    @classmethod
    def parse(cls, value: str) -> Self:
        fmt, _, params = value.partition(" ")
        return cls(_uint(fmt, "fmtp format", 0xFFFF), params)

    @classmethod
    def from_parameters(cls, payload_type: int, parameters: Mapping[str, str | int | None]) -> Self:
        return cls(payload_type, format_parameters(parameters))

    @property
    def parameters(self) -> dict[str, str | None]:
        return parse_parameters(self.parameters_text)

    def __str__(self) -> str:
        if not self.parameters_text:
            return str(self.payload_type)
        return f"{self.payload_type} {self.parameters_text}"


@dataclass(frozen=True, slots=True)
class RtcpFb:
    """``a=rtcp-fb:<pt|*> <type> [<parameters>]`` (RFC 4585 §4.2), e.g. ``96 nack pli``.

    ``payload_type`` is ``None`` for the ``*`` wildcard.
    """

    payload_type: int | None
    type: str
    parameter: str | None = None

    def __post_init__(self) -> None:
        if self.payload_type is not None:
            _check_uint(self.payload_type, "rtcp-fb payload type", 127)
        _check_word(self.type, "rtcp-fb type")
        if self.parameter is not None:
            _check_text(self.parameter, "rtcp-fb parameter")
            if not self.parameter or self.parameter != self.parameter.strip(" "):
                raise SdpParseError(f"rtcp-fb parameter {self.parameter!r} is empty or padded")

    @classmethod
    def parse(cls, value: str) -> Self:
        parts = value.split(" ", 2)
        if len(parts) < 2:
            raise SdpParseError("rtcp-fb needs a payload type and a feedback type")
        pt = None if parts[0] == "*" else _uint(parts[0], "rtcp-fb payload type", 127)
        return cls(pt, parts[1], parts[2] if len(parts) == 3 else None)

    @property
    def value(self) -> str:
        """The feedback without the payload type: ``"nack pli"``, ``"transport-cc"``."""
        return self.type if self.parameter is None else f"{self.type} {self.parameter}"

    def __str__(self) -> str:
        pt = "*" if self.payload_type is None else str(self.payload_type)
        return f"{pt} {self.value}"


@dataclass(frozen=True, slots=True)
class Extmap:
    """``a=extmap:<id>[/<direction>] <uri> [<extension attributes>]`` (RFC 8285 §8)."""

    id: int
    uri: str
    direction: Direction | None = None
    attributes: str | None = None

    def __post_init__(self) -> None:
        _check_uint(self.id, "extmap id", 4351, 1)
        _check_word(self.uri, "extmap URI")
        if self.direction is not None and self.direction not in DIRECTIONS:
            raise SdpParseError(f"extmap direction {self.direction!r} is not one of {DIRECTIONS}")
        if self.attributes is not None:
            _check_text(self.attributes, "extmap attributes")

    @classmethod
    def parse(cls, value: str) -> Self:
        parts = value.split(" ", 2)
        if len(parts) < 2 or not parts[1]:
            raise SdpParseError("extmap needs an id and a URI")
        ident, slash, direction = parts[0].partition("/")
        if slash and direction not in DIRECTIONS:
            raise SdpParseError(f"extmap direction {direction!r} is not one of {DIRECTIONS}")
        return cls(
            _uint(ident, "extmap id", 4351),
            parts[1],
            cast(Direction, direction) if slash else None,
            parts[2] if len(parts) == 3 else None,
        )

    def __str__(self) -> str:
        head = str(self.id) if self.direction is None else f"{self.id}/{self.direction}"
        tail = "" if self.attributes is None else f" {self.attributes}"
        return f"{head} {self.uri}{tail}"


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """``a=fingerprint:<hash function> <XX:XX:...>`` (RFC 8122 §5)."""

    algorithm: str
    value: str

    def __post_init__(self) -> None:
        _check_token(self.algorithm, "fingerprint hash function")
        if not isinstance(self.value, str):
            raise SdpParseError(f"fingerprint must be a string, got {self.value!r}")
        octets = self.value.split(":")
        if not all(len(o) == 2 and o[0] in _HEX and o[1] in _HEX for o in octets):
            raise SdpParseError(f"fingerprint {self.value!r} is not colon-separated hex octets")

    @classmethod
    def parse(cls, value: str) -> Self:
        algorithm, fingerprint = _fields(value, "fingerprint", 2, 2)
        return cls(algorithm, fingerprint)

    @classmethod
    def from_digest(cls, algorithm: str, digest: bytes) -> Self:
        return cls(algorithm, ":".join(f"{b:02X}" for b in digest))

    @property
    def digest(self) -> bytes:
        return bytes.fromhex(self.value.replace(":", ""))

    def __str__(self) -> str:
        return f"{self.algorithm} {self.value}"


@dataclass(frozen=True, slots=True)
class Group:
    """``a=group:<semantics> *(SP <mid>)`` (RFC 5888 §5), e.g. ``BUNDLE 0 1 2``."""

    semantics: str
    mids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_token(self.semantics, "group semantics")
        for mid in self.mids:
            _check_word(mid, "group identification tag")

    @classmethod
    def parse(cls, value: str) -> Self:
        parts = _fields(value, "group", 1)
        return cls(parts[0], tuple(parts[1:]))

    def __str__(self) -> str:
        return " ".join((self.semantics, *self.mids))


@dataclass(frozen=True, slots=True)
class Msid:
    """``a=msid:<stream id> [<track id>]`` (RFC 8830 §2); Chromium writes ``-`` for
    "no stream"."""

    stream_id: str
    track_id: str | None = None

    def __post_init__(self) -> None:
        _check_word(self.stream_id, "msid stream id")
        if self.track_id is not None:
            _check_word(self.track_id, "msid track id")

    @classmethod
    def parse(cls, value: str) -> Self:
        parts = _fields(value, "msid", 1, 2)
        return cls(parts[0], parts[1] if len(parts) == 2 else None)

    def __str__(self) -> str:
        return self.stream_id if self.track_id is None else f"{self.stream_id} {self.track_id}"


@dataclass(frozen=True, slots=True)
class MsidSemantic:
    """Legacy session-level ``a=msid-semantic: WMS [<stream id>... | *]``.

    Chromium writes a space after the colon, and so does ``str()`` (the text after
    ``a=msid-semantic:``); a parsed attribute keeps whatever spacing it had.
    """

    semantic: str
    identifiers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_token(self.semantic, "msid-semantic")
        for ident in self.identifiers:
            _check_word(ident, "msid-semantic identifier")

    @classmethod
    def parse(cls, value: str) -> Self:
        parts = _fields(value.lstrip(" "), "msid-semantic", 1)
        return cls(parts[0], tuple(parts[1:]))

    def __str__(self) -> str:
        return " " + " ".join((self.semantic, *self.identifiers))


@dataclass(frozen=True, slots=True)
class Ssrc:
    """``a=ssrc:<ssrc> <attribute>[:<value>]`` (RFC 5576 §4.1), e.g. ``1 cname:abc``."""

    ssrc: int
    attribute: str
    value: str | None = None

    def __post_init__(self) -> None:
        _check_uint(self.ssrc, "ssrc", _UINT32)
        _check_token(self.attribute, "ssrc attribute")
        if self.value is not None:
            _check_text(self.value, "ssrc attribute value")

    @classmethod
    def parse(cls, value: str) -> Self:
        ssrc, sep, rest = value.partition(" ")
        if not sep or not rest:
            raise SdpParseError("ssrc needs an SSRC and a source attribute")
        name, colon, attr_value = rest.partition(":")
        return cls(_uint(ssrc, "ssrc", _UINT32), name, attr_value if colon else None)

    def __str__(self) -> str:
        tail = "" if self.value is None else f":{self.value}"
        return f"{self.ssrc} {self.attribute}{tail}"


@dataclass(frozen=True, slots=True)
class SsrcGroup:
    """``a=ssrc-group:<semantics> *(SP <ssrc>)`` (RFC 5576 §4.2): FID, SIM, FEC-FR..."""

    semantics: str
    ssrcs: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _check_token(self.semantics, "ssrc-group semantics")
        for ssrc in self.ssrcs:
            _check_uint(ssrc, "ssrc-group SSRC", _UINT32)

    @classmethod
    def parse(cls, value: str) -> Self:
        parts = _fields(value, "ssrc-group", 1)
        return cls(parts[0], tuple(_uint(p, "ssrc-group SSRC", _UINT32) for p in parts[1:]))

    def __str__(self) -> str:
        return " ".join((self.semantics, *map(str, self.ssrcs)))


def _check_rid_id(value: object, what: str) -> None:
    if not isinstance(value, str) or not value or not all(c in _RID_CHARS for c in value):
        raise SdpParseError(f"{what} must be letters, digits, '-' or '_' (RFC 8851), got {value!r}")


@dataclass(frozen=True, slots=True)
class Rid:
    """``a=rid:<id> send|recv [pt=<fmt>,...;][<restriction>=<value>;...]`` (RFC 8851 §10).

    ``restrictions`` keeps order (``max-width``, ``max-height``, ``max-fps``, ``max-fs``,
    ``max-br``, ``max-pps``, ``max-bpp``, ``depend`` or others); a restriction without
    ``=`` has the value ``None``.
    """

    id: str
    direction: Literal["send", "recv"]
    payload_types: tuple[int, ...] = ()
    restrictions: tuple[tuple[str, str | None], ...] = ()

    def __post_init__(self) -> None:
        _check_rid_id(self.id, "rid id")
        if self.direction not in ("send", "recv"):
            raise SdpParseError(f"rid direction must be 'send' or 'recv', got {self.direction!r}")
        for pt in self.payload_types:
            _check_uint(pt, "rid payload type", 127)
        for item in self.restrictions:
            if not isinstance(item, tuple) or len(item) != 2:
                raise SdpParseError(f"rid restriction must be a (key, value) pair, got {item!r}")
            key, value = item
            if not isinstance(key, str) or not key or not all(c in _RID_CHARS for c in key):
                raise SdpParseError(f"rid restriction name {key!r} is not alphanumeric/'-'")
            if key == "pt":
                raise SdpParseError("rid payload types go in payload_types, not restrictions")
            if value is not None and not (_is_word(value) and ";" not in value):
                raise SdpParseError(f"rid restriction {key} has a bad value {value!r}")

    @classmethod
    def parse(cls, value: str) -> Self:
        parts = value.split(" ", 2)
        if len(parts) < 2:
            raise SdpParseError("rid needs an id and a direction")
        rid, direction = parts[0], parts[1]
        if direction not in ("send", "recv"):
            raise SdpParseError(f"rid direction must be 'send' or 'recv', got {direction!r}")
        pts: tuple[int, ...] = ()
        restrictions: list[tuple[str, str | None]] = []
        if len(parts) == 3:
            for index, item in enumerate(parts[2].split(";")):
                key, eq, item_value = item.partition("=")
                if key == "pt" and eq:
                    if index != 0:
                        raise SdpParseError("rid pt= must come first (RFC 8851 §10)")
                    pts = tuple(_uint(p, "rid payload type", 127) for p in item_value.split(","))
                else:
                    restrictions.append((key, item_value if eq else None))
        return cls(rid, cast(Literal["send", "recv"], direction), pts, tuple(restrictions))

    @property
    def restriction_map(self) -> dict[str, str | None]:
        return dict(self.restrictions)

    def __str__(self) -> str:
        params: list[str] = []
        if self.payload_types:
            params.append("pt=" + ",".join(map(str, self.payload_types)))
        params.extend(k if v is None else f"{k}={v}" for k, v in self.restrictions)
        tail = " " + ";".join(params) if params else ""
        return f"{self.id} {self.direction}{tail}"


@dataclass(frozen=True, slots=True)
class SimulcastStream:
    """One rid in a simulcast list; ``paused`` is the ``~`` prefix (RFC 8853 §5.1)."""

    rid: str
    paused: bool = False

    def __post_init__(self) -> None:
        _check_rid_id(self.rid, "simulcast rid")

    def __str__(self) -> str:
        return f"~{self.rid}" if self.paused else self.rid


# A simulcast direction: streams separated by ";", each a tuple of ","-alternatives.
SimulcastList = tuple[tuple[SimulcastStream, ...], ...]


def _parse_simulcast_list(text: str) -> SimulcastList:
    streams: list[tuple[SimulcastStream, ...]] = []
    for stream in text.split(";"):
        alternatives: list[SimulcastStream] = []
        for alt in stream.split(","):
            paused = alt.startswith("~")
            alternatives.append(SimulcastStream(alt[1:] if paused else alt, paused))
        streams.append(tuple(alternatives))
    return tuple(streams)


def _format_simulcast_list(streams: SimulcastList) -> str:
    return ";".join(",".join(map(str, alts)) for alts in streams)


@dataclass(frozen=True, slots=True)
class Simulcast:
    """``a=simulcast:send h;m;l recv ~a,b`` (RFC 8853 §5.1).

    ``send`` and ``recv`` are lists of streams (``;``-separated); each stream is a
    tuple of alternative rids (``,``-separated), each possibly paused (``~``).
    ``recv_first`` records which direction was written first.
    """

    send: SimulcastList = ()
    recv: SimulcastList = ()
    recv_first: bool = False

    def __post_init__(self) -> None:
        if not self.send and not self.recv:
            raise SdpParseError("simulcast needs a send or a recv list")
        for streams in (self.send, self.recv):
            for alts in streams:
                if not alts or not all(isinstance(a, SimulcastStream) for a in alts):
                    raise SdpParseError(f"simulcast stream {alts!r} needs SimulcastStream rids")

    @classmethod
    def parse(cls, value: str) -> Self:
        parts = _fields(value.lstrip(" "), "simulcast", 2, 4)
        if len(parts) % 2:
            raise SdpParseError("simulcast is 'send <list>' and/or 'recv <list>'")
        lists: dict[str, SimulcastList] = {}
        for direction, text in zip(parts[::2], parts[1::2], strict=True):
            if direction not in ("send", "recv") or direction in lists:
                raise SdpParseError(f"simulcast direction {direction!r} is not send/recv once")
            lists[direction] = _parse_simulcast_list(text)
        return cls(lists.get("send", ()), lists.get("recv", ()), parts[0] == "recv")

    @property
    def send_rids(self) -> tuple[str, ...]:
        """The first alternative of every send stream."""
        return tuple(alts[0].rid for alts in self.send)

    @property
    def recv_rids(self) -> tuple[str, ...]:
        """The first alternative of every receive stream."""
        return tuple(alts[0].rid for alts in self.recv)

    def __str__(self) -> str:
        pieces: list[str] = []
        if self.send:
            pieces.append("send " + _format_simulcast_list(self.send))
        if self.recv:
            pieces.insert(
                0 if self.recv_first else len(pieces), "recv " + _format_simulcast_list(self.recv)
            )
        return " ".join(pieces)


@dataclass(frozen=True, slots=True)
class Rtcp:
    """``a=rtcp:<port> [<nettype> <addrtype> <address>]`` (RFC 3605 §2.1)."""

    port: int
    nettype: str | None = None
    addrtype: str | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        _check_uint(self.port, "rtcp port", 65535)
        given = [v is not None for v in (self.nettype, self.addrtype, self.address)]
        if any(given) and not all(given):
            raise SdpParseError("rtcp takes a port alone or a port with nettype, addrtype, address")
        for name, v in (
            ("nettype", self.nettype),
            ("addrtype", self.addrtype),
            ("address", self.address),
        ):
            if v is not None:
                _check_word(v, f"rtcp {name}")

    @classmethod
    def parse(cls, value: str) -> Self:
        parts = _fields(value, "rtcp", 1, 4)
        if len(parts) == 1:
            return cls(_uint(parts[0], "rtcp port", 65535))
        if len(parts) != 4:
            raise SdpParseError("rtcp takes a port alone or a port with nettype, addrtype, address")
        return cls(_uint(parts[0], "rtcp port", 65535), parts[1], parts[2], parts[3])

    def __str__(self) -> str:
        if self.nettype is None:
            return str(self.port)
        return f"{self.port} {self.nettype} {self.addrtype} {self.address}"


@dataclass(frozen=True, slots=True)
class Sctpmap:
    """Legacy ``a=sctpmap:<port> <app> [<streams>]`` (draft-ietf-mmusic-sctp-sdp-05)."""

    port: int
    app: str
    streams: int | None = None

    def __post_init__(self) -> None:
        _check_uint(self.port, "sctpmap port", 65535)
        _check_word(self.app, "sctpmap protocol")
        if self.streams is not None:
            _check_uint(self.streams, "sctpmap streams", 65535)

    @classmethod
    def parse(cls, value: str) -> Self:
        parts = _fields(value, "sctpmap", 2, 3)
        streams = _uint(parts[2], "sctpmap streams", 65535) if len(parts) == 3 else None
        return cls(_uint(parts[0], "sctpmap port", 65535), parts[1], streams)

    def __str__(self) -> str:
        tail = "" if self.streams is None else f" {self.streams}"
        return f"{self.port} {self.app}{tail}"


# -- scalar attribute values --------------------------------------------------------


def _parse_word(what: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        _check_word(value, what)
        return value

    return parse


def _parse_ice_options(value: str) -> tuple[str, ...]:
    return tuple(_fields(value, "ice-options", 1))


def _parse_setup(value: str) -> SetupRole:
    if value not in SETUP_ROLES:
        raise SdpParseError(f"setup must be one of {', '.join(SETUP_ROLES)}, got {value!r}")
    return value


def _parse_candidate(value: str) -> str:
    # The candidate grammar lives in rtcpeer.ice.candidate; here only the line shape.
    if not value.strip(" "):
        raise SdpParseError("candidate value is empty")
    return value


def _parse_port(value: str) -> int:
    return _uint(value, "sctp-port", 65535)


def _parse_max_message_size(value: str) -> int:
    return _uint(value, "max-message-size", _UINT64)


# name -> parser of the value text; each raises only SdpParseError.
_VALUE_PARSERS: dict[str, Callable[[str], object]] = {
    "rtpmap": Rtpmap.parse,
    "fmtp": Fmtp.parse,
    "rtcp-fb": RtcpFb.parse,
    "extmap": Extmap.parse,
    "fingerprint": Fingerprint.parse,
    "group": Group.parse,
    "msid": Msid.parse,
    "msid-semantic": MsidSemantic.parse,
    "ssrc": Ssrc.parse,
    "ssrc-group": SsrcGroup.parse,
    "rid": Rid.parse,
    "simulcast": Simulcast.parse,
    "rtcp": Rtcp.parse,
    "sctpmap": Sctpmap.parse,
    "mid": _parse_word("mid"),
    "ice-ufrag": _parse_word("ice-ufrag"),
    "ice-pwd": _parse_word("ice-pwd"),
    "ice-options": _parse_ice_options,
    "setup": _parse_setup,
    "candidate": _parse_candidate,
    "sctp-port": _parse_port,
    "max-message-size": _parse_max_message_size,
}

KNOWN_ATTRIBUTES = frozenset(_VALUE_PARSERS) | FLAG_ATTRIBUTES


@dataclass(frozen=True, slots=True)
class Attribute:
    """One ``a=`` line: ``name`` and the raw ``value`` text (``None`` for ``a=<name>``).

    ``typed`` is the parsed value for known attributes (an :class:`Rtpmap`, a ``str``
    for ``mid``, an ``int`` for ``sctp-port``, ``True`` for property attributes) and
    ``None`` for unknown ones. Creating an ``Attribute`` with a known name and a
    malformed value raises :class:`SdpParseError`.
    """

    name: str
    value: str | None = None
    typed: object = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _is_token(self.name):
            raise SdpParseError(f"attribute name must be an SDP token, got {self.name!r}")
        if self.value is not None:
            _check_text(self.value, f"a={self.name} value")
        parser = _VALUE_PARSERS.get(self.name)
        typed: object = None
        if parser is not None:
            if self.value is None:
                raise SdpParseError(f"a={self.name} needs a value (a={self.name}:...)")
            typed = parser(self.value)
        elif self.name in FLAG_ATTRIBUTES:
            typed = True
        object.__setattr__(self, "typed", typed)

    @classmethod
    def of(cls, name: str, value: object = None) -> Attribute:
        """An attribute from a typed value: ``Attribute.of("rtpmap", Rtpmap(...))``;
        ints and tuples of words (``ice-options``) are formatted too."""
        if value is None:
            return cls(name)
        if isinstance(value, tuple):
            return cls(name, " ".join(map(str, value)))
        return cls(name, str(value))

    def line(self) -> str:
        """The line without its end: ``a=name`` or ``a=name:value``."""
        return f"a={self.name}" if self.value is None else f"a={self.name}:{self.value}"

    def __str__(self) -> str:
        return self.line()


def attributes_of(name: str, values: Iterable[object]) -> list[Attribute]:
    """Attributes ``a=<name>:<value>`` for each typed value, in order."""
    return [Attribute.of(name, v) for v in values]
