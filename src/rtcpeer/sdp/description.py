"""The SDP model (RFC 8866): :class:`SessionDescription`, :class:`MediaDescription`,
their parser and serializer, and typed accessors for the WebRTC attributes.

Round trip
    Every ``a=`` line is kept, in order, as an :class:`~rtcpeer.sdp.attributes.Attribute`
    with its raw value text, so ``parse(text).serialize() == text`` for descriptions
    written the way browsers write them. The fixed lines (``v o s i u e p c b t r z k m``)
    are stored as fields and written back in RFC 8866 order. Normalizations, the only
    ways output can differ from input:

    - line ends become CRLF (LF-only input is accepted), a missing final line end is
      added, and blank lines at the very end are dropped;
    - trailing spaces and tabs are removed from every line (except from an ``s=``
      line that has nothing else: ``s= `` is RFC 8866's recommended empty name);
    - numbers in fixed lines are written in canonical decimal (``o=`` session version,
      ``t=`` times, ``m=`` port, ``b=`` bandwidth), so leading zeros are dropped.

Strictness
    Liberal where browsers are (LF line ends, trailing white space, a space after
    ``a=msid-semantic:``), strict where the grammar is required: ``v=0`` first, then
    ``o=`` and ``s=``, at least one ``t=``, fixed lines in RFC 8866 §5 order, single
    spaces between fields, numeric ports, payload types and times, known WebRTC
    attributes well formed. Unknown attribute names are kept as they are; unknown line
    types, empty lines inside the description and CR/NUL inside a line are errors.
    Anything malformed raises :class:`~rtcpeer.sdp.errors.SdpParseError` with the line
    number and text; nothing else is ever raised for a ``str`` input.

Building
    The typed setters (``media.mid = "0"``, ``media.set_codecs(...)``) replace existing
    lines in place, or insert new ones where Chromium writes them (see
    ``MediaDescription.ORDER``), so a description built in code reads like a browser's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Self, TypeVar, cast

from rtcpeer.sdp.attributes import (
    DIRECTIONS,
    Attribute,
    Direction,
    Extmap,
    Fingerprint,
    Fmtp,
    Group,
    Msid,
    MsidSemantic,
    Rid,
    Rtcp,
    RtcpFb,
    Rtpmap,
    Sctpmap,
    SetupRole,
    Simulcast,
    Ssrc,
    SsrcGroup,
    _check_text,
    _check_token,
    _check_uint,
    _check_word,
    _fields,
    _is_token,
    _uint,
    parse_parameters,
)
from rtcpeer.sdp.errors import SdpParseError

__all__ = [
    "Bandwidth",
    "Codec",
    "Connection",
    "MediaDescription",
    "Origin",
    "SessionDescription",
    "Timing",
    "parse",
]

T = TypeVar("T")
_UINT64 = 0xFFFFFFFFFFFFFFFF
_CRLF = "\r\n"


# -- fixed lines ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Origin:
    """``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`` (§5.2).

    ``session_id`` is kept as text (browsers write 19-digit numbers, and JSEP never
    does arithmetic on it); ``session_version`` is an int because JSEP increments it.
    """

    username: str = "-"
    session_id: str = "0"
    session_version: int = 0
    nettype: str = "IN"
    addrtype: str = "IP4"
    address: str = "127.0.0.1"

    def __post_init__(self) -> None:
        _check_word(self.username, "o= username")
        _check_word(self.session_id, "o= session id")
        _check_uint(self.session_version, "o= session version", _UINT64)
        _check_word(self.nettype, "o= nettype")
        _check_word(self.addrtype, "o= addrtype")
        _check_word(self.address, "o= address")

    @classmethod
    def parse(cls, value: str) -> Self:
        user, sid, version, net, addr, address = _fields(value, "o=", 6, 6)
        return cls(user, sid, _uint(version, "o= session version", _UINT64), net, addr, address)

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"{self.nettype} {self.addrtype} {self.address}"
        )


@dataclass(frozen=True, slots=True)
class Connection:
    """``c=<nettype> <addrtype> <connection-address>`` (§5.7); the address keeps any
    multicast ``/ttl/count`` suffix as text."""

    nettype: str = "IN"
    addrtype: str = "IP4"
    address: str = "0.0.0.0"

    def __post_init__(self) -> None:
        _check_word(self.nettype, "c= nettype")
        _check_word(self.addrtype, "c= addrtype")
        _check_word(self.address, "c= address")

    @classmethod
    def parse(cls, value: str) -> Self:
        net, addr, address = _fields(value, "c=", 3, 3)
        return cls(net, addr, address)

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """``b=<bwtype>:<bandwidth>`` (§5.8), e.g. ``b=AS:1000``, ``b=TIAS:64000``."""

    type: str
    value: int

    def __post_init__(self) -> None:
        _check_token(self.type, "b= bandwidth type")
        _check_uint(self.value, "b= bandwidth", _UINT64)

    @classmethod
    def parse(cls, value: str) -> Self:
        bwtype, colon, amount = value.partition(":")
        if not colon:
            raise SdpParseError("b= must be <type>:<bandwidth>")
        return cls(bwtype, _uint(amount, "b= bandwidth", _UINT64))

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


@dataclass(frozen=True, slots=True)
class Timing:
    """``t=<start> <stop>`` (§5.9) with its ``r=`` repeat lines kept as text (§5.10)."""

    start: int = 0
    stop: int = 0
    repeats: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_uint(self.start, "t= start time", _UINT64)
        _check_uint(self.stop, "t= stop time", _UINT64)
        for r in self.repeats:
            _check_text(r, "r= line")

    @classmethod
    def parse(cls, value: str) -> Self:
        start, stop = _fields(value, "t=", 2, 2)
        return cls(_uint(start, "t= start time", _UINT64), _uint(stop, "t= stop time", _UINT64))

    def __str__(self) -> str:
        return f"{self.start} {self.stop}"


# -- codecs -------------------------------------------------------------------------------

# RFC 3551 §6 tables 4 and 5: static payload types, usable without an rtpmap line.
_STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int, int | None]] = {
    0: ("PCMU", 8000, None),
    3: ("GSM", 8000, None),
    4: ("G723", 8000, None),
    5: ("DVI4", 8000, None),
    6: ("DVI4", 16000, None),
    7: ("LPC", 8000, None),
    8: ("PCMA", 8000, None),
    9: ("G722", 8000, None),
    10: ("L16", 44100, 2),
    11: ("L16", 44100, None),
    12: ("QCELP", 8000, None),
    13: ("CN", 8000, None),
    14: ("MPA", 90000, None),
    15: ("G728", 8000, None),
    16: ("DVI4", 11025, None),
    17: ("DVI4", 22050, None),
    18: ("G729", 8000, None),
    25: ("CelB", 90000, None),
    26: ("JPEG", 90000, None),
    28: ("nv", 90000, None),
    31: ("H261", 90000, None),
    32: ("MPV", 90000, None),
    33: ("MP2T", 90000, None),
    34: ("H263", 90000, None),
}


@dataclass(frozen=True, slots=True)
class Codec:
    """One payload type of an RTP m-section with its ``rtpmap``, ``fmtp`` and
    ``rtcp-fb`` lines folded together.

    ``fmtp`` is the parameter text (``"minptime=10;useinbandfec=1"``) or ``None``;
    :attr:`parameters` is its ordered mapping. ``feedback`` holds the rtcp-fb values
    for this payload type (``"nack pli"``); wildcard ``rtcp-fb:*`` lines are not
    folded in (read them from :attr:`MediaDescription.rtcp_fbs`).
    """

    payload_type: int
    name: str
    clock_rate: int
    channels: int | None = None
    fmtp: str | None = None
    feedback: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        Rtpmap(self.payload_type, self.name, self.clock_rate, self.channels)  # validates
        if self.fmtp is not None:
            _check_text(self.fmtp, "codec fmtp")
        for fb in self.feedback:
            RtcpFb.parse(f"{self.payload_type} {fb}")

    @property
    def rtpmap(self) -> Rtpmap:
        return Rtpmap(self.payload_type, self.name, self.clock_rate, self.channels)

    @property
    def parameters(self) -> dict[str, str | None]:
        return {} if self.fmtp is None else parse_parameters(self.fmtp)

    @property
    def mime_type(self) -> str:
        """``"opus/48000"``-style name without the kind prefix (``audio/``/``video/``)."""
        return f"{self.name}/{self.clock_rate}"

    def attributes(self) -> list[Attribute]:
        """The lines Chromium writes for a codec: rtpmap, its rtcp-fb lines, fmtp."""
        pt = self.payload_type
        lines = [Attribute.of("rtpmap", self.rtpmap)]
        lines.extend(Attribute("rtcp-fb", f"{pt} {fb}") for fb in self.feedback)
        if self.fmtp is not None:
            lines.append(Attribute.of("fmtp", Fmtp(pt, self.fmtp)))
        return lines


# -- attribute sections -------------------------------------------------------------------


@dataclass(slots=True)
class _Section:
    """The ``a=`` lines of a session or media level, with generic and shared typed access."""

    attributes: list[Attribute] = field(default_factory=list, kw_only=True)

    # Attribute name -> rank; new lines go after the last line of lower or equal rank.
    ORDER: ClassVar[Mapping[str, int]] = {}

    # -- generic access --

    def attribute(self, name: str) -> Attribute | None:
        """The first ``a=<name>`` line, or ``None``."""
        return next((a for a in self.attributes if a.name == name), None)

    def attributes_named(self, name: str) -> list[Attribute]:
        return [a for a in self.attributes if a.name == name]

    def has_attribute(self, name: str) -> bool:
        return any(a.name == name for a in self.attributes)

    def value_of(self, name: str) -> str | None:
        """The raw value of the first ``a=<name>`` line (``None`` if absent or no value)."""
        attr = self.attribute(name)
        return None if attr is None else attr.value

    def add_attribute(self, attribute: Attribute) -> Attribute:
        """Insert a line where a browser would put it (unknown names go last)."""
        self.attributes.insert(self._insert_index(attribute.name), attribute)
        return attribute

    def remove_attributes(self, name: str) -> int:
        """Remove every ``a=<name>`` line; returns how many there were."""
        before = len(self.attributes)
        self.attributes[:] = [a for a in self.attributes if a.name != name]
        return before - len(self.attributes)

    def replace_attributes(self, names: str | Iterable[str], new: Iterable[Attribute]) -> None:
        """Replace every line named ``names`` by ``new``, placed where the first old
        line was (or in browser order when there was none)."""
        wanted = {names} if isinstance(names, str) else set(names)
        lines = list(new)
        anchor = lines[0].name if lines else ""
        self._replace(lambda a: a.name in wanted, lines, anchor)

    # -- internals --

    def _insert_index(self, name: str) -> int:
        rank = self.ORDER.get(name)
        if rank is None:
            return len(self.attributes)
        for index in range(len(self.attributes) - 1, -1, -1):
            other = self.ORDER.get(self.attributes[index].name)
            if other is not None and other <= rank:
                return index + 1
        return 0

    def _replace(self, match: Callable[[Attribute], bool], new: list[Attribute], name: str) -> None:
        position: int | None = None
        kept: list[Attribute] = []
        for attr in self.attributes:
            if match(attr):
                if position is None:
                    position = len(kept)
            else:
                kept.append(attr)
        self.attributes[:] = kept
        if not new:
            return
        if position is None:
            position = self._insert_index(name)
        self.attributes[position:position] = new

    def _set(self, name: str, values: Iterable[object]) -> None:
        self._replace(lambda a: a.name == name, [Attribute.of(name, v) for v in values], name)

    def _typed(self, name: str, kind: type[T]) -> list[T]:
        out: list[T] = []
        for attr in self.attributes:
            if attr.name == name:
                assert isinstance(attr.typed, kind)
                out.append(attr.typed)
        return out

    def _first_typed(self, name: str, kind: type[T]) -> T | None:
        attr = self.attribute(name)
        if attr is None:
            return None
        assert isinstance(attr.typed, kind)
        return attr.typed

    def _set_single(self, name: str, value: object) -> None:
        self._set(name, () if value is None else (value,))

    def _set_flag(self, name: str, on: bool) -> None:
        if not on:
            self.remove_attributes(name)
        elif not self.has_attribute(name):
            self.add_attribute(Attribute(name))

    def _lines(self) -> list[str]:
        return [a.line() for a in self.attributes]

    # -- typed access shared by both levels --

    @property
    def direction(self) -> Direction | None:
        """``sendrecv``/``sendonly``/``recvonly``/``inactive`` written at this level
        (RFC 8866 §6.7), or ``None`` if none is."""
        for attr in self.attributes:
            if attr.name in DIRECTIONS:
                return attr.name
        return None

    @direction.setter
    def direction(self, value: Direction | None) -> None:
        if value is not None and value not in DIRECTIONS:
            raise SdpParseError(f"direction must be one of {DIRECTIONS}, got {value!r}")
        new = [] if value is None else [Attribute(value)]
        self._replace(lambda a: a.name in DIRECTIONS, new, "sendrecv")

    @property
    def ice_ufrag(self) -> str | None:
        return self._first_typed("ice-ufrag", str)

    @ice_ufrag.setter
    def ice_ufrag(self, value: str | None) -> None:
        self._set_single("ice-ufrag", value)

    @property
    def ice_pwd(self) -> str | None:
        return self._first_typed("ice-pwd", str)

    @ice_pwd.setter
    def ice_pwd(self, value: str | None) -> None:
        self._set_single("ice-pwd", value)

    @property
    def ice_options(self) -> tuple[str, ...]:
        """RFC 8839 §5.6 options, e.g. ``("trickle",)``, ``("trickle", "ice2")``,
        ``("renomination",)``; all ``a=ice-options`` lines of this level, joined."""
        return tuple(o for opts in self._typed("ice-options", tuple) for o in opts)

    @ice_options.setter
    def ice_options(self, value: Iterable[str]) -> None:
        options = tuple(value)
        self._set_single("ice-options", options or None)

    @property
    def fingerprints(self) -> list[Fingerprint]:
        """Every ``a=fingerprint`` (RFC 8122 allows several, one per hash function)."""
        return self._typed("fingerprint", Fingerprint)

    @fingerprints.setter
    def fingerprints(self, value: Iterable[Fingerprint]) -> None:
        self._set("fingerprint", value)

    @property
    def setup(self) -> SetupRole | None:
        """The DTLS role ``a=setup`` (RFC 4145 §4, RFC 8842)."""
        return cast("SetupRole | None", self._first_typed("setup", str))

    @setup.setter
    def setup(self, value: SetupRole | None) -> None:
        self._set_single("setup", value)

    @property
    def extmaps(self) -> list[Extmap]:
        return self._typed("extmap", Extmap)

    @extmaps.setter
    def extmaps(self, value: Iterable[Extmap]) -> None:
        self._set("extmap", value)

    @property
    def extmap_allow_mixed(self) -> bool:
        """``a=extmap-allow-mixed`` (RFC 8285 §6): one- and two-byte headers may mix."""
        return self.has_attribute("extmap-allow-mixed")

    @extmap_allow_mixed.setter
    def extmap_allow_mixed(self, value: bool) -> None:
        self._set_flag("extmap-allow-mixed", value)


@dataclass(slots=True)
class MediaDescription(_Section):
    """One ``m=`` section (RFC 8866 §5.14) and everything under it.

    ``formats`` are the ``m=`` line's format strings: RTP payload types (``"111"``) for
    RTP profiles, ``"webrtc-datachannel"`` for ``UDP/DTLS/SCTP``.
    """

    kind: str
    port: int
    proto: str
    formats: list[str]
    port_count: int | None = None
    information: str | None = None
    connections: list[Connection] = field(default_factory=list)
    bandwidths: list[Bandwidth] = field(default_factory=list)
    encryption_key: str | None = None

    # Chromium's order (pc/webrtc_sdp.cc output, as captured in tests/vectors/sdp).
    ORDER: ClassVar[Mapping[str, int]] = {
        "rtcp": 10,
        "candidate": 20,
        "end-of-candidates": 21,
        "ice-ufrag": 30,
        "ice-pwd": 31,
        "ice-options": 32,
        "fingerprint": 40,
        "setup": 41,
        "tls-id": 42,
        "bundle-only": 49,
        "mid": 50,
        "extmap": 60,
        "extmap-allow-mixed": 61,
        "sendrecv": 70,
        "sendonly": 70,
        "recvonly": 70,
        "inactive": 70,
        "msid": 71,
        "rtcp-mux": 80,
        "rtcp-mux-only": 81,
        "rtcp-rsize": 82,
        "rtcp-xr": 83,
        "rtpmap": 90,
        "rtcp-fb": 90,
        "fmtp": 90,
        "ssrc-group": 100,
        "ssrc": 101,
        "rid": 110,
        "simulcast": 111,
        "sctp-port": 120,
        "sctpmap": 120,
        "max-message-size": 121,
    }

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Validate the ``m=`` line fields (run on construction and by ``serialize()``,
        since the fields are plain mutable attributes)."""
        _check_token(self.kind, "m= media")
        _check_uint(self.port, "m= port", 65535)
        if self.port_count is not None:
            _check_uint(self.port_count, "m= number of ports", 65535, 1)
        if not isinstance(self.proto, str) or not all(_is_token(p) for p in self.proto.split("/")):
            raise SdpParseError(f"m= proto must be tokens joined by '/', got {self.proto!r}")
        if not self.formats:
            raise SdpParseError("m= line needs at least one format")
        for fmt in self.formats:
            if self.is_rtp:
                _check_uint(_rtp_format(fmt), "m= payload type", 127)
            else:
                _check_word(fmt, "m= format")

    # -- the m= line --

    @property
    def is_rtp(self) -> bool:
        """An RTP profile (``RTP/AVP``, ``UDP/TLS/RTP/SAVPF``...), so formats are PTs."""
        return "RTP" in self.proto.split("/")

    @property
    def is_sctp(self) -> bool:
        """An SCTP data section (``UDP/DTLS/SCTP``, ``TCP/DTLS/SCTP``, legacy ``DTLS/SCTP``)."""
        return self.proto.split("/")[-1] == "SCTP"

    @property
    def payload_types(self) -> list[int]:
        """The formats as ints (RTP sections; empty for others)."""
        return [int(f) for f in self.formats] if self.is_rtp else []

    @property
    def connection(self) -> Connection | None:
        return self.connections[0] if self.connections else None

    @connection.setter
    def connection(self, value: Connection | None) -> None:
        self.connections = [] if value is None else [value]

    # -- identity, bundle, transport --

    @property
    def mid(self) -> str | None:
        """``a=mid`` (RFC 5888 §4)."""
        return self._first_typed("mid", str)

    @mid.setter
    def mid(self, value: str | None) -> None:
        self._set_single("mid", value)

    @property
    def bundle_only(self) -> bool:
        """``a=bundle-only`` (RFC 8843 §6)."""
        return self.has_attribute("bundle-only")

    @bundle_only.setter
    def bundle_only(self, value: bool) -> None:
        self._set_flag("bundle-only", value)

    @property
    def candidates(self) -> list[str]:
        """Raw ``a=candidate`` values (``"2199803271 1 udp ..."``, without ``candidate:``);
        parse them with :mod:`rtcpeer.ice.candidate`."""
        return self._typed("candidate", str)

    @candidates.setter
    def candidates(self, value: Iterable[str]) -> None:
        self._set("candidate", value)

    @property
    def end_of_candidates(self) -> bool:
        """``a=end-of-candidates`` (RFC 8840 §8.2)."""
        return self.has_attribute("end-of-candidates")

    @end_of_candidates.setter
    def end_of_candidates(self, value: bool) -> None:
        self._set_flag("end-of-candidates", value)

    @property
    def rtcp(self) -> Rtcp | None:
        """``a=rtcp`` (RFC 3605); JSEP writes ``9 IN IP4 0.0.0.0``."""
        return self._first_typed("rtcp", Rtcp)

    @rtcp.setter
    def rtcp(self, value: Rtcp | None) -> None:
        self._set_single("rtcp", value)

    @property
    def rtcp_mux(self) -> bool:
        return self.has_attribute("rtcp-mux")

    @rtcp_mux.setter
    def rtcp_mux(self, value: bool) -> None:
        self._set_flag("rtcp-mux", value)

    @property
    def rtcp_mux_only(self) -> bool:
        return self.has_attribute("rtcp-mux-only")

    @rtcp_mux_only.setter
    def rtcp_mux_only(self, value: bool) -> None:
        self._set_flag("rtcp-mux-only", value)

    @property
    def rtcp_rsize(self) -> bool:
        return self.has_attribute("rtcp-rsize")

    @rtcp_rsize.setter
    def rtcp_rsize(self, value: bool) -> None:
        self._set_flag("rtcp-rsize", value)

    # -- streams --

    @property
    def msids(self) -> list[Msid]:
        return self._typed("msid", Msid)

    @msids.setter
    def msids(self, value: Iterable[Msid]) -> None:
        self._set("msid", value)

    @property
    def ssrcs(self) -> list[Ssrc]:
        """Every ``a=ssrc`` line, in order (one per SSRC and source attribute)."""
        return self._typed("ssrc", Ssrc)

    @ssrcs.setter
    def ssrcs(self, value: Iterable[Ssrc]) -> None:
        self._set("ssrc", value)

    def ssrc_attributes(self, ssrc: int) -> dict[str, str | None]:
        """``{"cname": "...", "msid": "stream track"}`` for one SSRC."""
        return {s.attribute: s.value for s in self.ssrcs if s.ssrc == ssrc}

    @property
    def ssrc_groups(self) -> list[SsrcGroup]:
        return self._typed("ssrc-group", SsrcGroup)

    @ssrc_groups.setter
    def ssrc_groups(self, value: Iterable[SsrcGroup]) -> None:
        self._set("ssrc-group", value)

    @property
    def rids(self) -> list[Rid]:
        return self._typed("rid", Rid)

    @rids.setter
    def rids(self, value: Iterable[Rid]) -> None:
        self._set("rid", value)

    @property
    def simulcast(self) -> Simulcast | None:
        return self._first_typed("simulcast", Simulcast)

    @simulcast.setter
    def simulcast(self, value: Simulcast | None) -> None:
        self._set_single("simulcast", value)

    # -- codecs --

    @property
    def rtpmaps(self) -> list[Rtpmap]:
        return self._typed("rtpmap", Rtpmap)

    def rtpmap(self, payload_type: int) -> Rtpmap | None:
        return next((r for r in self.rtpmaps if r.payload_type == payload_type), None)

    @property
    def fmtps(self) -> list[Fmtp]:
        return self._typed("fmtp", Fmtp)

    def fmtp(self, payload_type: int) -> Fmtp | None:
        return next((f for f in self.fmtps if f.payload_type == payload_type), None)

    @property
    def rtcp_fbs(self) -> list[RtcpFb]:
        """Every ``a=rtcp-fb`` line, wildcards (``payload_type is None``) included."""
        return self._typed("rtcp-fb", RtcpFb)

    def rtcp_fb(self, payload_type: int) -> list[RtcpFb]:
        """The feedback lines for one payload type (not the ``*`` ones)."""
        return [fb for fb in self.rtcp_fbs if fb.payload_type == payload_type]

    @property
    def codecs(self) -> list[Codec]:
        """The payload types of the ``m=`` line, in preference order, as :class:`Codec`.

        A payload type without ``a=rtpmap`` uses the RFC 3551 static assignment;
        one that has neither is left out.
        """
        rtpmaps: dict[int, Rtpmap] = {}
        for r in self.rtpmaps:
            rtpmaps.setdefault(r.payload_type, r)
        fmtps: dict[int, str] = {}
        for f in self.fmtps:
            fmtps.setdefault(f.payload_type, f.parameters_text)
        feedback: dict[int, list[str]] = {}
        for fb in self.rtcp_fbs:
            if fb.payload_type is not None:
                feedback.setdefault(fb.payload_type, []).append(fb.value)
        codecs: list[Codec] = []
        for pt in self.payload_types:
            rtpmap = rtpmaps.get(pt)
            if rtpmap is not None:
                name, clock, channels = rtpmap.encoding_name, rtpmap.clock_rate, rtpmap.channels
            elif pt in _STATIC_PAYLOAD_TYPES:
                name, clock, channels = _STATIC_PAYLOAD_TYPES[pt]
            else:
                continue
            codecs.append(
                Codec(pt, name, clock, channels, fmtps.get(pt), tuple(feedback.get(pt, ())))
            )
        return codecs

    def codec(self, payload_type: int) -> Codec | None:
        return next((c for c in self.codecs if c.payload_type == payload_type), None)

    def set_codecs(self, codecs: Iterable[Codec]) -> None:
        """Make ``codecs`` the payload types of this section: rewrites the ``m=``
        formats and every rtpmap/fmtp/payload-specific rtcp-fb line (wildcard
        ``rtcp-fb:*`` lines stay), writing one block per codec as Chromium does."""
        codecs = list(codecs)
        if not self.is_rtp:
            raise SdpParseError(f"set_codecs needs an RTP m-section, this one is {self.proto}")
        if not codecs:
            raise SdpParseError("an m= line needs at least one codec")
        seen: set[int] = set()
        for c in codecs:
            if c.payload_type in seen:
                raise SdpParseError(f"payload type {c.payload_type} is listed twice")
            seen.add(c.payload_type)

        def is_codec_line(a: Attribute) -> bool:
            if a.name == "rtcp-fb":
                return isinstance(a.typed, RtcpFb) and a.typed.payload_type is not None
            return a.name in ("rtpmap", "fmtp")

        self._replace(is_codec_line, [line for c in codecs for line in c.attributes()], "rtpmap")
        self.formats = [str(c.payload_type) for c in codecs]

    # -- SCTP --

    @property
    def sctp_port(self) -> int | None:
        """``a=sctp-port`` (RFC 8841 §5)."""
        return self._first_typed("sctp-port", int)

    @sctp_port.setter
    def sctp_port(self, value: int | None) -> None:
        self._set_single("sctp-port", value)

    @property
    def max_message_size(self) -> int | None:
        """``a=max-message-size`` (RFC 8841 §6); 0 means "no limit"."""
        return self._first_typed("max-message-size", int)

    @max_message_size.setter
    def max_message_size(self, value: int | None) -> None:
        self._set_single("max-message-size", value)

    @property
    def sctpmap(self) -> Sctpmap | None:
        """Legacy ``a=sctpmap`` (pre-RFC 8841 peers write ``m=application ... DTLS/SCTP 5000``)."""
        return self._first_typed("sctpmap", Sctpmap)

    @sctpmap.setter
    def sctpmap(self, value: Sctpmap | None) -> None:
        self._set_single("sctpmap", value)

    # -- text --

    def m_line(self) -> str:
        port = str(self.port) if self.port_count is None else f"{self.port}/{self.port_count}"
        return f"m={self.kind} {port} {self.proto} {' '.join(self.formats)}"

    def lines(self) -> list[str]:
        """The section's lines, without line ends."""
        out = [self.m_line()]
        if self.information is not None:
            out.append(f"i={self.information}")
        out.extend(f"c={c}" for c in self.connections)
        out.extend(f"b={b}" for b in self.bandwidths)
        if self.encryption_key is not None:
            out.append(f"k={self.encryption_key}")
        out.extend(self._lines())
        return out


