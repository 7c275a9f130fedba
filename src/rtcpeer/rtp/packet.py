"""RTP and RTCP packets (RFC 3550, RFC 8285 header extensions), parse/serialize pairs.

:class:`RtpHeader` is what the receive path needs of an RTP packet (the payload is
left in place: ``payload_offset`` says where it starts). :func:`parse_rtcp` splits a
compound RTCP packet into its parts; sender and receiver reports and SDES are typed,
anything else is kept as :class:`RtcpOther`. :class:`RtpParseError` is the one error
parsing raises. RTP/RTCP demultiplexing on one port follows RFC 5761 §4.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "RTCP_BYE",
    "RTCP_PSFB",
    "RTCP_RR",
    "RTCP_RTPFB",
    "RTCP_SDES",
    "RTCP_SR",
    "ReportBlock",
    "RtcpFir",
    "RtcpNack",
    "RtcpOther",
    "RtcpPacket",
    "RtcpPli",
    "RtcpReceiverReport",
    "RtcpSdes",
    "RtcpSenderReport",
    "RtpHeader",
    "RtpParseError",
    "is_rtcp",
    "parse_rtcp",
    "serialize_rtcp",
]

RTCP_SR: Final = 200
RTCP_RR: Final = 201
RTCP_SDES: Final = 202
RTCP_BYE: Final = 203
RTCP_RTPFB: Final = 205
RTCP_PSFB: Final = 206
_FMT_NACK: Final = 1  # RFC 4585 §6.2.1
_FMT_PLI: Final = 1  # RFC 4585 §6.3.1
_FMT_FIR: Final = 4  # RFC 5104 §4.3.1
_SDES_CNAME: Final = 1

_RTP_FIXED = struct.Struct("!BBHII")
_RTCP_HEADER = struct.Struct("!BBH")
_SR_INFO = struct.Struct("!IIIII")  # NTP msw, lsw, RTP timestamp, packets, octets
_REPORT = struct.Struct("!IIIIII")  # ssrc, fraction|lost, ext seq, jitter, lsr, dlsr


class RtpParseError(ValueError):
    """Not a well-formed RTP or RTCP packet."""


def is_rtcp(data: bytes) -> bool:
    """RFC 5761 §4: on a muxed port, RTCP packet types 192..223 (as the second byte)
    cannot be RTP payload types (those would be 64..95 with the marker bit)."""
    return len(data) >= 2 and 192 <= data[1] <= 223


@dataclass(frozen=True, slots=True)
class RtpHeader:
    """The fixed header, CSRCs and RFC 8285 extensions of an RTP packet."""

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    #: Header extensions by id (one-byte or two-byte form, RFC 8285).
    extensions: dict[int, bytes] = field(default_factory=dict)
    padding: int = 0
    payload_offset: int = 12

    @classmethod
    def parse(cls, data: bytes) -> RtpHeader:
        if len(data) < 12:
            raise RtpParseError("shorter than the 12-byte RTP header")
        first, second, seq, timestamp, ssrc = _RTP_FIXED.unpack_from(data)
        if first >> 6 != 2:
            raise RtpParseError(f"RTP version {first >> 6}, not 2")
        pos = 12
        count = first & 0x0F
        if pos + 4 * count > len(data):
            raise RtpParseError("CSRC list runs past the packet")
        csrcs = struct.unpack_from(f"!{count}I", data, pos) if count else ()
        pos += 4 * count
        extensions: dict[int, bytes] = {}
        if first & 0x10:
            if pos + 4 > len(data):
                raise RtpParseError("truncated header extension")
            profile, words = struct.unpack_from("!HH", data, pos)
            start = pos + 4
            end = start + 4 * words
            if end > len(data):
                raise RtpParseError("header extension runs past the packet")
            if profile == 0xBEDE:
                _one_byte_extensions(data, start, end, extensions)
            elif profile & 0xFFF0 == 0x1000:
                _two_byte_extensions(data, start, end, extensions)
            pos = end
        padding = 0
        if first & 0x20:
            padding = data[-1]
            if padding == 0 or pos + padding > len(data):
                raise RtpParseError("bad RTP padding length")
        return cls(
            second & 0x7F,
            seq,
            timestamp,
            ssrc,
            bool(second & 0x80),
            tuple(csrcs),
            extensions,
            padding,
            pos,
        )

    def serialize(self, payload: bytes = b"") -> bytes:
        """The packet with ``payload`` (one-byte extensions when all fit, else
        two-byte; no padding)."""
        first = 0x80 | len(self.csrcs)
        ext = b""
        if self.extensions:
            first |= 0x10
            ext = _serialize_extensions(self.extensions)
        second = (0x80 if self.marker else 0) | self.payload_type
        head = _RTP_FIXED.pack(
            first, second, self.sequence_number, self.timestamp & 0xFFFFFFFF, self.ssrc
        )
        csrcs = struct.pack(f"!{len(self.csrcs)}I", *self.csrcs) if self.csrcs else b""
        return head + csrcs + ext + payload


def _one_byte_extensions(data: bytes, pos: int, end: int, out: dict[int, bytes]) -> None:
    while pos < end:
        byte = data[pos]
        if byte == 0:  # padding
            pos += 1
            continue
        ext_id, length = byte >> 4, (byte & 0x0F) + 1
        if ext_id == 15:
            return  # reserved: stop parsing (RFC 8285 §4.2)
        pos += 1
        if pos + length > end:
            raise RtpParseError("header extension element runs past its block")
        out[ext_id] = bytes(data[pos : pos + length])
        pos += length


def _two_byte_extensions(data: bytes, pos: int, end: int, out: dict[int, bytes]) -> None:
    while pos < end:
        ext_id = data[pos]
        if ext_id == 0:
            pos += 1
            continue
        if pos + 2 > end:
            raise RtpParseError("truncated two-byte header extension")
        length = data[pos + 1]
        pos += 2
        if pos + length > end:
            raise RtpParseError("header extension element runs past its block")
        out[ext_id] = bytes(data[pos : pos + length])
        pos += length


def _serialize_extensions(extensions: dict[int, bytes]) -> bytes:
    one_byte = all(0 < i < 15 and 0 < len(v) <= 16 for i, v in extensions.items())
    body = bytearray()
    for ext_id, value in extensions.items():
        if one_byte:
            body.append((ext_id << 4) | (len(value) - 1))
        else:
            if not 0 < ext_id < 256 or len(value) > 255:
                raise ValueError("two-byte header extensions take ids 1..255, 0..255 bytes")
            body += bytes((ext_id, len(value)))
        body += value
    body += bytes(-len(body) % 4)
    profile = 0xBEDE if one_byte else 0x1000
    return struct.pack("!HH", profile, len(body) // 4) + bytes(body)


# -- RTCP ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """One reception report (RFC 3550 §6.4.1)."""

    ssrc: int
    fraction_lost: int
    packets_lost: int  # cumulative, signed 24-bit
    highest_sequence: int  # extended
    jitter: int  # in RTP timestamp units
    last_sr: int
    delay_since_last_sr: int  # 1/65536 s

    def serialize(self) -> bytes:
        lost = self.packets_lost & 0xFFFFFF
        return _REPORT.pack(
            self.ssrc,
            (self.fraction_lost << 24) | lost,
            self.highest_sequence & 0xFFFFFFFF,
            self.jitter & 0xFFFFFFFF,
            self.last_sr & 0xFFFFFFFF,
            self.delay_since_last_sr & 0xFFFFFFFF,
        )

    @classmethod
    def parse(cls, data: bytes, pos: int) -> ReportBlock:
        ssrc, lost_word, highest, jitter, lsr, dlsr = _REPORT.unpack_from(data, pos)
        lost = lost_word & 0xFFFFFF
        if lost & 0x800000:
            lost -= 1 << 24
        return cls(ssrc, lost_word >> 24, lost, highest, jitter, lsr, dlsr)


@dataclass(frozen=True, slots=True)
class RtcpSenderReport:
    ssrc: int
    ntp_timestamp: int  # 64-bit
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()


@dataclass(frozen=True, slots=True)
class RtcpReceiverReport:
    ssrc: int
    reports: tuple[ReportBlock, ...] = ()


@dataclass(frozen=True, slots=True)
class RtcpSdes:
    """SDES with the CNAME of each chunk (other items are skipped)."""

    chunks: tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class RtcpOther:
    """Any other RTCP packet (BYE, APP, feedback...), kept as it came."""

    packet_type: int
    count: int
    body: bytes


@dataclass(frozen=True, slots=True)
class RtcpNack:
    """Generic NACK (RFC 4585 §6.2.1): ``media_ssrc`` lost the ``lost`` sequence
    numbers."""

    sender_ssrc: int
    media_ssrc: int
    lost: tuple[int, ...]

    def fci(self) -> bytes:
        """PID + BLP pairs covering ``lost`` (each pair spans 17 numbers)."""
        out = bytearray()
        pending = sorted(set(s & 0xFFFF for s in self.lost))
        i = 0
        while i < len(pending):
            pid = pending[i]
            blp = 0
            i += 1
            while i < len(pending) and (pending[i] - pid) & 0xFFFF <= 16:
                blp |= 1 << (((pending[i] - pid) & 0xFFFF) - 1)
                i += 1
            out += struct.pack("!HH", pid, blp)
        return bytes(out)


@dataclass(frozen=True, slots=True)
class RtcpPli:
    """Picture Loss Indication (RFC 4585 §6.3.1): send a key frame."""

    sender_ssrc: int
    media_ssrc: int


@dataclass(frozen=True, slots=True)
class RtcpFir:
    """Full Intra Request (RFC 5104 §4.3.1): (ssrc, sequence number) entries."""

    sender_ssrc: int
    entries: tuple[tuple[int, int], ...]


RtcpPacket = (
    RtcpSenderReport | RtcpReceiverReport | RtcpSdes | RtcpNack | RtcpPli | RtcpFir | RtcpOther
)


def parse_rtcp(data: bytes) -> list[RtcpPacket]:
    """Split a compound RTCP packet (RFC 3550 §6.1); raises :class:`RtpParseError`."""
    out: list[RtcpPacket] = []
    pos = 0
    if len(data) < 4:
        raise RtpParseError("shorter than an RTCP header")
    while pos < len(data):
        if pos + 4 > len(data):
            raise RtpParseError("trailing bytes after the last RTCP packet")
        first, packet_type, words = _RTCP_HEADER.unpack_from(data, pos)
        if first >> 6 != 2:
            raise RtpParseError(f"RTCP version {first >> 6}, not 2")
        end = pos + 4 + 4 * words
        if end > len(data):
            raise RtpParseError("RTCP packet runs past the datagram")
        count = first & 0x1F
        body = data[pos + 4 : end]
        if first & 0x20 and body:
            padding = body[-1]
            if padding == 0 or padding > len(body):
                raise RtpParseError("bad RTCP padding length")
            body = body[:-padding]
        out.append(_parse_one(packet_type, count, body))
        pos = end
    return out


def _reports(body: bytes, pos: int, count: int) -> tuple[ReportBlock, ...]:
    if pos + 24 * count > len(body):
        raise RtpParseError("report blocks run past the packet")
    return tuple(ReportBlock.parse(body, pos + 24 * i) for i in range(count))


def _parse_one(packet_type: int, count: int, body: bytes) -> RtcpPacket:
    if packet_type == RTCP_SR:
        if len(body) < 24:
            raise RtpParseError("truncated sender report")
        ssrc = struct.unpack_from("!I", body)[0]
        msw, lsw, rtp_ts, packets, octets = _SR_INFO.unpack_from(body, 4)
        return RtcpSenderReport(
            ssrc, (msw << 32) | lsw, rtp_ts, packets, octets, _reports(body, 24, count)
        )
    if packet_type == RTCP_RR:
        if len(body) < 4:
            raise RtpParseError("truncated receiver report")
        return RtcpReceiverReport(struct.unpack_from("!I", body)[0], _reports(body, 4, count))
    if packet_type == RTCP_SDES:
        chunks = []
        pos = 0
        for _ in range(count):
            if pos + 4 > len(body):
                raise RtpParseError("truncated SDES chunk")
            ssrc = struct.unpack_from("!I", body, pos)[0]
            pos += 4
            cname = ""
            while pos < len(body) and body[pos] != 0:
                if pos + 2 > len(body):
                    raise RtpParseError("truncated SDES item")
                kind, length = body[pos], body[pos + 1]
                if pos + 2 + length > len(body):
                    raise RtpParseError("SDES item runs past the chunk")
                if kind == _SDES_CNAME:
                    cname = body[pos + 2 : pos + 2 + length].decode("utf-8", "replace")
                pos += 2 + length
            pos = (pos + 4) & ~3  # the null item and padding to a word boundary
            chunks.append((ssrc, cname))
        return RtcpSdes(tuple(chunks))
    if packet_type in (RTCP_RTPFB, RTCP_PSFB) and len(body) >= 8:
        sender, media = struct.unpack_from("!II", body)
        fci = body[8:]
        if packet_type == RTCP_RTPFB and count == _FMT_NACK:
            if len(fci) % 4:
                raise RtpParseError("NACK FCI is not whole PID/BLP pairs")
            lost: list[int] = []
            for pos in range(0, len(fci), 4):
                pid, blp = struct.unpack_from("!HH", fci, pos)
                lost.append(pid)
                lost.extend((pid + bit + 1) & 0xFFFF for bit in range(16) if blp >> bit & 1)
            return RtcpNack(sender, media, tuple(lost))
        if packet_type == RTCP_PSFB and count == _FMT_PLI:
            return RtcpPli(sender, media)
        if packet_type == RTCP_PSFB and count == _FMT_FIR:
            if len(fci) % 8:
                raise RtpParseError("FIR FCI is not whole 8-byte entries")
            entries = tuple(
                (struct.unpack_from("!I", fci, pos)[0], fci[pos + 4])
                for pos in range(0, len(fci), 8)
            )
            return RtcpFir(sender, entries)
    return RtcpOther(packet_type, count, bytes(body))


def serialize_rtcp(packets: list[RtcpPacket]) -> bytes:
    """A compound RTCP packet of the given parts (RFC 3550 §6.1)."""
    out = bytearray()
    for packet in packets:
        if isinstance(packet, RtcpReceiverReport):
            body = struct.pack("!I", packet.ssrc) + b"".join(r.serialize() for r in packet.reports)
            out += _RTCP_HEADER.pack(0x80 | len(packet.reports), RTCP_RR, len(body) // 4) + body
        elif isinstance(packet, RtcpSenderReport):
            body = (
                struct.pack("!I", packet.ssrc)
                + _SR_INFO.pack(
                    packet.ntp_timestamp >> 32,
                    packet.ntp_timestamp & 0xFFFFFFFF,
                    packet.rtp_timestamp & 0xFFFFFFFF,
                    packet.packet_count & 0xFFFFFFFF,
                    packet.octet_count & 0xFFFFFFFF,
                )
                + b"".join(r.serialize() for r in packet.reports)
            )
            out += _RTCP_HEADER.pack(0x80 | len(packet.reports), RTCP_SR, len(body) // 4) + body
        elif isinstance(packet, RtcpSdes):
            chunks = bytearray()
            for ssrc, cname in packet.chunks:
                raw = cname.encode()[:255]
                chunks += struct.pack("!IBB", ssrc, _SDES_CNAME, len(raw)) + raw + b"\x00"
                chunks += bytes(-len(chunks) % 4)
            header = _RTCP_HEADER.pack(0x80 | len(packet.chunks), RTCP_SDES, len(chunks) // 4)
            out += header + chunks
        elif isinstance(packet, RtcpNack):
            body = struct.pack("!II", packet.sender_ssrc, packet.media_ssrc) + packet.fci()
            out += _RTCP_HEADER.pack(0x80 | _FMT_NACK, RTCP_RTPFB, len(body) // 4) + body
        elif isinstance(packet, RtcpPli):
            body = struct.pack("!II", packet.sender_ssrc, packet.media_ssrc)
            out += _RTCP_HEADER.pack(0x80 | _FMT_PLI, RTCP_PSFB, 2) + body
        elif isinstance(packet, RtcpFir):
            body = struct.pack("!II", packet.sender_ssrc, 0) + b"".join(
                struct.pack("!IB3x", ssrc, seq & 0xFF) for ssrc, seq in packet.entries
            )
            out += _RTCP_HEADER.pack(0x80 | _FMT_FIR, RTCP_PSFB, len(body) // 4) + body
        else:
            body = packet.body + bytes(-len(packet.body) % 4)
            out += _RTCP_HEADER.pack(0x80 | packet.count, packet.packet_type, len(body) // 4) + body
    return bytes(out)
