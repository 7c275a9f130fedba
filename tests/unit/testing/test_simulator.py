"""The simulator with small sans-IO endpoints written for the test: a STUN-like
reflector, and peers that punch holes towards each other's reflexive address."""

from __future__ import annotations

import time
from collections import deque

import pytest

from rtcpeer.datagram import Address, Datagram
from rtcpeer.testing import Nat, NatBehavior, PointToPoint, Simulator


class Reflector:
    """Answers every datagram with the source address it saw (like a STUN server)."""

    def __init__(self, address: Address) -> None:
        self.address = address
        self.out: deque[Datagram] = deque()

    def handle_datagram(self, now: float, datagram: Datagram) -> None:
        ip, port = datagram.src
        self.out.append(Datagram(self.address, datagram.src, f"{ip} {port}".encode()))

    def poll_datagram(self) -> Datagram | None:
        return self.out.popleft() if self.out else None

    def poll_timeout(self) -> float | None:
        return None

    def handle_timeout(self, now: float) -> None:
        pass


class Peer:
    """Learns its public address from a reflector, then pings a peer every 50 ms."""

    def __init__(self, local: Address, reflector: Address, interval: float = 0.05) -> None:
        self.local = local
        self.reflector = reflector
        self.interval = interval
        self.public: Address | None = None
        self.target: Address | None = None
        self.received_from: list[tuple[float, Address]] = []
        self.out: deque[Datagram] = deque([Datagram(local, reflector, b"?")])
        self.next_ping: float | None = None
        self.timeouts = 0

    def handle_datagram(self, now: float, datagram: Datagram) -> None:
        if datagram.src == self.reflector:
            ip, port = datagram.data.decode().split()
            self.public = (ip, int(port))
        else:
            self.received_from.append((now, datagram.src))

    def poll_datagram(self) -> Datagram | None:
        return self.out.popleft() if self.out else None

    def start_pinging(self, now: float, target: Address) -> None:
        self.target = target
        self.next_ping = now

    def poll_timeout(self) -> float | None:
        return self.next_ping

    def handle_timeout(self, now: float) -> None:
        self.timeouts += 1
        assert self.target is not None and self.next_ping is not None
        self.out.append(Datagram(self.local, self.target, b"ping"))
        self.next_ping += self.interval


def setup(
    mapping_a: NatBehavior, mapping_b: NatBehavior, seed: int = 1
) -> tuple[Simulator, Peer, Peer]:
    sim = Simulator(seed=seed, trace=True)
    server: Address = ("192.0.2.10", 3478)
    sim.add_host("stun", Reflector(server), ips=[server[0]])
    a = Peer(("10.0.0.2", 5000), server)
    b = Peer(("10.1.0.2", 6000), server)
    filtering = NatBehavior.ADDRESS_AND_PORT_DEPENDENT
    sim.add_host(
        "a",
        a,
        ips=["10.0.0.2"],
        nat=Nat("198.51.100.1", mapping=mapping_a, filtering=filtering, seed=2),
        uplink=sim.link(latency=0.01),
        downlink=sim.link(latency=0.01),
    )
    sim.add_host(
        "b",
        b,
        ips=["10.1.0.2"],
        nat=Nat("203.0.113.1", mapping=mapping_b, filtering=filtering, seed=3),
        uplink=sim.link(latency=0.02),
        downlink=sim.link(latency=0.02),
    )
    assert sim.run_until(lambda: a.public is not None and b.public is not None, timeout=1.0)
    assert a.public is not None and b.public is not None
    assert a.public[0] == "198.51.100.1" and b.public[0] == "203.0.113.1"
    a.start_pinging(sim.now, b.public)
    b.start_pinging(sim.now, a.public)
    return sim, a, b


def test_hole_punching_through_cone_nats() -> None:
    ei = NatBehavior.ENDPOINT_INDEPENDENT
    sim, a, b = setup(ei, ei)
    sim.run(1.0)
    # Both directions get through once both sides have punched.
    assert len(a.received_from) > 10 and len(b.received_from) > 10
    assert a.received_from[0][1] == b.public


def test_symmetric_nat_defeats_reflexive_address() -> None:
    apd = NatBehavior.ADDRESS_AND_PORT_DEPENDENT
    sim, a, b = setup(apd, apd)
    sim.run(1.0)
    # Each side's mapping towards the peer differs from the one the reflector saw.
    assert a.received_from == [] and b.received_from == []
    assert sim.dropped_unroutable > 0


def test_latency_adds_up_along_the_path() -> None:
    ei = NatBehavior.ENDPOINT_INDEPENDENT
    sim, a, _b = setup(ei, ei)
    sim.run(1.0)
    assert sim.trace is not None
    # b -> a: b's uplink 20 ms + a's downlink 10 ms; a's NAT was punched 10 ms in,
    # so b's very first ping gets through.
    first_b_ping = next(
        e for e in sim.trace if e.what == "sent" and e.host == "b" and e.dst == a.public
    )
    first_arrival = next(
        e
        for e in sim.trace
        if e.what == "delivered" and e.host == "a" and e.time > first_b_ping.time
    )
    assert first_arrival.time - first_b_ping.time == pytest.approx(0.03)


