"""ICE agents in simulated time: loss, NATs, consent, restart, role conflicts."""

from __future__ import annotations

import pytest

from rtcpeer.datagram import Datagram
from rtcpeer.ice.agent import IceAgent
from rtcpeer.testing import Nat, NatBehavior, Simulator
from tests.scenario.ice_peers import StunServer, make_pair, start

EI = NatBehavior.ENDPOINT_INDEPENDENT
APD = NatBehavior.ADDRESS_AND_PORT_DEPENDENT
STUN = ("203.0.113.100", 3478)


def connected(*peers: object) -> bool:
    return all(p.agent.state in ("connected", "completed") for p in peers)  # type: ignore[attr-defined]


def test_public_hosts_connect_and_complete() -> None:
    sim = Simulator(seed=1)
    a, b = make_pair(sim, link={"latency": 0.02})
    start(sim, a, b)
    assert sim.run_until(lambda: connected(a, b), timeout=5.0)
    connect_time = sim.now
    assert connect_time < 0.5  # a few RTTs of 40 ms
    sim.run(2.0)
    # Full W3C sequence on both sides, with end-of-candidates from both.
    assert a.states == ["checking", "connected", "completed"]
    assert b.states == ["checking", "connected", "completed"]
    assert a.gathering_states == ["gathering", "complete"]
    assert a.candidates[-1] is None and a.candidates[0] is not None
    assert a.candidates[0].type == "host"
    # Both selected the same pair, seen from each side.
    (sa,) = a.selected
    (sb,) = b.selected
    assert (sa.local.address, sa.remote.address) == (sb.remote.address, sb.local.address)
    assert a.agent.selected is not None and a.agent.selected.nominated


def test_data_flows_on_the_selected_pair_both_ways() -> None:
    sim = Simulator(seed=2)
    a, b = make_pair(sim, link={"latency": 0.01})
    start(sim, a, b)
    assert sim.run_until(lambda: connected(a, b), timeout=5.0)
    assert a.agent.send(b"\x17hello")
    assert b.agent.send(b"\x17world")
    sim.run(0.1)
    assert b.received == [b"\x17hello"] and a.received == [b"\x17world"]
    pair = a.agent.selected
    assert pair is not None and pair.bytes_sent == 6 and pair.bytes_received == 6


def test_no_checks_without_remote_candidates_and_nothing_sent_before_connect() -> None:
    agent = IceAgent(controlling=True)
    assert agent.send(b"x") is True  # held until a pair can carry it (§12.1)
    assert agent.poll_transmit() is None and not agent.can_send
    agent.start_gathering(0.0)
    agent.add_host_candidate(0.0, ("192.0.2.1", 5000))
    agent.end_of_host_candidates(0.0)
    assert agent.poll_transmit() is None  # no STUN server configured: nothing contacted
    assert agent.state == "new"


@pytest.mark.parametrize("loss", [0.1, 0.3])
def test_connects_under_loss(loss: float) -> None:
    sim = Simulator(seed=3)
    a, b = make_pair(sim, link={"latency": 0.03, "loss": loss, "jitter": 0.01})
    start(sim, a, b)
    assert sim.run_until(lambda: connected(a, b), timeout=15.0)


def test_both_behind_cone_nats_reach_each_other_via_srflx() -> None:
    sim = Simulator(seed=4)
    sim.add_host("stun", StunServer(STUN), ips=[STUN[0]])
    nat_a = Nat("198.51.100.10", mapping=EI, filtering=APD, seed=10)
    nat_b = Nat("198.51.100.20", mapping=EI, filtering=APD, seed=20)
    a, b = make_pair(
        sim, "10.0.0.2", "10.1.0.2", nat_a=nat_a, nat_b=nat_b, stun=STUN, link={"latency": 0.02}
    )
    start(sim, a, b)
    assert sim.run_until(lambda: connected(a, b), timeout=10.0)
    types = {c.type for c in a.candidates if c is not None}
    assert types == {"host", "srflx"}
    srflx = next(c for c in a.candidates if c is not None and c.type == "srflx")
    assert srflx.address == "198.51.100.10" and srflx.related_address == "10.0.0.2"
    (selected,) = a.selected
    assert selected.remote.address == "198.51.100.20"
    assert a.agent.send(b"\x17through the NATs")
    sim.run(0.2)
    assert b.received == [b"\x17through the NATs"]


