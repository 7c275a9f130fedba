"""ICE through TURN in simulated time: relay-only policy, symmetric NATs that only a
relay can cross, refreshes over long calls, restarts, failures reported."""

from __future__ import annotations

from rtcpeer.ice.agent import IceCandidateErrorEvent
from rtcpeer.ice.turn import TurnServerConfig
from rtcpeer.testing import Nat, NatBehavior, Simulator, TurnServer
from tests.scenario.ice_peers import Peer, make_pair, start

TURN = ("203.0.113.50", 3478)
APD = NatBehavior.ADDRESS_AND_PORT_DEPENDENT
CONFIG = TurnServerConfig(TURN, "alice", "secret", f"turn:{TURN[0]}:{TURN[1]}")


def turn_server(sim: Simulator, **options: object) -> TurnServer:
    server = TurnServer(TURN, {"alice": "secret"}, **options)  # type: ignore[arg-type]
    sim.add_host("turn", server, ips=[TURN[0]])
    return server


def connected(a: Peer, b: Peer) -> bool:
    ok = ("connected", "completed")
    return a.agent.state in ok and b.agent.state in ok


def relayed_call(sim: Simulator) -> tuple[Peer, Peer]:
    """Two relay-only agents through the TURN server, connected."""
    a, b = make_pair(sim, turn_servers=[CONFIG], relay_only=True)  # type: ignore[arg-type]
    start(sim, a, b)
    assert sim.run_until(lambda: connected(a, b), timeout=10.0)
    return a, b


def local_types(peer: Peer) -> set[str]:
    return {c.type for c in peer.candidates if c is not None}


def test_relay_only_policy_connects_through_the_server() -> None:
    sim = Simulator(seed=31)
    server = turn_server(sim)
    a, b = relayed_call(sim)
    # Only relayed candidates were announced, and both sides use them.
    assert local_types(a) == local_types(b) == {"relay"}
    for peer in (a, b):
        pair = peer.agent.selected
        assert pair is not None and pair.local.candidate.type == "relay"
        assert pair.remote.candidate.type == "relay"
    assert a.agent.send(b"\x17relayed hello")
    sim.run(0.2)
    assert b.received == [b"\x17relayed hello"]
    # The selected pair got a channel: data travels as ChannelData.
    assert server.channels_bound >= 2
    assert a.candidates[-1] is None and a.agent.gathering_state == "complete"


def test_symmetric_nats_connect_through_turn() -> None:
    sim = Simulator(seed=32)
    turn_server(sim)
    nat_a = Nat("198.51.100.10", mapping=APD, filtering=APD, seed=10)
    nat_b = Nat("198.51.100.20", mapping=APD, filtering=APD, seed=20)
    a, b = make_pair(sim, "10.0.0.2", "10.1.0.2", nat_a=nat_a, nat_b=nat_b, turn_servers=[CONFIG])  # type: ignore[arg-type]
    start(sim, a, b)
    assert sim.run_until(lambda: connected(a, b), timeout=20.0)
    assert local_types(a) == {"host", "relay"}
    pair = a.agent.selected
    assert pair is not None and "relay" in (
        pair.local.candidate.type,
        pair.remote.candidate.type,
    )
    assert b.agent.send(b"\x17across two symmetric NATs")
    sim.run(0.2)
    assert a.received[-1] == b"\x17across two symmetric NATs"


def test_relayed_call_survives_an_hour() -> None:
    """Allocation (600 s), permissions (300 s) and channels (600 s) are refreshed; a
    nonce that goes stale on the way is renewed (438)."""
    sim = Simulator(seed=33)
    server = turn_server(sim, nonce_lifetime=900.0)
    a, b = relayed_call(sim)
    for minute in range(60):
        sim.run(60.0)
        assert a.agent.send(f"\x17minute {minute}".encode())
    sim.run(0.5)
    assert len(b.received) == 60 and b.received[-1] == b"\x17minute 59"
    assert connected(a, b)
    assert "disconnected" not in a.states
    assert server.refreshes >= 2 * 5 and server.stale_nonces >= 1
    assert server.dropped_no_permission == 0


