"""The media path's pieces: frame re-assembly, the send stream (RTX, counters), and
the session's NACK, PLI, RTX unwrapping and round-trip time."""

from __future__ import annotations

import random

from rtcpeer.media.payload import AudioDepayloader, Vp8Depayloader, Vp8Payloader
from rtcpeer.rtp.jitterbuffer import FrameAssembler
from rtcpeer.rtp.packet import (
    RtcpFir,
    RtcpNack,
    RtcpPli,
    RtcpReceiverReport,
    RtcpSenderReport,
    RtpHeader,
    parse_rtcp,
    serialize_rtcp,
)
from rtcpeer.rtp.sender import RtpSendStream
from rtcpeer.rtp.session import FrameReceived, KeyframeRequested, RtpSession


def drain_rtp(session: RtpSession, now: float) -> list[bytes]:
    """Everything the pacer holds, letting simulated time pass as it asks."""
    out = []
    while True:
        packet = session.poll_rtp(now)
        if packet is not None:
            out.append(packet)
            continue
        deadline = session.pacer.poll_timeout()
        if deadline is None:
            return out
        now = max(now, deadline)


def vp8_frame(index: int, size: int, key: bool) -> bytes:
    body = random.Random(index).randbytes(size)
    return bytes([0x10 if key else 0x11]) + body


def packets_of(
    frames: list[tuple[bytes, bool]], seq0: int = 65530
) -> list[tuple[int, int, bool, bytes]]:
    """(seq, timestamp, marker, payload) of VP8 frames."""
    out = []
    seq = seq0
    payloader = Vp8Payloader()
    for i, (frame, _key) in enumerate(frames):
        parts = payloader.payload(frame, 500)
        for j, part in enumerate(parts):
            out.append((seq & 0xFFFF, i * 3000, j == len(parts) - 1, part))
            seq += 1
    return out


def test_rtcp_feedback_round_trips() -> None:
    nack = RtcpNack(1, 2, (100, 101, 116, 117, 200, 65535, 0))
    parsed = parse_rtcp(serialize_rtcp([nack, RtcpPli(3, 4), RtcpFir(5, ((6, 7),))]))
    assert isinstance(parsed[0], RtcpNack)
    assert sorted(parsed[0].lost) == sorted(nack.lost)
    assert parsed[1] == RtcpPli(3, 4)
    assert parsed[2] == RtcpFir(5, ((6, 7),))
    # 100..116 fit one PID+BLP pair.
    assert len(RtcpNack(1, 2, (100, 116)).fci()) == 4
    assert len(RtcpNack(1, 2, (100, 117)).fci()) == 8


def test_assembler_reorders_and_drops_duplicates() -> None:
    frames = [(vp8_frame(i, 1200, i == 0), i == 0) for i in range(10)]
    packets = packets_of(frames)
    rng = random.Random(1)
    shuffled = packets + packets[:5]
    rng.shuffle(shuffled)
    assembler = FrameAssembler(Vp8Depayloader())
    # The key frame's first packet comes first (or the assembler cannot know where
    # the stream starts until the gap timer).
    assembler.push(0.0, *packets[0])
    for p in shuffled:
        assembler.push(0.0, *p)
    out = list(iter(assembler.poll, None))
    assert [f.data for f in out] == [f for f, _ in frames]
    assert out[0].keyframe and not out[1].keyframe
    assert [f.timestamp for f in out] == [i * 3000 for i in range(10)]


