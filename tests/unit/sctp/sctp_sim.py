"""A deterministic two-association pump in simulated time, for the SCTP tests.

Packets go A→B and B→A through one :class:`rtcpeer.testing.Netem` each (seeded loss,
burst loss, delay, reordering, duplication) or straight across when no link is given.
Time jumps to the next deadline of either association or link; nothing sleeps.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from rtcpeer.sctp.association import Association
from rtcpeer.sctp.events import Event, MessageReceived
from rtcpeer.sctp.reassembly import FRAGMENT_OVERHEAD
from rtcpeer.testing import Netem


class Pair:
    """Two associations wired together; ``a`` usually connects, ``b`` listens."""

    def __init__(
        self,
        *,
        seed: int = 1,
        ab: Netem[bytes] | None = None,
        ba: Netem[bytes] | None = None,
        a_kwargs: dict[str, Any] | None = None,
        b_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.a = Association(rng=random.Random(seed), **{**kwargs, **(a_kwargs or {})})
        self.b = Association(rng=random.Random(seed + 1000), **{**kwargs, **(b_kwargs or {})})
        self.ab = ab
        self.ba = ba
        self.now = 0.0
        self.events_a: list[Event] = []
        self.events_b: list[Event] = []
        self.received_a: list[MessageReceived] = []
        self.received_b: list[MessageReceived] = []
        self.on_event: Callable[[Association, Event], None] | None = None
        # Optional packet filters/taps: return None to drop the packet.
        self.tap_ab: Callable[[bytes], bytes | None] | None = None
        self.tap_ba: Callable[[bytes], bytes | None] | None = None
        self.packets_ab = 0
        self.packets_ba = 0
        self.keep_messages = True

    def connect(self, both: bool = False, timeout: float = 10.0) -> None:
        self.a.connect(self.now)
        if both:
            self.b.connect(self.now)
        ok = self.run_until(lambda: self.a.is_established and self.b.is_established, timeout)
        assert ok, "handshake did not complete"

    def _deliver(self, src: Association, dst: Association, link: Netem[bytes] | None) -> bool:
        moved = False
        now = self.now
        tap = self.tap_ab if src is self.a else self.tap_ba
        while (p := src.poll_transmit()) is not None:
            moved = True
            if src is self.a:
                self.packets_ab += 1
            else:
                self.packets_ba += 1
            if tap is not None:
                p2 = tap(p)
                if p2 is None:
                    continue
                p = p2
            if link is None:
                dst.handle_receive(now, p)
            else:
                link.send(now, p)
        if link is not None:
            while (q := link.poll(now)) is not None:
                moved = True
                dst.handle_receive(now, q)
        return moved

    def _events(self, assoc: Association, sink: list[Event], rx: list[MessageReceived]) -> bool:
        moved = False
        while (ev := assoc.poll_event()) is not None:
            moved = True
            if isinstance(ev, MessageReceived):
                if self.keep_messages:
                    rx.append(ev)
            else:
                sink.append(ev)
            if self.on_event is not None:
                self.on_event(assoc, ev)
        return moved

    def drain(self) -> None:
        """Move packets and events until nothing moves at the current time."""
        while True:
            moved = self._deliver(self.a, self.b, self.ab)
            moved |= self._deliver(self.b, self.a, self.ba)
            moved |= self._events(self.a, self.events_a, self.received_a)
            moved |= self._events(self.b, self.events_b, self.received_b)
            if not moved:
                return

    def next_deadline(self) -> float | None:
        times = [
            t
            for t in (
                self.a.poll_timeout(),
                self.b.poll_timeout(),
                self.ab.poll_timeout() if self.ab is not None else None,
                self.ba.poll_timeout() if self.ba is not None else None,
            )
            if t is not None
        ]
        return min(times) if times else None

    def step(self, until: float) -> bool:
        """Advance to the next deadline (not beyond ``until``); False if none."""
        t = self.next_deadline()
        if t is None or t > until:
            return False
        self.now = max(self.now, t)
        for assoc in (self.a, self.b):
            due = assoc.poll_timeout()
            if due is not None and due <= self.now:
                assoc.handle_timeout(self.now)
        return True

    def run_until(self, cond: Callable[[], bool], timeout: float = 60.0) -> bool:
        end = self.now + timeout
        while True:
            self.drain()
            if cond():
                return True
            if not self.step(end):
                return cond()

    def run_for(self, duration: float) -> None:
        end = self.now + duration
        while True:
            self.drain()
            if not self.step(end):
                break
        self.now = max(self.now, end)
        self.drain()


def packet_to(assoc: Association, *chunks: Any, vtag: int | None = None) -> bytes:
    """A packet as the peer of ``assoc`` would send it (tag, ports, checksum right)."""
    from rtcpeer.sctp.packet import build_packet

    body = b"".join(c if isinstance(c, bytes) else c.serialize() for c in chunks)
    tag = assoc.local_tag if vtag is None else vtag
    return build_packet(assoc.remote_port, assoc.local_port, tag, body)


def chunks_of(packet: bytes) -> list[Any]:
    from rtcpeer.sctp.packet import Packet

    return list(Packet.parse(packet).chunks)


def refix(packet: bytes | bytearray) -> bytes:
    """Recompute the checksum after tampering."""
    from rtcpeer.sctp.packet import CRC_LE, checksum

    data = bytearray(packet)
    data[8:12] = CRC_LE.pack(checksum(bytes(data)))
    return bytes(data)


def drain_tx(assoc: Association) -> list[bytes]:
    out = []
    while (p := assoc.poll_transmit()) is not None:
        out.append(p)
    return out


def drain_events(assoc: Association) -> list[Event]:
    out = []
    while (e := assoc.poll_event()) is not None:
        out.append(e)
    return out


def check_invariants(assoc: Association) -> None:
    """Recompute the sender's and receiver's accounting from scratch and compare."""
    out = assoc._out
    base = assoc._out_tsn0
    flight = outstanding = 0
    rtx_pending = set()
    for t in range(assoc._cum_ack + 1, assoc._next_tsn):
        ch = out[t - base]
        assert ch.tsn == t
        if ch.in_flight:
            assert not (ch.acked or ch.abandoned or ch.rtx), t
            flight += ch.size
        if ch.rtx:
            assert not (ch.acked or ch.abandoned or ch.in_flight), t
            rtx_pending.add(t)
        if not ch.acked and not ch.abandoned:
            outstanding += ch.size
    assert flight == assoc._flight, (flight, assoc._flight)
    assert outstanding == assoc._outstanding, (outstanding, assoc._outstanding)
    assert rtx_pending <= set(assoc._rtxq)
    assert assoc._adv_ack >= assoc._cum_ack
    queued = sum(len(m.data) - m.offset for q in assoc._sq.values() for m in q)
    if assoc._cur is not None:
        queued += len(assoc._cur.data) - assoc._cur.offset
    assert queued == assoc._buffered_total == sum(assoc._buffered.values())
    assert all(v > 0 for v in assoc._buffered.values())
    rq = assoc._rq
    ovh = FRAGMENT_OVERHEAD
    held = sum(len(d) + ovh for h in rq._held.values() for _, d in h.values() if d is not None)
    runs = sum(r.size + ovh * len(r.parts) for r in rq._runs.values() if r.parts is not None)
    orphans = sum(len(o[4]) + ovh for o in rq._orphans.values())
    assert rq.buffered == held + runs + orphans, (rq.buffered, held, runs, orphans)
    gaps = assoc._rcv_gaps
    prev = assoc._rcv_cum + 1
    for s, e in gaps:
        assert prev < s <= e, (assoc._rcv_cum, gaps)
        prev = e + 1