def test_restart_keeps_the_relayed_candidates() -> None:
    sim = Simulator(seed=34)
    server = turn_server(sim)
    a, b = relayed_call(sim)
    allocations = server.allocations_made
    a.agent.restart(sim.now)
    b.agent.set_remote_credentials(sim.now, *a.agent.local_credentials)
    b.agent.restart(sim.now)
    a.agent.set_remote_credentials(sim.now, *b.agent.local_credentials)
    assert sim.run_until(lambda: not a.agent._restarting and not b.agent._restarting, timeout=10.0)
    fresh = [c for c in a.candidates if c is not None and c.ufrag == a.agent.local_ufrag]
    assert fresh and {c.type for c in fresh} == {"relay"}
    assert server.allocations_made == allocations  # no new allocation for a restart
    assert a.agent.send(b"\x17after restart")
    sim.run(0.2)
    assert b.received[-1] == b"\x17after restart"


def test_wrong_credentials_and_dead_servers_are_reported() -> None:
    sim = Simulator(seed=35)
    turn_server(sim)
    wrong = TurnServerConfig(TURN, "alice", "wrong", "turn:wrong")
    dead = TurnServerConfig(("203.0.113.99", 3478), "alice", "secret", "turn:dead")
    a, b = make_pair(sim, turn_servers=[wrong, dead])  # type: ignore[arg-type]
    start(sim, a, b)
    # Host candidates are not held back by the TURN servers.
    assert a.candidates and a.candidates[0] is not None and a.candidates[0].type == "host"
    assert sim.run_until(lambda: connected(a, b), timeout=2.0)
    assert sim.run_until(lambda: a.agent.gathering_state == "complete", timeout=60.0)
    errors = {e.url: e.error_code for e in a.events if isinstance(e, IceCandidateErrorEvent)}
    assert errors == {"turn:wrong": 401, "turn:dead": 701}
    assert "relay" not in local_types(a)


def test_release_deletes_allocations() -> None:
    sim = Simulator(seed=36)
    server = turn_server(sim)
    a, _b = relayed_call(sim)
    assert len(server.allocations) == 2
    a.agent.release(sim.now)  # what Connection.close does before closing ICE
    sim.run(0.5)
    a.agent.close()
    assert len(server.allocations) == 1
    assert server.allocation_for(("192.0.2.1", 5000)) is None


def test_lost_allocation_is_dropped_and_a_restart_allocates_again() -> None:
    sim = Simulator(seed=37)
    server = turn_server(sim)
    a, b = relayed_call(sim)
    (client,) = a.agent._turn
    dead_relay = client.relayed
    # The server forgets the allocation (restarted, say) and the client learns it.
    server._delete(client.base)
    client.lost("the server went away")
    a.agent._drain_turn(sim.now, client)
    assert all(c.base != dead_relay for c in a.agent.local_candidates)
    assert all(p.local.base != dead_relay for p in a.agent.pairs)
    assert sim.run_until(lambda: a.agent.state in ("disconnected", "failed"), timeout=40.0)
    allocations = server.allocations_made
    a.agent.restart(sim.now)
    b.agent.set_remote_credentials(sim.now, *a.agent.local_credentials)
    b.agent.restart(sim.now)
    a.agent.set_remote_credentials(sim.now, *b.agent.local_credentials)
    assert sim.run_until(lambda: connected(a, b) and not a.agent._restarting, timeout=20.0)
    assert server.allocations_made == allocations + 1  # a fresh allocation for a
    fresh = [c for c in a.candidates if c is not None and c.ufrag == a.agent.local_ufrag]
    assert [c.type for c in fresh] == ["relay"] and (fresh[0].address, fresh[0].port) != dead_relay
    assert a.agent.send(b"\x17relayed again")
    sim.run(0.2)
    assert b.received[-1] == b"\x17relayed again"
