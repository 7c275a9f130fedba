"""The ICE agent facing a stranger on the network, in simulated time: replayed
genuine checks from another address change nothing the user sees, and checks that
fail authentication cost little and reflect little."""

from __future__ import annotations

from rtcpeer.datagram import Datagram
from rtcpeer.ice.stun import AttrType, StunClass, StunMessage, StunMethod, is_stun
from rtcpeer.testing import Simulator
from tests.scenario.ice_peers import Outbox, Peer, make_pair, start

ATTACKER = ("203.0.113.66", 4444)


class Attacker(Outbox):
    """A host that sends what it is given and keeps what it gets back."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Datagram] = []

    def handle_datagram(self, now: float, datagram: Datagram) -> None:
        self.received.append(datagram)


def _connected_pair(seed: int) -> tuple[Simulator, Peer, Peer, list[bytes], Attacker]:
    sim = Simulator(seed=seed)
    a, b = make_pair(sim, link={"latency": 0.01})
    checks: list[bytes] = []
    inner = b.poll_datagram

    def poll() -> Datagram | None:
        datagram = inner()
        if datagram is not None and is_stun(datagram.data) and datagram.data[:2] == b"\x00\x01":
            checks.append(datagram.data)  # b's genuine Binding requests to a
        return datagram

    b.poll_datagram = poll  # type: ignore[method-assign]
    attacker = Attacker()
    sim.add_host("attacker", attacker, ips=[ATTACKER[0]])
    start(sim, a, b)
    assert sim.run_until(lambda: a.agent.state == "completed", timeout=10.0)
    sim.run(1.0)
    return sim, a, b, checks, attacker


def test_replayed_checks_from_a_new_address_change_nothing_the_user_sees() -> None:
    sim, a, _b, checks, attacker = _connected_pair(seed=5)
    selected = a.agent.selected
    states = list(a.states)
    target = selected.local.base if selected is not None else ("192.0.2.1", 5000)
    for _ in range(5):
        for data in checks[-3:]:
            attacker.out.append(Datagram(ATTACKER, target, data))
        sim.run(2.0)
    sim.run(20.0)
    assert a.agent.selected is selected
    assert a.states == states and a.agent.state == "completed"
    # What the replays taught the agent failed and is gone again.
    assert all(p.remote.address != ATTACKER for p in a.agent.pairs)
    assert all(r.address != ATTACKER for r in a.agent.remote_candidates)


def _forged(a: Peer, ufrag: str) -> bytes:
    """A check with our ufrag (or another) and a MESSAGE-INTEGRITY made with a wrong
    password."""
    request = StunMessage(StunMethod.BINDING, StunClass.REQUEST, bytes(12))
    request.add(AttrType.USERNAME, f"{ufrag}:attacker")
    request.add(AttrType.PRIORITY, 1)
    return request.serialize(b"not the password", fingerprint=True)


def test_unauthenticated_checks_get_few_answers_and_strangers_none() -> None:
    sim, a, _b, _checks, attacker = _connected_pair(seed=6)
    target = a.agent.selected.local.base if a.agent.selected else ("192.0.2.1", 5000)
    ours = a.agent.local_ufrag
    sent = 0
    for _ in range(50):  # 1,000 forged checks a second for a second
        for _ in range(20):
            attacker.out.append(Datagram(ATTACKER, target, _forged(a, ours)))
            attacker.out.append(Datagram(ATTACKER, target, _forged(a, "stranger")))
            sent += 2
        sim.run(0.02)
    answers = [d for d in attacker.received if is_stun(d.data)]
    # 401s for our ufrag are rate-limited; a ufrag that is not ours gets nothing.
    assert len(answers) <= 25
    assert sum(len(d.data) for d in answers) < sum(len(_forged(a, ours)) for _ in range(sent)) / 20
    assert a.agent.dropped_unauthenticated >= sent - 25
    assert a.agent.state == "completed"


def test_application_data_from_a_stranger_goes_no_further() -> None:
    """DTLS- and SRTP-looking datagrams from an address ICE never saw the peer at are
    dropped by the agent (and counted), before DTLS or SRTP spend anything on them."""
    sim, a, b, _checks, attacker = _connected_pair(seed=7)
    target = a.agent.selected.local.base if a.agent.selected else ("192.0.2.1", 5000)
    before = list(a.received)
    for _ in range(100):
        attacker.out.append(Datagram(ATTACKER, target, b"\x17\xfe\xfd" + bytes(40)))
        attacker.out.append(Datagram(ATTACKER, target, b"\x80\x60" + bytes(40)))
    sim.run(1.0)
    assert a.received == before
    assert a.agent.dropped_unknown_source == 200
    assert a.agent.send(b"\x17still fine")
    sim.run(0.1)
    assert b.received[-1] == b"\x17still fine"
