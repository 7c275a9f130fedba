"""User data end to end through seeded lossy links: reliability, PR-SCTP, streams, reset."""

from __future__ import annotations

import random
import time

import pytest
from sctp_sim import Pair, chunks_of

from rtcpeer.errors import InvalidStateError
from rtcpeer.sctp.association import Association
from rtcpeer.sctp.events import (
    BufferedAmountLow,
    MessageReceived,
    StreamResetFailed,
    StreamsReset,
)
from rtcpeer.sctp.packet import (
    DataChunk,
    ForwardTsnChunk,
    Packet,
    ReconfigChunk,
    ReconfigResponse,
)
from rtcpeer.testing import GilbertElliott, Netem


def lossy_pair(seed: int, **link: object) -> Pair:
    return Pair(seed=seed, ab=Netem(seed=seed, **link), ba=Netem(seed=seed + 1, **link))  # type: ignore[arg-type]


def stream_transfer(pair: Pair, blob: bytes, msg_size: int, sid: int = 0) -> bytes:
    """Send ``blob`` in ``msg_size`` messages on ``sid``, refilling on BufferedAmountLow;
    return what arrived, concatenated."""
    got = bytearray()
    off = 0
    a = pair.a

    def feed() -> None:
        nonlocal off
        while off < len(blob) and a.buffered_amount(sid) < 256 * 1024:
            a.send(pair.now, sid, 53, blob[off : off + msg_size])
            off += msg_size

    def on_event(assoc: Association, ev: object) -> None:
        if assoc is pair.b and isinstance(ev, MessageReceived):
            assert ev.stream_id == sid and not ev.unordered
            got.extend(ev.data)
        elif assoc is a and isinstance(ev, BufferedAmountLow):
            feed()

    pair.keep_messages = False
    pair.on_event = on_event
    a.set_buffered_amount_low_threshold(sid, 128 * 1024)
    feed()
    assert pair.run_until(lambda: len(got) >= len(blob), 3600), f"stalled at {len(got)}"
    return bytes(got)


def test_10mb_reliable_ordered_under_5_percent_loss() -> None:
    pair = lossy_pair(7, latency=0.02, loss=0.05)
    pair.connect()
    blob = random.Random(1).randbytes(10_000_000)
    t0 = time.process_time()
    assert stream_transfer(pair, blob, 64 * 1024) == blob
    assert time.process_time() - t0 < 10  # typically ~0.3 s
    st = pair.a.stats
    assert st.fast_retransmits > 100 and st.retransmitted_chunks > 300
    assert pair.ab is not None and pair.ab.stats.dropped_loss > 300


def test_burst_loss() -> None:
    pair = lossy_pair(11, latency=0.02, burst=GilbertElliott(p=0.01, r=0.3))
    pair.connect()
    blob = random.Random(2).randbytes(10_000_000)
    assert stream_transfer(pair, blob, 16 * 1024) == blob
    assert pair.a.stats.t3_expirations > 0


def test_reordering() -> None:
    pair = lossy_pair(12, latency=0.02, jitter=0.01, reorder=0.1)
    pair.connect()
    blob = random.Random(3).randbytes(10_000_000)
    assert stream_transfer(pair, blob, 16 * 1024) == blob
    assert pair.ab is not None and pair.ab.stats.reordered > 50


def test_duplication() -> None:
    pair = lossy_pair(13, latency=0.02, duplicate=0.1)
    pair.connect()
    blob = random.Random(4).randbytes(10_000_000)
    assert stream_transfer(pair, blob, 16 * 1024) == blob
    assert pair.b.stats.duplicate_tsns > 50
    assert pair.a.stats.retransmitted_chunks == 0


def test_loss_reorder_duplication_small_messages() -> None:
    pair = lossy_pair(14, latency=0.01, loss=0.05, reorder=0.05, duplicate=0.05)
    pair.connect()
    blob = random.Random(5).randbytes(1_000_000)
    assert stream_transfer(pair, blob, 1000) == blob


