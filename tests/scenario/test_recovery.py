"""Outages and dead peers in simulated time: data resumes as soon as the path is back,
and a peer that is gone for good is reported on every channel."""

from __future__ import annotations

import pytest

from rtcpeer.errors import InvalidStateError, RTCError
from rtcpeer.sctp.datachannel import (
    ChannelClosed,
    ChannelError,
    ChannelMessage,
)
from rtcpeer.testing import Simulator
from tests.scenario.connections import Node, connect_pair

ONE_WAY = 0.02


def _open_pair(seed: int) -> tuple[Simulator, Node, Node, object]:
    sim = Simulator(seed=seed)
    a, b = connect_pair(sim, {"latency": ONE_WAY})
    channel = a.conn.channels.create(sim.now, "data")
    assert sim.run_until(lambda: channel.state == "open", timeout=10.0)
    sim.run(1.0)
    return sim, a, b, channel


def _host(sim: Simulator, name: str) -> object:
    return next(h for h in sim.hosts if h.name == name)


def _restart_ice(sim: Simulator, a: Node, b: Node) -> None:
    """Both agents restart, as renegotiation with new credentials makes them."""
    now = sim.now
    a.conn.ice.restart(now)
    b.conn.ice.restart(now)
    b.conn.ice.set_remote_credentials(now, *a.conn.ice.local_credentials)
    a.conn.ice.set_remote_credentials(now, *b.conn.ice.local_credentials)
    for node in (a, b):
        node.conn.pump(now)
        node.drain(now)


def _messages(node: Node) -> list[object]:
    return [e.data for e in node.of(ChannelMessage)]  # type: ignore[attr-defined]


@pytest.mark.parametrize("outage", [3.0, 6.0, 12.0])
def test_data_in_flight_resumes_as_soon_as_the_path_returns(outage: float) -> None:
    """A message sent into an outage is retransmitted as soon as the path is known to
    work again (a consent check answered; one is sent at once when the peer's packets
    reappear), not when SCTP's backed-off T3-rtx would fire (seconds later after a 6
    or 12 s outage)."""
    sim, a, b, channel = _open_pair(seed=int(outage))
    link = _host(sim, "b")
    link.online = False  # type: ignore[attr-defined]
    a.conn.channels.send(sim.now, channel, "sent into the outage")  # type: ignore[arg-type]
    a.conn.channels.send(sim.now, channel, "and one behind it")  # type: ignore[arg-type]
    a.conn.pump(sim.now)
    a.drain(sim.now)
    sim.run(outage)
    link.online = True  # type: ignore[attr-defined]
    back = sim.now
    assert sim.run_until(lambda: len(_messages(b)) == 2, timeout=60.0)
    assert _messages(b) == ["sent into the outage", "and one behind it"]
    # While stalled we probe the path with a consent check every max(0.1 s, 2 RTT);
    # the first answered after the outage proves it is back, and the retransmission
    # arrives half a round trip later. (Each link adds ONE_WAY: 2 links each way.)
    rtt = 4 * ONE_WAY
    assert sim.now - back <= max(0.1, 2 * rtt) + 1.5 * rtt + 0.02
    sctp = a.conn.sctp
    assert sctp is not None and sctp.stalled_since is None


def test_data_resumes_at_once_on_a_new_pair_after_an_ice_restart() -> None:
    sim, a, b, channel = _open_pair(seed=7)
    link = _host(sim, "b")
    link.online = False  # type: ignore[attr-defined]
    a.conn.channels.send(sim.now, channel, "before the restart")  # type: ignore[arg-type]
    a.conn.pump(sim.now)
    a.drain(sim.now)
    sim.run(8.0)  # T3-rtx has backed off to several seconds
    link.online = True  # type: ignore[attr-defined]
    _restart_ice(sim, a, b)
    restarted = sim.now
    assert sim.run_until(lambda: _messages(b) == ["before the restart"], timeout=30.0)
    assert sim.now - restarted < 1.0


