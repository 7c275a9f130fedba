"""RTP/RTCP packets and the receiving side of the RTP session (RFC 3550)."""

from __future__ import annotations

import contextlib
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.rtp.packet import (
    ReportBlock,
    RtcpOther,
    RtcpReceiverReport,
    RtcpSdes,
    RtcpSenderReport,
    RtpHeader,
    RtpParseError,
    is_rtcp,
    parse_rtcp,
    serialize_rtcp,
)
from rtcpeer.rtp.session import RtpSession, RtpStreamStarted


def packet(seq: int, ts: int = 0, ssrc: int = 1234, pt: int = 111, **ext: bytes) -> bytes:
    extensions = {int(k[1:]): v for k, v in ext.items()}
    return RtpHeader(pt, seq & 0xFFFF, ts, ssrc, extensions=extensions).serialize(b"x" * 100)


def test_rtp_header_round_trip_with_extensions() -> None:
    one = RtpHeader(96, 65535, 3000, 0xDEADBEEF, True, (1, 2), {1: b"0", 3: b"\x01\x02"})
    parsed = RtpHeader.parse(one.serialize(b"payload"))
    assert (parsed.payload_type, parsed.sequence_number, parsed.timestamp) == (96, 65535, 3000)
    assert parsed.marker and parsed.csrcs == (1, 2)
    assert parsed.extensions == {1: b"0", 3: b"\x01\x02"}
    assert one.serialize(b"payload")[parsed.payload_offset :] == b"payload"
    two = RtpHeader(96, 1, 2, 3, extensions={20: b"long id", 2: b""})  # needs two-byte form
    assert RtpHeader.parse(two.serialize()).extensions == {20: b"long id", 2: b""}
    with pytest.raises(RtpParseError):
        RtpHeader.parse(b"\x40" + bytes(11))  # version 1
    assert is_rtcp(b"\x80\xc8") and not is_rtcp(packet(1))


def test_rtcp_compound_round_trip() -> None:
    block = ReportBlock(7, 25, -3, 70000, 12, 0x11223344, 65536)
    compound = serialize_rtcp(
        [
            RtcpSenderReport(9, (3_900_000_000 << 32) | 5, 1000, 10, 1000, (block,)),
            RtcpReceiverReport(9, (block,)),
            RtcpSdes(((9, "cname-9"),)),
            RtcpOther(203, 1, b"\x00\x00\x00\x09"),
        ]
    )
    sr, rr, sdes, bye = parse_rtcp(compound)
    assert isinstance(sr, RtcpSenderReport) and sr.reports == (block,)
    assert sr.ntp_timestamp >> 32 == 3_900_000_000 and sr.octet_count == 1000
    assert isinstance(rr, RtcpReceiverReport) and rr.reports[0].packets_lost == -3
    assert sdes == RtcpSdes(((9, "cname-9"),))
    assert isinstance(bye, RtcpOther) and bye.packet_type == 203
    with pytest.raises(RtpParseError):
        parse_rtcp(compound[:-3])


@given(st.binary(max_size=120))
def test_parsers_raise_only_their_error(data: bytes) -> None:
    with contextlib.suppress(RtpParseError):
        RtpHeader.parse(data)
    with contextlib.suppress(RtpParseError):
        parse_rtcp(data)


def test_receive_statistics_loss_wrap_and_reports() -> None:
    session = RtpSession(rng=random.Random(1), cname="me", ssrc=55)
    session.clock_rates[111] = 48000
    session.set_mid_extension(4)
    now = 0.0
    seqs = [65530 + i for i in range(12) if i not in (3, 4)]  # two lost, across the wrap
    for i, seq in enumerate(seqs):
        now = i * 0.02
        assert session.handle_rtp(now, packet(seq, ts=i * 960, e4=b"0")) is not None
    (started,) = [e for e in iter(session.poll_event, None)]
    assert started == RtpStreamStarted(1234, "0", 111)
    stream = session.streams[1234]
    assert stream.packets_received == 10 and stream.packets_lost == 2
    assert stream.extended_highest == 65536 + 5  # one wrap
    assert stream.bytes_received == 10 * 100 and stream.jitter < 1.0
    # A sender report, then our receiver report quotes it (LSR/DLSR, RFC 3550 §6.4.1).
    ntp = (3_900_000_000 << 32) | (1 << 31)
    session.handle_rtcp(now, serialize_rtcp([RtcpSenderReport(1234, ntp, 0, 10, 1000)]))
    assert stream.sender is not None and stream.sender.packets_sent == 10
    deadline = session.poll_timeout()
    assert deadline is not None
    session.handle_timeout(deadline + 0.5)
    report = session.poll_rtcp()
    assert report is not None
    rr, sdes = parse_rtcp(report)
    assert isinstance(rr, RtcpReceiverReport) and rr.ssrc == 55
    (block,) = rr.reports
    assert block.ssrc == 1234 and block.packets_lost == 2 and block.fraction_lost == 2 * 256 // 12
    assert block.last_sr == (ntp >> 16) & 0xFFFFFFFF
    assert block.delay_since_last_sr == int((deadline + 0.5 - now) * 65536)
    assert sdes == RtcpSdes(((55, "me"),))


def test_malformed_and_too_many_streams_are_dropped() -> None:
    session = RtpSession(rng=random.Random(2), cname="me")
    assert session.handle_rtp(0.0, b"\x80\x60") is None
    for ssrc in range(100):
        session.handle_rtp(0.0, packet(1, ssrc=ssrc))
    assert len(session.streams) == 64 and session.dropped == 1 + 36
    assert session.handle_rtcp(0.0, b"\x80") == []
