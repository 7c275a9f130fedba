"""TURN client (RFC 8656) against the simulated TURN server, byte for byte."""

from __future__ import annotations

import random

import pytest

from rtcpeer.datagram import Address, Datagram
from rtcpeer.ice.stun import StunClass, StunMessage, StunMethod
from rtcpeer.ice.turn import TurnAllocated, TurnClient, TurnFailed
from rtcpeer.testing.turn_server import TurnServer

SERVER: Address = ("192.0.2.10", 3478)
BASE: Address = ("10.0.0.1", 5000)
PEER: Address = ("198.51.100.7", 7000)


class Link:
    """Client and server joined without loss; ``now`` moves only when told."""

    def __init__(self, **client_kwargs: object) -> None:
        self.server = TurnServer(SERVER, {"alice": "secret"})
        kwargs = {"username": "alice", "password": "secret", **client_kwargs}
        self.client = TurnClient(server=SERVER, base=BASE, rng=random.Random(1), **kwargs)  # type: ignore[arg-type]
        self.now = 0.0
        self.to_peer: list[Datagram] = []
        self.from_server: list[tuple[Address, bytes]] = []
        self.client_sent: list[bytes] = []
        self.drop_client = False

    def pump(self) -> None:
        for _ in range(100):
            moved = False
            while (data := self.client.poll_transmit()) is not None:
                moved = True
                self.client_sent.append(data)
                if not self.drop_client:
                    self.server.handle_datagram(self.now, Datagram(BASE, SERVER, data))
            while (datagram := self.server.poll_datagram()) is not None:
                moved = True
                if datagram.dst == BASE:
                    self.from_server.extend(self.client.handle_receive(self.now, datagram.data))
                else:
                    self.to_peer.append(datagram)
            if not moved:
                return

    def advance(self, seconds: float, step: float = 1.0) -> None:
        end = self.now + seconds
        while self.now < end:
            deadline = self.client.poll_timeout()
            nxt = (
                min(end, self.now + step) if deadline is None else min(end, max(deadline, self.now))
            )
            self.now = nxt
            self.client.handle_timeout(self.now)
            self.pump()

    def events(self) -> list[object]:
        return [e for e in iter(self.client.poll_event, None)]


def allocated() -> Link:
    link = Link()
    link.client.start(0.0)
    link.pump()
    return link


def test_allocate_with_long_term_credentials() -> None:
    link = allocated()
    (event,) = link.events()
    assert isinstance(event, TurnAllocated)
    assert event.relayed == (SERVER[0], 49152) and event.mapped == BASE
    assert link.client.state == "allocated" and link.client.realm == "rtcpeer.test"
    # The first Allocate went unsigned; the 401 taught realm/nonce; the retry was signed.
    first, second = (StunMessage.parse(d) for d in link.client_sent[:2])
    assert first.method == second.method == StunMethod.ALLOCATE
    assert not first.has_integrity and second.has_integrity
    assert second.username == "alice" and second.realm == "rtcpeer.test"
    assert link.server.unauthorized == 1 and link.server.allocations_made == 1


def test_wrong_password_fails_with_the_servers_code() -> None:
    link = Link(password="wrong")
    link.client.start(0.0)
    link.pump()
    (event,) = link.events()
    assert isinstance(event, TurnFailed) and event.code == 401
    assert link.client.state == "failed"
    assert link.client.poll_timeout() is None


def test_dead_server_times_out_as_701() -> None:
    link = Link()
    link.drop_client = True
    link.client.start(0.0)
    events: list[object] = []
    while not events and link.now < 60:
        link.advance(0.5)
        events = link.events()
    (event,) = events
    assert isinstance(event, TurnFailed) and event.code == 701
    assert len(link.client_sent) == 7  # RFC 8489 §6.2.1: Rc transmissions
    # RTO 0.25 s: sends at 0, .25, .75, 1.75, 3.75, 7.75, 15.75, then Rm * RTO more.
    assert 19.5 <= link.now <= 20.5


