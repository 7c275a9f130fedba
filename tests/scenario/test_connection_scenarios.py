"""ICE + DTLS + SCTP + data channels, two Connections in simulated time."""

from __future__ import annotations

import hashlib
import random

import pytest

from rtcpeer.dtls.transport import DtlsStateChangeEvent
from rtcpeer.sctp.datachannel import (
    ChannelAnnounced,
    ChannelClosed,
    ChannelMessage,
    ChannelOpened,
)
from rtcpeer.testing import GilbertElliott, Simulator
from tests.scenario.connections import Node, connect_pair


def channel_messages(node: Node, label: str) -> list[str | bytes]:
    return [e.data for e in node.of(ChannelMessage) if e.channel.label == label]  # type: ignore[attr-defined]


def test_handshake_and_chat() -> None:
    sim = Simulator(seed=1)
    a, b = connect_pair(sim, {"latency": 0.02})
    chat = a.conn.channels.create(sim.now, "chat", ordered=True, max_retransmits=10)
    assert chat.state == "connecting"
    assert sim.run_until(lambda: chat.state == "open", timeout=10.0)
    assert [e.state for e in a.of(DtlsStateChangeEvent)] == ["connecting", "connected"]  # type: ignore[attr-defined]
    assert sim.run_until(lambda: bool(b.of(ChannelAnnounced)), timeout=5.0)
    (announced,) = b.of(ChannelAnnounced)
    remote = announced.channel  # type: ignore[attr-defined]
    assert (remote.label, remote.ordered, remote.max_retransmits) == ("chat", True, 10)
    assert remote.id == chat.id and chat.id is not None and chat.id % 2 == 1  # DTLS server: odd
    a.conn.channels.send(sim.now, chat, "Hello Bob!")
    a.conn.channels.send(sim.now, chat, b"\x00binary")
    a.conn.channels.send(sim.now, chat, "")
    a.conn.channels.send(sim.now, chat, b"")
    a.conn.pump(sim.now)
    assert sim.run_until(lambda: len(channel_messages(b, "chat")) == 4, timeout=5.0)
    assert channel_messages(b, "chat") == ["Hello Bob!", b"\x00binary", "", b""]
    b.conn.channels.send(sim.now, remote, "Hello Alice!")
    b.conn.pump(sim.now)
    assert sim.run_until(lambda: channel_messages(a, "chat") == ["Hello Alice!"], timeout=5.0)