def test_both_directions_under_loss() -> None:
    pair = lossy_pair(15, latency=0.02, loss=0.05)
    pair.connect()
    a_msgs = [random.Random(i).randbytes(5000) for i in range(200)]
    b_msgs = [random.Random(1000 + i).randbytes(3000) for i in range(200)]
    for x, y in zip(a_msgs, b_msgs, strict=True):
        pair.a.send(pair.now, 1, 51, x)
        pair.b.send(pair.now, 1, 51, y)
    assert pair.run_until(lambda: len(pair.received_a) == 200 and len(pair.received_b) == 200, 300)
    assert [m.data for m in pair.received_b] == a_msgs
    assert [m.data for m in pair.received_a] == b_msgs


# -- partial reliability (RFC 3758) -----------------------------------------------------------


def test_unordered_unreliable_delivers_what_arrived_without_stalling() -> None:
    pair = lossy_pair(21, latency=0.02, loss=0.1)
    pair.connect()
    msgs = [i.to_bytes(4, "big") * 50 for i in range(2000)]
    for m in msgs:
        pair.a.send(pair.now, 3, 51, m, ordered=False, max_retransmits=0)
    # A reliable message after them must still arrive: the receiver is not stuck.
    pair.a.send(pair.now, 3, 51, b"done", ordered=False)
    assert pair.run_until(lambda: any(m.data == b"done" for m in pair.received_b), 60)
    got = [m.data for m in pair.received_b if m.data != b"done"]
    assert all(m.unordered for m in pair.received_b if m.stream_id == 3)
    assert set(got) <= set(msgs) and len(set(got)) == len(got)
    assert 0.7 * len(msgs) < len(got) < len(msgs)  # ~10 % of packets lost, none resent
    st = pair.a.stats
    assert st.retransmitted_chunks == 0
    assert st.abandoned_messages > 0 and st.forward_tsn_sent > 0
    assert pair.b.stats.forward_tsn_received > 0
    pair.run_for(5)  # everything settles: nothing left outstanding
    assert pair.a.flight_size == 0 and pair.a.poll_timeout() == pytest.approx(pair.a._hb_deadline)


def test_ordered_unreliable_keeps_order_and_skips_lost() -> None:
    pair = lossy_pair(22, latency=0.02, loss=0.1)
    pair.connect()
    for i in range(1500):
        pair.a.send(pair.now, 2, 51, i.to_bytes(4, "big") * 100, max_retransmits=0)
    pair.a.send(pair.now, 2, 51, b"last, reliable")
    assert pair.run_until(lambda: any(m.data == b"last, reliable" for m in pair.received_b), 60)
    seq = [int.from_bytes(m.data[:4], "big") for m in pair.received_b[:-1]]
    assert seq == sorted(seq) and len(set(seq)) == len(seq)
    assert 1000 < len(seq) < 1500


def test_fragmented_unreliable_messages_abandoned_whole() -> None:
    pair = lossy_pair(23, latency=0.02, loss=0.05)
    pair.connect()
    msgs = [bytes([i]) * 10_000 for i in range(200)]  # 9 fragments each
    for m in msgs:
        pair.a.send(pair.now, 1, 51, m, max_retransmits=1)
    pair.a.send(pair.now, 1, 51, b"end")
    assert pair.run_until(lambda: any(m.data == b"end" for m in pair.received_b), 60)
    got = [m.data for m in pair.received_b[:-1]]
    assert all(g in msgs for g in got)  # never a partial or mixed message
    assert [g[0] for g in got] == sorted(g[0] for g in got)
    assert len(got) > 150
    assert pair.b._rq.buffered == 0


