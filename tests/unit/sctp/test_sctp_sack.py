"""SACK generation and processing, retransmission, congestion and flow control."""

from __future__ import annotations

import random

import pytest
from sctp_sim import Pair, chunks_of, drain_events, drain_tx, packet_to

from rtcpeer.sctp.events import MessageReceived
from rtcpeer.sctp.packet import DataChunk, ForwardTsnChunk, SackChunk
from rtcpeer.testing import Netem

M32 = 0xFFFFFFFF


def established(**kwargs: object) -> Pair:
    pair = Pair(**kwargs)  # type: ignore[arg-type]
    pair.connect()
    return pair


def sacks(packets: list[bytes]) -> list[SackChunk]:
    return [c for p in packets for c in chunks_of(p) if isinstance(c, SackChunk)]


def data_packets(a_out: list[bytes]) -> list[list[DataChunk]]:
    return [[c for c in chunks_of(p) if isinstance(c, DataChunk)] for p in a_out]


def test_sack_every_second_packet() -> None:
    pair = established()
    a, b = pair.a, pair.b
    a.send(pair.now, 1, 51, bytes(5000))  # 5 full packets
    pkts = drain_tx(a)
    assert len(pkts) == 4  # initial cwnd 4380 lets 4 packets out (cwnd + MTU - 1 rule)
    acks = []
    for p in pkts:
        b.handle_receive(pair.now, p)
        acks.append(sacks(drain_tx(b)))
    assert [len(x) for x in acks] == [0, 1, 0, 1]
    start = (b._rcv_cum - 3) & M32
    assert [x[0].cumulative_tsn_ack for x in acks if x] == [(start + 1) & M32, (start + 3) & M32]


def test_delayed_sack_timer() -> None:
    pair = established()
    a, b = pair.a, pair.b
    a.send(pair.now, 1, 51, b"lonely")
    (pkt,) = drain_tx(a)
    t0 = pair.now
    b.handle_receive(t0, pkt)
    assert drain_tx(b) == []
    # min(delayed_ack 200 ms, RTO/2); B's RTO is still RTO.Initial (1 s).
    assert b.poll_timeout() == pytest.approx(t0 + 0.2)
    b.handle_timeout(t0 + 0.2)
    (sack,) = sacks(drain_tx(b))
    assert sack.gap_blocks == [] and sack.duplicate_tsns == []


def test_delayed_sack_shortened_by_small_rto() -> None:
    pair = established(rto_initial=0.3, rto_min=0.1)
    b = pair.b
    pair.a.send(pair.now, 1, 51, b"x")
    b.handle_receive(pair.now, drain_tx(pair.a)[0])
    assert b.poll_timeout() == pytest.approx(pair.now + 0.15)


def test_gap_and_duplicate_sacked_at_once() -> None:
    pair = established()
    a, b = pair.a, pair.b
    for i in range(4):
        a.send(pair.now, 1, 51, bytes([i]) * 1100)
    pkts = drain_tx(a)
    assert len(pkts) == 4
    tsns = [data_packets([p])[0][0].tsn for p in pkts]
    b.handle_receive(pair.now, pkts[0])
    assert drain_tx(b) == []  # first packet: delayed
    b.handle_receive(pair.now, pkts[2])  # pkts[1] missing: gap → immediate SACK
    (s,) = sacks(drain_tx(b))
    assert s.cumulative_tsn_ack == tsns[0] and s.gap_blocks == [(2, 2)]
    b.handle_receive(pair.now, pkts[2])  # duplicate → immediate SACK reporting it
    (s,) = sacks(drain_tx(b))
    assert s.duplicate_tsns == [tsns[2]] and s.gap_blocks == [(2, 2)]
    b.handle_receive(pair.now, pkts[1])  # fills the gap → immediate SACK
    (s,) = sacks(drain_tx(b))
    assert s.cumulative_tsn_ack == tsns[2] and s.gap_blocks == [] and s.duplicate_tsns == []
    assert b.stats.duplicate_tsns == 1


def test_fast_retransmit_on_single_loss() -> None:
    link = {"latency": 0.02}
    pair = Pair(ab=Netem(seed=1, **link), ba=Netem(seed=2, **link))
    pair.connect()
    dropped: list[int] = []

    def tap(p: bytes) -> bytes | None:
        d = [c for c in chunks_of(p) if isinstance(c, DataChunk)]
        if d and not dropped and d[0].stream_id == 1 and d[0].ssn == 3:
            dropped.append(d[0].tsn)
            return None
        return p

    pair.tap_ab = tap
    blobs = [random.Random(i).randbytes(3000) for i in range(30)]
    for blob in blobs:
        pair.a.send(pair.now, 1, 51, blob)
    assert pair.run_until(lambda: len(pair.received_b) == 30, 10)
    assert [m.data for m in pair.received_b] == blobs
    st = pair.a.stats
    assert (st.fast_retransmits, st.fast_recoveries, st.t3_expirations) == (1, 1, 0)
    assert st.retransmitted_chunks == 1