def test_idle_simulated_minute_is_cheap() -> None:
    ei = NatBehavior.ENDPOINT_INDEPENDENT
    sim, a, _b = setup(ei, ei)
    before = a.timeouts
    started = time.perf_counter()
    sim.run(60.0)
    elapsed = time.perf_counter() - started
    assert a.timeouts - before == pytest.approx(60 / 0.05, abs=2)
    # 2,400 pings and deliveries; generous bound, this only catches real sleeping.
    assert elapsed < 5.0
    assert sim.now == pytest.approx(60.0 + 0.0, abs=1.0)


def test_empty_simulation_jumps() -> None:
    sim = Simulator(seed=1)
    started = time.perf_counter()
    sim.run(3600.0)
    assert sim.now == 3600.0
    assert time.perf_counter() - started < 1.0


def test_online_flag_blackholes_host() -> None:
    ei = NatBehavior.ENDPOINT_INDEPENDENT
    sim, a, _b = setup(ei, ei)
    sim.run(0.5)
    hosts = {h.name: h for h in sim.hosts}
    hosts["b"].online = False
    count = len(a.received_from)
    sim.run(1.0)
    assert len(a.received_from) <= count + 1  # at most one already in flight
    hosts["b"].online = True
    sim.run(1.0)
    assert len(a.received_from) > count + 10


def test_call_at_runs_actions_in_simulated_time() -> None:
    sim = Simulator(seed=1)
    fired: list[float] = []
    sim.call_at(5.0, lambda: fired.append(sim.now))
    sim.call_at(2.0, lambda: fired.append(sim.now))
    sim.run(10.0)
    assert fired == [2.0, 5.0]


def test_run_until_reports_timeout() -> None:
    sim = Simulator(seed=1)
    assert sim.run_until(lambda: False, timeout=7.0) is False
    assert sim.now == 7.0


def trace_of(seed: int) -> list[object]:
    sim = Simulator(seed=seed, trace=True)
    server: Address = ("192.0.2.10", 3478)
    sim.add_host("stun", Reflector(server), ips=[server[0]])
    peer = Peer(("10.0.0.2", 5000), server, interval=0.01)
    sim.add_host(
        "a",
        peer,
        ips=["10.0.0.2"],
        uplink=sim.link(latency=0.01, jitter=0.005, loss=0.2, reorder=0.1),
    )
    sim.run(0.1)
    peer.start_pinging(sim.now, server)
    sim.run(2.0)
    assert sim.trace is not None
    return list(sim.trace)


def test_determinism_same_seed_same_trace() -> None:
    assert trace_of(5) == trace_of(5)
    assert trace_of(5) != trace_of(6)


class Counter:
    """A bytes-only layer: echoes each datagram back with a counter, stops at 100."""

    def __init__(self, start: bool) -> None:
        self.out: deque[bytes] = deque([b"0"] if start else [])
        self.last = -1

    def handle_receive(self, now: float, data: bytes) -> None:
        self.last = int(data)
        if self.last < 100:
            self.out.append(str(self.last + 1).encode())

    def poll_transmit(self) -> bytes | None:
        return self.out.popleft() if self.out else None

    def poll_timeout(self) -> float | None:
        return None

    def handle_timeout(self, now: float) -> None:
        pass


def test_point_to_point_adapter() -> None:
    sim = Simulator(seed=1)
    x, y = Counter(True), Counter(False)
    sim.add_host(
        "x",
        PointToPoint(x, ("10.0.0.1", 1), ("10.0.0.2", 2)),
        ips=["10.0.0.1"],
        uplink=sim.link(latency=0.001),
    )
    sim.add_host("y", PointToPoint(y, ("10.0.0.2", 2), ("10.0.0.1", 1)), ips=["10.0.0.2"])
    assert sim.run_until(lambda: max(x.last, y.last) >= 100, timeout=1.0)
    assert sim.now == pytest.approx(0.05, abs=0.002)  # 50 round trips of 1 ms one way


class Stuck:
    def handle_datagram(self, now: float, datagram: Datagram) -> None:
        pass

    def poll_datagram(self) -> Datagram | None:
        return None

    def poll_timeout(self) -> float | None:
        return 1.0

    def handle_timeout(self, now: float) -> None:
        pass


def test_stuck_timer_is_reported_not_hung() -> None:
    sim = Simulator(seed=1)
    sim.add_host("stuck", Stuck(), ips=["10.0.0.1"])
    with pytest.raises(RuntimeError, match="timer bug"):
        sim.run(2.0)
