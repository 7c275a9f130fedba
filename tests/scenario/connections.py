"""Two sans-IO Connections wired through the simulator, negotiated by hand (what JSEP
would carry: ICE credentials and candidates, fingerprints, DTLS roles, SCTP ports)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rtcpeer.connection import Connection, ConnectionEvent
from rtcpeer.datagram import Datagram
from rtcpeer.dtls.certificate import Certificate
from rtcpeer.ice.agent import IceLocalCandidateEvent
from rtcpeer.sctp.datachannel import ChannelMessage
from rtcpeer.testing import Simulator

WALL = datetime(2026, 11, 24, tzinfo=UTC)
_CERTS: list[Certificate] = []


def certificate() -> Certificate:
    if len(_CERTS) < 2:
        _CERTS.append(Certificate.generate(not_before=WALL))
        return _CERTS[-1]
    return _CERTS[len(_CERTS) % 2 - 1]


@dataclass(eq=False)
class Node:
    name: str
    conn: Connection
    events: list[ConnectionEvent] = field(default_factory=list)
    peer: Node | None = None
    sim: Simulator | None = None
    #: Labels whose messages are kept aside (not in events), for big transfers.
    bulk_labels: set[str] = field(default_factory=set)
    bulk: dict[str, list[bytes]] = field(default_factory=dict)
    received_bytes: dict[str, int] = field(default_factory=dict)
    #: Trickle local candidates to the peer (with a signaling delay) as they come.
    trickle: bool = True
    #: Every local candidate so far (None: end-of-candidates), for full descriptions.
    gathered: list[object] = field(default_factory=list)

    def handle_datagram(self, now: float, datagram: Datagram) -> None:
        self.conn.handle_datagram(now, datagram)
        self.drain(now)

    def poll_datagram(self) -> Datagram | None:
        return self.conn.poll_transmit()

    def poll_timeout(self) -> float | None:
        return self.conn.poll_timeout()

    def handle_timeout(self, now: float) -> None:
        self.conn.handle_timeout(now)
        self.drain(now)

    def drain(self, now: float) -> None:
        while (event := self.conn.poll_event()) is not None:
            if isinstance(event, ChannelMessage):
                label = event.channel.label
                self.received_bytes[label] = self.received_bytes.get(label, 0) + len(event.data)
                if label in self.bulk_labels:
                    self.bulk.setdefault(label, []).append(event.data)  # type: ignore[arg-type]
                    continue
            self.events.append(event)
            if isinstance(event, IceLocalCandidateEvent):
                self.gathered.append(event.candidate)
            if isinstance(event, IceLocalCandidateEvent) and self.peer is not None and self.trickle:
                peer, candidate = self.peer, event.candidate
                assert self.sim is not None
                self.sim.call_later(0.02, lambda p=peer, c=candidate: p.remote_candidate(c))

    def remote_candidate(self, candidate: object) -> None:
        assert self.sim is not None
        self.conn.ice.add_remote_candidate(self.sim.now, candidate)  # type: ignore[arg-type]
        self.conn.pump(self.sim.now)
        self.drain(self.sim.now)

    def of(self, kind: type) -> list[object]:
        return [e for e in self.events if isinstance(e, kind)]


def connect_pair(
    sim: Simulator,
    link: dict[str, float] | None = None,
    seed: int = 1,
    with_sctp: bool = True,
    max_message_sizes: tuple[int, int] = (262144, 262144),
) -> tuple[Node, Node]:
    """``max_message_sizes``: what a and b accept (and announce, as a=max-message-size
    would)."""
    rng = random.Random(seed)
    a = Node(
        "a",
        Connection(
            controlling=True,
            certificate=certificate(),
            wall_time=WALL,
            rng=random.Random(rng.random()),
            max_message_size=max_message_sizes[0] or 262144,
        ),
    )
    b = Node(
        "b",
        Connection(
            controlling=False,
            certificate=certificate(),
            wall_time=WALL,
            rng=random.Random(rng.random()),
            max_message_size=max_message_sizes[1] or 262144,
        ),
    )
    a.peer, b.peer = b, a
    a.sim = b.sim = sim
    opts = link or {}
    sim.add_host("a", a, ips=["192.0.2.1"], uplink=sim.link(**opts), downlink=sim.link(**opts))
    sim.add_host("b", b, ips=["198.51.100.1"], uplink=sim.link(**opts), downlink=sim.link(**opts))
    now = sim.now
    for node, ip, port in ((a, "192.0.2.1", 5000), (b, "198.51.100.1", 6000)):
        node.conn.ice.start_gathering(now)
        node.conn.ice.add_host_candidate(now, (ip, port))
        node.conn.ice.end_of_host_candidates(now)
    # Offer (a, actpass) / answer (b, active): b is the DTLS client.
    b.conn.set_remote_ice(now, *a.conn.ice.local_credentials)
    a.conn.set_remote_ice(now, *b.conn.ice.local_credentials)
    a.conn.start_dtls(now, "server", b.conn.dtls.certificate.get_fingerprints())
    b.conn.start_dtls(now, "client", a.conn.dtls.certificate.get_fingerprints())
    if with_sctp:
        a.conn.start_sctp(now, 5000, 5000, max_message_sizes[1])
        b.conn.start_sctp(now, 5000, 5000, max_message_sizes[0])
    a.drain(now)
    b.drain(now)
    return a, b


class _BatchingNode(Node):
    """A node that handles what arrives in batches (``handle_datagrams``), as the
    asyncio driver does after a socket wake-up: everything that arrived within
    ``tick`` seconds of the first datagram (0: the same instant)."""

    tick: float
    pending: list[Datagram]
    due: float | None

    def handle_datagram(self, now: float, datagram: Datagram) -> None:
        self.pending.append(datagram)
        if self.due is None:
            self.due = now + self.tick

    def poll_timeout(self) -> float | None:
        own = self.conn.poll_timeout()
        if self.due is None:
            return own
        return self.due if own is None else min(own, self.due)

    def handle_timeout(self, now: float) -> None:
        if self.due is not None and now >= self.due:
            batch, self.pending, self.due = self.pending, [], None
            self.conn.handle_datagrams(now, batch)
        self.conn.handle_timeout(now)
        self.drain(now)


def batching(node: Node, tick: float = 0.0) -> None:
    """Make ``node`` handle its datagrams in batches from now on (see _BatchingNode)."""
    node.__class__ = _BatchingNode
    batched: _BatchingNode = node  # type: ignore[assignment]
    batched.tick, batched.pending, batched.due = tick, [], None