def test_t3_timeout_collapses_cwnd() -> None:
    pair = established()
    a = pair.a
    mtu = 1200
    initial = min(4 * mtu, max(2 * mtu, 4380))
    assert a.cwnd == initial
    pair.tap_ab = lambda p: None
    a.send(pair.now, 1, 51, bytes(10_000))
    pair.drain()
    assert a.flight_size > 0
    t = a.poll_timeout()
    assert t is not None
    pair.step(t + 1e-9)
    assert a.stats.t3_expirations == 1
    assert a.cwnd == mtu  # §7.2.3
    assert a.ssthresh == max(initial // 2, 4 * mtu)
    assert a.rto == 2.0  # backed off from RTO.Initial


def test_slow_start_grows_cwnd_and_rtt_measured() -> None:
    link = {"latency": 0.025}
    pair = Pair(ab=Netem(seed=1, **link), ba=Netem(seed=2, **link))
    pair.connect()
    pair.a.send(pair.now, 0, 51, bytes(200_000))
    assert pair.run_until(lambda: bool(pair.received_b), 10)
    assert pair.a.cwnd > 20_000
    assert pair.a.srtt == pytest.approx(0.05, abs=0.005)
    assert pair.a.rto == pytest.approx(0.2)  # RTO.Min


def test_zero_window_probe() -> None:
    pair = established()
    a = pair.a
    tag_ok = a.local_tag
    cum = (a._next_tsn - 1) & M32
    a.handle_receive(pair.now, packet_to(a, SackChunk(cum, 0)))
    assert a.peer_rwnd == 0
    a.send(pair.now, 1, 51, bytes(20_000))
    pkts = drain_tx(a)
    # Only one DATA chunk may be in flight against a closed window (§6.1 A).
    assert [len(d) for d in data_packets(pkts)] == [1]
    probe = data_packets(pkts)[0][0]
    assert drain_tx(a) == []
    t = a.poll_timeout()
    assert t is not None
    a.handle_timeout(t)
    (again,) = data_packets(drain_tx(a))
    assert again[0].tsn == probe.tsn  # T3 retransmits the probe
    # The window opens: everything flows.
    a.handle_receive(t, packet_to(a, SackChunk(probe.tsn, 1 << 20), vtag=tag_ok))
    assert sum(len(d) for d in data_packets(drain_tx(a))) >= 3


def test_sender_respects_small_receive_window_under_loss() -> None:
    link = {"latency": 0.01, "loss": 0.05}
    pair = Pair(
        seed=2,
        ab=Netem(seed=5, **link),
        ba=Netem(seed=6, **link),
        b_kwargs={"max_receive_buffer": 16 * 1024, "max_message_size": 8 * 1024},
        a_kwargs={"max_message_size": 8 * 1024},
    )
    advertised: list[int] = []

    def tap(p: bytes) -> bytes:
        advertised.extend(s.a_rwnd for s in sacks([p]))
        return p

    pair.tap_ba = tap
    pair.connect()
    blobs = [random.Random(i).randbytes(8 * 1024) for i in range(100)]
    for blob in blobs:
        pair.a.send(pair.now, 0, 51, blob)
    assert pair.run_until(lambda: len(pair.received_b) == 100, 120)
    assert [m.data for m in pair.received_b] == blobs
    assert max(advertised) <= 16 * 1024
    assert min(advertised) < 8 * 1024  # the window did close under loss
    # The sender stayed within the window: at most one chunk beyond it was ever dropped.
    assert pair.b.stats.dropped_no_buffer <= 5


def test_old_sack_ignored_and_bogus_gap_blocks_ignored() -> None:
    pair = established()
    a = pair.a
    a.send(pair.now, 1, 51, bytes(3000))
    pkts = drain_tx(a)
    tsns = [d.tsn for p in data_packets(pkts) for d in p]
    a.handle_receive(pair.now, packet_to(a, SackChunk(tsns[0], 100_000)))
    flight = a.flight_size
    a.handle_receive(pair.now, packet_to(a, SackChunk((tsns[0] - 1) & M32, 5)))  # older
    assert a.flight_size == flight and a.peer_rwnd > 5
    # Gap blocks beyond what was sent, or reversed, are ignored.
    a.handle_receive(pair.now, packet_to(a, SackChunk(tsns[0], 100_000, [(5, 3), (2, 900)])))
    assert a.flight_size == flight


def test_forward_tsn_on_receiver_skips_and_sacks() -> None:
    pair = established()
    b = pair.b
    base = (b._rcv_cum + 1) & M32
    # TSN base lost; base+1 (SSN 1 on stream 2) arrives and is held for order.
    b.handle_receive(pair.now, packet_to(b, DataChunk((base + 1) & M32, 2, 1, 51, b"second")))
    assert drain_events(b) == []
    (s,) = sacks(drain_tx(b))
    assert s.gap_blocks == [(2, 2)]
    b.handle_receive(pair.now, packet_to(b, ForwardTsnChunk(base, [(2, 0)])))
    assert drain_events(b) == [MessageReceived(2, 51, b"second")]
    (s,) = sacks(drain_tx(b))
    assert s.cumulative_tsn_ack == (base + 1) & M32 and s.gap_blocks == []
    assert b.stats.forward_tsn_received == 1