def test_a_dead_peer_closes_every_channel_with_an_sctp_failure() -> None:
    """The peer is gone for good: ICE fails when consent has been missing for 30 s,
    and a few seconds later (time for an ICE restart to begin) every channel fires
    error (sctp-failure, with what was not delivered) and close; send() raises."""
    sim, a, _b, channel = _open_pair(seed=3)
    other = a.conn.channels.create(sim.now, "idle")
    assert sim.run_until(lambda: other.state == "open", timeout=5.0)
    _host(sim, "b").online = False  # type: ignore[attr-defined]
    died = sim.now
    a.conn.channels.send(sim.now, channel, b"x" * 5000)  # type: ignore[arg-type]
    a.conn.pump(sim.now)
    a.drain(sim.now)
    assert sim.run_until(lambda: channel.state == "closed", timeout=120.0)  # type: ignore[attr-defined]
    assert a.conn.ice.state == "failed"
    closed_after = sim.now - died
    assert 30.0 < closed_after < 45.0
    errors = [e for e in a.of(ChannelError)]
    assert {e.channel.label for e in errors} == {"data", "idle"}  # type: ignore[attr-defined]
    for event in errors:
        error = event.error  # type: ignore[attr-defined]
        assert isinstance(error, RTCError) and error.errorDetail == "sctp-failure"
    data_error = next(e for e in errors if e.channel.label == "data")  # type: ignore[attr-defined]
    assert "5000 bytes" in str(data_error.error)  # type: ignore[attr-defined]
    # error precedes close, for each channel (W3C closing procedure).
    kinds = [
        (type(e).__name__, e.channel.label)
        for e in a.events
        if isinstance(e, (ChannelError, ChannelClosed))
    ]  # type: ignore[attr-defined]
    for label in ("data", "idle"):
        mine = [k for k, lab in kinds if lab == label]
        assert mine == ["ChannelError", "ChannelClosed"]
    with pytest.raises(InvalidStateError):
        a.conn.channels.send(sim.now, channel, "too late")  # type: ignore[arg-type]
    assert a.conn.sctp_state == "closed"


def test_an_ice_restart_begun_after_failure_keeps_the_channels() -> None:
    sim, a, b, channel = _open_pair(seed=4)
    link = _host(sim, "b")
    link.online = False  # type: ignore[attr-defined]
    assert sim.run_until(lambda: a.conn.ice.state == "failed", timeout=60.0)
    link.online = True  # type: ignore[attr-defined]
    sim.run(1.0)  # the application reacts to "failed" with restartIce()
    _restart_ice(sim, a, b)
    assert sim.run_until(lambda: a.conn.ice.state in ("connected", "completed"), timeout=10.0)
    sim.run(10.0)
    assert channel.state == "open"  # type: ignore[attr-defined]
    a.conn.channels.send(sim.now, channel, "still here")  # type: ignore[arg-type]
    a.conn.pump(sim.now)
    assert sim.run_until(lambda: "still here" in _messages(b), timeout=10.0)


def test_no_timer_spins_while_a_stalled_association_has_no_pair() -> None:
    """After a restart from "failed" no pair is selected until checks succeed: the
    path probe has nowhere to go, and its deadline must not stay in the past."""
    sim, a, _b, channel = _open_pair(seed=9)
    _host(sim, "b").online = False  # type: ignore[attr-defined]
    a.conn.channels.send(sim.now, channel, "stuck")  # type: ignore[arg-type]
    a.conn.pump(sim.now)
    assert sim.run_until(lambda: a.conn.ice.state == "failed", timeout=60.0)
    a.conn.ice.restart(sim.now)
    a.conn.pump(sim.now)
    assert a.conn.ice.selected is None and a.conn.sctp is not None
    for _ in range(3):
        now = sim.now
        a.conn.handle_timeout(now)
        deadline = a.conn.poll_timeout()
        assert deadline is None or deadline > now
        sim.run(0.5)
