"""The media receive path takes arbitrary bytes without raising: RTP and RTCP
parsing, RTX unwrapping, NACK/PLI/FIR/TWCC feedback, frame re-assembly for every
payload format, and the estimator fed by whatever feedback arrives."""

from __future__ import annotations

import contextlib
import random
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcpeer.media.payload import H264Depayloader, Vp8Depayloader, Vp8Payloader
from rtcpeer.rtp.jitterbuffer import FrameAssembler
from rtcpeer.rtp.packet import RtpHeader
from rtcpeer.rtp.sender import RtpSendStream
from rtcpeer.rtp.session import RtpSession
from rtcpeer.rtp.twcc import TwccFeedback, TwccParseError

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def session() -> RtpSession:
    s = RtpSession(rng=random.Random(1), cname="fuzz")
    s.payload_formats.update({96: "VP8", 102: "H264", 111: "opus"})
    s.nack_payload_types.update({96, 102})
    s.rtx_payload_types[97] = 96
    s.rtx_ssrcs[2] = 1
    s.set_transport_cc_extension(3)
    s.set_mid_extension(4)
    s.add_send_stream(
        RtpSendStream(ssrc=7, payload_type=96, clock_rate=90000, payloader=Vp8Payloader(),
                      rng=random.Random(2), rtx_ssrc=8, rtx_payload_type=97)
    )  # fmt: skip
    return s


rtp_like = st.builds(
    lambda pt, seq, ssrc, marker, ext, body: RtpHeader(
        pt, seq, 1000, ssrc, marker, (), {3: ext[:2], 4: b"0"} if ext else {}
    ).serialize(body),
    st.sampled_from([96, 97, 102, 111, 0, 127]),
    st.integers(0, 0xFFFF),
    st.sampled_from([1, 2, 3]),
    st.booleans(),
    st.binary(max_size=3),
    st.binary(max_size=1300),
)


@FUZZ
@given(st.lists(st.one_of(rtp_like, st.binary(max_size=200)), max_size=40), st.floats(0, 5))
def test_rtp_input_never_raises(packets: list[bytes], step: float) -> None:
    s = session()
    now = 0.0
    for packet in packets:
        s.handle_rtp(now, packet)
        now += step / 10
        while (deadline := s.poll_timeout()) is not None and deadline <= now:
            s.handle_timeout(deadline)
    list(iter(s.poll_event, None))
    list(iter(s.poll_rtcp, None))


def rtcp_header(fmt: int, pt: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    return struct.pack("!BBH", 0x80 | fmt, pt, len(body) // 4) + body


rtcp_like = st.builds(
    rtcp_header,
    st.integers(0, 31),
    st.sampled_from([200, 201, 202, 203, 205, 206]),
    st.binary(max_size=200),
)


@FUZZ
@given(st.lists(st.one_of(rtcp_like, st.binary(max_size=100)), max_size=20))
def test_rtcp_input_never_raises(packets: list[bytes]) -> None:
    s = session()
    s.send_frame(0.0, 7, b"\x10" + bytes(3000), 0, True)
    for i, packet in enumerate(packets):
        s.handle_rtcp(0.01 * i, packet)
    while s.poll_rtp(10.0) is not None:
        pass
    list(iter(s.poll_event, None))


@FUZZ
@given(st.binary(max_size=400))
def test_twcc_parse_raises_only_its_error(body: bytes) -> None:
    with contextlib.suppress(TwccParseError):
        TwccFeedback.parse_body(body)


@FUZZ
@given(
    st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 3), st.booleans(),
                       st.binary(max_size=40)), max_size=60),
    st.sampled_from(["vp8", "h264"]),
)  # fmt: skip
def test_assembler_takes_any_packets(
    packets: list[tuple[int, int, bool, bytes]], codec: str
) -> None:
    assembler = FrameAssembler(
        Vp8Depayloader() if codec == "vp8" else H264Depayloader(), capacity=32
    )
    for i, (seq, ts, marker, payload) in enumerate(packets):
        assembler.push(i * 0.01, seq, ts, marker, payload)
        deadline = assembler.poll_timeout()
        if deadline is not None:
            assembler.handle_timeout(deadline)
    list(iter(assembler.poll, None))
    assert len(assembler._packets) <= 32