def test_max_lifetime_expires_queued_messages() -> None:
    pair = lossy_pair(24, latency=0.05, rate=200_000, queue_bytes=1 << 20)
    pair.connect()
    for i in range(300):
        pair.a.send(pair.now, 1, 51, bytes([i % 256]) * 1000, max_lifetime=0.3)
    pair.a.send(pair.now, 1, 51, b"end")
    assert pair.run_until(lambda: any(m.data == b"end" for m in pair.received_b), 60)
    got = [m.data[0] for m in pair.received_b[:-1]]
    # Slow start over a 100 ms round trip lets only a few dozen messages leave within
    # their 0.3 s; the rest expire in the queue without ever getting a TSN.
    assert 10 < len(got) < 100
    assert got == sorted(got)
    assert pair.a.stats.abandoned_messages == 300 - len(got)
    assert pair.a.stats.retransmitted_chunks == 0
    assert pair.a.buffered_amount(1) == 0


def test_partial_reliability_ignored_without_peer_support() -> None:
    pair = lossy_pair(25, latency=0.02, loss=0.1)
    pair.connect()
    pair.a._peer_features &= ~1  # as if the peer had not offered FORWARD TSN
    msgs = [bytes([i]) * 500 for i in range(200)]
    for m in msgs:
        pair.a.send(pair.now, 1, 51, m, max_retransmits=0)
    assert pair.run_until(lambda: len(pair.received_b) == 200, 60)
    assert [m.data for m in pair.received_b] == msgs


def test_forward_tsn_carries_stream_and_ssn() -> None:
    pair = Pair()
    pair.connect()
    fwd: list[ForwardTsnChunk] = []
    dropped: list[int] = []

    def tap(p: bytes) -> bytes | None:
        cs = chunks_of(p)
        fwd.extend(c for c in cs if isinstance(c, ForwardTsnChunk))
        data = [c for c in cs if isinstance(c, DataChunk)]
        if data and data[0].ssn == 1 and not dropped:
            dropped.append(data[0].tsn)
            return None
        return p

    pair.tap_ab = tap
    for i in range(8):
        pair.a.send(pair.now, 6, 51, bytes([i]) * 1100, max_retransmits=0)
    assert pair.run_until(lambda: len(pair.received_b) == 7, 10)
    assert fwd and fwd[0].new_cumulative_tsn == dropped[0] and fwd[0].streams == [(6, 1)]
    assert [m.data[0] for m in pair.received_b] == [0, 2, 3, 4, 5, 6, 7]


# -- streams -------------------------------------------------------------------------------


def test_64_streams_at_once_under_loss() -> None:
    pair = lossy_pair(31, latency=0.01, loss=0.02)
    pair.connect()
    rng = random.Random(3)
    expected: dict[int, list[bytes]] = {sid: [] for sid in range(64)}
    for _ in range(20):
        for sid in range(64):
            m = rng.randbytes(rng.randrange(1, 3000))
            expected[sid].append(m)
            pair.a.send(pair.now, sid, 51, m, ordered=sid % 2 == 0)
    assert pair.run_until(lambda: len(pair.received_b) == 64 * 20, 120)
    for sid in range(64):
        got = [m.data for m in pair.received_b if m.stream_id == sid]
        if sid % 2 == 0:
            assert got == expected[sid]
        else:
            assert sorted(got) == sorted(expected[sid])


def test_round_robin_between_streams() -> None:
    pair = lossy_pair(32, latency=0.01)
    pair.connect()
    for _ in range(8):
        pair.a.send(pair.now, 1, 51, bytes(200_000))
    pair.a.send(pair.now, 2, 51, b"small and urgent")
    assert pair.run_until(lambda: any(m.stream_id == 2 for m in pair.received_b), 30)
    # The small message overtook most of the 1.6 MB queued before it on another stream.
    assert sum(m.stream_id == 1 for m in pair.received_b) <= 1


def test_many_small_messages_are_bundled() -> None:
    pair = Pair()
    pair.connect()
    before = pair.packets_ab
    for i in range(1000):
        pair.a.send(pair.now, i % 4, 51, b"%09d" % i)
    assert pair.run_until(lambda: len(pair.received_b) == 1000, 10)
    # 1000 × (16 + 12) bytes of chunks fit in about 24 packets of 1200 bytes.
    assert pair.packets_ab - before < 40
    assert [m.data for m in pair.received_b if m.stream_id == 0] == [
        b"%09d" % i for i in range(0, 1000, 4)
    ]


