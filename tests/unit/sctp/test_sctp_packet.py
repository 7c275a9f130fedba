"""SCTP packet and chunk formats: byte-exact layouts, round trips, CRC32c, parse errors."""

from __future__ import annotations

import struct

import google_crc32c
import pytest

from rtcpeer.sctp.packet import (
    CRC_LE,
    AbortChunk,
    CookieAckChunk,
    CookieEchoChunk,
    DataChunk,
    ErrorCause,
    ErrorChunk,
    ForwardTsnChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    IncomingSsnResetRequest,
    InitAckChunk,
    InitChunk,
    OutgoingSsnResetRequest,
    Packet,
    ReconfigChunk,
    ReconfigResponse,
    SackChunk,
    SctpParseError,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    UnknownChunk,
    UnknownReconfigParam,
    build_packet,
    checksum,
    parse_chunk,
    parse_params,
    serialize_params,
    split_chunks,
)

ALL_CHUNKS = [
    DataChunk(0xFFFFFFFE, 7, 65535, 51, b"hello", unordered=True, beginning=False),
    DataChunk(1, 0, 0, 0, b"x" * 13, immediate=True),
    InitChunk(0xDEADBEEF, 131072, 1024, 2048, 42, [(0xC000, b""), (0x8008, b"\x82\xc0")]),
    InitAckChunk(1, 2, 3, 4, 5, [(7, b"cookie!"), (8, b"\x00\x05\x00\x08\x01\x02\x03\x04")]),
    SackChunk(100, 65536, [(2, 3), (5, 9)], [99, 98]),
    SackChunk(0, 0),
    HeartbeatChunk(b"\x01\x02\x03"),
    HeartbeatAckChunk(b"\x01\x02\x03\x04\x05"),
    AbortChunk([ErrorCause(12, b"bye")], t_bit=True),
    AbortChunk(),
    ShutdownChunk(0x12345678),
    ShutdownAckChunk(),
    ErrorChunk([ErrorCause(1, b"\x00\x07\x00\x00"), ErrorCause(3, b"\x00\x00\x00\x10")]),
    CookieEchoChunk(b"\x00" * 45),
    CookieAckChunk(),
    ShutdownCompleteChunk(t_bit=True),
    ForwardTsnChunk(77, [(1, 2), (3, 65535)]),
    ReconfigChunk([OutgoingSsnResetRequest(10, 20, 30, (1, 3, 5))]),
    ReconfigChunk([IncomingSsnResetRequest(11, (2,)), ReconfigResponse(9, 1)]),
    ReconfigChunk([ReconfigResponse(9, 6, 100, 200), UnknownReconfigParam(17, b"\x00" * 8)]),
    UnknownChunk(0xC5, 0x03, b"abcdef"),
]


@pytest.mark.parametrize("chunk", ALL_CHUNKS, ids=lambda c: type(c).__name__)
def test_chunk_round_trip(chunk: object) -> None:
    wire = chunk.serialize()  # type: ignore[attr-defined]
    assert len(wire) % 4 == 0
    ctype, flags, clen = struct.unpack_from("!BBH", wire)
    assert parse_chunk(ctype, flags, wire[4:clen]) == chunk


def test_packet_round_trip_with_bundled_chunks() -> None:
    pkt = Packet(5000, 5001, 0xA1B2C3D4, [SackChunk(5, 1000), *ALL_CHUNKS[:2]])
    wire = pkt.serialize()
    assert Packet.parse(wire) == pkt
    assert wire[:8] == bytes.fromhex("13881389a1b2c3d4")


def test_data_chunk_byte_exact() -> None:
    # RFC 9260 §3.3.1: type 0, flags U=4 B=2 E=1, length 16 + payload, TSN, SID, SSN, PPID.
    wire = DataChunk(0x01020304, 0x0506, 0x0708, 0x090A0B0C, b"abc", unordered=True).serialize()
    assert wire == bytes.fromhex("00070013 01020304 0506 0708 090a0b0c 616263 00".replace(" ", ""))


def test_sack_chunk_byte_exact() -> None:
    wire = SackChunk(0x10, 0x20, [(2, 4)], [0x0F]).serialize()
    assert wire == bytes.fromhex("03000018000000100000002000010001000200040000000f")


def test_init_chunk_byte_exact() -> None:
    init = InitChunk(0x11223344, 0x10000, 10, 20, 0x55667788, [(0xC000, b"")])
    assert init.serialize() == bytes.fromhex("010000181122334400010000000a001455667788c0000004")


def test_crc32c_known_vector_and_byte_order() -> None:
    # RFC 3720 B.4: CRC32c of 32 zero bytes is 0x8A9136AA, transmitted as aa 36 91 8a;
    # SCTP uses the same algorithm and byte order (RFC 9260 Appendix A).
    assert google_crc32c.value(bytes(32)) == 0x8A9136AA
    assert CRC_LE.pack(0x8A9136AA) == bytes.fromhex("aa36918a")
    pkt = build_packet(1, 2, 3, CookieAckChunk().serialize())
    assert CRC_LE.unpack_from(pkt, 8)[0] == checksum(pkt)
    assert checksum(pkt) == google_crc32c.value(pkt[:8] + b"\0\0\0\0" + pkt[12:])