def test_symmetric_nats_fail_without_turn() -> None:
    sim = Simulator(seed=5)
    sim.add_host("stun", StunServer(STUN), ips=[STUN[0]])
    nat_a = Nat("198.51.100.10", mapping=APD, filtering=APD, seed=10)
    nat_b = Nat("198.51.100.20", mapping=APD, filtering=APD, seed=20)
    a, b = make_pair(sim, "10.0.0.2", "10.1.0.2", nat_a=nat_a, nat_b=nat_b, stun=STUN)
    start(sim, a, b)
    assert sim.run_until(
        lambda: a.agent.state == "failed" and b.agent.state == "failed", timeout=60.0
    )
    assert a.states == ["checking", "failed"]
    assert a.agent.selected is None


def test_dead_stun_server_never_delays_host_candidates() -> None:
    sim = Simulator(seed=6)
    a, b = make_pair(sim, stun=("203.0.113.200", 3478))  # nobody there
    start(sim, a, b)
    # The host candidate is the first event, at time zero.
    assert a.candidates and a.candidates[0] is not None and a.candidates[0].type == "host"
    assert sim.run_until(lambda: connected(a, b), timeout=2.0)
    assert a.agent.gathering_state == "gathering"  # still waiting for the STUN server
    assert sim.run_until(lambda: a.agent.gathering_state == "complete", timeout=30.0)
    errors = [e for e in a.events if type(e).__name__ == "IceCandidateErrorEvent"]
    assert len(errors) == 1 and errors[0].error_code == 701  # type: ignore[attr-defined]
    assert a.candidates[-1] is None


def test_silent_peer_disconnected_within_5s_then_failed_at_30s() -> None:
    sim = Simulator(seed=7)
    a, b = make_pair(sim, link={"latency": 0.02})
    start(sim, a, b)
    assert sim.run_until(lambda: connected(a, b), timeout=5.0)
    sim.run(2.0)
    host_b = next(h for h in sim.hosts if h.name == "b")
    host_b.online = False
    silent_at = sim.now
    assert sim.run_until(lambda: a.agent.state == "disconnected", timeout=10.0)
    assert sim.now - silent_at <= 5.0
    assert sim.run_until(lambda: a.agent.state == "failed", timeout=60.0)
    assert 29.0 <= sim.now - silent_at <= 31.5
    assert a.agent.send(b"\x17late") is False  # consent expired: nothing sent
    assert a.states[-3:] == ["completed", "disconnected", "failed"]


def test_disconnected_recovers_when_the_peer_returns() -> None:
    sim = Simulator(seed=8)
    a, b = make_pair(sim, link={"latency": 0.02})
    start(sim, a, b)
    assert sim.run_until(lambda: connected(a, b), timeout=5.0)
    host_b = next(h for h in sim.hosts if h.name == "b")
    host_b.online = False
    assert sim.run_until(lambda: a.agent.state == "disconnected", timeout=10.0)
    host_b.online = True
    assert sim.run_until(lambda: connected(a), timeout=5.0)
    assert "failed" not in a.states


def test_role_conflict_both_controlling_resolves() -> None:
    sim = Simulator(seed=9)
    a, b = make_pair(sim, link={"latency": 0.01})
    b.agent.controlling = True  # e.g. both sides think they offered
    start(sim, a, b)
    assert sim.run_until(lambda: connected(a, b), timeout=5.0)
    assert a.agent.controlling != b.agent.controlling
    # The larger tie-breaker keeps the controlling role (RFC 8445 §7.3.1.1).
    winner = a if a.agent.tie_breaker > b.agent.tie_breaker else b
    assert winner.agent.controlling


