"""A discrete-event network simulator for sans-IO endpoints.

Simulated time jumps straight to the earliest deadline of any endpoint, link or
scheduled action; nothing sleeps, so an idle simulated minute costs microseconds.

Topology: every :class:`Host` has an endpoint, one or more IPs, an uplink and a
downlink :class:`~rtcpeer.testing.netem.Netem`, and optionally sits behind a
:class:`~rtcpeer.testing.nat.Nat`. Hosts behind the same NAT share a private realm and
reach each other directly; everything else crosses the public realm, through the
sender's NAT (outbound) and the receiver's NAT (inbound)::

    endpoint ─ uplink ─ [NAT out] ─ public ─ [NAT in] ─ downlink ─ endpoint

An endpoint is anything with the four methods of :class:`Endpoint`. Layers that speak
bytes to a single peer (DTLS, SCTP) plug in through :class:`PointToPoint`.

Example::

    sim = Simulator(seed=1)
    a = sim.add_host("a", agent_a, ips=["10.0.0.2"], nat=Nat("198.51.100.1", seed=2))
    b = sim.add_host("b", agent_b, ips=["192.0.2.7"], uplink=sim.link(latency=0.03, loss=0.05))
    assert sim.run_until(lambda: agent_a.connected, timeout=10.0)
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from rtcpeer.datagram import Address, Datagram
from rtcpeer.testing.nat import Nat
from rtcpeer.testing.netem import Netem

__all__ = ["Endpoint", "Host", "PointToPoint", "Simulator", "TraceEntry"]

_SPIN_LIMIT = 100_000


class Endpoint(Protocol):
    """What the simulator drives: a sans-IO object that sends and receives datagrams."""

    def handle_datagram(self, now: float, datagram: Datagram) -> None: ...

    def poll_datagram(self) -> Datagram | None: ...

    def poll_timeout(self) -> float | None: ...

    def handle_timeout(self, now: float) -> None: ...


class PointToPoint:
    """Adapts a bytes-only sans-IO layer to :class:`Endpoint`.

    ``layer`` must have ``handle_timeout(now)`` and ``poll_timeout()``; the names of its
    receive and transmit methods are given (``handle_receive(now, data)`` and
    ``poll_transmit() -> bytes | None`` by default). Everything it sends goes to
    ``remote``; datagrams from anywhere are fed to it.
    """

    def __init__(
        self,
        layer: Any,
        local: Address,
        remote: Address,
        *,
        receive: str = "handle_receive",
        transmit: str = "poll_transmit",
    ) -> None:
        self.layer = layer
        self.local = local
        self.remote = remote
        self._receive: Callable[[float, bytes], object] = getattr(layer, receive)
        self._transmit: Callable[[], bytes | None] = getattr(layer, transmit)

    def handle_datagram(self, now: float, datagram: Datagram) -> None:
        self._receive(now, datagram.data)

    def poll_datagram(self) -> Datagram | None:
        data = self._transmit()
        return None if data is None else Datagram(self.local, self.remote, data)

    def poll_timeout(self) -> float | None:
        timeout: float | None = self.layer.poll_timeout()
        return timeout

    def handle_timeout(self, now: float) -> None:
        self.layer.handle_timeout(now)


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One step of a datagram's life: ``sent`` by an endpoint, ``delivered`` to one,
    or ``dropped`` in routing (no route, NAT filter)."""

    time: float
    what: str
    src: Address
    dst: Address
    size: int
    host: str


@dataclass(eq=False)
class Host:
    """An endpoint on the simulated network."""

    name: str
    endpoint: Endpoint
    ips: tuple[str, ...]
    uplink: Netem[Datagram]
    downlink: Netem[Datagram]
    nat: Nat | None = None
    #: When False the host neither sends nor receives (a cable pulled; the endpoint
    #: still runs its timers). Flip it to test consent loss and recovery.
    online: bool = True
    unroutable: int = 0
    received: int = 0
    sent: int = 0
    _spins: int = field(default=0, repr=False)
    _last_fire: float = field(default=float("-inf"), repr=False)