def _rtp_format(fmt: object) -> int:
    if not isinstance(fmt, str):
        raise SdpParseError(f"m= formats must be strings, got {fmt!r}")
    return _uint(fmt, "m= payload type", 127)


@dataclass(slots=True, kw_only=True)
class SessionDescription(_Section):
    """A whole session description (RFC 8866 §5): the session-level lines, then
    :attr:`media` in ``m=`` order. ``parse(text)`` / ``serialize()``."""

    version: int = 0
    origin: Origin = field(default_factory=Origin)
    session_name: str = "-"
    information: str | None = None
    uri: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = field(default_factory=list)
    timing: list[Timing] = field(default_factory=lambda: [Timing()])
    time_zones: str | None = None
    encryption_key: str | None = None
    media: list[MediaDescription] = field(default_factory=list)

    # Chromium writes group, extmap-allow-mixed, msid-semantic; the rest follows
    # Firefox and the RFC 8829 examples (direction, fingerprint, ice-* before group).
    ORDER: ClassVar[Mapping[str, int]] = {
        "sendrecv": 1,
        "sendonly": 1,
        "recvonly": 1,
        "inactive": 1,
        "fingerprint": 2,
        "ice-ufrag": 3,
        "ice-pwd": 4,
        "ice-options": 5,
        "setup": 6,
        "group": 10,
        "extmap-allow-mixed": 20,
        "msid-semantic": 30,
        "ice-lite": 40,
    }

    def __post_init__(self) -> None:
        if self.version != 0:
            raise SdpParseError(f"only SDP version 0 exists, got v={self.version!r}")
        if not isinstance(self.origin, Origin):
            raise SdpParseError(f"origin must be an Origin, got {self.origin!r}")
        _check_text(self.session_name, "s= session name")
        if not self.timing:
            raise SdpParseError("a description needs at least one t= line")

    @classmethod
    def parse(cls, text: str | bytes | bytearray) -> SessionDescription:
        """Parse SDP text; see the module docstring for what is accepted."""
        return parse(text)

    def serialize(self) -> str:
        """The description as text with CRLF line ends (RFC 8866 §5).

        Raises :class:`SdpParseError` if an ``m=`` line field was set to something
        that cannot be written (a port out of range, a non-numeric RTP format...).
        """
        for media in self.media:
            media.check()
        return _CRLF.join(self.lines()) + _CRLF

    def __str__(self) -> str:
        return self.serialize()

    def lines(self) -> list[str]:
        out = [f"v={self.version}", f"o={self.origin}", f"s={self.session_name}"]
        if self.information is not None:
            out.append(f"i={self.information}")
        if self.uri is not None:
            out.append(f"u={self.uri}")
        out.extend(f"e={e}" for e in self.emails)
        out.extend(f"p={p}" for p in self.phones)
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out.extend(f"b={b}" for b in self.bandwidths)
        for timing in self.timing:
            out.append(f"t={timing}")
            out.extend(f"r={r}" for r in timing.repeats)
        if self.time_zones is not None:
            out.append(f"z={self.time_zones}")
        if self.encryption_key is not None:
            out.append(f"k={self.encryption_key}")
        out.extend(self._lines())
        for media in self.media:
            out.extend(media.lines())
        return out

    # -- session-level typed access --

    @property
    def groups(self) -> list[Group]:
        """Every ``a=group`` (RFC 5888), any semantics (``BUNDLE``, ``LS``, ``FID``...)."""
        return self._typed("group", Group)

    @groups.setter
    def groups(self, value: Iterable[Group]) -> None:
        self._set("group", value)

    @property
    def bundle_groups(self) -> list[Group]:
        """The ``a=group:BUNDLE`` groups (RFC 8843), in order."""
        return [g for g in self.groups if g.semantics == "BUNDLE"]

    @property
    def msid_semantic(self) -> MsidSemantic | None:
        return self._first_typed("msid-semantic", MsidSemantic)

    @msid_semantic.setter
    def msid_semantic(self, value: MsidSemantic | None) -> None:
        self._set_single("msid-semantic", value)

    @property
    def ice_lite(self) -> bool:
        """``a=ice-lite`` (RFC 8839 §5.3): the peer is a lite implementation."""
        return self.has_attribute("ice-lite")

    @ice_lite.setter
    def ice_lite(self, value: bool) -> None:
        self._set_flag("ice-lite", value)

    def media_by_mid(self, mid: str) -> MediaDescription | None:
        return next((m for m in self.media if m.mid == mid), None)

    def direction_of(self, media: MediaDescription) -> Direction:
        """The direction in force for ``media``: its own, else the session's, else
        ``sendrecv`` (RFC 8866 §6.7)."""
        return media.direction or self.direction or "sendrecv"

    def ice_credentials_of(self, media: MediaDescription) -> tuple[str | None, str | None]:
        """``(ufrag, pwd)`` for ``media``, falling back to the session level (RFC 8839 §5.4)."""
        return (media.ice_ufrag or self.ice_ufrag, media.ice_pwd or self.ice_pwd)

    def fingerprints_of(self, media: MediaDescription) -> list[Fingerprint]:
        """Media-level fingerprints, else the session-level ones (RFC 8122 §5)."""
        return media.fingerprints or self.fingerprints