def test_buffered_amount_low_threshold() -> None:
    pair = Pair()
    pair.connect()
    a = pair.a
    a.set_buffered_amount_low_threshold(1, 10_000)
    for _ in range(10):
        a.send(pair.now, 1, 51, bytes(5000))
    assert a.buffered_amount(1) == 50_000 and a.buffered_amount_total == 50_000
    pair.run_until(lambda: a.buffered_amount(1) == 0, 10)
    assert pair.events_a.count(BufferedAmountLow(1)) == 1


# -- stream reset (RFC 6525) -----------------------------------------------------------------


def test_stream_reset_and_reuse() -> None:
    pair = lossy_pair(41, latency=0.02, loss=0.05)
    pair.connect()
    a, b = pair.a, pair.b
    msgs = [bytes([i]) * 3000 for i in range(20)]
    for m in msgs:
        a.send(pair.now, 3, 51, m)
    a.reset_streams(pair.now, [3])  # data channel close: queued data goes out first
    with pytest.raises(InvalidStateError, match="being reset"):
        a.send(pair.now, 3, 51, b"no")
    assert pair.run_until(lambda: StreamsReset(outgoing=(3,)) in pair.events_a, 30)
    assert [m.data for m in pair.received_b] == msgs
    assert StreamsReset(incoming=(3,)) in pair.events_b
    # The remote end closes its side too (RFC 8831 §6.7), then the id is reused.
    b.reset_streams(pair.now, [3])
    assert pair.run_until(lambda: StreamsReset(outgoing=(3,)) in pair.events_b, 30)
    assert StreamsReset(incoming=(3,)) in pair.events_a
    pair.received_b.clear()
    for m in msgs[:3]:
        a.send(pair.now, 3, 51, m)
    assert pair.run_until(lambda: len(pair.received_b) == 3, 30)
    assert [m.data for m in pair.received_b] == msgs[:3]
    # SSNs started over at 0 on both ends.
    assert a._out_ssn[3] == 3 and b._rq._next_ssn[3] == 3


def test_reset_deferred_until_data_arrives() -> None:
    pair = Pair()
    pair.connect()
    a, b = pair.a, pair.b
    held: list[bytes] = []
    responses: list[int] = []

    def tap(p: bytes) -> bytes | None:
        # Hold back the DATA chunk but let the RE-CONFIG bundled with it through.
        pkt = Packet.parse(p)
        data = [c for c in pkt.chunks if isinstance(c, DataChunk)]
        if data and not held:
            held.append(
                Packet(
                    pkt.source_port, pkt.destination_port, pkt.verification_tag, data
                ).serialize()
            )
            rest = [c for c in pkt.chunks if not isinstance(c, DataChunk)]
            return Packet(
                pkt.source_port, pkt.destination_port, pkt.verification_tag, rest
            ).serialize()
        return p

    def tap_ba(p: bytes) -> bytes:
        for c in chunks_of(p):
            if isinstance(c, ReconfigChunk):
                responses.extend(r.result for r in c.params if isinstance(r, ReconfigResponse))
        return p

    pair.tap_ab = tap
    pair.tap_ba = tap_ba
    a.send(pair.now, 5, 51, b"late data")
    a.reset_streams(pair.now, [5])
    pair.drain()
    # The request arrived before the data it covers: B answers "in progress" (6).
    assert responses == [ReconfigResponse.IN_PROGRESS]
    assert b._deferred_resets and StreamsReset(incoming=(5,)) not in pair.events_b
    b.handle_receive(pair.now, held[0])
    pair.drain()
    assert [m.data for m in pair.received_b] == [b"late data"]
    assert StreamsReset(incoming=(5,)) in pair.events_b
    assert pair.run_until(lambda: StreamsReset(outgoing=(5,)) in pair.events_a, 10)
    assert responses == [ReconfigResponse.IN_PROGRESS, ReconfigResponse.SUCCESS_PERFORMED]