def test_send_waits_for_the_permission_then_flows_both_ways() -> None:
    link = allocated()
    link.client.send(link.now, PEER, b"hello")
    # Queued until CreatePermission succeeds, then sent as a Send indication.
    link.pump()
    assert [d.data for d in link.to_peer] == [b"hello"]
    assert link.to_peer[0].src == (SERVER[0], 49152) and link.to_peer[0].dst == PEER
    relayed = link.client.relayed
    assert relayed is not None
    link.server.handle_datagram(link.now, Datagram(PEER, relayed, b"reply"))
    link.pump()
    assert link.from_server == [(PEER, b"reply")]
    # A peer without a permission cannot reach us through the relay.
    link.server.handle_datagram(link.now, Datagram(("203.0.113.9", 1), relayed, b"spam"))
    link.pump()
    assert link.from_server == [(PEER, b"reply")]
    assert link.server.dropped_no_permission == 1


def test_channel_binding_switches_to_channel_data() -> None:
    link = allocated()
    link.client.permit(link.now, PEER[0])
    link.client.bind_channel(link.now, PEER)
    link.pump()
    sent_before = len(link.client_sent)
    link.client.send(link.now, PEER, b"x" * 100)
    link.pump()
    wire = link.client_sent[sent_before]
    assert wire[:2] == b"\x40\x00" and len(wire) == 104  # 4-byte ChannelData header
    assert link.to_peer[-1].data == b"x" * 100
    relayed = link.client.relayed
    assert relayed is not None
    link.server.handle_datagram(link.now, Datagram(PEER, relayed, b"back"))
    link.pump()
    assert link.from_server == [(PEER, b"back")]
    assert link.server.channels_bound == 1


def test_refreshes_keep_allocation_permission_and_channel_alive() -> None:
    link = allocated()
    link.client.permit(link.now, PEER[0])
    link.client.bind_channel(link.now, PEER)
    link.pump()
    link.advance(1800.0, step=30.0)  # half an hour: beyond every lifetime
    assert link.client.state == "allocated"
    assert link.server.allocation_for(BASE) is not None
    assert link.server.refreshes >= 3  # 600 s lifetime, refreshed a minute early
    link.client.send(link.now, PEER, b"still here")
    link.pump()
    assert link.to_peer[-1].data == b"still here"
    assert link.server.dropped_no_permission == 0


def test_stale_nonce_is_refreshed_and_the_request_retried() -> None:
    link = allocated()
    link.server.rotate_nonce(link.now)
    link.client.permit(link.now, PEER[0])
    link.pump()
    assert link.server.stale_nonces == 1
    assert link.server.permissions_created == 1
    link.client.send(link.now, PEER, b"after 438")
    link.pump()
    assert link.to_peer[-1].data == b"after 438"


def test_release_deletes_the_allocation() -> None:
    link = allocated()
    link.client.release(link.now)
    link.pump()
    assert link.server.allocation_for(BASE) is None
    assert link.client.state == "released" and link.client.poll_timeout() is None


def test_forged_success_response_is_ignored() -> None:
    link = allocated()
    link.client.permit(link.now, PEER[0])
    request = StunMessage.parse(link.client.poll_transmit())  # type: ignore[arg-type]
    forged = StunMessage(StunMethod.CREATE_PERMISSION, StunClass.SUCCESS, request.transaction_id)
    assert link.client.handle_receive(link.now, forged.serialize(b"not the key")) == []
    assert link.client.dropped == 1
    link.client.send(link.now, PEER, b"held")
    assert link.client.poll_transmit() is None  # still waiting for the real answer


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_stream_framing_over_tcp(chunk: int) -> None:
    """Over TCP the server's bytes arrive in any chunking; frames are found by length
    and ChannelData is padded to 4 bytes."""
    client = TurnClient(
        server=SERVER, base=BASE, username="alice", password="secret", transport="tcp"
    )
    server = TurnServer(SERVER, {"alice": "secret"})
    client.start(0.0)
    stream = b""
    for _ in range(4):
        while (data := client.poll_transmit()) is not None:
            server.handle_datagram(0.0, Datagram(BASE, SERVER, data))
        replies = b"".join(d.data for d in iter(server.poll_datagram, None))
        for i in range(0, len(replies), chunk):
            client.handle_receive(0.0, replies[i : i + chunk])
        stream += replies
    assert client.state == "allocated"
    client.permit(0.0, PEER[0])
    client.bind_channel(0.0, PEER)
    while (data := client.poll_transmit()) is not None:
        server.handle_datagram(0.0, Datagram(BASE, SERVER, data))
    for d in iter(server.poll_datagram, None):
        client.handle_receive(0.0, d.data)
    client.send(0.0, PEER, b"abc")
    wire = client.poll_transmit()
    assert wire == b"\x40\x00\x00\x03abc\x00"