# -- parser -------------------------------------------------------------------------------

# RFC 8866 §5 order of the session-level lines (r= repeats follow their t=).
_SESSION_ORDER = {c: i for i, c in enumerate("vosiuepcbtrzka")}
_SESSION_REPEATABLE = frozenset("epbtra")
_MEDIA_ORDER = {c: i for i, c in enumerate("micbka")}
_MEDIA_REPEATABLE = frozenset("cba")
_LINE_NAMES = {
    "v": "version",
    "o": "origin",
    "s": "session name",
    "i": "information",
    "u": "URI",
    "e": "email",
    "p": "phone",
    "c": "connection",
    "b": "bandwidth",
    "t": "timing",
    "r": "repeat",
    "z": "time zone",
    "k": "encryption key",
    "a": "attribute",
    "m": "media",
}


def _parse_media_line(value: str) -> MediaDescription:
    parts = _fields(value, "m=", 4)
    kind, port_text, proto = parts[0], parts[1], parts[2]
    port_text, slash, count_text = port_text.partition("/")
    port = _uint(port_text, "m= port", 65535)
    count = _uint(count_text, "m= number of ports", 65535) if slash else None
    return MediaDescription(kind, port, proto, parts[3:], port_count=count)


def _parse_attribute(value: str) -> Attribute:
    name, colon, attr_value = value.partition(":")
    return Attribute(name, attr_value if colon else None)