def test_role_conflict_both_controlled_resolves() -> None:
    sim = Simulator(seed=10)
    a, b = make_pair(sim, link={"latency": 0.01})
    a.agent.controlling = False
    start(sim, a, b)
    assert sim.run_until(lambda: connected(a, b), timeout=5.0)
    assert a.agent.controlling != b.agent.controlling


def test_peer_reflexive_when_one_side_signals_nothing() -> None:
    sim = Simulator(seed=11)
    a, b = make_pair(sim, link={"latency": 0.01})
    a.signal_candidates = False  # b never learns a's candidates
    start(sim, a, b)
    assert sim.run_until(lambda: connected(a, b), timeout=5.0)
    (selected,) = b.selected
    assert selected.remote.type == "prflx"


def test_restart_while_connected_keeps_traffic_on_old_pair() -> None:
    sim = Simulator(seed=12)
    a, b = make_pair(sim, link={"latency": 0.02})
    start(sim, a, b)
    assert sim.run_until(lambda: connected(a, b), timeout=5.0)
    sim.run(1.0)
    old_ufrag = a.agent.local_ufrag
    a.agent.restart(sim.now)
    assert a.agent.local_ufrag != old_ufrag
    # Data still flows during the restart.
    assert a.agent.send(b"\x17during restart")
    sim.run(0.1)
    assert b.received[-1] == b"\x17during restart"
    # The answerer restarts too; credentials cross.
    b.agent.set_remote_credentials(sim.now, *a.agent.local_credentials)
    b.agent.restart(sim.now)
    a.agent.set_remote_credentials(sim.now, *b.agent.local_credentials)
    responses_before = a.agent.selected.responses_received if a.agent.selected else 0
    assert sim.run_until(
        lambda: a.agent._restarting is False and b.agent._restarting is False, timeout=5.0
    )
    # A nomination under the new credentials selected the pair; the old ones are gone.
    assert a.agent.selected is not None and a.agent.selected.nominated
    assert a.agent.selected.responses_received > responses_before
    assert a.agent._previous_credentials is None and b.agent._previous_credentials is None
    assert a.agent.state in ("connected", "completed")
    assert "failed" not in a.states and "disconnected" not in a.states
    new_candidates = [c for c in a.candidates if c is not None and c.ufrag == a.agent.local_ufrag]
    assert new_candidates, "candidates are announced again under the new ufrag"
    assert a.agent.send(b"\x17after restart")
    sim.run(0.1)
    assert b.received[-1] == b"\x17after restart"


def test_early_checks_before_remote_credentials_are_answered() -> None:
    sim = Simulator(seed=13)
    a, b = make_pair(sim, link={"latency": 0.01})
    a.signaling_delay = 0.5  # the answer (b's credentials) reaches a late
    start(sim, a, b)
    assert sim.run_until(lambda: connected(a, b), timeout=5.0)
    # b's checks reached a before a had b's credentials; a answered them anyway.
    assert sim.now >= 0.5


def test_malformed_and_unauthenticated_stun_is_dropped_and_counted() -> None:
    agent = IceAgent(controlling=False)
    agent.start_gathering(0.0)
    agent.add_host_candidate(0.0, ("192.0.2.1", 5000))
    stunlike = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + bytes(12)
    agent.handle_datagram(0.0, Datagram(("192.0.2.9", 1), ("192.0.2.1", 5000), stunlike))
    assert agent.dropped_malformed >= 1  # no FINGERPRINT
    from rtcpeer.ice.stun import AttrType, StunClass, StunMessage, StunMethod

    forged = StunMessage(StunMethod.BINDING, StunClass.REQUEST)
    forged.add(AttrType.USERNAME, f"{agent.local_ufrag}:x")
    data = forged.serialize(b"wrong password", fingerprint=True)
    agent.handle_datagram(0.0, Datagram(("192.0.2.9", 1), ("192.0.2.1", 5000), data))
    assert agent.dropped_unauthenticated == 1
    reply = agent.poll_transmit()
    assert reply is not None and StunMessage.parse(reply.data).error_code.code == 401  # type: ignore[union-attr]
    assert agent.remote_candidates == []  # no pair formed from a forged check