def test_no_deadlines_once_the_allocation_is_gone() -> None:
    """A failed or released allocation keeps no timers (a stale refresh deadline
    would spin the shell's timer)."""
    link = allocated()
    link.client.permit(link.now, PEER[0])
    link.client.bind_channel(link.now, PEER)
    link.pump()
    assert link.client.poll_timeout() is not None
    link.client.lost("connection reset")
    assert link.client.state == "failed" and link.client.poll_timeout() is None
    link = allocated()
    link.client.permit(link.now, PEER[0])
    link.pump()
    link.client.release(link.now)
    assert link.client.poll_timeout() is None


def test_unsigned_error_responses_are_ignored_once_authenticated() -> None:
    """An attacker who sees a transaction id cannot kill the allocation with an
    unsigned 437, nor redirect it with an unsigned 300 (RFC 8489 §9.2.5)."""
    link = allocated()
    link.client.permit(link.now, PEER[0])
    request = StunMessage.parse(link.client.poll_transmit())  # type: ignore[arg-type]
    for code in (437, 300, 403):
        forged = request.error_response(code)
        link.client.handle_receive(link.now, forged.serialize())
    assert link.client.state == "allocated" and link.client.server == SERVER
    assert link.client.dropped == 3


def test_channel_bind_timeout_falls_back_to_indications() -> None:
    link = allocated()
    link.client.permit(link.now, PEER[0])
    link.pump()
    link.drop_client = True  # the ChannelBind and its retransmissions are lost
    link.client.bind_channel(link.now, PEER)
    link.pump()
    link.advance(30.0, step=0.25)
    link.drop_client = False
    sent = len(link.client_sent)
    link.client.send(link.now, PEER, b"still gets there")
    link.pump()
    wire = StunMessage.parse(link.client_sent[sent])
    assert wire.method == StunMethod.SEND  # an indication, not ChannelData on a dead channel
    assert link.to_peer[-1].data == b"still gets there"


def test_agent_hands_back_the_stream_of_a_failed_tcp_allocation() -> None:
    """A TURN allocation over TCP/TLS that fails leaves nothing to use its stream:
    the agent says so (poll_stream_to_close), so the shell can close it."""
    from rtcpeer.ice.agent import IceAgent
    from rtcpeer.ice.turn import TurnServerConfig

    server = TurnServer(SERVER, {"alice": "secret"})
    agent = IceAgent(controlling=True, rng=random.Random(2))
    config = TurnServerConfig(SERVER, "alice", "wrong", "turn:x?transport=tcp", "tcp")
    agent.start_gathering(0.0)
    agent.expect_turn_stream(config)
    local: Address = ("10.0.0.1", 40000)
    agent.add_turn_stream(0.0, local, config)
    assert agent.poll_stream_to_close() is None
    for _ in range(10):
        while (out := agent.poll_transmit()) is not None:
            server.handle_datagram(0.0, Datagram(local, SERVER, out.data))
        while (back := server.poll_datagram()) is not None:
            agent.handle_datagram(0.0, Datagram(SERVER, local, back.data))
    assert agent.poll_stream_to_close() == local
    assert agent.poll_stream_to_close() is None
