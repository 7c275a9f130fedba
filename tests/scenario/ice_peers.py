"""Two ICE agents, a STUN server and simulated signaling, for scenario tests."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

from rtcpeer.datagram import Address, Datagram
from rtcpeer.ice.agent import (
    IceAgent,
    IceEvent,
    IceGatheringStateEvent,
    IceLocalCandidateEvent,
    IceSelectedPairEvent,
    IceStateEvent,
)
from rtcpeer.ice.candidate import Candidate
from rtcpeer.ice.stun import AttrType, StunClass, StunMessage, StunMethod, StunParseError
from rtcpeer.testing import Nat, Simulator


class Outbox:
    """A simulator endpoint without timers that sends what it queues in ``out``."""

    def __init__(self) -> None:
        self.out: deque[Datagram] = deque()

    def handle_datagram(self, now: float, datagram: Datagram) -> None:
        pass

    def poll_datagram(self) -> Datagram | None:
        return self.out.popleft() if self.out else None

    def poll_timeout(self) -> float | None:
        return None

    def handle_timeout(self, now: float) -> None:
        pass


class StunServer(Outbox):
    """A plain RFC 8489 Binding server."""

    def __init__(self, address: Address) -> None:
        super().__init__()
        self.address = address
        self.requests = 0

    def handle_datagram(self, now: float, datagram: Datagram) -> None:
        try:
            request = StunMessage.parse(datagram.data)
        except StunParseError:
            return
        if request.method != StunMethod.BINDING or request.msg_class != StunClass.REQUEST:
            return
        self.requests += 1
        response = request.success_response([(AttrType.XOR_MAPPED_ADDRESS, datagram.src)])
        self.out.append(Datagram(self.address, datagram.src, response.serialize(fingerprint=True)))


@dataclass
class Peer:
    """An ICE agent as a simulator endpoint, recording what it emits."""

    name: str
    agent: IceAgent
    events: list[IceEvent] = field(default_factory=list)
    candidates: list[Candidate | None] = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)
    other: Peer | None = None
    signal_candidates: bool = True
    signaling_delay: float = 0.05
    sim: Simulator | None = None

    def handle_datagram(self, now: float, datagram: Datagram) -> None:
        data = self.agent.handle_datagram(now, datagram)
        if data is not None:
            self.received.append(data)
        self._drain(now)

    def poll_datagram(self) -> Datagram | None:
        return self.agent.poll_transmit()

    def poll_timeout(self) -> float | None:
        return self.agent.poll_timeout()

    def handle_timeout(self, now: float) -> None:
        self.agent.handle_timeout(now)
        self._drain(now)

    def _drain(self, now: float) -> None:
        while (event := self.agent.poll_event()) is not None:
            self.events.append(event)
            if isinstance(event, IceLocalCandidateEvent):
                self.candidates.append(event.candidate)
                if self.signal_candidates and self.other is not None and self.sim is not None:
                    self.sim.call_later(
                        self.signaling_delay,
                        lambda other=self.other, c=event.candidate: other.deliver_candidate(c),
                    )

    def deliver_candidate(self, candidate: Candidate | None) -> None:
        assert self.sim is not None
        self.agent.add_remote_candidate(self.sim.now, candidate)
        self._drain(self.sim.now)

    @property
    def states(self) -> list[str]:
        return [e.state for e in self.events if isinstance(e, IceStateEvent)]

    @property
    def gathering_states(self) -> list[str]:
        return [e.state for e in self.events if isinstance(e, IceGatheringStateEvent)]

    @property
    def selected(self) -> list[IceSelectedPairEvent]:
        return [e for e in self.events if isinstance(e, IceSelectedPairEvent)]


def make_pair(
    sim: Simulator,
    ip_a: str = "192.0.2.1",
    ip_b: str = "198.51.100.1",
    *,
    nat_a: Nat | None = None,
    nat_b: Nat | None = None,
    stun: Address | None = None,
    seed: int = 1,
    link: dict[str, float] | None = None,
    **agent_options: float,
) -> tuple[Peer, Peer]:
    rng = random.Random(seed)
    servers = [(stun, f"stun:{stun[0]}:{stun[1]}")] if stun else []
    a = Peer(
        "a",
        IceAgent(
            controlling=True, rng=random.Random(rng.random()), stun_servers=servers, **agent_options
        ),
    )  # type: ignore[arg-type]
    b = Peer(
        "b",
        IceAgent(
            controlling=False,
            rng=random.Random(rng.random()),
            stun_servers=servers,
            **agent_options,
        ),
    )  # type: ignore[arg-type]
    a.other, b.other = b, a
    a.sim = b.sim = sim
    opts = link or {}
    sim.add_host("a", a, ips=[ip_a], nat=nat_a, uplink=sim.link(**opts), downlink=sim.link(**opts))
    sim.add_host("b", b, ips=[ip_b], nat=nat_b, uplink=sim.link(**opts), downlink=sim.link(**opts))
    return a, b


def start(sim: Simulator, a: Peer, b: Peer, ports: tuple[int, int] = (5000, 6000)) -> None:
    """Offer/answer as JSEP does it: both gather, credentials cross via signaling."""
    ip_a = next(h.ips[0] for h in sim.hosts if h.endpoint is a)
    ip_b = next(h.ips[0] for h in sim.hosts if h.endpoint is b)
    now = sim.now
    a.agent.start_gathering(now)
    a.agent.add_host_candidate(now, (ip_a, ports[0]))
    a.agent.end_of_host_candidates(now)
    a._drain(now)
    b.agent.set_remote_credentials(now, *a.agent.local_credentials)
    b.agent.start_gathering(now)
    b.agent.add_host_candidate(now, (ip_b, ports[1]))
    b.agent.end_of_host_candidates(now)
    b._drain(now)
    a_creds = b.agent.local_credentials

    def answer() -> None:
        a.agent.set_remote_credentials(sim.now, *a_creds)
        a._drain(sim.now)

    sim.call_later(a.signaling_delay, answer)