def _split_lines(text: str) -> list[str]:
    lines = text.split("\n")
    while lines and not lines[-1].strip(" \t\r"):
        lines.pop()  # the final line end, and blank lines after the last line
    return lines


class _Parser:
    """One pass over the lines; ``cursor`` enforces the RFC 8866 §5 line order."""

    def __init__(self) -> None:
        self.session = SessionDescription()
        self.media: MediaDescription | None = None
        self.cursor = -1
        self.seen_timing = False
        self.attributes: list[Attribute] = self.session.attributes

    def feed(self, number: int, kind: str, value: str) -> None:
        if self.media is None:
            self._session_line(number, kind, value)
        else:
            self._media_line(kind, value)

    def _order(self, kind: str, order: Mapping[str, int], repeatable: frozenset[str]) -> None:
        position = order[kind]
        if position < self.cursor or (position == self.cursor and kind not in repeatable):
            what = "repeated" if position == self.cursor else "out of order"
            raise SdpParseError(f"{kind}= ({_LINE_NAMES[kind]}) line is {what} (RFC 8866 §5)")
        self.cursor = position

    def _session_line(self, number: int, kind: str, value: str) -> None:
        session = self.session
        if number == 2 and kind != "o":
            raise SdpParseError("the o= (origin) line must follow v=")
        if number == 3 and kind != "s":
            raise SdpParseError("the s= (session name) line must follow o=")
        if kind == "m":
            if not self.seen_timing:
                raise SdpParseError("missing t= (timing) line before the first m= line")
            self.media = _parse_media_line(value)
            session.media.append(self.media)
            self.attributes = self.media.attributes
            self.cursor = 0
            return
        if kind not in _SESSION_ORDER:
            raise SdpParseError(f"unknown line type {kind!r}")
        if kind == "r":
            if self.cursor not in (_SESSION_ORDER["t"], _SESSION_ORDER["r"]):
                raise SdpParseError("an r= (repeat) line must follow a t= line")
        elif kind == "t" and self.cursor == _SESSION_ORDER["r"]:
            self.cursor = _SESSION_ORDER["t"]  # t= r* t= r* ...
        if _SESSION_ORDER[kind] > _SESSION_ORDER["r"] and not self.seen_timing:
            raise SdpParseError("missing t= (timing) line (RFC 8866 §5.9)")
        self._order(kind, _SESSION_ORDER, _SESSION_REPEATABLE)
        if kind == "v":
            if value != "0":
                raise SdpParseError("only SDP version 0 exists (v=0)")
        elif kind == "o":
            session.origin = Origin.parse(value)
        elif kind == "s":
            _check_text(value, "s= session name")
            session.session_name = value
        elif kind == "i":
            session.information = value
        elif kind == "u":
            session.uri = value
        elif kind == "e":
            session.emails.append(value)
        elif kind == "p":
            session.phones.append(value)
        elif kind == "c":
            session.connection = Connection.parse(value)
        elif kind == "b":
            session.bandwidths.append(Bandwidth.parse(value))
        elif kind == "t":
            if not self.seen_timing:
                session.timing.clear()
                self.seen_timing = True
            session.timing.append(Timing.parse(value))
        elif kind == "r":
            last = session.timing[-1]
            session.timing[-1] = Timing(last.start, last.stop, (*last.repeats, value))
        elif kind == "z":
            session.time_zones = value
        elif kind == "k":
            session.encryption_key = value
        else:
            self.attributes.append(_parse_attribute(value))

    def _media_line(self, kind: str, value: str) -> None:
        media = self.media
        assert media is not None
        if kind == "m":
            self.media = _parse_media_line(value)
            self.session.media.append(self.media)
            self.attributes = self.media.attributes
            self.cursor = 0
            return
        if kind not in _MEDIA_ORDER:
            if kind in _SESSION_ORDER:
                raise SdpParseError(f"a {kind}= line is not allowed inside a media description")
            raise SdpParseError(f"unknown line type {kind!r}")
        self._order(kind, _MEDIA_ORDER, _MEDIA_REPEATABLE)
        if kind == "i":
            media.information = value
        elif kind == "c":
            media.connections.append(Connection.parse(value))
        elif kind == "b":
            media.bandwidths.append(Bandwidth.parse(value))
        elif kind == "k":
            media.encryption_key = value
        else:
            self.attributes.append(_parse_attribute(value))


