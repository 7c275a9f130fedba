"""SCTP's congestion window over long paths, in simulated time: slow start grows it
by about half each round trip (one PMTU per SACK, a SACK every second packet, RFC
9260 §7.2.1) whether the sender handles SACKs one by one or in batches, as an event
loop that wakes up every few milliseconds does; the receive window is never the limit
at 300 ms x 100 Mbit/s."""

from __future__ import annotations

import itertools

import pytest

from rtcpeer.testing import Simulator
from tests.scenario.connections import batching, connect_pair


def _windows(batched: bool, one_way: float) -> tuple[list[int], int]:
    """cwnd (in packets) sampled once a round trip through a bulk transfer, and the
    smallest receive window the peer advertised."""
    sim = Simulator(seed=1)
    a, b = connect_pair(sim, {"latency": one_way})
    if batched:
        batching(a, tick=0.02)
    b.bulk_labels.add("bulk")
    channel = a.conn.channels.create(sim.now, "bulk")
    assert sim.run_until(lambda: channel.state == "open", timeout=20.0)
    payload = bytes(65536)
    rtt = 4 * one_way  # two links each way
    windows: list[int] = []
    least_rwnd = 1 << 40
    sctp = a.conn.sctp
    assert sctp is not None
    for _ in range(14):
        while a.conn.channels.buffered_amount(channel) < 8 << 20:
            a.conn.channels.send(sim.now, channel, payload)
        a.conn.pump(sim.now)
        a.drain(sim.now)
        sim.run(rtt)
        windows.append(sctp.cwnd // 1200)
        # What the receiver last advertised: the sender's view of its window plus
        # what is in flight (RFC 9260 §6.2.1).
        least_rwnd = min(least_rwnd, sctp.peer_rwnd + sctp.flight_size)
    return windows, least_rwnd


@pytest.mark.parametrize("batched", [False, True], ids=["sack-by-sack", "batched-sacks"])
def test_slow_start_grows_the_window_by_half_each_round_trip(batched: bool) -> None:
    windows, _ = _windows(batched, one_way=0.075)  # 300 ms round trip
    growth = [later / earlier for earlier, later in itertools.pairwise(windows[3:11])]
    # One PMTU per SACK, a SACK every second packet: x1.5 per round trip (linear
    # growth, a few packets a round trip, was the bug with batched SACKs).
    assert all(g > 1.35 for g in growth), windows
    assert windows[10] > 150  # linear growth reached about 25


def test_the_receive_window_is_never_the_limit_at_300_ms_and_100_mbit() -> None:
    _, least_rwnd = _windows(False, one_way=0.075)
    bdp = 100e6 / 8 * 0.3  # 3.75 MB in flight fill the path
    # Room for the path and for slow start's last doubling beyond it.
    assert least_rwnd > 2 * bdp


def test_slow_start_ends_when_the_bottleneck_queue_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 100 Mbit/s bottleneck with a BDP-sized queue, 50 ms round trip: the round
    trip grows as the queue fills, and slow start ends on that (HyStart++, RFC 9406)
    before the first loss, instead of doubling on until the queue overflows."""
    from rtcpeer.sctp.association import Association

    exits: list[int] = []
    original = Association._hystart

    def watched(self: Association, cum: int, rtt: float) -> None:
        before = self.stats.slow_start_exits
        original(self, cum, rtt)
        if self.stats.slow_start_exits != before:
            exits.append(self.stats.retransmitted_chunks)

    monkeypatch.setattr(Association, "_hystart", watched)
    sim = Simulator(seed=1)
    a, b = connect_pair(sim, {"latency": 0.0125, "rate": 100e6 / 8, "queue_bytes": 625_000})
    b.bulk_labels.add("bulk")
    channel = a.conn.channels.create(sim.now, "bulk")
    assert sim.run_until(lambda: channel.state == "open", timeout=20.0)
    payload = bytes(65536)
    for _ in range(40):
        while a.conn.channels.buffered_amount(channel) < 4 << 20:
            a.conn.channels.send(sim.now, channel, payload)
        a.conn.pump(sim.now)
        a.drain(sim.now)
        sim.run(0.05)
    assert exits == [0]  # one exit, and nothing had been lost yet
