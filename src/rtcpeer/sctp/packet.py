"""SCTP packets and chunks (RFC 9260 §3), with PR-SCTP (RFC 3758) and RE-CONFIG (RFC 6525).

A packet is a 12-byte common header (ports, verification tag, CRC32c checksum) followed
by chunks, each a type-flags-length header, a value, and zero padding to 4 bytes. Every
chunk type the association uses has a class here with ``parse``-side construction
(:func:`parse_chunk`) and ``serialize()``; :class:`Packet` ties them together.

The association's per-packet path does not build these objects for DATA and SACK: it
walks the bytes with the precompiled structs below (:data:`DATA_HEADER`,
:data:`SACK_HEADER`...). The classes are for control chunks, tests and tools, and the
two paths share the same layouts and the same checks.

Parse errors: :class:`SctpParseError` (a ``ValueError``), and nothing else on any input.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar, Self

import google_crc32c

__all__ = [
    "CHUNK_HEADER",
    "COMMON_HEADER",
    "DATA_HEADER",
    "SACK_HEADER",
    "AbortChunk",
    "Chunk",
    "CookieAckChunk",
    "CookieEchoChunk",
    "DataChunk",
    "ErrorCause",
    "ErrorChunk",
    "ForwardTsnChunk",
    "HeartbeatAckChunk",
    "HeartbeatChunk",
    "IncomingSsnResetRequest",
    "InitAckChunk",
    "InitChunk",
    "OutgoingSsnResetRequest",
    "Packet",
    "ReconfigChunk",
    "ReconfigParam",
    "ReconfigResponse",
    "SackChunk",
    "SctpParseError",
    "ShutdownAckChunk",
    "ShutdownChunk",
    "ShutdownCompleteChunk",
    "UnknownChunk",
    "UnknownReconfigParam",
    "checksum",
    "parse_chunk",
    "parse_params",
    "serialize_params",
]


class SctpParseError(ValueError):
    """The bytes are not a well-formed SCTP packet, chunk or parameter."""


# -- chunk types (RFC 9260 §3.2, RFC 3758 §3.2, RFC 6525 §3.1) --------------------------
DATA = 0
INIT = 1
INIT_ACK = 2
SACK = 3
HEARTBEAT = 4
HEARTBEAT_ACK = 5
ABORT = 6
SHUTDOWN = 7
SHUTDOWN_ACK = 8
ERROR = 9
COOKIE_ECHO = 10
COOKIE_ACK = 11
SHUTDOWN_COMPLETE = 14
RECONFIG = 130
FORWARD_TSN = 192

# -- INIT / INIT-ACK parameter types (RFC 9260 §3.3.2.1, RFC 3758 §3.1, RFC 5061 §4.2.7)
PARAM_HEARTBEAT_INFO = 1
PARAM_STATE_COOKIE = 7
PARAM_UNRECOGNIZED = 8
PARAM_COOKIE_PRESERVATIVE = 9
PARAM_SUPPORTED_ADDRESS_TYPES = 12
PARAM_SUPPORTED_EXTENSIONS = 0x8008
PARAM_FORWARD_TSN_SUPPORTED = 0xC000

# -- RE-CONFIG parameter types (RFC 6525 §4) -------------------------------------------
PARAM_OUTGOING_SSN_RESET = 13
PARAM_INCOMING_SSN_RESET = 14
PARAM_RECONFIG_RESPONSE = 16

# -- error cause codes (RFC 9260 §3.3.10) --------------------------------------------------
CAUSE_INVALID_STREAM = 1
CAUSE_MISSING_PARAM = 2
CAUSE_STALE_COOKIE = 3
CAUSE_OUT_OF_RESOURCE = 4
CAUSE_UNRECOGNIZED_CHUNK = 6
CAUSE_INVALID_PARAM = 7
CAUSE_UNRECOGNIZED_PARAMS = 8
CAUSE_NO_USER_DATA = 9
CAUSE_COOKIE_WHILE_SHUTTING_DOWN = 10
CAUSE_USER_INITIATED_ABORT = 12
CAUSE_PROTOCOL_VIOLATION = 13

# -- DATA chunk flags (RFC 9260 §3.3.1) ----------------------------------------------------
FLAG_END = 0x01
FLAG_BEGIN = 0x02
FLAG_UNORDERED = 0x04
FLAG_IMMEDIATE = 0x08  # RFC 7053 I bit: SACK this packet at once
# ABORT / SHUTDOWN-COMPLETE T bit (RFC 9260 §3.3.7): the tag is the peer's, reflected.
FLAG_T = 0x01

# -- wire structs, shared with the association's fast path ----------------------------------
COMMON_HEADER = struct.Struct("!HHII")
CHUNK_HEADER = struct.Struct("!BBH")
DATA_HEADER = struct.Struct("!BBHIHHI")  # type, flags, length, TSN, stream, SSN, PPID
SACK_HEADER = struct.Struct("!BBHIIHH")  # type, flags, length, cum TSN, a_rwnd, #gaps, #dups
INIT_BODY = struct.Struct("!IIHHI")
PARAM_HEADER = struct.Struct("!HH")
U16 = struct.Struct("!H")
U32 = struct.Struct("!I")
U16_PAIR = struct.Struct("!HH")
CRC_LE = struct.Struct("<I")
_ZERO4 = b"\x00\x00\x00\x00"
_PAD = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")


def checksum(packet: bytes) -> int:
    """CRC32c of ``packet`` with its checksum field taken as zero (RFC 9260 §6.8, App. A).

    The checksum goes on the wire little-endian (the reflected CRC's natural order).
    """
    return int(google_crc32c.value(packet[:8] + _ZERO4 + packet[12:]))


def pad4(length: int) -> int:
    """``length`` rounded up to a multiple of 4."""
    return (length + 3) & ~3


# -- TLV parameters (RFC 9260 §3.2.1) -------------------------------------------------------

Param = tuple[int, bytes]


def parse_params(data: bytes, offset: int = 0) -> list[Param]:
    """Type-length-value parameters from ``offset`` to the end of ``data``.

    The last parameter's padding may be absent; anything else malformed raises
    :class:`SctpParseError`.
    """
    params: list[Param] = []
    end = len(data)
    while offset < end:
        if end - offset < 4:
            raise SctpParseError("truncated parameter header")
        ptype, plen = PARAM_HEADER.unpack_from(data, offset)
        if plen < 4 or offset + plen > end:
            raise SctpParseError(f"bad parameter length {plen}")
        params.append((ptype, data[offset + 4 : offset + plen]))
        offset += pad4(plen)
    return params


def serialize_params(params: list[Param] | tuple[Param, ...]) -> bytes:
    """TLV parameters, each zero-padded to 4 bytes."""
    out = []
    for ptype, value in params:
        out.append(PARAM_HEADER.pack(ptype, 4 + len(value)))
        out.append(value)
        out.append(_PAD[len(value) & 3])
    return b"".join(out)


def _chunk(ctype: int, flags: int, value: bytes) -> bytes:
    return CHUNK_HEADER.pack(ctype, flags, 4 + len(value)) + value + _PAD[len(value) & 3]


# -- error causes (RFC 9260 §3.3.10) -------------------------------------------------------


@dataclass(slots=True)
class ErrorCause:
    """One error cause: a code and its cause-specific information bytes."""

    code: int
    info: bytes = b""


def _parse_causes(value: bytes) -> list[ErrorCause]:
    return [ErrorCause(code, info) for code, info in parse_params(value)]


def _serialize_causes(causes: list[ErrorCause]) -> bytes:
    return serialize_params([(c.code, c.info) for c in causes])


# -- chunks ------------------------------------------------------------------------------------


@dataclass(slots=True)
class DataChunk:
    """DATA (RFC 9260 §3.3.1): one fragment of a user message."""

    TYPE: ClassVar[int] = DATA
    tsn: int
    stream_id: int
    ssn: int
    ppid: int
    user_data: bytes
    unordered: bool = False
    beginning: bool = True
    ending: bool = True
    immediate: bool = False

    @property
    def flags(self) -> int:
        return (
            (FLAG_END if self.ending else 0)
            | (FLAG_BEGIN if self.beginning else 0)
            | (FLAG_UNORDERED if self.unordered else 0)
            | (FLAG_IMMEDIATE if self.immediate else 0)
        )

    @classmethod
    def parse_value(cls, flags: int, value: bytes) -> Self:
        if len(value) < 12:
            raise SctpParseError("DATA chunk shorter than its 16-byte header")
        tsn, sid, ssn, ppid = struct.unpack_from("!IHHI", value)
        return cls(
            tsn,
            sid,
            ssn,
            ppid,
            value[12:],
            unordered=bool(flags & FLAG_UNORDERED),
            beginning=bool(flags & FLAG_BEGIN),
            ending=bool(flags & FLAG_END),
            immediate=bool(flags & FLAG_IMMEDIATE),
        )

    def serialize(self) -> bytes:
        data = self.user_data
        return (
            DATA_HEADER.pack(
                DATA, self.flags, 16 + len(data), self.tsn, self.stream_id, self.ssn, self.ppid
            )
            + data
            + _PAD[len(data) & 3]
        )


@dataclass(slots=True)
class InitChunk:
    """INIT (RFC 9260 §3.3.2); parameters are kept as (type, value) pairs, in order."""

    TYPE: ClassVar[int] = INIT
    initiate_tag: int
    a_rwnd: int
    outbound_streams: int
    inbound_streams: int
    initial_tsn: int
    params: list[Param] = field(default_factory=list)

    @classmethod
    def parse_value(cls, flags: int, value: bytes) -> Self:
        if len(value) < 16:
            raise SctpParseError(f"{cls.__name__} shorter than its fixed fields")
        tag, a_rwnd, os_, mis, tsn = INIT_BODY.unpack_from(value)
        return cls(tag, a_rwnd, os_, mis, tsn, parse_params(value, 16))

    def serialize(self) -> bytes:
        body = INIT_BODY.pack(
            self.initiate_tag,
            self.a_rwnd,
            self.outbound_streams,
            self.inbound_streams,
            self.initial_tsn,
        )
        return _chunk(self.TYPE, 0, body + serialize_params(self.params))

    def param(self, ptype: int) -> bytes | None:
        """The value of the first parameter of type ``ptype``, or None."""
        for t, v in self.params:
            if t == ptype:
                return v
        return None


@dataclass(slots=True)
class InitAckChunk(InitChunk):
    """INIT ACK (RFC 9260 §3.3.3): an INIT's layout plus a State Cookie parameter."""

    TYPE: ClassVar[int] = INIT_ACK


@dataclass(slots=True)
class SackChunk:
    """SACK (RFC 9260 §3.3.4).

    ``gap_blocks`` are (start, end) offsets from ``cumulative_tsn_ack`` as on the wire.
    """

    TYPE: ClassVar[int] = SACK
    cumulative_tsn_ack: int
    a_rwnd: int
    gap_blocks: list[tuple[int, int]] = field(default_factory=list)
    duplicate_tsns: list[int] = field(default_factory=list)

    @classmethod
    def parse_value(cls, flags: int, value: bytes) -> Self:
        if len(value) < 12:
            raise SctpParseError("SACK chunk shorter than its fixed fields")
        cum, a_rwnd, ngaps, ndups = struct.unpack_from("!IIHH", value)
        if len(value) < 12 + 4 * ngaps + 4 * ndups:
            raise SctpParseError("SACK chunk shorter than its gap and duplicate counts say")
        gaps = [U16_PAIR.unpack_from(value, 12 + 4 * i) for i in range(ngaps)]
        base = 12 + 4 * ngaps
        dups = [U32.unpack_from(value, base + 4 * i)[0] for i in range(ndups)]
        return cls(cum, a_rwnd, gaps, dups)

    def serialize(self) -> bytes:
        gaps, dups = self.gap_blocks, self.duplicate_tsns
        parts = [
            SACK_HEADER.pack(
                SACK,
                0,
                16 + 4 * len(gaps) + 4 * len(dups),
                self.cumulative_tsn_ack,
                self.a_rwnd,
                len(gaps),
                len(dups),
            )
        ]
        parts.extend(U16_PAIR.pack(s, e) for s, e in gaps)
        parts.extend(U32.pack(d) for d in dups)
        return b"".join(parts)


@dataclass(slots=True)
class HeartbeatChunk:
    """HEARTBEAT (RFC 9260 §3.3.5); ``info`` is the opaque Heartbeat Info value."""

    TYPE: ClassVar[int] = HEARTBEAT
    info: bytes

    @classmethod
    def parse_value(cls, flags: int, value: bytes) -> Self:
        for ptype, pvalue in parse_params(value):
            if ptype == PARAM_HEARTBEAT_INFO:
                return cls(pvalue)
        raise SctpParseError(f"{cls.__name__} without a Heartbeat Info parameter")

    def serialize(self) -> bytes:
        return _chunk(self.TYPE, 0, serialize_params([(PARAM_HEARTBEAT_INFO, self.info)]))


@dataclass(slots=True)
class HeartbeatAckChunk(HeartbeatChunk):
    """HEARTBEAT ACK (RFC 9260 §3.3.6): echoes the Heartbeat Info."""

    TYPE: ClassVar[int] = HEARTBEAT_ACK


@dataclass(slots=True)
class AbortChunk:
    """ABORT (RFC 9260 §3.3.7); ``t_bit`` means the tag is the peer's own."""

    TYPE: ClassVar[int] = ABORT
    causes: list[ErrorCause] = field(default_factory=list)
    t_bit: bool = False

    @classmethod
    def parse_value(cls, flags: int, value: bytes) -> Self:
        # An ABORT ends the association whatever its causes say: malformed causes are
        # dropped rather than making the whole chunk unparseable.
        try:
            causes = _parse_causes(value)
        except SctpParseError:
            causes = []
        return cls(causes, bool(flags & FLAG_T))

    def serialize(self) -> bytes:
        return _chunk(ABORT, FLAG_T if self.t_bit else 0, _serialize_causes(self.causes))


@dataclass(slots=True)
class ShutdownChunk:
    """SHUTDOWN (RFC 9260 §3.3.8)."""

    TYPE: ClassVar[int] = SHUTDOWN
    cumulative_tsn_ack: int

    @classmethod
    def parse_value(cls, flags: int, value: bytes) -> Self:
        if len(value) < 4:
            raise SctpParseError("SHUTDOWN chunk without its Cumulative TSN Ack")
        return cls(U32.unpack_from(value)[0])

    def serialize(self) -> bytes:
        return _chunk(SHUTDOWN, 0, U32.pack(self.cumulative_tsn_ack))


@dataclass(slots=True)
class ShutdownAckChunk:
    """SHUTDOWN ACK (RFC 9260 §3.3.9)."""

    TYPE: ClassVar[int] = SHUTDOWN_ACK

    @classmethod
    def parse_value(cls, flags: int, value: bytes) -> Self:
        return cls()

    def serialize(self) -> bytes:
        return CHUNK_HEADER.pack(self.TYPE, 0, 4)


@dataclass(slots=True)
class ErrorChunk:
    """ERROR (RFC 9260 §3.3.10): one or more error causes, not fatal."""

    TYPE: ClassVar[int] = ERROR
    causes: list[ErrorCause] = field(default_factory=list)

    @classmethod
    def parse_value(cls, flags: int, value: bytes) -> Self:
        return cls(_parse_causes(value))

    def serialize(self) -> bytes:
        return _chunk(ERROR, 0, _serialize_causes(self.causes))


@dataclass(slots=True)
class CookieEchoChunk:
    """COOKIE ECHO (RFC 9260 §3.3.11): the State Cookie, returned untouched."""

    TYPE: ClassVar[int] = COOKIE_ECHO
    cookie: bytes

    @classmethod
    def parse_value(cls, flags: int, value: bytes) -> Self:
        return cls(value)

    def serialize(self) -> bytes:
        return _chunk(COOKIE_ECHO, 0, self.cookie)


@dataclass(slots=True)
class CookieAckChunk:
    """COOKIE ACK (RFC 9260 §3.3.12)."""

    TYPE: ClassVar[int] = COOKIE_ACK

    @classmethod
    def parse_value(cls, flags: int, value: bytes) -> Self:
        return cls()

    def serialize(self) -> bytes:
        return CHUNK_HEADER.pack(COOKIE_ACK, 0, 4)


@dataclass(slots=True)
class ShutdownCompleteChunk:
    """SHUTDOWN COMPLETE (RFC 9260 §3.3.13); ``t_bit`` as for ABORT."""

    TYPE: ClassVar[int] = SHUTDOWN_COMPLETE
    t_bit: bool = False

    @classmethod
    def parse_value(cls, flags: int, value: bytes) -> Self:
        return cls(bool(flags & FLAG_T))

    def serialize(self) -> bytes:
        return CHUNK_HEADER.pack(SHUTDOWN_COMPLETE, FLAG_T if self.t_bit else 0, 4)


@dataclass(slots=True)
class ForwardTsnChunk:
    """FORWARD TSN (RFC 3758 §3.2): skip to ``new_cumulative_tsn``; (stream, SSN) pairs."""

    TYPE: ClassVar[int] = FORWARD_TSN
    new_cumulative_tsn: int
    streams: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def parse_value(cls, flags: int, value: bytes) -> Self:
        if len(value) < 4 or len(value) % 4:
            raise SctpParseError("FORWARD TSN chunk length is not 4 + 4*N")
        streams = [U16_PAIR.unpack_from(value, off) for off in range(4, len(value), 4)]
        return cls(U32.unpack_from(value)[0], streams)

    def serialize(self) -> bytes:
        body = U32.pack(self.new_cumulative_tsn) + b"".join(
            U16_PAIR.pack(sid, ssn) for sid, ssn in self.streams
        )
        return _chunk(FORWARD_TSN, 0, body)


# -- RE-CONFIG (RFC 6525) -----------------------------------------------------------------


@dataclass(slots=True)
class OutgoingSsnResetRequest:
    """Outgoing SSN Reset Request (RFC 6525 §4.1); no streams means all of them."""

    TYPE: ClassVar[int] = PARAM_OUTGOING_SSN_RESET
    request_seq: int
    response_seq: int
    last_tsn: int
    streams: tuple[int, ...] = ()

    def value(self) -> bytes:
        return struct.pack(
            f"!III{len(self.streams)}H",
            self.request_seq,
            self.response_seq,
            self.last_tsn,
            *self.streams,
        )


@dataclass(slots=True)
class IncomingSsnResetRequest:
    """Incoming SSN Reset Request (RFC 6525 §4.2): asks the peer to reset its outgoing."""

    TYPE: ClassVar[int] = PARAM_INCOMING_SSN_RESET
    request_seq: int
    streams: tuple[int, ...] = ()

    def value(self) -> bytes:
        return struct.pack(f"!I{len(self.streams)}H", self.request_seq, *self.streams)


@dataclass(slots=True)
class ReconfigResponse:
    """Re-configuration Response (RFC 6525 §4.4)."""

    TYPE: ClassVar[int] = PARAM_RECONFIG_RESPONSE
    SUCCESS_NOTHING_TO_DO: ClassVar[int] = 0
    SUCCESS_PERFORMED: ClassVar[int] = 1
    DENIED: ClassVar[int] = 2
    ERROR_WRONG_SSN: ClassVar[int] = 3
    ERROR_IN_PROGRESS: ClassVar[int] = 4
    ERROR_BAD_SEQUENCE: ClassVar[int] = 5
    IN_PROGRESS: ClassVar[int] = 6
    response_seq: int
    result: int
    sender_next_tsn: int | None = None
    receiver_next_tsn: int | None = None

    def value(self) -> bytes:
        if self.sender_next_tsn is None or self.receiver_next_tsn is None:
            return struct.pack("!II", self.response_seq, self.result)
        return struct.pack(
            "!IIII",
            self.response_seq,
            self.result,
            self.sender_next_tsn,
            self.receiver_next_tsn,
        )


@dataclass(slots=True)
class UnknownReconfigParam:
    """A RE-CONFIG parameter this stack does not implement (kept raw)."""

    type: int
    data: bytes

    def value(self) -> bytes:
        return self.data


ReconfigParam = (
    OutgoingSsnResetRequest | IncomingSsnResetRequest | ReconfigResponse | UnknownReconfigParam
)


def _stream_list(value: bytes, offset: int) -> tuple[int, ...]:
    n = (len(value) - offset) // 2
    if (len(value) - offset) % 2:
        raise SctpParseError("odd length of a stream number list")
    return struct.unpack_from(f"!{n}H", value, offset)


def _parse_reconfig_param(ptype: int, value: bytes) -> ReconfigParam:
    if ptype == PARAM_OUTGOING_SSN_RESET:
        if len(value) < 12:
            raise SctpParseError("Outgoing SSN Reset Request too short")
        req, resp, last = struct.unpack_from("!III", value)
        return OutgoingSsnResetRequest(req, resp, last, _stream_list(value, 12))
    if ptype == PARAM_INCOMING_SSN_RESET:
        if len(value) < 4:
            raise SctpParseError("Incoming SSN Reset Request too short")
        return IncomingSsnResetRequest(U32.unpack_from(value)[0], _stream_list(value, 4))
    if ptype == PARAM_RECONFIG_RESPONSE:
        if len(value) == 8:
            return ReconfigResponse(*struct.unpack_from("!II", value))
        if len(value) == 16:
            return ReconfigResponse(*struct.unpack_from("!IIII", value))
        raise SctpParseError("Re-configuration Response must be 8 or 16 bytes of value")
    return UnknownReconfigParam(ptype, value)


@dataclass(slots=True)
class ReconfigChunk:
    """RE-CONFIG (RFC 6525 §3.1): one or two re-configuration parameters."""

    TYPE: ClassVar[int] = RECONFIG
    params: list[ReconfigParam] = field(default_factory=list)

    @classmethod
    def parse_value(cls, flags: int, value: bytes) -> Self:
        params = [_parse_reconfig_param(t, v) for t, v in parse_params(value)]
        if not params:
            raise SctpParseError("RE-CONFIG chunk without parameters")
        return cls(params)

    def serialize(self) -> bytes:
        tlvs = [
            (p.type if isinstance(p, UnknownReconfigParam) else p.TYPE, p.value())
            for p in self.params
        ]
        return _chunk(RECONFIG, 0, serialize_params(tlvs))


@dataclass(slots=True)
class UnknownChunk:
    """A chunk of a type this stack does not implement; RFC 9260 §3.2 says what to do by
    the type's upper two bits (see :attr:`action`)."""

    type: int
    flags: int = 0
    value: bytes = b""

    @property
    def skip(self) -> bool:
        """Upper bit set: skip this chunk and go on with the packet."""
        return bool(self.type & 0x80)

    @property
    def report(self) -> bool:
        """Second bit set: report it in an "Unrecognized Chunk Type" error cause."""
        return bool(self.type & 0x40)

    def serialize(self) -> bytes:
        return _chunk(self.type, self.flags, self.value)


Chunk = (
    DataChunk
    | InitChunk
    | InitAckChunk
    | SackChunk
    | HeartbeatChunk
    | HeartbeatAckChunk
    | AbortChunk
    | ShutdownChunk
    | ShutdownAckChunk
    | ErrorChunk
    | CookieEchoChunk
    | CookieAckChunk
    | ShutdownCompleteChunk
    | ForwardTsnChunk
    | ReconfigChunk
    | UnknownChunk
)

_PARSERS: dict[int, type[Chunk]] = {
    DATA: DataChunk,
    INIT: InitChunk,
    INIT_ACK: InitAckChunk,
    SACK: SackChunk,
    HEARTBEAT: HeartbeatChunk,
    HEARTBEAT_ACK: HeartbeatAckChunk,
    ABORT: AbortChunk,
    SHUTDOWN: ShutdownChunk,
    SHUTDOWN_ACK: ShutdownAckChunk,
    ERROR: ErrorChunk,
    COOKIE_ECHO: CookieEchoChunk,
    COOKIE_ACK: CookieAckChunk,
    SHUTDOWN_COMPLETE: ShutdownCompleteChunk,
    FORWARD_TSN: ForwardTsnChunk,
    RECONFIG: ReconfigChunk,
}


def parse_chunk(ctype: int, flags: int, value: bytes) -> Chunk:
    """The chunk object for one chunk's type, flags and value (header and padding off)."""
    cls = _PARSERS.get(ctype)
    if cls is None:
        return UnknownChunk(ctype, flags, value)
    return cls.parse_value(flags, value)  # type: ignore[union-attr]


def split_chunks(data: bytes, offset: int = 12) -> list[tuple[int, int, int, int]]:
    """The chunks of a packet as (type, flags, value start, value end) offsets.

    The last chunk may lack its padding; any other malformation raises
    :class:`SctpParseError`.
    """
    out = []
    end = len(data)
    if offset >= end:
        raise SctpParseError("packet without chunks")
    while offset < end:
        if end - offset < 4:
            raise SctpParseError("truncated chunk header")
        ctype, flags, clen = CHUNK_HEADER.unpack_from(data, offset)
        if clen < 4 or offset + clen > end:
            raise SctpParseError(f"bad chunk length {clen}")
        out.append((ctype, flags, offset + 4, offset + clen))
        offset += (clen + 3) & ~3
    return out


@dataclass(slots=True)
class Packet:
    """An SCTP packet (RFC 9260 §3.1): common header and chunks."""

    source_port: int
    destination_port: int
    verification_tag: int
    chunks: list[Chunk] = field(default_factory=list)

    @classmethod
    def parse(cls, data: bytes, *, verify_checksum: bool = True) -> Self:
        """Parse a packet; the CRC32c must match unless ``verify_checksum`` is false."""
        if len(data) < 12:
            raise SctpParseError("packet shorter than the 12-byte common header")
        data = bytes(data)
        sport, dport, vtag, _ = COMMON_HEADER.unpack_from(data)
        if verify_checksum and CRC_LE.unpack_from(data, 8)[0] != checksum(data):
            raise SctpParseError("bad CRC32c checksum")
        chunks = [
            parse_chunk(ctype, flags, data[start:stop])
            for ctype, flags, start, stop in split_chunks(data)
        ]
        return cls(sport, dport, vtag, chunks)

    def serialize(self) -> bytes:
        return build_packet(
            self.source_port,
            self.destination_port,
            self.verification_tag,
            b"".join(c.serialize() for c in self.chunks),
        )


def build_packet(sport: int, dport: int, vtag: int, body: bytes) -> bytes:
    """A packet from its header fields and already serialized chunks, checksum filled in."""
    head = COMMON_HEADER.pack(sport, dport, vtag, 0)
    crc = google_crc32c.value(head + body)
    return head[:8] + CRC_LE.pack(crc) + body