def test_reset_several_streams_at_once() -> None:
    pair = Pair()
    pair.connect()
    for sid in (1, 2, 9):
        pair.a.send(pair.now, sid, 51, b"x")
    pair.a.reset_streams(pair.now, [1, 2, 9])
    assert pair.run_until(lambda: StreamsReset(outgoing=(1, 2, 9)) in pair.events_a, 10)
    assert StreamsReset(incoming=(1, 2, 9)) in pair.events_b


def test_reset_request_retransmitted_when_lost() -> None:
    pair = Pair()
    pair.connect()
    lost: list[bytes] = []

    def tap(p: bytes) -> bytes | None:
        if any(type(c).__name__ == "ReconfigChunk" for c in chunks_of(p)) and not lost:
            lost.append(p)
            return None
        return p

    pair.tap_ab = tap
    pair.a.reset_streams(pair.now, [4])
    assert pair.run_until(lambda: StreamsReset(outgoing=(4,)) in pair.events_a, 10)
    assert lost and pair.events_b.count(StreamsReset(incoming=(4,))) == 1


def test_reset_denied_reported() -> None:
    pair = Pair()
    pair.connect()
    # B answers with "Denied" for anything: simulate by breaking its sequence number.
    pair.b._peer_reconfig_seq += 7
    pair.a.reset_streams(pair.now, [1])
    assert pair.run_until(lambda: any(isinstance(e, StreamResetFailed) for e in pair.events_a), 10)
    failed = next(e for e in pair.events_a if isinstance(e, StreamResetFailed))
    assert failed.stream_ids == (1,) and failed.result == 5  # Error - Bad Sequence Number
    pair.a.send(pair.now, 1, 51, b"stream usable again")


# -- performance guards (generous: a regression to O(n^2) or per-chunk waste trips them) --------


def test_in_memory_throughput() -> None:
    a = Association(rng=random.Random(1))
    b = Association(rng=random.Random(2))
    now = 0.0
    a.connect(now)
    for _ in range(4):
        while (p := a.poll_transmit()) is not None:
            b.handle_receive(now, p)
        while (p := b.poll_transmit()) is not None:
            a.handle_receive(now, p)
    assert a.is_established and b.is_established
    msg = bytes(64 * 1024)
    total = 16 * 1024 * 1024
    sent = got = 0
    t0 = time.perf_counter()
    while got < total:
        while sent < total and a.buffered_amount(1) < 1_000_000:
            a.send(now, 1, 53, msg)
            sent += len(msg)
        while (p := a.poll_transmit()) is not None:
            b.handle_receive(now, p)
        while (ev := b.poll_event()) is not None:
            if isinstance(ev, MessageReceived):
                got += len(ev.data)
        while (p := b.poll_transmit()) is not None:
            a.handle_receive(now, p)
        while a.poll_event() is not None:
            pass
    rate = total / (time.perf_counter() - t0) / 1e6
    assert rate > 15, f"{rate:.1f} MB/s"  # ~130 MB/s on a desktop core


def test_small_message_rate() -> None:
    pair = Pair()
    pair.connect()
    pair.keep_messages = False
    count = 0

    def on_event(assoc: Association, ev: object) -> None:
        nonlocal count
        if isinstance(ev, MessageReceived):
            count += 1

    pair.on_event = on_event
    t0 = time.perf_counter()
    for _ in range(30):
        for i in range(1000):
            pair.a.send(pair.now, i & 7, 51, b"0123456789abcdef0123456789abcdef")
        pair.drain()
    assert count == 30_000
    rate = count / (time.perf_counter() - t0)
    assert rate > 10_000, f"{rate:.0f} messages/s"
