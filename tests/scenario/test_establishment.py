"""Connection establishment in simulated time: every signaling shape, both SCTP
initiator habits, and the first-packet races, checked against the mechanism.

The shapes are what applications and other stacks produce: trickle both ways; full
candidates in both descriptions (no trickle); the offer with all candidates and the
answer sent before gathering, never trickled (aiortc's server shape, WHIP's); the offer
without candidates and its candidates trickled late; the answer's candidates and
connectivity checks racing the answer itself.

To show that no shape leans on a retransmission timer, the DTLS timer starts at 5 s
here (instead of 50 ms) and SCTP's T1-init is 1 s: a channel that opens within a few
round trips of the last signaling message opened without any timer firing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import pytest

import rtcpeer.connection as connection_module
from rtcpeer.connection import Connection
from rtcpeer.datagram import Datagram
from rtcpeer.ice.agent import IceSelectedPairEvent
from rtcpeer.ice.candidate import Candidate
from rtcpeer.sctp.datachannel import Channel, ChannelAnnounced
from rtcpeer.testing import Simulator
from tests.scenario.connections import WALL, Node, batching, certificate

ONE_WAY = 0.02  # link latency each way: a 40 ms round trip
SIGNALING = 0.05  # one way through the signaling server


@dataclass(frozen=True)
class Shape:
    offer_candidates: bool  # the offer carries the offerer's candidates
    offerer_trickles: bool
    answer_candidates: bool  # the answer carries the answerer's candidates
    answerer_trickles: bool
    trickle_delay: float = 0.0  # extra delay of the offerer's trickled candidates
    answer_delay: float = 0.0  # extra delay of the answer (its candidates race it)


SHAPES = {
    "trickle": Shape(False, True, False, True),
    "full-sdp": Shape(True, False, True, False),
    "answer-before-gathering": Shape(True, False, False, False),
    "offer-trickled-late": Shape(False, True, False, True, trickle_delay=0.4),
    "candidates-race-answer": Shape(False, True, False, True, answer_delay=0.3),
}


def _node(name: str, controlling: bool, seed: int, **options: object) -> Node:
    conn = Connection(
        controlling=controlling,
        certificate=certificate(),
        wall_time=WALL,
        rng=random.Random(seed),
        **options,  # type: ignore[arg-type]
    )
    return Node(name, conn)


@dataclass
class Call:
    sim: Simulator
    a: Node  # offerer: ICE controlling, DTLS server (actpass answered by active)
    b: Node  # answerer: ICE controlled, DTLS client
    channel: Channel
    signaled_at: float = 0.0  # when the last signaling message the call needs arrived

    def opened(self) -> bool:
        return self.channel.state == "open" and bool(self.b.of(ChannelAnnounced))


def place_call(
    shape: Shape,
    *,
    seed: int = 1,
    link: dict[str, float] | None = None,
    a_options: dict[str, object] | None = None,
    b_options: dict[str, object] | None = None,
    b_role: str = "client",
) -> Call:
    """Negotiate a data channel between two Connections the way JSEP would, in
    ``shape``: ``a`` offers, ``b`` answers; the answer makes ``b`` the DTLS
    ``b_role``."""
    sim = Simulator(seed=seed)
    a = _node("a", True, seed, **(a_options or {}))
    b = _node("b", False, seed + 100, **(b_options or {}))
    a.peer, b.peer = b, a
    a.sim = b.sim = sim
    a.trickle, b.trickle = shape.offerer_trickles, shape.answerer_trickles
    options = link if link is not None else {"latency": ONE_WAY}
    for name, node, ip in (("a", a, "192.0.2.1"), ("b", b, "198.51.100.1")):
        sim.add_host(name, node, ips=[ip], uplink=sim.link(**options), downlink=sim.link(**options))
    a_role = "server" if b_role == "client" else "client"
    channel = a.conn.channels.create(0.0, "chat")
    call = Call(sim, a, b, channel)

    def gather(node: Node, ip: str, port: int) -> None:
        now = sim.now
        node.conn.ice.start_gathering(now)
        node.conn.ice.add_host_candidate(now, (ip, port))
        node.conn.ice.end_of_host_candidates(now)
        node.conn.pump(now)
        node.drain(now)

    def candidates(node: Node) -> list[Candidate]:
        return [c for c in node.gathered if isinstance(c, Candidate)]

    def mark_signaled() -> None:
        call.signaled_at = max(call.signaled_at, sim.now)

    def description_arrives(
        node: Node, sender: Node, role: str, offered: list[Candidate], with_end: bool
    ) -> None:
        # setRemoteDescription: ICE credentials and candidates, DTLS role, SCTP.
        now = sim.now
        mark_signaled()
        node.conn.set_remote_ice(
            now, *sender.conn.ice.local_credentials, offered, end_of_candidates=with_end
        )
        fingerprints = sender.conn.dtls.certificate.get_fingerprints()
        node.conn.start_dtls(now, role, fingerprints)  # type: ignore[arg-type]
        node.conn.start_sctp(now, 5000, 5000, 262144)
        node.drain(now)

    def answer_arrives(offered: list[Candidate], with_end: bool) -> None:
        description_arrives(a, b, a_role, offered, with_end)
        if shape.offerer_trickles and shape.trickle_delay:
            for candidate in [*candidates(a), None]:
                sim.call_later(
                    shape.trickle_delay,
                    lambda c=candidate: (mark_signaled(), b.remote_candidate(c)),
                )

    def offer_arrives(offered: list[Candidate], with_end: bool) -> None:
        description_arrives(b, a, b_role, offered, with_end)
        gather(b, "198.51.100.1", 6000)  # setLocalDescription(answer)
        answered = candidates(b) if shape.answer_candidates else []
        sim.call_later(
            SIGNALING + shape.answer_delay,
            lambda: answer_arrives(answered, shape.answer_candidates),
        )

    # a: createDataChannel, setLocalDescription(offer): gathering starts.
    if shape.offerer_trickles and shape.trickle_delay:
        a.trickle = False  # held back, sent after the answer (below)
    gather(a, "192.0.2.1", 5000)
    offered = candidates(a) if shape.offer_candidates else []
    sim.call_later(SIGNALING, lambda: offer_arrives(offered, shape.offer_candidates))
    return call


@pytest.fixture
def no_timer_rescue(monkeypatch: pytest.MonkeyPatch) -> None:
    """DTLS retransmits after 5 s at the earliest (SCTP's T1-init stays at 1 s)."""
    monkeypatch.setattr(connection_module, "_DTLS_MIN_RTO", 5.0)


@pytest.mark.usefixtures("no_timer_rescue")
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("b_role", ["client", "server"])
def test_every_signaling_shape_opens_without_a_timer(shape: Shape, b_role: str) -> None:
    call = place_call(shape, b_role=b_role)
    assert call.sim.run_until(call.opened, timeout=30.0), (
        f"ICE {call.a.conn.ice.state}/{call.b.conn.ice.state}, "
        f"DTLS {call.a.conn.dtls.state}/{call.b.conn.dtls.state}"
    )
    # ICE, DTLS (2 round trips), SCTP (2) and DCEP take a handful of round trips;
    # any timer (DTLS 5 s, T1-init 1 s) would have blown this.
    assert call.sim.now - call.signaled_at < 0.5
    assert call.a.conn.dtls.retransmissions == call.b.conn.dtls.retransmissions == 0


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("seed", [1, 2])
def test_every_signaling_shape_opens_under_loss_reordering_and_duplication(
    shape: Shape, seed: int
) -> None:
    link = {"latency": ONE_WAY, "jitter": 0.01, "loss": 0.1, "reorder": 0.1, "duplicate": 0.05}
    call = place_call(shape, seed=seed, link=link)
    assert call.sim.run_until(call.opened, timeout=60.0)


@pytest.mark.usefixtures("no_timer_rescue")
@pytest.mark.parametrize("passive", ["offerer", "answerer"])
@pytest.mark.parametrize("b_role", ["client", "server"])
def test_a_peer_that_never_sends_init_gets_ours(passive: str, b_role: str) -> None:
    """A stack that waits for INIT (whatever its DTLS role) still gets an association:
    we send INIT as DTLS client and as DTLS server."""
    quiet = {"sctp_initiate": False}
    call = place_call(
        SHAPES["trickle"],
        b_role=b_role,
        a_options=quiet if passive == "offerer" else None,
        b_options=quiet if passive == "answerer" else None,
    )
    assert call.sim.run_until(call.opened, timeout=30.0)
    assert call.sim.now - call.signaled_at < 0.5  # no T1-init needed either


@pytest.mark.parametrize("b_role", ["client", "server"])
@pytest.mark.parametrize("latency", [0.0, 0.005, 0.02, 0.1])
def test_crossing_inits_resolve_into_one_association(b_role: str, latency: float) -> None:
    """Both ends INIT at once (both send INIT whatever their DTLS role): the INITs
    cross in COOKIE-WAIT, or one arrives in COOKIE-ECHOED, and one association with
    one pair of tags results (RFC 9260 §5.2.1, §5.2.4)."""
    call = place_call(SHAPES["trickle"], b_role=b_role, link={"latency": latency})
    assert call.sim.run_until(call.opened, timeout=30.0)
    sa, sb = call.a.conn.sctp, call.b.conn.sctp
    assert sa is not None and sb is not None
    assert sa.peer_tag == sb.local_tag and sb.peer_tag == sa.local_tag
    call.sim.run(2.0)
    assert sa.is_established and sb.is_established


class _Recorder:
    """Wraps a node: timestamps of what it sent, by kind (first byte, RFC 7983)."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.sent: list[tuple[float, Datagram]] = []
        inner = node.poll_datagram

        def poll() -> Datagram | None:
            datagram = inner()
            if datagram is not None and node.sim is not None:
                self.sent.append((node.sim.now, datagram))
            return datagram

        node.poll_datagram = poll  # type: ignore[method-assign]

    def first(self, kind: Callable[[bytes], bool]) -> float | None:
        return next((t for t, d in self.sent if kind(d.data)), None)


def _watch_handshake(node: Node) -> Callable[[], float]:
    """Record when ``node`` first receives a DTLS handshake record and when it sends
    its ServerHello; the returned function gives the time between the two."""
    recorder = _Recorder(node)
    arrived: list[float] = []
    inner = node.handle_datagram

    def handle(now: float, datagram: Datagram) -> None:
        if datagram.data[:1] == b"\x16" and not arrived:
            arrived.append(now)
        inner(now, datagram)

    node.handle_datagram = handle  # type: ignore[method-assign]

    def answered_within() -> float:
        server_hello = recorder.first(_is_server_hello)
        assert arrived and server_hello is not None
        return server_hello - arrived[0]

    return answered_within


def _is_server_hello(data: bytes) -> bool:
    # A handshake record (22) whose message is ServerHello (2), RFC 6347 §4.2.2.
    return len(data) > 13 and data[0] == 22 and data[13] == 2


@pytest.mark.usefixtures("no_timer_rescue")
def test_client_hello_before_our_nomination_is_answered_at_once() -> None:
    """The peer (DTLS client) sends its ClientHello as soon as its own check
    succeeded, before we (controlling, DTLS server) selected a pair; nomination here
    waits a full second. Our ServerHello still leaves within one round trip of the
    ClientHello, on the pair it came in on, and not after a retransmission."""
    call = place_call(SHAPES["trickle"])
    ice = call.a.conn.ice
    ice.nomination_delay = 1.0
    # A better remote candidate that never answers keeps regular nomination waiting
    # (RFC 8445 §8.1.1) for the whole nomination delay.
    ice.add_remote_candidate(0.0, Candidate("dead", 1, "udp", 2**31 - 1, "203.0.113.9", 9, "host"))
    answered_within = _watch_handshake(call.a)
    assert call.sim.run_until(call.opened, timeout=30.0)
    assert answered_within() <= 2 * ONE_WAY
    assert call.b.conn.dtls.retransmissions == 0
    # The channel opened on the valid pair (RFC 8445 §12.1) before we nominated it.
    assert ice.selected is None and call.sim.now < 1.0
    call.sim.run(2.0)
    assert any(isinstance(e, IceSelectedPairEvent) for e in call.a.events)


def test_client_hello_while_our_check_is_in_progress_is_answered_on_its_path() -> None:
    """Our first check is lost, so our pair is still in progress (its retransmission
    is 250 ms away) when the peer's own check has succeeded and its ClientHello
    comes: the peer is talking to us on that pair, so the ServerHello flight goes
    out there at once, not after our check finally succeeds. Nothing is dropped."""
    call = place_call(SHAPES["trickle"])
    lost: list[Datagram] = []
    inner = call.a.poll_datagram

    def poll() -> Datagram | None:
        while (datagram := inner()) is not None:
            if not lost and datagram.data[:2] == b"\x00\x01":  # our first Binding request
                lost.append(datagram)
                continue
            return datagram
        return None

    call.a.poll_datagram = poll  # type: ignore[method-assign]
    answered_within = _watch_handshake(call.a)
    assert call.sim.run_until(call.opened, timeout=30.0)
    assert lost
    assert answered_within() <= 2 * ONE_WAY
    assert call.a.conn.ice.dropped_unsendable == 0


def test_init_in_the_same_batch_as_the_finished_is_answered_on_first_sight() -> None:
    """b is the DTLS client and never initiates SCTP; a (server) finishes the
    handshake first and sends its INIT right behind its Finished. Both reach b in one
    batch, before b's association exists: the INIT is kept and answered at once,
    not after a's T1-init (1 s)."""
    call = place_call(SHAPES["trickle"], b_options={"sctp_initiate": False})
    b = call.b
    batching(b)
    assert call.sim.run_until(call.opened, timeout=30.0)
    assert call.sim.now - call.signaled_at < 0.5
    sa = call.a.conn.sctp
    assert sa is not None and sa.is_established
    assert b.conn.early_dropped == 0


def test_srtp_in_the_same_batch_as_the_finished_is_kept_until_keys_exist() -> None:
    """Media the peer protects right after its Finished arrives before our
    "connected": kept, then unprotected once the keys are exported."""
    call = place_call(SHAPES["trickle"])
    a, b = call.a, call.b
    batching(b)
    sim = call.sim
    # a is the DTLS server: connected one flight before b. Send RTCP at once.
    sent: list[bool] = []

    def on_connected() -> bool:
        if a.conn.srtp is not None and not sent:
            rtcp = bytes([0x80, 201, 0, 1]) + b"\x00\x00\x00\x01"  # an empty RR
            a.conn.ice.send(a.conn.srtp.protect_rtcp(rtcp))
            sent.append(True)
        return b.conn.srtp is not None

    assert sim.run_until(on_connected, timeout=10.0)
    assert sent
    sim.run(0.1)
    assert b.conn.srtp_dropped == 0 and b.conn.early_dropped == 0
    assert b.conn.dropped_unknown == 0