def test_bad_checksum_is_a_parse_error() -> None:
    wire = bytearray(Packet(1, 2, 3, [CookieAckChunk()]).serialize())
    wire[9] ^= 0x40
    with pytest.raises(SctpParseError, match="checksum"):
        Packet.parse(bytes(wire))
    assert Packet.parse(bytes(wire), verify_checksum=False).chunks == [CookieAckChunk()]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "without chunks"),
        (b"\x00\x00", "truncated chunk header"),
        (b"\x0b\x00\x00\x03", "bad chunk length"),
        (b"\x0b\x00\x00\x09\x00\x00\x00\x00", "bad chunk length"),
        (b"\x00\x03\x00\x08\x00\x00\x00\x01", "DATA chunk shorter"),
        (b"\x03\x00\x00\x10" + bytes(8) + b"\x00\x01\x00\x00", "SACK chunk shorter"),
        (b"\x07\x00\x00\x04", "SHUTDOWN chunk without"),
        (b"\xc0\x00\x00\x06\x00\x00", "FORWARD TSN"),
        (b"\x04\x00\x00\x08\x00\x02\x00\x04", "without a Heartbeat Info"),
        (b"\x82\x00\x00\x04", "RE-CONFIG chunk without parameters"),
        (b"\x82\x00\x00\x0c\x00\x10\x00\x08\x00\x00\x00\x01", "Re-configuration Response"),
        (b"\x01\x00\x00\x10" + bytes(12), "fixed fields"),
    ],
)
def test_malformed_chunks_raise_parse_error(body: bytes, why: str) -> None:
    wire = build_packet(1, 2, 3, body)
    with pytest.raises(SctpParseError, match=why):
        Packet.parse(wire)


def test_short_packet_is_a_parse_error() -> None:
    with pytest.raises(SctpParseError):
        Packet.parse(b"\x00" * 11)


def test_last_chunk_padding_may_be_missing() -> None:
    body = DataChunk(1, 2, 3, 4, b"ab").serialize()[:-2]  # 18 bytes, unpadded
    assert split_chunks(b"\0" * 12 + body) == [(0, 3, 16, 30)]
    pkt = Packet.parse(build_packet(1, 2, 3, body))
    assert pkt.chunks == [DataChunk(1, 2, 3, 4, b"ab")]


def test_params_tlv() -> None:
    params = [(1, b"abc"), (0x8008, b""), (7, b"12345678")]
    wire = serialize_params(params)
    assert wire == bytes.fromhex("0001000761626300800800040007000c3132333435363738")
    assert parse_params(wire) == params
    with pytest.raises(SctpParseError):
        parse_params(b"\x00\x01\x00\x09abcd")


def test_unknown_chunk_action_bits() -> None:
    # RFC 9260 §3.2: 00 stop, 01 stop+report, 10 skip, 11 skip+report.
    assert (UnknownChunk(0x3F).skip, UnknownChunk(0x3F).report) == (False, False)
    assert (UnknownChunk(0x40).skip, UnknownChunk(0x40).report) == (False, True)
    assert (UnknownChunk(0x80).skip, UnknownChunk(0x80).report) == (True, False)
    assert (UnknownChunk(0xC1).skip, UnknownChunk(0xC1).report) == (True, True)


def test_init_param_lookup() -> None:
    init = InitAckChunk(1, 2, 3, 4, 5, [(0xC000, b""), (7, b"c1"), (7, b"c2")])
    assert init.param(7) == b"c1"
    assert init.param(0x8008) is None


# -- a foreign implementation as oracle: aiortc's packet code ------------------------------


def test_aiortc_parses_our_packets() -> None:
    rtc = pytest.importorskip("aiortc.rtcsctptransport")
    wire = Packet(
        5000,
        5000,
        0x01020304,
        [
            SackChunk(1000, 5000, [(2, 3)], [999]),
            DataChunk(1001, 3, 4, 51, b"payload", beginning=True, ending=True),
            ForwardTsnChunk(1000, [(3, 3)]),
        ],
    ).serialize()
    sport, dport, vtag, chunks = rtc.parse_packet(wire)  # verifies the CRC32c
    assert (sport, dport, vtag) == (5000, 5000, 0x01020304)
    sack, data, fwd = chunks
    assert (sack.cumulative_tsn, sack.advertised_rwnd, sack.gaps, sack.duplicates) == (
        1000,
        5000,
        [(2, 3)],
        [999],
    )
    assert (data.tsn, data.stream_id, data.stream_seq, data.protocol, data.user_data) == (
        1001,
        3,
        4,
        51,
        b"payload",
    )
    assert data.flags == 3
    assert (fwd.cumulative_tsn, fwd.streams) == (1000, [(3, 3)])


def test_we_parse_aiortc_packets() -> None:
    rtc = pytest.importorskip("aiortc.rtcsctptransport")
    chunk = rtc.DataChunk(flags=5)
    chunk.tsn, chunk.stream_id, chunk.stream_seq, chunk.protocol = 7, 9, 11, 53
    chunk.user_data = b"from aiortc"
    wire = rtc.serialize_packet(5000, 5001, 0xCAFEBABE, chunk)
    pkt = Packet.parse(wire)
    assert (pkt.source_port, pkt.destination_port, pkt.verification_tag) == (
        5000,
        5001,
        0xCAFEBABE,
    )
    assert pkt.chunks == [DataChunk(7, 9, 11, 53, b"from aiortc", unordered=True, beginning=False)]


def test_abort_with_malformed_causes_still_parses() -> None:
    wire = build_packet(1, 2, 3, bytes.fromhex("06010008000c0009"))  # cause length 9 > 4
    assert Packet.parse(wire).chunks == [AbortChunk([], t_bit=True)]