def parse(text: str | bytes | bytearray) -> SessionDescription:
    """Parse a session description (RFC 8866).

    Raises :class:`SdpParseError` (naming the line) for any malformed input, and
    ``TypeError`` only if ``text`` is neither ``str`` nor UTF-8 ``bytes``.
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        data = bytes(text)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            number = data.count(b"\n", 0, exc.start) + 1
            line = data.split(b"\n")[number - 1].decode("utf-8", "replace").rstrip("\r")
            raise SdpParseError(f"not UTF-8 text (byte {exc.start})", number, line) from None
    if not isinstance(text, str):
        raise TypeError(f"SDP must be a str, got {type(text).__name__}")
    lines = _split_lines(text)
    if not lines:
        raise SdpParseError("the description is empty", 1, "")
    if len(lines) < 4:
        # v=, o=, s= and t= are all required (RFC 8866 §5); the per-line checks below
        # name the first wrong line, this names a description that stops too early.
        for number, raw in enumerate(lines, 1):
            if not raw.startswith("vost"[number - 1] + "="):
                break
        else:
            raise SdpParseError(
                "a description needs v=, o=, s= and t= lines",
                len(lines),
                lines[-1].rstrip(" \t\r"),
            )
    parser = _Parser()
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip(" \t\r")
        if line == "s=":
            # "s= " is RFC 8866 §5.3's own empty session name: its space is content.
            line = raw.rstrip("\r")
        try:
            if "\r" in line or "\x00" in line:
                raise SdpParseError("CR or NUL inside a line")
            if len(line) < 2 or line[1] != "=":
                if not line.strip(" \t"):
                    raise SdpParseError("empty line inside the description")
                raise SdpParseError("expected <type>=<value>")
            kind = line[0]
            if number == 1 and kind != "v":
                raise SdpParseError("a description must start with v=0")
            parser.feed(number, kind, line[2:])
        except SdpParseError as exc:
            raise exc.at(number, line) from None
    if not parser.seen_timing:
        last = lines[-1].rstrip(" \t\r")
        raise SdpParseError("missing t= (timing) line (RFC 8866 §5.9)", len(lines), last)
    return parser.session