def test_same_seed_same_connection_trace() -> None:
    def run(seed: int) -> list[object]:
        sim = Simulator(seed=seed, trace=True)
        a, b = make_pair(sim, seed=seed, link={"latency": 0.02, "loss": 0.2, "jitter": 0.01})
        start(sim, a, b)
        sim.run(3.0)
        assert sim.trace is not None
        return [(e.time, e.what, e.src, e.dst, e.size) for e in sim.trace]

    assert run(21) == run(21)


def test_unknown_comprehension_required_attribute_gets_420() -> None:
    from rtcpeer.ice.stun import AttrType, StunClass, StunMessage, StunMethod, short_term_key

    agent = IceAgent(controlling=False)
    agent.start_gathering(0.0)
    agent.add_host_candidate(0.0, ("192.0.2.1", 5000))
    agent.poll_event()
    request = StunMessage(StunMethod.BINDING, StunClass.REQUEST)
    request.add(AttrType.USERNAME, f"{agent.local_ufrag}:peer")
    request.add(AttrType.PRIORITY, 12345)
    request.add(0x7F01, b"\x00\x00\x00\x01")  # comprehension-required, unknown
    data = request.serialize(short_term_key(agent.local_pwd), fingerprint=True)
    agent.handle_datagram(0.0, Datagram(("192.0.2.9", 1), ("192.0.2.1", 5000), data))
    reply = agent.poll_transmit()
    assert reply is not None
    error = StunMessage.parse(reply.data)
    assert error.msg_class == StunClass.ERROR and error.error_code.code == 420  # type: ignore[union-attr]
    assert error.unknown_attributes == (0x7F01,)
    assert error.check_integrity(short_term_key(agent.local_pwd))
    assert agent.remote_candidates == []  # nothing learnt from a refused check


class LitePeer:
    """An ICE-lite agent (RFC 8445 §2.5): answers checks, never sends one, and takes
    the pair the controlling full agent nominates."""

    def __init__(self, address: tuple[str, int], ufrag: str, pwd: str) -> None:
        self.address = address
        self.ufrag, self.pwd = ufrag, pwd
        self.out: list[Datagram] = []
        self.nominated: tuple[str, int] | None = None
        self.requests = 0
        self.received: list[bytes] = []

    def handle_datagram(self, now: float, datagram: Datagram) -> None:
        from rtcpeer.ice.stun import AttrType, StunMessage, is_stun, short_term_key

        if not is_stun(datagram.data):
            self.received.append(datagram.data)
            return
        request = StunMessage.parse(datagram.data)
        assert request.check_integrity(short_term_key(self.pwd))
        assert request.ice_controlling is not None  # a full agent facing lite controls
        self.requests += 1
        if request.use_candidate:
            self.nominated = datagram.src
        response = request.success_response([(AttrType.XOR_MAPPED_ADDRESS, datagram.src)])
        self.out.append(
            Datagram(
                self.address,
                datagram.src,
                response.serialize(short_term_key(self.pwd), fingerprint=True),
            )
        )

    def poll_datagram(self) -> Datagram | None:
        return self.out.pop(0) if self.out else None

    def poll_timeout(self) -> float | None:
        return None

    def handle_timeout(self, now: float) -> None:
        pass