class Simulator:
    """Drives endpoints, links and NATs in simulated time. See the module docstring."""

    def __init__(self, seed: int = 0, *, start: float = 0.0, trace: bool = False) -> None:
        self.rng = random.Random(seed)
        self.now = start
        self.hosts: list[Host] = []
        self.trace: list[TraceEntry] | None = [] if trace else None
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_seq = 0
        self.dropped_unroutable = 0

    # -- building the network ---------------------------------------------------------

    def link(self, **options: Any) -> Netem[Datagram]:
        """A link whose random draws derive from the simulator's seed."""
        return Netem(rng=random.Random(self.rng.getrandbits(64)), **options)

    def add_host(
        self,
        name: str,
        endpoint: Endpoint,
        ips: Iterable[str],
        *,
        uplink: Netem[Datagram] | None = None,
        downlink: Netem[Datagram] | None = None,
        nat: Nat | None = None,
    ) -> Host:
        """Attach ``endpoint`` owning ``ips``; links default to perfect, zero-delay ones."""
        ip_tuple = tuple(ips)
        if not ip_tuple:
            raise ValueError("a host needs at least one IP")
        for other in self.hosts:
            if other.nat is nat and set(other.ips) & set(ip_tuple):
                raise ValueError(f"{name}: IP already used by {other.name} in the same realm")
        host = Host(
            name,
            endpoint,
            ip_tuple,
            uplink if uplink is not None else self.link(),
            downlink if downlink is not None else self.link(),
            nat,
        )
        self.hosts.append(host)
        return host

    def call_at(self, when: float, action: Callable[[], None]) -> None:
        """Run ``action`` when simulated time reaches ``when`` (e.g. cut a link)."""
        self._timer_seq += 1
        heapq.heappush(self._timers, (when, self._timer_seq, action))

    def call_later(self, delay: float, action: Callable[[], None]) -> None:
        self.call_at(self.now + delay, action)

    # -- routing ------------------------------------------------------------------------

    def _record(self, what: str, datagram: Datagram, host: Host) -> None:
        if self.trace is not None:
            self.trace.append(
                TraceEntry(
                    self.now, what, datagram.src, datagram.dst, len(datagram.data), host.name
                )
            )

    def _host_in_realm(self, nat: Nat | None, ip: str) -> Host | None:
        for host in self.hosts:
            if host.nat is nat and ip in host.ips:
                return host
        return None

    def _public_nat(self, ip: str) -> Nat | None:
        for host in self.hosts:
            if host.nat is not None and host.nat.public_ip == ip:
                return host.nat
        return None

    def _route(self, sender: Host, datagram: Datagram) -> None:
        now = self.now
        dst_ip = datagram.dst[0]
        # Same realm (same LAN behind one NAT, or both public): direct.
        target = self._host_in_realm(sender.nat, dst_ip)
        if target is None:
            outer = datagram
            if sender.nat is not None:
                if dst_ip == sender.nat.public_ip and not sender.nat.hairpinning:
                    self._unroutable(sender, datagram)
                    return
                outer = sender.nat.outbound(now, datagram)
            target = self._host_in_realm(None, dst_ip)
            if target is None:
                nat = self._public_nat(dst_ip)
                inner = nat.inbound(now, outer) if nat is not None else None
                if nat is None or inner is None:
                    self._unroutable(sender, outer)
                    return
                datagram = inner
                target = self._host_in_realm(nat, datagram.dst[0])
                if target is None:
                    self._unroutable(sender, datagram)
                    return
            else:
                datagram = outer
        if not target.online:
            return
        target.downlink.send(now, datagram)

    def _unroutable(self, sender: Host, datagram: Datagram) -> None:
        sender.unroutable += 1
        self.dropped_unroutable += 1
        self._record("dropped", datagram, sender)

    # -- running ------------------------------------------------------------------------

    def _drain(self) -> None:
        now = self.now
        progressed = True
        while progressed:
            progressed = False
            for host in self.hosts:
                endpoint = host.endpoint
                while (datagram := endpoint.poll_datagram()) is not None:
                    progressed = True
                    host.sent += 1
                    self._record("sent", datagram, host)
                    if host.online:
                        host.uplink.send(now, datagram)
                while (datagram := host.uplink.poll(now)) is not None:
                    progressed = True
                    self._route(host, datagram)
                while (datagram := host.downlink.poll(now)) is not None:
                    progressed = True
                    if host.online:
                        host.received += 1
                        self._record("delivered", datagram, host)
                        endpoint.handle_datagram(now, datagram)

    def next_deadline(self) -> float | None:
        """The earliest time anything in the simulation wants to run."""
        best: float | None = self._timers[0][0] if self._timers else None
        for host in self.hosts:
            for deadline in (
                host.endpoint.poll_timeout(),
                host.uplink.poll_timeout(),
                host.downlink.poll_timeout(),
            ):
                if deadline is not None and (best is None or deadline < best):
                    best = deadline
        return best

    def _fire(self) -> None:
        now = self.now
        while self._timers and self._timers[0][0] <= now:
            _, _, action = heapq.heappop(self._timers)
            action()
        for host in self.hosts:
            deadline = host.endpoint.poll_timeout()
            if deadline is not None and deadline <= now:
                # Guard against a layer that never moves its deadline past now.
                host._spins = host._spins + 1 if host._last_fire == now else 0
                host._last_fire = now
                if host._spins > _SPIN_LIMIT:
                    raise RuntimeError(
                        f"{host.name}: endpoint keeps asking for a timeout at or before "
                        f"now={now} after handling it ({_SPIN_LIMIT} times): a timer bug"
                    )
                host.endpoint.handle_timeout(now)

    def step(self, until: float) -> bool:
        """Process everything due now, then advance to the next deadline if it is not
        after ``until``. Returns False when nothing is due before ``until``."""
        self._drain()
        deadline = self.next_deadline()
        if deadline is None or deadline > until:
            return False
        if deadline > self.now:
            self.now = deadline
        self._fire()
        self._drain()
        return True

    def run(self, duration: float) -> None:
        """Advance simulated time by ``duration`` seconds."""
        until = self.now + duration
        while self.step(until):
            pass
        self.now = max(self.now, until)

    def run_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Run until ``condition()`` is true (True) or ``timeout`` simulated seconds
        have passed (False)."""
        until = self.now + timeout
        self._drain()
        while not condition():
            if not self.step(until):
                self.now = max(self.now, until)
                return condition()
        return True