def test_assembler_skips_a_lost_frame_to_the_next_key_frame_after_waiting() -> None:
    frames = [(vp8_frame(i, 1200, i in (0, 6)), i in (0, 6)) for i in range(10)]
    packets = packets_of(frames)
    lost = {p[0] for p in packets if p[1] == 2 * 3000}  # all of frame 2
    lost.add(next(p[0] for p in packets if p[1] == 4 * 3000))  # and part of frame 4
    assembler = FrameAssembler(Vp8Depayloader(), max_wait=0.2)
    for p in packets:
        if p[0] not in lost:
            assembler.push(0.0, *p)
    assert [f.timestamp for f in iter(assembler.poll, None)] == [0, 3000]
    timeout = assembler.poll_timeout()
    assert timeout == 0.2
    assembler.handle_timeout(0.1)
    assert assembler.poll() is None  # not yet
    assembler.handle_timeout(0.2)
    # Frames 3..5 depend on the lost frame: the assembler resumes at the key frame.
    assert [f.timestamp // 3000 for f in iter(assembler.poll, None)] == [6, 7, 8, 9]
    assert not assembler.keyframe_needed


def test_assembler_without_a_key_frame_asks_for_one_and_freezes() -> None:
    frames = [(vp8_frame(i, 600, i == 0), i == 0) for i in range(6)]
    packets = packets_of(frames)
    assembler = FrameAssembler(Vp8Depayloader(), max_wait=0.2)
    for p in packets:
        if p[1] != 2 * 3000:
            assembler.push(0.0, *p)
    assembler.handle_timeout(0.2)
    assert [f.timestamp // 3000 for f in iter(assembler.poll, None)] == [0, 1]
    assert assembler.keyframe_needed
    assert assembler.frames_dropped >= 3


def test_assembler_waits_for_the_first_key_frame() -> None:
    frames = [(vp8_frame(i, 300, i == 3), i == 3) for i in range(5)]
    assembler = FrameAssembler(Vp8Depayloader())
    for p in packets_of(frames):
        assembler.push(0.0, *p)
    assert [f.timestamp // 3000 for f in iter(assembler.poll, None)] == [3, 4]
    assert assembler.frames_dropped == 3


def test_assembler_memory_is_bounded() -> None:
    assembler = FrameAssembler(Vp8Depayloader(), capacity=50)
    for seq in range(1, 500):  # never a frame start: nothing completes
        assembler.push(0.0, seq, 0, False, b"\x80\x80\x00\x01xx")
    assert len(assembler._packets) == 50
    assert assembler.packets_dropped == 449


def test_audio_assembler_passes_packets_in_order_and_drops_late_ones() -> None:
    assembler = FrameAssembler(AudioDepayloader())
    for seq in (10, 11, 13, 12, 14, 14):
        assembler.push(0.0, seq, seq * 960, True, bytes([seq]))
    assert [f.data for f in iter(assembler.poll, None)] == [b"\x0a", b"\x0b", b"\x0d", b"\x0e"]


def _send_stream(**kwargs: object) -> RtpSendStream:
    return RtpSendStream(
        ssrc=0x1111,
        payload_type=96,
        clock_rate=90000,
        payloader=Vp8Payloader(),
        rng=random.Random(3),
        mid="1",
        mid_extension=4,
        **kwargs,  # type: ignore[arg-type]
    )


def test_send_stream_packetizes_with_marker_mid_and_counters() -> None:
    stream = _send_stream()
    packets = stream.send_frame(1.0, vp8_frame(0, 3000, True), 0, True)
    headers = [RtpHeader.parse(p) for p in packets]
    assert [h.marker for h in headers] == [False, False, True]
    assert len({h.timestamp for h in headers}) == 1
    assert headers[0].timestamp == stream.timestamp_offset
    seqs = [h.sequence_number for h in headers]
    assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(3)]
    assert all(h.extensions == {4: b"1"} for h in headers)
    assert stream.packets_sent == 3 and stream.frames_encoded == 1
    assert stream.key_frames_encoded == 1
    assert stream.bytes_sent == sum(
        len(p) - h.payload_offset for p, h in zip(packets, headers, strict=True)
    )
    rtp_ts, count, octets = stream.sender_info(1.5)  # type: ignore[misc]
    assert rtp_ts == (stream.timestamp_offset + 45000) & 0xFFFFFFFF
    assert (count, octets) == (3, stream.bytes_sent)


def test_send_stream_answers_nack_with_rtx() -> None:
    stream = _send_stream(rtx_ssrc=0x2222, rtx_payload_type=97)
    packets = stream.send_frame(0.0, vp8_frame(0, 2000, True), 0, True)
    original = RtpHeader.parse(packets[1])
    [rtx] = stream.retransmit(0.0, [original.sequence_number, (original.sequence_number + 50)])
    header = RtpHeader.parse(rtx)
    assert (header.ssrc, header.payload_type) == (0x2222, 97)
    payload = rtx[header.payload_offset :]
    assert int.from_bytes(payload[:2]) == original.sequence_number
    assert payload[2:] == packets[1][original.payload_offset :]
    assert stream.retransmitted_packets_sent == 1 and stream.nack_count == 1
    plain = _send_stream()
    sent = plain.send_frame(0.0, b"\x10abc", 0, True)
    assert plain.retransmit(0.0, [RtpHeader.parse(sent[0]).sequence_number]) == sent


def _receiver() -> RtpSession:
    session = RtpSession(rng=random.Random(5), cname="rx")
    session.payload_formats[96] = "VP8"
    session.nack_payload_types.add(96)
    session.rtx_payload_types[97] = 96
    session.rtx_ssrcs[0x2222] = 0x1111
    return session


def test_session_nacks_a_gap_and_rtx_repairs_it() -> None:
    sender = RtpSession(rng=random.Random(6), cname="tx")
    stream = _send_stream(rtx_ssrc=0x2222, rtx_payload_type=97)
    sender.add_send_stream(stream)
    receiver = _receiver()
    frames = [vp8_frame(i, 2500, i == 0) for i in range(4)]
    for i, frame in enumerate(frames):
        sender.send_frame(i * 0.033, 0x1111, frame, i * 3000, i == 0)
    packets = drain_rtp(sender, 0.1)
    lost = packets[4]
    for p in packets:
        if p is not lost:
            receiver.handle_rtp(0.1, p)
    received = [e for e in iter(receiver.poll_event, None) if isinstance(e, FrameReceived)]
    assert [e.frame.data for e in received] == frames[:1]
    # The gap is asked for at once.
    assert receiver.poll_timeout() == 0.1
    receiver.handle_timeout(0.1)
    [nack_packet] = list(iter(receiver.poll_rtcp, None))
    [nack] = parse_rtcp(nack_packet)
    assert isinstance(nack, RtcpNack)
    assert nack.lost == (RtpHeader.parse(lost).sequence_number,)
    sender.handle_rtcp(0.15, nack_packet)
    [repair] = drain_rtp(sender, 0.15)
    assert RtpHeader.parse(repair).ssrc == 0x2222
    receiver.handle_rtp(0.2, repair)
    received = [e for e in iter(receiver.poll_event, None) if isinstance(e, FrameReceived)]
    assert [e.frame.data for e in received] == frames[1:]
    rx = receiver.streams[0x1111]
    assert rx.retransmitted_packets_received == 1
    assert rx.packets_lost == 0
    assert not rx.missing
    assert 0x2222 not in receiver.streams  # RTX is not a stream of its own


def test_session_retries_nacks_then_gives_up() -> None:
    receiver = _receiver()
    stream = _send_stream()
    packets = [
        p
        for i in range(3)
        for p in stream.send_frame(0, vp8_frame(i, 100, i == 0), i * 3000, i == 0)
    ]
    receiver.handle_rtp(0.0, packets[0])
    receiver.handle_rtp(0.0, packets[2])
    nacks = 0
    now = 0.0
    while (deadline := receiver.poll_timeout()) is not None and deadline < 3.0:
        now = deadline
        receiver.handle_timeout(now)
        nacks += sum(
            isinstance(p, RtcpNack)
            for raw in iter(receiver.poll_rtcp, None)
            for p in parse_rtcp(raw)
        )
    assert nacks == 5
    assert not receiver.streams[0x1111].missing


def test_session_pli_and_fir_become_keyframe_requests() -> None:
    sender = RtpSession(rng=random.Random(6), cname="tx")
    sender.add_send_stream(_send_stream())
    sender.handle_rtcp(0.0, serialize_rtcp([RtcpPli(9, 0x1111), RtcpPli(9, 0x9999)]))
    sender.handle_rtcp(0.0, serialize_rtcp([RtcpFir(9, ((0x1111, 1),))]))
    events = list(iter(sender.poll_event, None))
    assert events == [KeyframeRequested(0x1111), KeyframeRequested(0x1111, fir=True)]
    assert sender.send_streams[0x1111].pli_count == 1


def test_receiver_asks_for_a_key_frame_when_the_stream_starts_without_one() -> None:
    receiver = _receiver()
    stream = _send_stream()
    for i in range(3):
        for p in stream.send_frame(0, vp8_frame(i, 100, False), i * 3000, False):
            receiver.handle_rtp(0.0, p)
    plis = [p for raw in iter(receiver.poll_rtcp, None) for p in parse_rtcp(raw)]
    assert plis == [RtcpPli(receiver.ssrc, 0x1111)]  # one, rate-limited
    assert receiver.streams[0x1111].pli_count == 1


def test_sender_reports_and_round_trip_time() -> None:
    sender = RtpSession(rng=random.Random(6), cname="tx")
    sender.add_send_stream(_send_stream())
    receiver = _receiver()
    for p in _send_frames(sender, 10.0):
        receiver.handle_rtp(10.05, p)
    sender.handle_timeout(sender.poll_timeout() or 0.0)
    sr_time = sender.poll_timeout()
    assert sr_time is not None
    sender.handle_timeout(sr_time)
    compound = [r for r in iter(sender.poll_rtcp, None)]
    parts = parse_rtcp(compound[-1])
    assert isinstance(parts[0], RtcpSenderReport) and parts[0].ssrc == 0x1111
    # One-way delay 50 ms both ways, 30 ms held at the receiver: RTT 100 ms.
    receiver.handle_rtcp(sr_time + 0.05, compound[-1])
    receiver.handle_timeout(receiver.poll_timeout() or 0.0)
    t = sr_time + 0.08
    while (deadline := receiver.poll_timeout()) is not None and deadline < t:
        receiver.handle_timeout(deadline)
    list(iter(receiver.poll_rtcp, None))
    receiver._next_report = t
    receiver.handle_timeout(t)
    [rr] = list(iter(receiver.poll_rtcp, None))
    assert isinstance(parse_rtcp(rr)[0], RtcpReceiverReport)
    sender.handle_rtcp(t + 0.05, rr)
    info = sender.remote_reports[0x1111]
    assert info.round_trip_time is not None
    assert abs(info.round_trip_time - 0.1) < 0.001
    assert info.round_trip_time_measurements == 1


def _send_frames(session: RtpSession, now: float) -> list[bytes]:
    session.send_frame(now, 0x1111, vp8_frame(0, 400, True), 0, True)
    return drain_rtp(session, now)


def test_pacer_spreads_a_burst_and_lets_audio_and_repairs_go_first() -> None:
    from rtcpeer.rtp.pacer import AUDIO, REPAIR, VIDEO, Pacer

    pacer = Pacer(target_bitrate=400_000)  # paced at 1 Mbit/s = 125 kB/s
    for i in range(50):
        pacer.push(0.0, bytes([VIDEO, i]) + bytes(1198), VIDEO)
    now = 0.0
    times = []
    sent = []
    injected = False
    while len(pacer):
        packet = pacer.pop(now)
        if packet is None:
            deadline = pacer.poll_timeout()
            assert deadline is not None and deadline > now
            now = deadline
            continue
        times.append(now)
        sent.append(packet[0])
        if len(sent) == 10 and not injected:
            injected = True
            pacer.push(now, bytes([REPAIR]) + bytes(1199), REPAIR)
            pacer.push(now, bytes([AUDIO]) + bytes(99), AUDIO)
    # 60 kB at 125 kB/s: about half a second, not all at once.
    assert 0.4 < times[-1] < 0.6
    assert sent[10:12] == [AUDIO, REPAIR]
    # A long queue is drained within max_delay whatever the target.
    slow = Pacer(target_bitrate=10_000, max_delay=0.5)
    for _ in range(100):
        slow.push(0.0, bytes(1200), VIDEO)
    now = 0.0
    while len(slow):
        if slow.pop(now) is None:
            now = slow.poll_timeout() or now
    assert now < 0.6


def test_transport_wide_sequence_is_stamped_as_packets_leave() -> None:
    sender = RtpSession(rng=random.Random(6), cname="tx")
    sender.set_transport_cc_extension(3)
    sender.add_send_stream(_send_stream())
    sender.send_frame(0.0, 0x1111, vp8_frame(0, 3000, True), 0, True)
    packets = drain_rtp(sender, 0.0)
    numbers = [int.from_bytes(RtpHeader.parse(p).extensions[3]) for p in packets]
    assert numbers == [1, 2, 3]
    assert RtpHeader.parse(packets[0]).extensions[4] == b"1"  # MID still there
    # The estimator knows each one's departure.
    assert sorted(sender.bwe._sent) == [1, 2, 3]


def test_padding_only_packets_are_stepped_over() -> None:
    """libwebrtc probes with padding-only packets on the media SSRC: between frames
    they are gaps to skip, not missing media."""
    frames = [(vp8_frame(i, 300, i == 0), i == 0) for i in range(4)]
    packets = packets_of(frames, seq0=100)
    assembler = FrameAssembler(Vp8Depayloader())
    seq = 100
    for i, (_, ts, marker, payload) in enumerate(packets):
        assembler.push(0.0, seq, ts, marker, payload)
        seq += 1
        if i == 0:
            assembler.push_padding(0.0, seq)  # a probe right after the first frame
            seq += 1
    got = list(iter(assembler.poll, None))
    assert len(got) == 4 and assembler.poll_timeout() is None


def test_jitter_survives_the_timestamp_wrap() -> None:
    session = _receiver()
    stream = _send_stream()
    stream.timestamp_offset = 0xFFFFFFFF - 3000 * 5
    for i in range(20):
        for p in stream.send_frame(i / 30, vp8_frame(i, 100, i == 0), i * 3000, i == 0):
            session.handle_rtp(i / 30, p)
    assert session.streams[0x1111].jitter < 10  # steady 30 fps: no jitter, wrap or not


def test_a_restarted_sequence_resets_reassembly() -> None:
    session = _receiver()
    first = _send_stream()
    for i in range(5):
        for p in first.send_frame(i / 30, vp8_frame(i, 100, i == 0), i * 3000, i == 0):
            session.handle_rtp(i / 30, p)
    restarted = _send_stream()
    restarted._seq = (first._seq + 30000) & 0xFFFF  # far "behind" the old numbers
    for i in range(5, 10):
        key = i in (5, 6)
        for p in restarted.send_frame(i / 30, vp8_frame(i, 100, key), i * 3000, key):
            session.handle_rtp(i / 30, p)
    frames = [e for e in iter(session.poll_event, None) if isinstance(e, FrameReceived)]
    # All but the packet that announced the restart (RFC 3550 A.1 waits for two).
    assert len(frames) == 9


def test_bye_forgets_a_stream_and_other_payload_types_switch_codecs() -> None:
    session = _receiver()
    session.payload_formats[102] = "H264"
    session.payload_formats[110] = "telephone-event"
    stream = _send_stream()
    for p in stream.send_frame(0.0, vp8_frame(0, 100, True), 0, True):
        session.handle_rtp(0.0, p)
    dtmf = RtpHeader(110, (stream._seq) & 0xFFFF, 10, 0x1111, True).serialize(b"\x05\x0a\x00\xa0")
    stream._seq += 1
    session.handle_rtp(0.01, dtmf)
    assert session.streams[0x1111].payload_type == 96  # DTMF leaves the codec alone
    h264 = RtpHeader(102, stream._seq & 0xFFFF, 3000, 0x1111, True).serialize(b"\x65" + bytes(50))
    session.handle_rtp(0.02, h264)
    assert session.streams[0x1111].payload_type == 102
    events = [e for e in iter(session.poll_event, None) if isinstance(e, FrameReceived)]
    assert [e.payload_type for e in events] == [96, 102]
    bye = bytes([0x81, 203, 0, 1]) + (0x1111).to_bytes(4)
    session.handle_rtcp(0.1, bye)
    assert 0x1111 not in session.streams


def test_send_stream_continues_a_stopped_one() -> None:
    first = _send_stream()
    sent = first.send_frame(0.0, vp8_frame(0, 100, True), 0, True)
    again = _send_stream()
    again.continue_from(first)
    more = again.send_frame(1.0, vp8_frame(1, 100, False), 90000, False)
    a, b = RtpHeader.parse(sent[-1]), RtpHeader.parse(more[0])
    assert b.sequence_number == (a.sequence_number + 1) & 0xFFFF
    assert (b.timestamp - a.timestamp) & 0xFFFFFFFF == 90000
    assert again.packets_sent == len(sent) + len(more)


def test_packets_received_counts_duplicates_repairs_and_rtx_padding() -> None:
    """W3C packetsReceived is RFC 3550 §6.4.1's count (duplicates included) plus what
    the RTX stream carried, repairs and padding probes, as the sender counts them in
    packetsSent; the RR's loss figures still count each sequence number once."""
    sender = RtpSession(rng=random.Random(6), cname="tx")
    stream = _send_stream(rtx_ssrc=0x2222, rtx_payload_type=97)
    sender.add_send_stream(stream)
    receiver = _receiver()
    sender.send_frame(0.0, 0x1111, vp8_frame(0, 300, True), 0, True)
    sender.send_frame(0.033, 0x1111, vp8_frame(1, 300, False), 3000, False)
    first, second = drain_rtp(sender, 0.1)
    receiver.handle_rtp(0.1, first)
    receiver.handle_rtp(0.1, first)  # a network duplicate
    [repair] = stream.retransmit(0.1, [RtpHeader.parse(second).sequence_number])
    receiver.handle_rtp(0.12, second)
    receiver.handle_rtp(0.13, repair)  # a repair of what was only late
    header = RtpHeader.parse(repair)
    probe = bytearray(repair[: header.payload_offset])
    probe[0] |= 0x20  # P bit: padding only (RFC 3550 §5.1)
    probe += bytes(255) + b"\xff"
    receiver.handle_rtp(0.14, bytes(probe))
    rx = receiver.streams[0x1111]
    assert rx.packets_received_total == 5
    assert rx.retransmitted_packets_received == 1
    assert rx.packets_received == 2 and rx.packets_lost == 0