def test_full_agent_controls_and_nominates_towards_an_ice_lite_peer() -> None:
    from rtcpeer.ice.candidate import Candidate, candidate_priority

    sim = Simulator(seed=40)
    lite = LitePeer(("198.51.100.5", 7000), "liteufrag", "litepassword0123456789ab")
    full = IceAgent(controlling=False, rng=__import__("random").Random(4))  # answerer
    sim.add_host("lite", lite, ips=["198.51.100.5"])

    class Full:
        def __init__(self) -> None:
            self.received: list[bytes] = []

        def handle_datagram(self, now: float, datagram: Datagram) -> None:
            data = full.handle_datagram(now, datagram)
            if data is not None:
                self.received.append(data)

        def poll_datagram(self) -> Datagram | None:
            return full.poll_transmit()

        def poll_timeout(self) -> float | None:
            return full.poll_timeout()

        def handle_timeout(self, now: float) -> None:
            full.handle_timeout(now)

    sim.add_host("full", Full(), ips=["192.0.2.1"])
    full.start_gathering(0.0)
    full.add_host_candidate(0.0, ("192.0.2.1", 5000))
    full.end_of_host_candidates(0.0)
    full.set_remote_credentials(0.0, lite.ufrag, lite.pwd, lite=True)
    assert full.controlling  # RFC 8445 §6.1.1: facing a lite agent, the full one controls
    remote = Candidate("1", 1, "udp", candidate_priority("host"), "198.51.100.5", 7000, "host")
    full.add_remote_candidate(0.0, remote)
    full.add_remote_candidate(0.0, None)
    assert sim.run_until(lambda: full.state in ("connected", "completed"), timeout=5.0)
    assert lite.nominated == ("192.0.2.1", 5000)
    assert full.selected is not None and full.selected.nominated
    assert full.send(b"\x17to the lite peer")
    sim.run(0.1)
    assert lite.received == [b"\x17to the lite peer"]


def test_controlled_agent_accepts_aggressive_nomination() -> None:
    """A controlling peer that puts USE-CANDIDATE on its very first check (aggressive
    nomination, RFC 5245): the controlled agent selects the pair once its own check
    of it succeeds."""
    sim = Simulator(seed=41)
    a, b = make_pair(sim)
    original = a.agent._start_check

    def aggressive(now: float, pair: object, *, nominating: bool, consent: bool = False) -> None:
        original(now, pair, nominating=not consent, consent=consent)  # type: ignore[arg-type]

    a.agent._start_check = aggressive  # type: ignore[method-assign]
    start(sim, a, b)
    assert sim.run_until(lambda: connected(a, b), timeout=5.0)
    assert b.agent.selected is not None and b.agent.selected.nominated
    assert b.agent.send(b"\x17aggressively chosen")
    sim.run(0.1)
    assert a.received[-1] == b"\x17aggressively chosen"


def test_restart_after_failed_goes_through_checking_and_recovers() -> None:
    """W3C/browser behaviour: consent expired (failed), the peer comes back, an ICE
    restart checks afresh (checking) and connects; the dead pair carries nothing
    meanwhile and the state never claims connected early."""
    sim = Simulator(seed=42)
    a, b = make_pair(sim, link={"latency": 0.02})
    start(sim, a, b)
    assert sim.run_until(lambda: connected(a, b), timeout=5.0)
    host_b = next(h for h in sim.hosts if h.name == "b")
    host_b.online = False
    assert sim.run_until(lambda: a.agent.state == "failed", timeout=60.0)
    host_b.online = True
    a.agent.restart(sim.now)
    assert a.agent.state == "checking" and a.agent.selected is None
    assert a.agent.send(b"\x17too early")  # held, not sent on the dead pair
    assert a.agent.poll_transmit() is None
    b.agent.set_remote_credentials(sim.now, *a.agent.local_credentials)
    b.agent.restart(sim.now)
    a.agent.set_remote_credentials(sim.now, *b.agent.local_credentials)
    assert sim.run_until(lambda: connected(a, b), timeout=10.0)
    after = a.states[a.states.index("failed") :]
    assert after[:3] == ["failed", "checking", "connected"]  # never connected early
    assert a.agent.send(b"\x17back")
    sim.run(0.2)
    assert b.received[-2:] == [b"\x17too early", b"\x17back"]