def transfer(sim: Simulator, a: Node, b: Node, total: int, size: int, **options: object) -> bytes:
    """Send ``total`` bytes in ``size`` messages with bufferedAmount flow control;
    return what b received, concatenated."""
    b.bulk_labels.add("bulk")
    channel = a.conn.channels.create(sim.now, "bulk", **options)  # type: ignore[arg-type]
    assert sim.run_until(lambda: channel.state == "open", timeout=20.0)
    payload = hashlib.sha256(b"seed").digest() * (total // 32 + 1)
    payload = payload[:total]
    offset = 0
    high = 1 << 20

    def feed() -> None:
        nonlocal offset
        while offset < total and a.conn.channels.buffered_amount(channel) < high:
            a.conn.channels.send(sim.now, channel, payload[offset : offset + size])
            offset += size
        a.conn.pump(sim.now)
        a.drain(sim.now)

    received = lambda: b.received_bytes.get("bulk", 0)  # noqa: E731
    while received() < total:
        feed()
        assert sim.run_until(
            lambda: (
                received() >= total
                or (offset < total and a.conn.channels.buffered_amount(channel) < high // 2)
            ),
            timeout=120.0,
        ), f"stalled at {received()} of {total} bytes"
    return b"".join(b.bulk["bulk"]), payload


def test_ten_megabytes_byte_exact_under_5_percent_loss() -> None:
    sim = Simulator(seed=2)
    a, b = connect_pair(sim, {"latency": 0.01, "loss": 0.05})
    got, sent = transfer(sim, a, b, 10_000_000, 65536)  # type: ignore[misc]
    assert got == sent


@pytest.mark.parametrize(
    "link",
    [
        {"latency": 0.02, "burst": GilbertElliott(p=0.02, r=0.3)},
        {"latency": 0.02, "jitter": 0.01, "reorder": 0.05},
        {"latency": 0.01, "duplicate": 0.05},
    ],
    ids=["burst-loss", "reordering", "duplication"],
)
def test_reliable_transfer_under_impairments(link: dict[str, object]) -> None:
    sim = Simulator(seed=3)
    a, b = connect_pair(sim, link)  # type: ignore[arg-type]
    got, sent = transfer(sim, a, b, 2_000_000, 16384)  # type: ignore[misc]
    assert got == sent


def test_unordered_no_retransmits_delivers_what_arrives_without_stalling() -> None:
    sim = Simulator(seed=4)
    a, b = connect_pair(sim, {"latency": 0.01})
    channel = a.conn.channels.create(sim.now, "lossy", ordered=False, max_retransmits=0)
    assert sim.run_until(
        lambda: channel.state == "open" and bool(b.of(ChannelOpened)), timeout=10.0
    )
    for host in sim.hosts:
        host.uplink.loss = 0.2
    for i in range(500):
        a.conn.channels.send(sim.now, channel, i.to_bytes(4, "big") * 100)
        a.conn.pump(sim.now)
        a.drain(sim.now)
        sim.run(0.002)
    sim.run(2.0)
    got = channel_messages(b, "lossy")
    assert 250 < len(got) < 500  # lost ones are not retransmitted...
    numbers = [int.from_bytes(m[:4], "big") for m in got if isinstance(m, bytes)]
    assert numbers[-1] >= 480  # ...and later ones are not held back by them


def test_sixty_four_channels_and_id_reuse_after_close() -> None:
    sim = Simulator(seed=5)
    a, b = connect_pair(sim, {"latency": 0.005})
    channels = [a.conn.channels.create(sim.now, f"c{i}") for i in range(64)]
    assert sim.run_until(lambda: all(c.state == "open" for c in channels), timeout=10.0)
    assert len({c.id for c in channels}) == 64
    for c in channels:
        a.conn.channels.send(sim.now, c, c.label)
    a.conn.pump(sim.now)
    assert sim.run_until(lambda: len(b.of(ChannelMessage)) == 64, timeout=10.0)
    assert sorted(e.data for e in b.of(ChannelMessage)) == sorted(f"c{i}" for i in range(64))  # type: ignore[attr-defined]
    first = channels[0]
    first_id = first.id
    a.conn.channels.close(sim.now, first)
    a.conn.pump(sim.now)
    assert first.state == "closing"
    assert sim.run_until(lambda: first.state == "closed", timeout=10.0)
    remote_first = next(e.channel for e in b.of(ChannelAnnounced) if e.channel.label == "c0")  # type: ignore[attr-defined]
    assert sim.run_until(lambda: remote_first.state == "closed", timeout=10.0)
    assert any(e.channel is remote_first for e in b.of(ChannelClosed))  # type: ignore[attr-defined]
    again = a.conn.channels.create(sim.now, "again")
    assert again.id == first_id  # the lowest free id of our parity is reused


def test_graceful_close_delivers_everything_queued() -> None:
    sim = Simulator(seed=6)
    a, b = connect_pair(sim, {"latency": 0.02, "loss": 0.02})
    channel = a.conn.channels.create(sim.now, "c")
    assert sim.run_until(lambda: channel.state == "open", timeout=10.0)
    for i in range(200):
        a.conn.channels.send(sim.now, channel, i.to_bytes(2, "big") * 500)
    a.conn.channels.close(sim.now, channel)  # close right after queueing
    a.conn.pump(sim.now)
    assert sim.run_until(lambda: channel.state == "closed", timeout=60.0)
    got = channel_messages(b, "c")
    assert [int.from_bytes(m[:2], "big") for m in got if isinstance(m, bytes)] == list(range(200))


def test_send_before_open_and_oversize_raise_w3c_errors() -> None:
    from rtcpeer.errors import InvalidStateError

    sim = Simulator(seed=7)
    a, _b = connect_pair(sim)
    channel = a.conn.channels.create(sim.now, "c")
    with pytest.raises(InvalidStateError):
        a.conn.channels.send(sim.now, channel, "too early")
    assert sim.run_until(lambda: channel.state == "open", timeout=10.0)
    with pytest.raises(TypeError, match="max-message-size"):
        a.conn.channels.send(sim.now, channel, bytes(262145))
    with pytest.raises(TypeError):
        a.conn.channels.create(sim.now, "x", max_retransmits=1, max_packet_lifetime=1)
    with pytest.raises(TypeError):
        a.conn.channels.create(sim.now, "x", negotiated=True)


def test_close_is_seen_by_the_remote_promptly() -> None:
    sim = Simulator(seed=8)
    a, b = connect_pair(sim, {"latency": 0.02})
    channel = a.conn.channels.create(sim.now, "c")
    assert sim.run_until(
        lambda: channel.state == "open" and bool(b.of(ChannelOpened)), timeout=10.0
    )
    closed_at = sim.now
    a.conn.close(sim.now)
    host_a = next(h for h in sim.hosts if h.name == "a")
    while (d := a.conn.poll_final_transmit()) is not None:
        host_a.uplink.send(sim.now, d)
    assert sim.run_until(lambda: b.conn.ice.state == "failed", timeout=5.0)
    assert sim.now - closed_at < 1.0
    remote = b.of(ChannelOpened)[0].channel  # type: ignore[attr-defined]
    assert remote.state == "closed"
    ice_states = [e.state for e in b.events if type(e).__name__ == "IceStateEvent"]  # type: ignore[attr-defined]
    assert ice_states[-2:] == ["disconnected", "failed"]


def test_remote_max_message_size_is_what_send_allows() -> None:
    """a accepts 256 KiB, b accepts 1 MiB: a may send b 1 MiB messages but b may send
    a no more than 256 KiB (W3C send() step: TypeError above the remote's limit)."""
    from rtcpeer.sctp.datachannel import ChannelBufferedAmountLow

    sim = Simulator(seed=9)
    a, b = connect_pair(sim, max_message_sizes=(262144, 1 << 20))
    b.bulk_labels.add("big")
    channel = a.conn.channels.create(sim.now, "big")
    assert sim.run_until(lambda: channel.state == "open", timeout=10.0)
    assert a.conn.channels.remote_max_message_size == 1 << 20
    big = hashlib.sha256(b"big").digest() * (1 << 15)  # exactly 1 MiB
    a.conn.channels.send(sim.now, channel, big)
    with pytest.raises(TypeError, match="max-message-size"):
        a.conn.channels.send(sim.now, channel, big + b"!")
    a.conn.pump(sim.now)
    assert sim.run_until(lambda: b.received_bytes.get("big", 0) == len(big), timeout=20.0)
    assert b.bulk["big"] == [big]
    (announced,) = b.of(ChannelAnnounced)
    remote = announced.channel  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="262144"):
        b.conn.channels.send(sim.now, remote, bytes(262145))
    # No bufferedamountlow for the DCEP handshake nor for the big message with the
    # default threshold 0... except the one real drain of the 1 MiB message.
    lows = [e for e in a.of(ChannelBufferedAmountLow)]
    assert len(lows) == 1
    assert not b.of(ChannelBufferedAmountLow)


def test_remote_without_limit_gets_the_send_buffer_size() -> None:
    sim = Simulator(seed=10)
    a, _b = connect_pair(sim, max_message_sizes=(262144, 0))
    channel = a.conn.channels.create(sim.now, "c")
    assert sim.run_until(lambda: channel.state == "open", timeout=10.0)
    assert a.conn.sctp is not None
    assert a.conn.channels.remote_max_message_size == a.conn.sctp.max_send_buffer


def test_buffered_amount_counts_user_bytes_only() -> None:
    """W3C bufferedAmount: the DCEP OPEN is not the user's, an empty message adds 0,
    and no bufferedamountlow fires when only control bytes drained."""
    from rtcpeer.sctp.datachannel import ChannelBufferedAmountLow

    sim = Simulator(seed=11)
    a, b = connect_pair(sim, {"latency": 0.05})
    channel = a.conn.channels.create(sim.now, "c")
    assert sim.run_until(lambda: channel.state == "open", timeout=10.0)
    assert a.conn.channels.buffered_amount(channel) == 0  # the OPEN is queued, not counted
    a.conn.channels.send(sim.now, channel, "")
    a.conn.channels.send(sim.now, channel, b"")
    assert a.conn.channels.buffered_amount(channel) == 0
    a.conn.channels.send(sim.now, channel, "hello")
    assert a.conn.channels.buffered_amount(channel) == 5
    a.conn.pump(sim.now)
    a.drain(sim.now)
    assert sim.run_until(lambda: len(channel_messages(b, "c")) == 3, timeout=5.0)
    assert channel_messages(b, "c") == ["", b"", "hello"]
    assert a.conn.channels.buffered_amount(channel) == 0
    # One low event: "hello" drained (5 -> 0); the OPEN and the empty bodies fire none.
    assert len(a.of(ChannelBufferedAmountLow)) == 1
    assert not b.of(ChannelBufferedAmountLow)  # b only sent the ACK


def test_id_is_ignored_unless_negotiated() -> None:
    sim = Simulator(seed=12)
    a, _b = connect_pair(sim)
    channel = a.conn.channels.create(sim.now, "c", id=100)
    assert sim.run_until(lambda: channel.state == "open", timeout=10.0)
    assert channel.id == 1  # the DTLS server's first odd id, not 100


def test_srtp_media_is_received_counted_and_reported_under_loss() -> None:
    """RTP protected with b's DTLS-SRTP keys crosses a lossy link: a unprotects it,
    counts it per SSRC (loss included), and sends receiver reports that b can read."""
    from rtcpeer.rtp.packet import RtcpReceiverReport, RtpHeader, parse_rtcp
    from rtcpeer.rtp.session import RtpStreamStarted

    sim = Simulator(seed=13)
    a, b = connect_pair(sim, {"latency": 0.02, "loss": 0.1}, with_sctp=False)
    assert sim.run_until(lambda: a.conn.srtp is not None and b.conn.srtp is not None, timeout=10.0)
    a.conn.rtp.clock_rates[96] = 90000
    sender = b.conn.srtp
    assert sender is not None
    for i in range(300):
        rtp = RtpHeader(96, (65000 + i) & 0xFFFF, i * 3000, 0xCAFE).serialize(bytes(200))
        sim.call_at(
            sim.now + i * 0.01,
            lambda p=rtp: (b.conn.ice.send(sender.protect_rtp(p)), b.conn.pump(sim.now)),
        )
    received_rtcp: list[bytes] = []
    original = b.conn.rtp.handle_rtcp

    def spy(now: float, packet: bytes) -> object:
        received_rtcp.append(packet)
        return original(now, packet)

    b.conn.rtp.handle_rtcp = spy  # type: ignore[method-assign]
    sim.run(5.0)
    stream = a.conn.rtp.streams[0xCAFE]
    assert 230 < stream.packets_received < 300  # ~10 % lost
    assert stream.packets_lost == 300 - stream.packets_received
    assert stream.extended_highest == 65000 + 299  # across the 16-bit wrap
    assert any(isinstance(e, RtpStreamStarted) and e.ssrc == 0xCAFE for e in a.events)
    reports = [
        p for raw in received_rtcp for p in parse_rtcp(raw) if isinstance(p, RtcpReceiverReport)
    ]
    assert reports and reports[-1].reports[0].ssrc == 0xCAFE
    assert a.conn.srtp_dropped == 0


def _video_pair(seed: int, link: dict[str, float]) -> tuple[Node, Node, Simulator]:
    from rtcpeer.media.payload import Vp8Payloader
    from rtcpeer.rtp.sender import RtpSendStream

    sim = Simulator(seed=seed)
    a, b = connect_pair(sim, link, with_sctp=False, seed=seed)
    assert sim.run_until(lambda: a.conn.media_ready and b.conn.media_ready, timeout=10.0)
    rx = a.conn.rtp
    rx.payload_formats[96] = "VP8"
    rx.clock_rates[96] = 90000
    rx.nack_payload_types.add(96)
    rx.rtx_payload_types[97] = 96
    rx.rtx_ssrcs[0xBEEF] = 0xCAFE
    b.conn.add_send_stream(
        RtpSendStream(
            ssrc=0xCAFE,
            payload_type=96,
            clock_rate=90000,
            payloader=Vp8Payloader(),
            rng=random.Random(seed),
            rtx_ssrc=0xBEEF,
            rtx_payload_type=97,
        )
    )
    return a, b, sim


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_video_frames_survive_loss_reordering_and_duplication_through_nack_and_rtx(
    seed: int,
) -> None:
    """30 fps of VP8-framed data (a key frame every 2 s, frames up to 8 packets) over
    5 % loss with reordering and duplication: every frame arrives byte-exact and in
    order, repaired by NACK + RTX; the sender learns the RTT from reports."""
    from rtcpeer.rtp.session import FrameReceived

    a, b, sim = _video_pair(
        seed, {"latency": 0.03, "jitter": 0.005, "loss": 0.05, "duplicate": 0.01, "reorder": 0.02}
    )
    rng = random.Random(seed)
    frames = []
    for i in range(300):
        key = i % 60 == 0
        frame = bytes([0x10 if key else 0x11]) + rng.randbytes(rng.randint(200, 8000))
        frames.append(frame)
        sim.call_at(
            sim.now + i / 30,
            lambda f=frame, k=key, i=i: (
                b.conn.send_frame(sim.now, 0xCAFE, f, i * 3000, k),
                b.drain(sim.now),
            ),
        )
    sim.run(12.0)
    got = [e.frame.data for e in a.events if isinstance(e, FrameReceived)]
    assert got == frames
    sent = b.conn.rtp.send_streams[0xCAFE]
    assert sent.retransmitted_packets_sent > 0
    stream = a.conn.rtp.streams[0xCAFE]
    assert stream.nack_count > 0 and stream.retransmitted_packets_received > 0
    info = b.conn.rtp.remote_reports[0xCAFE]
    assert info.round_trip_time is not None and 0.05 < info.round_trip_time < 0.2


def test_unrepairable_loss_freezes_video_until_the_pli_brings_a_key_frame() -> None:
    """Retransmission cannot help (the sender keeps no history): a lost packet
    breaks the stream, the receiver sends a PLI, the sender's KeyframeRequested
    makes the next frame a key frame, and decoding resumes from it."""
    from rtcpeer.rtp.session import FrameReceived, KeyframeRequested

    a, b, sim = _video_pair(7, {"latency": 0.02})
    sent = b.conn.rtp.send_streams[0xCAFE]
    sent._history_size = 0
    drop = {"at": 12}
    original = b.conn.ice.send

    def lossy_send(data: bytes) -> None:
        drop["at"] -= 1
        if drop["at"] != 0:  # the 12th media packet vanishes
            original(data)

    b.conn.ice.send = lossy_send  # type: ignore[method-assign]
    state = {"key": True}
    for i in range(120):

        def send(i: int = i) -> None:
            for event in b.events:
                if isinstance(event, KeyframeRequested):
                    state["key"] = True
            b.events.clear()
            key = state["key"]
            state["key"] = False
            frame = bytes([0x10 if key else 0x11]) + bytes(3000)
            b.conn.send_frame(sim.now, 0xCAFE, frame, i * 3000, key)
            b.drain(sim.now)

        sim.call_at(sim.now + i / 30, send)
    sim.run(5.0)
    got = [e.frame for e in a.events if isinstance(e, FrameReceived)]
    keys = [f.keyframe for f in got]
    assert keys[0] and keys.count(True) == 2  # the first, and the one the PLI asked for
    resumed = keys.index(True, 1)
    assert sent.pli_count >= 1
    # Frames between the loss and the key frame were not delivered; the rest were.
    assert 0 < 120 - len(got) < 30
    assert all(not k for k in keys[resumed + 1 :])


@pytest.mark.parametrize(("seed", "queue"), [(1, 30_000), (2, 30_000), (3, 64_000)])
def test_congestion_control_finds_a_600_kbps_bottleneck(seed: int, queue: int) -> None:
    """The sender starts at 1 Mbit/s into a 600 kbit/s link with a drop-tail queue
    (400 ms or 850 ms deep) and sizes its frames to the estimator's target, making a
    key frame when asked (as the encoder does): the target backs off and settles
    around the bottleneck, and nearly every frame arrives."""
    from rtcpeer.rtp.session import FrameReceived, KeyframeRequested, TargetBitrate

    a, b, sim = _video_pair(seed, {"latency": 0.02, "rate": 75_000, "queue_bytes": queue})
    for node in (a, b):
        node.conn.rtp.set_transport_cc_extension(3)
    rng = random.Random(seed)
    sent: list[int] = []
    seen = {"events": 0}

    def send(i: int) -> None:
        fresh = b.events[seen["events"] :]
        seen["events"] = len(b.events)
        key = i == 0 or any(isinstance(e, KeyframeRequested) for e in fresh)
        target = b.conn.rtp.bwe.target_bitrate
        frame = bytes([0x10 if key else 0x11]) + rng.randbytes(max(200, target // 8 // 30))
        b.conn.send_frame(sim.now, 0xCAFE, frame, i * 3000, key)
        b.drain(sim.now)
        sent.append(target)

    for i in range(30 * 40):
        sim.call_at(sim.now + i / 30, lambda i=i: send(i))
    sim.run(42.0)
    targets = [e.bitrate for e in b.events if isinstance(e, TargetBitrate)]
    assert targets and min(targets) < 600_000  # it backed off from 1 Mbit/s
    settled = sent[-300:]  # the last 10 s
    assert 400_000 < sum(settled) / len(settled) < 650_000
    assert max(settled) < 700_000
    got = [e for e in a.events if isinstance(e, FrameReceived)]
    assert len(got) > 0.93 * 30 * 40
    assert a.conn.rtp.twcc.feedback_sent > 100
    assert b.conn.rtp.bwe.feedback_received > 100
