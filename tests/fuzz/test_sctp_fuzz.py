"""Fuzzing SCTP: parsers raise only SctpParseError; the association never raises on input."""

from __future__ import annotations

import contextlib
import random
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcpeer.sctp.association import Association
from rtcpeer.sctp.packet import (
    DataChunk,
    ForwardTsnChunk,
    Packet,
    SackChunk,
    SctpParseError,
    build_packet,
    parse_chunk,
    parse_params,
)

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KNOWN_TYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 130, 192]
u32 = st.integers(0, 0xFFFFFFFF)
u16 = st.integers(0, 0xFFFF)


def chunk_bytes(ctype: int, flags: int, value: bytes) -> bytes:
    return struct.pack("!BBH", ctype, flags, 4 + len(value)) + value + b"\0" * (-len(value) % 4)


chunk_strategy = st.builds(
    chunk_bytes,
    st.one_of(st.sampled_from(KNOWN_TYPES), st.integers(0, 255)),
    st.integers(0, 255),
    st.binary(max_size=120),
)


@FAST
@given(st.binary(max_size=300))
def test_packet_parse_raw_bytes(data: bytes) -> None:
    with contextlib.suppress(SctpParseError):
        Packet.parse(data)


@FAST
@given(st.lists(chunk_strategy, min_size=1, max_size=5), u32)
def test_packet_parse_structured(chunks: list[bytes], vtag: int) -> None:
    wire = build_packet(5000, 5000, vtag, b"".join(chunks))
    try:
        pkt = Packet.parse(wire)
    except SctpParseError:
        return
    # Whatever parsed must serialize and parse back to the same thing.
    assert Packet.parse(pkt.serialize()) == pkt


@FAST
@given(st.sampled_from(KNOWN_TYPES), st.integers(0, 255), st.binary(max_size=200))
def test_parse_chunk(ctype: int, flags: int, value: bytes) -> None:
    with contextlib.suppress(SctpParseError):
        parse_chunk(ctype, flags, value)


@FAST
@given(st.binary(max_size=100))
def test_parse_params(data: bytes) -> None:
    with contextlib.suppress(SctpParseError):
        parse_params(data)


@FAST
@given(
    u32,
    u16,
    u16,
    u32,
    st.binary(min_size=1, max_size=50),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_data_chunk_round_trip(
    tsn: int, sid: int, ssn: int, ppid: int, data: bytes, u: bool, b: bool, e: bool
) -> None:
    chunk = DataChunk(tsn, sid, ssn, ppid, data, unordered=u, beginning=b, ending=e)
    wire = chunk.serialize()
    assert parse_chunk(wire[0], wire[1], wire[4 : struct.unpack_from("!H", wire, 2)[0]]) == chunk


@FAST
@given(u32, u32, st.lists(st.tuples(u16, u16), max_size=10), st.lists(u32, max_size=10))
def test_sack_round_trip(cum: int, rwnd: int, gaps: list[tuple[int, int]], dups: list[int]) -> None:
    chunk = SackChunk(cum, rwnd, gaps, dups)
    wire = chunk.serialize()
    assert parse_chunk(3, 0, wire[4:]) == chunk


@FAST
@given(u32, st.lists(st.tuples(u16, u16), max_size=10))
def test_forward_tsn_round_trip(cum: int, streams: list[tuple[int, int]]) -> None:
    chunk = ForwardTsnChunk(cum, streams)
    assert parse_chunk(192, 0, chunk.serialize()[4:]) == chunk


# -- the association must survive anything the network sends -----------------------------


def _pair() -> tuple[Association, Association]:
    a = Association(rng=random.Random(1))
    b = Association(rng=random.Random(2))
    a.connect(0.0)
    for _ in range(3):
        while (p := a.poll_transmit()) is not None:
            b.handle_receive(0.0, p)
        while (p := b.poll_transmit()) is not None:
            a.handle_receive(0.0, p)
    assert a.is_established and b.is_established
    a.send(0.0, 1, 51, bytes(5000))
    for _ in range(3):
        while (p := a.poll_transmit()) is not None:
            b.handle_receive(0.0, p)
        while (p := b.poll_transmit()) is not None:
            a.handle_receive(0.0, p)
    a.send(0.0, 1, 51, bytes(3000))  # left in flight, unacknowledged
    while (p := a.poll_transmit()) is not None:
        b.handle_receive(0.0, p)
    return a, b


def _exercise(assoc: Association, now: float) -> None:
    while assoc.poll_transmit() is not None:
        pass
    while assoc.poll_event() is not None:
        pass
    t = assoc.poll_timeout()
    if t is not None:
        assoc.handle_timeout(max(t, now))
        while assoc.poll_transmit() is not None:
            pass


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(chunk_strategy, min_size=1, max_size=4), st.booleans(), st.sampled_from("ab"))
def test_association_survives_valid_tag_garbage(
    chunks: list[bytes], shutting_down: bool, which: str
) -> None:
    a, b = _pair()
    target = a if which == "a" else b
    if shutting_down:
        target.shutdown(0.0)
        _exercise(target, 0.0)
    wire = build_packet(target.remote_port, target.local_port, target.local_tag, b"".join(chunks))
    target.handle_receive(0.5, wire)
    _exercise(target, 0.5)


@FAST
@given(st.lists(chunk_strategy, min_size=1, max_size=4), u32)
def test_listening_association_survives_garbage(chunks: list[bytes], vtag: int) -> None:
    b = Association(rng=random.Random(2))
    b.handle_receive(0.0, build_packet(5000, 5000, vtag, b"".join(chunks)))
    b.handle_receive(0.0, build_packet(5000, 5000, 0, b"".join(chunks)))
    _exercise(b, 0.0)


@FAST
@given(st.data())
def test_association_survives_mutated_real_packets(data: st.DataObject) -> None:
    from rtcpeer.sctp.packet import CRC_LE, checksum

    a, b = _pair()
    a.send(0.0, 2, 51, bytes(3000), ordered=False, max_retransmits=0)
    a.reset_streams(0.0, [1])
    packets = []
    while (p := a.poll_transmit()) is not None:
        packets.append(p)
    assert packets
    pkt = bytearray(data.draw(st.sampled_from(packets)))
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(12, len(pkt) - 1))
        pkt[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        pkt = pkt[: data.draw(st.integers(12, len(pkt)))]
    pkt[8:12] = CRC_LE.pack(checksum(bytes(pkt)))
    b.handle_receive(0.1, bytes(pkt))
    _exercise(b, 0.1)
    for p in packets:
        b.handle_receive(0.2, p)
    _exercise(b, 0.2)
