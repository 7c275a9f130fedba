"""Association control plane: handshake, tags, cookies, timers, shutdown and abort."""

from __future__ import annotations

import random

import pytest
from sctp_sim import Pair, chunks_of, drain_events, drain_tx, packet_to, refix

from rtcpeer.errors import InvalidStateError, OperationError
from rtcpeer.sctp.association import TRANSITIONS, Association
from rtcpeer.sctp.events import (
    Aborted,
    AssociationState,
    BufferedAmountLow,
    Closed,
    Connected,
    MessageReceived,
    Restarted,
    StateChanged,
)
from rtcpeer.sctp.packet import (
    AbortChunk,
    CookieAckChunk,
    CookieEchoChunk,
    DataChunk,
    ErrorCause,
    ErrorChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    InitAckChunk,
    InitChunk,
    Packet,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    UnknownChunk,
)
from rtcpeer.testing import Netem

S = AssociationState


def kinds(packet: bytes) -> list[str]:
    return [type(c).__name__ for c in chunks_of(packet)]


# -- handshake ------------------------------------------------------------------------------


def test_handshake_packets_and_events() -> None:
    pair = Pair()
    seen: list[tuple[str, list[str]]] = []
    pair.tap_ab = lambda p: seen.append(("ab", kinds(p))) or p  # type: ignore[func-returns-value]
    pair.tap_ba = lambda p: seen.append(("ba", kinds(p))) or p  # type: ignore[func-returns-value]
    pair.connect()
    assert seen == [
        ("ab", ["InitChunk"]),
        ("ba", ["InitAckChunk"]),
        ("ab", ["CookieEchoChunk"]),
        ("ba", ["CookieAckChunk"]),
    ]
    assert pair.events_a == [
        StateChanged(S.COOKIE_WAIT),
        StateChanged(S.COOKIE_ECHOED),
        StateChanged(S.ESTABLISHED),
        Connected(),
    ]
    assert pair.events_b == [StateChanged(S.ESTABLISHED), Connected()]
    a, b = pair.a, pair.b
    assert a.peer_tag == b.local_tag and b.peer_tag == a.local_tag
    assert a.partial_reliability and a.stream_reset_supported
    assert b.partial_reliability and b.stream_reset_supported
    assert a.outbound_streams == b.inbound_streams == 65535


def test_init_advertises_extensions() -> None:
    a = Association(rng=random.Random(1))
    a.connect(0.0)
    (init,) = chunks_of(drain_tx(a)[0])
    assert isinstance(init, InitChunk)
    assert init.param(0xC000) == b""  # Forward-TSN-Supported (RFC 3758)
    assert init.param(0x8008) == bytes([130, 192])  # RE-CONFIG, FORWARD TSN (RFC 5061)
    assert Packet.parse(drain_tx(a)[0] if False else a._init_packet).verification_tag == 0


def test_stream_counts_negotiated() -> None:
    pair = Pair(a_kwargs={"outbound_streams": 300, "inbound_streams": 100})
    pair.connect()
    assert pair.a.outbound_streams == 300 and pair.a.inbound_streams == 100
    assert pair.b.outbound_streams == 100 and pair.b.inbound_streams == 300
    with pytest.raises(ValueError, match="outbound streams"):
        pair.b.send(pair.now, 100, 51, b"x")


def test_simultaneous_open() -> None:
    link = {"latency": 0.05}
    pair = Pair(ab=Netem(seed=1, **link), ba=Netem(seed=2, **link))
    pair.connect(both=True)
    assert pair.a.peer_tag == pair.b.local_tag and pair.b.peer_tag == pair.a.local_tag
    assert sum(isinstance(e, Connected) for e in pair.events_a) == 1
    assert sum(isinstance(e, Connected) for e in pair.events_b) == 1
    pair.a.send(pair.now, 1, 51, b"from a")
    pair.b.send(pair.now, 1, 51, b"from b")
    assert pair.run_until(lambda: pair.received_a and pair.received_b, 5)
    assert pair.received_b[0].data == b"from a" and pair.received_a[0].data == b"from b"


@pytest.mark.parametrize("seed", range(6))
def test_simultaneous_open_under_loss(seed: int) -> None:
    link = {"latency": 0.03, "loss": 0.3, "duplicate": 0.2, "reorder": 0.2}
    pair = Pair(seed=seed, ab=Netem(seed=seed, **link), ba=Netem(seed=seed + 50, **link))
    pair.connect(both=True, timeout=60)
    pair.a.send(pair.now, 0, 51, b"ping")
    assert pair.run_until(lambda: bool(pair.received_b), 60)


def test_handshake_retransmits_lost_init_and_cookie_echo() -> None:
    pair = Pair()
    dropped: list[str] = []

    def tap(p: bytes) -> bytes | None:
        k = kinds(p)[0]
        if k in ("InitChunk", "CookieEchoChunk") and k not in dropped:
            dropped.append(k)
            return None
        return p

    pair.tap_ab = tap
    pair.connect()
    assert dropped == ["InitChunk", "CookieEchoChunk"]
    # T1-init fired at 1 s (RTO.Initial), T1-cookie 1 s after the INIT ACK.
    assert pair.now == pytest.approx(2.0)


def test_handshake_gives_up_after_max_init_retransmits() -> None:
    pair = Pair(a_kwargs={"max_init_retransmits": 3, "rto_max": 4.0})
    times: list[float] = []
    pair.tap_ab = lambda p: times.append(pair.now)  # type: ignore[func-returns-value]
    pair.a.connect(0.0)
    pair.run_for(100)
    # INIT at 0, then T1 backs off 1 → 2 → 4 (capped by rto_max) → 4: give up.
    assert times == [0.0, 1.0, 3.0, 7.0]
    assert pair.a.state is S.CLOSED
    assert pair.events_a[-1] == Aborted("handshake timed out", False, None)
    assert pair.b.state is S.CLOSED


def test_listening_association_needs_no_connect() -> None:
    pair = Pair()
    pair.a.connect(0.0)
    pair.drain()
    assert pair.b.state is S.ESTABLISHED


# -- cookies --------------------------------------------------------------------------------


def test_tampered_cookie_rejected() -> None:
    pair = Pair()
    tampered = []

    def tap(p: bytes) -> bytes | None:
        if kinds(p) == ["CookieEchoChunk"] and not tampered:
            data = bytearray(p)
            data[30] ^= 0x01  # inside the cookie body (timestamp / tags)
            tampered.append(True)
            return refix(data)
        return p

    pair.tap_ab = tap
    pair.a.connect(0.0)
    pair.drain()
    assert pair.b.stats.bad_cookie == 1
    assert pair.b.state is S.CLOSED
    assert pair.a.state is S.COOKIE_ECHOED
    pair.run_until(lambda: pair.a.is_established, 5)  # T1-cookie resends the genuine one
    assert pair.b.is_established


def test_forged_cookie_without_init_rejected() -> None:
    b = Association(rng=random.Random(2))
    fake = CookieEchoChunk(bytes(42) + bytes(32))
    b.handle_receive(0.0, packet_to(b, fake, vtag=0))
    assert b.stats.bad_cookie == 1
    assert b.state is S.CLOSED
    assert drain_tx(b) == []


def test_stale_cookie_restarts_handshake() -> None:
    pair = Pair(b_kwargs={"cookie_lifetime": 1.0})
    # Hold back COOKIE ECHOs until the cookie is older than its lifetime.
    pair.tap_ab = lambda p: None if kinds(p)[0] == "CookieEchoChunk" and pair.now < 2.5 else p
    pair.connect(timeout=20)
    assert pair.b.stats.stale_cookie == 1
    assert pair.a.stats.errors_received == 1
    # COOKIE-ECHOED went back to COOKIE-WAIT on the Stale Cookie error (§5.2.6).
    states = [e.state for e in pair.events_a if isinstance(e, StateChanged)]
    assert states == [
        S.COOKIE_WAIT,
        S.COOKIE_ECHOED,
        S.COOKIE_WAIT,
        S.COOKIE_ECHOED,
        S.ESTABLISHED,
    ]


def test_duplicate_cookie_echo_answered_again() -> None:
    pair = Pair()
    echoes: list[bytes] = []
    pair.tap_ab = lambda p: (echoes.append(p) if kinds(p)[0] == "CookieEchoChunk" else None) or p  # type: ignore[func-returns-value]
    pair.connect()
    pair.b.handle_receive(pair.now, echoes[0])  # COOKIE ACK was "lost": peer retransmits
    out = drain_tx(pair.b)
    assert [kinds(p) for p in out] == [["CookieAckChunk"]]
    assert drain_events(pair.b) == []
    assert pair.b.is_established


def test_stale_duplicate_cookie_of_existing_association_still_acked() -> None:
    # §5.2.4: the lifetime check only refuses cookies that do not match the association.
    pair = Pair(b_kwargs={"cookie_lifetime": 5.0})
    echoes: list[bytes] = []
    pair.tap_ab = lambda p: (echoes.append(p) if kinds(p)[0] == "CookieEchoChunk" else None) or p  # type: ignore[func-returns-value]
    pair.connect()
    pair.run_for(30)
    pair.b.handle_receive(pair.now, echoes[0])
    assert [kinds(p) for p in drain_tx(pair.b)] == [["CookieAckChunk"]]
    assert pair.b.stats.stale_cookie == 0


def test_peer_restart_is_detected() -> None:
    pair = Pair()
    pair.connect()
    pair.a.send(pair.now, 1, 51, b"old")
    pair.drain()
    # A new association with the same ports (the peer "rebooted") connects to B.
    pair.a = Association(rng=random.Random(99))
    pair.received_b.clear()
    pair.events_b.clear()
    pair.a.connect(pair.now)
    assert pair.run_until(lambda: pair.a.is_established, 5)
    assert Restarted() in pair.events_b
    assert pair.b.peer_tag == pair.a.local_tag
    pair.a.send(pair.now, 1, 51, b"new")
    assert pair.run_until(lambda: bool(pair.received_b), 5)
    assert pair.received_b[0] == MessageReceived(1, 51, b"new")


# -- verification tags, checksums, out of the blue --------------------------------------------


def established() -> Pair:
    pair = Pair()
    pair.connect()
    return pair


def test_verification_tag_mismatch_dropped() -> None:
    pair = established()
    a, b = pair.a, pair.b
    a.send(pair.now, 1, 51, b"hello")
    (pkt,) = drain_tx(a)
    bad = bytearray(pkt)
    bad[4:8] = (b.local_tag ^ 1).to_bytes(4, "big")
    b.handle_receive(pair.now, refix(bad))
    assert b.stats.bad_vtag == 1
    assert drain_events(b) == [] and drain_tx(b) == []
    b.handle_receive(pair.now, pkt)
    assert drain_events(b) == [MessageReceived(1, 51, b"hello")]


def test_bad_checksum_and_port_dropped() -> None:
    pair = established()
    a, b = pair.a, pair.b
    a.send(pair.now, 1, 51, b"hello")
    (pkt,) = drain_tx(a)
    corrupted = bytearray(pkt)
    corrupted[-1] ^= 0xFF
    b.handle_receive(pair.now, bytes(corrupted))
    assert b.stats.bad_checksum == 1
    wrong_port = bytearray(pkt)
    wrong_port[0:2] = (5001).to_bytes(2, "big")
    b.handle_receive(pair.now, refix(wrong_port))
    assert b.stats.bad_port == 1
    b.handle_receive(pair.now, b"\x00" * 7)
    assert b.stats.malformed == 1
    assert drain_events(b) == []


def test_abort_t_bit_rules() -> None:
    # §8.5.1 B: T=0 needs our tag; T=1 needs the peer's tag; anything else is dropped.
    pair = established()
    b = pair.b
    b.handle_receive(pair.now, packet_to(b, AbortChunk(t_bit=True), vtag=b.local_tag))
    b.handle_receive(pair.now, packet_to(b, AbortChunk(), vtag=b.peer_tag))
    assert b.stats.bad_vtag == 2 and b.is_established
    b.handle_receive(pair.now, packet_to(b, AbortChunk(t_bit=True), vtag=b.peer_tag))
    assert b.state is S.CLOSED
    assert drain_events(b)[-1] == Aborted("aborted by peer", True, None)

    pair = established()
    b = pair.b
    b.handle_receive(pair.now, packet_to(b, AbortChunk([ErrorCause(12, b"why")])))
    assert drain_events(b)[-1] == Aborted("why", True, 12)


def test_shutdown_complete_t_bit_rules() -> None:
    pair = established()
    b = pair.b
    b.shutdown(pair.now)
    drain_tx(b)
    assert b.state is S.SHUTDOWN_SENT
    b.handle_receive(pair.now, packet_to(b, ShutdownChunk((b._next_tsn - 1) & 0xFFFFFFFF)))
    assert b.state is S.SHUTDOWN_ACK_SENT
    b.handle_receive(pair.now, packet_to(b, ShutdownCompleteChunk(t_bit=True)))  # wrong tag
    assert b.state is S.SHUTDOWN_ACK_SENT
    b.handle_receive(pair.now, packet_to(b, ShutdownCompleteChunk(t_bit=True), vtag=b.peer_tag))
    assert b.state is S.CLOSED


def test_out_of_the_blue_packets() -> None:
    b = Association(rng=random.Random(2))
    data = DataChunk(1, 0, 0, 51, b"x")
    b.handle_receive(0.0, packet_to(b, data, vtag=0x12345678))
    (reply,) = drain_tx(b)
    pkt = Packet.parse(reply)
    assert pkt.verification_tag == 0x12345678  # reflected, with the T bit (§8.4 8)
    assert pkt.chunks == [AbortChunk(t_bit=True)]
    # No answer to ABORT, SHUTDOWN COMPLETE or COOKIE ACK; SHUTDOWN ACK gets COMPLETE.
    for chunk in (AbortChunk(), ShutdownCompleteChunk(), CookieAckChunk()):
        b.handle_receive(0.0, packet_to(b, chunk, vtag=7))
        assert drain_tx(b) == []
    b.handle_receive(0.0, packet_to(b, ShutdownAckChunk(), vtag=7))
    (reply,) = drain_tx(b)
    pkt = Packet.parse(reply)
    assert pkt.verification_tag == 7 and pkt.chunks == [ShutdownCompleteChunk(t_bit=True)]
    assert b.stats.out_of_the_blue == 5


def test_init_rules() -> None:
    b = Association(rng=random.Random(2))
    init = InitChunk(0xABCD, 100000, 10, 10, 1000, [(0x4123, b"??"), (0xC000, b"")])
    b.handle_receive(0.0, packet_to(b, init, vtag=5))  # INIT needs tag 0
    assert b.stats.bad_vtag == 1 and drain_tx(b) == []
    b.handle_receive(0.0, packet_to(b, init, CookieAckChunk(), vtag=0))  # not alone
    assert b.stats.malformed == 1 and drain_tx(b) == []
    b.handle_receive(0.0, packet_to(b, init, vtag=0))
    (reply,) = drain_tx(b)
    pkt = Packet.parse(reply)
    assert pkt.verification_tag == 0xABCD
    (ack,) = pkt.chunks
    assert isinstance(ack, InitAckChunk)
    # 0x4123: upper bits 01 → report in the INIT ACK and stop processing parameters, so
    # the FORWARD TSN parameter after it is not taken into account.
    assert ack.param(8) == bytes.fromhex("41230006") + b"??"
    assert ack.param(7) is not None
    assert b.state is S.CLOSED  # no state kept before the COOKIE ECHO


# -- unknown chunks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ctype", "processed", "reported"),
    [(0x3F, False, False), (0x7F, False, True), (0xBF, True, False), (0xFF, True, True)],
)
def test_unknown_chunk_upper_bits(ctype: int, processed: bool, reported: bool) -> None:
    pair = established()
    b = pair.b
    tsn = (b._rcv_cum + 1) & 0xFFFFFFFF
    pkt = packet_to(b, UnknownChunk(ctype, 0, b"zz"), DataChunk(tsn, 1, 0, 51, b"after"))
    b.handle_receive(pair.now, pkt)
    got = drain_events(b)
    assert (got == [MessageReceived(1, 51, b"after")]) is processed
    sent = [c for p in drain_tx(b) for c in chunks_of(p)]
    errors = [c for c in sent if isinstance(c, ErrorChunk)]
    assert bool(errors) is reported
    if reported:
        assert errors[0].causes[0].code == 6
        assert errors[0].causes[0].info[:1] == bytes([ctype])


def test_data_on_invalid_stream_is_acked_and_reported() -> None:
    pair = Pair(b_kwargs={"inbound_streams": 4})
    pair.connect()
    pair.a.send(pair.now, 3, 51, b"ok")
    pair.drain()
    b = pair.b
    tsn = (b._rcv_cum + 1) & 0xFFFFFFFF
    b.handle_receive(pair.now, packet_to(b, DataChunk(tsn, 9, 0, 51, b"bad stream")))
    sent = [c for p in drain_tx(b) for c in chunks_of(p)]
    assert any(isinstance(c, SackChunk) and c.cumulative_tsn_ack == tsn for c in sent)
    (err,) = [c for c in sent if isinstance(c, ErrorChunk)]
    assert err.causes == [ErrorCause(1, bytes.fromhex("00090000"))]
    assert b.stats.invalid_stream == 1


# -- heartbeats and failure detection ---------------------------------------------------------


def test_heartbeat_on_idle_path_measures_rtt() -> None:
    link = {"latency": 0.05}
    pair = Pair(ab=Netem(seed=1, **link), ba=Netem(seed=2, **link), heartbeat_interval=5.0)
    pair.connect()
    assert pair.b.srtt is None  # B never sent data
    pair.run_for(20)
    assert pair.b.stats.heartbeats_sent >= 2
    assert pair.b.srtt == pytest.approx(0.1, abs=0.01)
    assert pair.a.is_established and pair.b.is_established


def test_heartbeat_echoes_info() -> None:
    pair = established()
    b = pair.b
    b.handle_receive(pair.now, packet_to(b, HeartbeatChunk(b"opaque-info")))
    (reply,) = drain_tx(b)
    assert chunks_of(reply) == [HeartbeatAckChunk(b"opaque-info")]


def test_shutdown_with_bogus_cumulative_ack_aborts() -> None:
    pair = established()
    b = pair.b
    b.handle_receive(pair.now, packet_to(b, ShutdownChunk((b._next_tsn + 5) & 0xFFFFFFFF)))
    assert b.state is S.CLOSED
    assert drain_events(b)[-1] == Aborted("SACK acknowledges a TSN that was never sent", False, 13)
    (abort,) = drain_tx(b)
    assert isinstance(chunks_of(abort)[0], AbortChunk)


def test_unreachable_idle_peer_detected_by_heartbeats() -> None:
    pair = Pair(heartbeat_interval=1.0, max_retransmissions=3)
    pair.connect()
    pair.tap_ab = lambda p: None
    pair.tap_ba = lambda p: None
    pair.run_for(200)
    assert pair.a.state is S.CLOSED
    assert pair.events_a[-1] == Aborted("peer unreachable: heartbeats unanswered", False, None)


def test_t3_backoff_then_failure() -> None:
    pair = Pair(max_retransmissions=4, rto_initial=1.0)
    pair.connect()
    times: list[float] = []

    def tap(p: bytes) -> None:
        if "DataChunk" in kinds(p):
            times.append(pair.now)

    pair.tap_ab = tap  # type: ignore[assignment]
    start = pair.now
    pair.a.send(pair.now, 1, 51, b"lost forever")
    pair.run_for(300)
    rel = [round(t - start, 6) for t in times]
    # RTO 1 s doubling on every expiry (§6.3.3 E2): 1, 2, 4, 8 s apart.
    assert rel == [0.0, 1.0, 3.0, 7.0, 15.0]
    # The fifth expiry (at 31 s) takes the error count past Association.Max.Retrans.
    assert pair.a.stats.t3_expirations == 5
    assert pair.a.state is S.CLOSED
    assert pair.events_a[-1] == Aborted("peer unreachable: too many retransmissions", False, None)


# -- shutdown and abort -------------------------------------------------------------------------


def test_graceful_shutdown_loses_nothing_under_loss() -> None:
    link = {"latency": 0.02, "loss": 0.1}
    pair = Pair(seed=3, ab=Netem(seed=3, **link), ba=Netem(seed=4, **link))
    pair.connect()
    blobs = [random.Random(i).randbytes(20_000) for i in range(20)]
    for blob in blobs:
        pair.a.send(pair.now, 2, 51, blob)
    pair.a.shutdown(pair.now)
    with pytest.raises(InvalidStateError):
        pair.a.send(pair.now, 2, 51, b"too late")
    assert pair.run_until(lambda: Closed() in pair.events_a and Closed() in pair.events_b, 120)
    assert [m.data for m in pair.received_b] == blobs
    states_a = [e.state for e in pair.events_a if isinstance(e, StateChanged)]
    states_b = [e.state for e in pair.events_b if isinstance(e, StateChanged)]
    assert states_a[-3:] == [S.SHUTDOWN_PENDING, S.SHUTDOWN_SENT, S.CLOSED]
    assert states_b[-3:] == [S.SHUTDOWN_RECEIVED, S.SHUTDOWN_ACK_SENT, S.CLOSED]


def test_shutdown_receiver_still_sends_its_data() -> None:
    pair = established()
    blob = random.Random(1).randbytes(200_000)
    pair.b.send(pair.now, 0, 51, blob[:100_000])
    pair.b.send(pair.now, 0, 51, blob[100_000:])
    pair.a.shutdown(pair.now)
    assert pair.run_until(lambda: Closed() in pair.events_a and Closed() in pair.events_b, 10)
    assert b"".join(m.data for m in pair.received_a) == blob


def test_simultaneous_shutdown() -> None:
    link = {"latency": 0.05}
    pair = Pair(ab=Netem(seed=1, **link), ba=Netem(seed=2, **link))
    pair.connect()
    pair.a.shutdown(pair.now)
    pair.b.shutdown(pair.now)
    assert pair.run_until(lambda: Closed() in pair.events_a and Closed() in pair.events_b, 10)


def test_shutdown_ack_lost_then_out_of_the_blue_complete() -> None:
    pair = established()
    lost = []

    def tap(p: bytes) -> bytes | None:
        if kinds(p) == ["ShutdownCompleteChunk"] and not lost:
            lost.append(p)
            return None
        return p

    pair.tap_ab = tap
    pair.a.shutdown(pair.now)
    # A sends SHUTDOWN COMPLETE (lost) and closes; B's T2 resends SHUTDOWN ACK; A,
    # closed, answers SHUTDOWN COMPLETE with the T bit (§8.4 5), which B accepts.
    assert pair.run_until(lambda: Closed() in pair.events_b, 10)
    assert lost and pair.a.stats.out_of_the_blue == 1


def test_abort_api() -> None:
    pair = established()
    pair.a.abort(pair.now, "user said so")
    pair.drain()
    assert pair.events_a[-1] == Aborted("user said so", False, 12)
    assert pair.events_b[-1] == Aborted("user said so", True, 12)
    assert pair.a.state is S.CLOSED and pair.b.state is S.CLOSED
    with pytest.raises(InvalidStateError):
        pair.a.send(pair.now, 1, 51, b"x")
    assert pair.a.poll_timeout() is None and pair.b.poll_timeout() is None


# -- API misuse ------------------------------------------------------------------------------------


def test_send_errors() -> None:
    pair = Pair(max_message_size=1000, max_send_buffer=3000)
    pair.connect()
    a = pair.a
    with pytest.raises(TypeError, match="max_send_message_size"):
        a.send(pair.now, 1, 51, b"x" * 1001)
    with pytest.raises(ValueError, match="empty"):
        a.send(pair.now, 1, 51, b"")
    with pytest.raises(ValueError, match="stream id"):
        a.send(pair.now, 65535, 51, b"x")
    a.send(pair.now, 1, 51, b"x" * 1000)
    a.send(pair.now, 1, 51, b"x" * 1000)
    a.send(pair.now, 1, 51, b"x" * 1000)
    with pytest.raises(OperationError, match="send buffer full"):
        a.send(pair.now, 1, 51, b"x")
    assert a.buffered_amount(1) == 3000
    pair.drain()
    assert a.buffered_amount(1) == 0
    assert BufferedAmountLow(1) in pair.events_a
    with pytest.raises(InvalidStateError):
        Association(rng=random.Random(1)).reset_streams(0.0, [1])


def test_messages_queued_before_connect_go_out() -> None:
    pair = Pair()
    pair.a.send(0.0, 5, 51, b"early")
    pair.connect()
    assert pair.run_until(lambda: bool(pair.received_b), 5)
    assert pair.received_b == [MessageReceived(5, 51, b"early")]


def test_state_table_is_enforced() -> None:
    a = Association(rng=random.Random(1))
    assert S.ESTABLISHED not in TRANSITIONS[S.SHUTDOWN_SENT]
    a.connect(0.0)
    with pytest.raises(AssertionError, match="illegal SCTP transition"):
        a._set_state(S.SHUTDOWN_ACK_SENT)
    with pytest.raises(InvalidStateError):
        a.connect(0.0)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="mtu"):
        Association(rng=random.Random(1), mtu=100)
    with pytest.raises(ValueError, match="max_message_size"):
        Association(rng=random.Random(1), max_message_size=10, max_receive_buffer=5)
    with pytest.raises(ValueError, match=r"0\.8"):
        # Equal sizes would deadlock: the last fragments never fit beside the rest.
        Association(rng=random.Random(1), max_message_size=1000, max_receive_buffer=1000)
    with pytest.raises(ValueError, match="rto"):
        Association(rng=random.Random(1), rto_min=2.0, rto_initial=1.0)


def test_error_chunk_counted_not_fatal() -> None:
    pair = established()
    b = pair.b
    b.handle_receive(pair.now, packet_to(b, ErrorChunk([ErrorCause(13, b"?")])))
    assert b.stats.errors_received == 1 and b.is_established


def test_cookie_echo_bundled_data_is_delivered() -> None:
    # The COOKIE ECHO may carry DATA after it (§5.1); Z processes both.
    a = Association(rng=random.Random(1))
    b = Association(rng=random.Random(2))
    a.connect(0.0)
    for p in drain_tx(a):
        b.handle_receive(0.0, p)
    (init_ack,) = drain_tx(b)
    a.handle_receive(0.0, init_ack)
    (echo,) = drain_tx(a)
    ack = chunks_of(init_ack)[0]
    data = DataChunk(ack.initial_tsn if False else a._next_tsn, 0, 0, 51, b"bundled")
    b.handle_receive(0.0, refix(echo + data.serialize()))
    assert MessageReceived(0, 51, b"bundled") in drain_events(b)
    assert b.is_established


def test_shutdown_before_established_aborts_half_open_peer() -> None:
    a = Association(rng=random.Random(1))
    b = Association(rng=random.Random(2))
    a.connect(0.0)
    b.handle_receive(0.0, drain_tx(a)[0])
    a.handle_receive(0.0, drain_tx(b)[0])
    b.handle_receive(0.0, drain_tx(a)[0])  # B is established, its COOKIE ACK is "lost"
    drain_tx(b)
    assert a.state is S.COOKIE_ECHOED and b.is_established
    a.shutdown(0.1)
    assert drain_events(a)[-1] == Closed()
    (abort,) = drain_tx(a)
    b.handle_receive(0.1, abort)
    assert b.state is S.CLOSED
    assert drain_events(b)[-1] == Aborted("aborted by peer", True, None)


def test_oversized_incoming_message_dropped_and_stream_continues() -> None:
    pair = Pair(b_kwargs={"max_message_size": 10_000})
    pair.connect()
    pair.a.max_send_message_size = 50_000  # the sender ignores the receiver's limit
    pair.a.send(pair.now, 1, 51, bytes(20_000))
    pair.a.send(pair.now, 1, 51, b"after")
    assert pair.run_until(lambda: bool(pair.received_b), 5)
    assert pair.received_b == [MessageReceived(1, 51, b"after")]
    assert pair.b.reassembly_oversized == 1


def test_hostile_tiny_fragments_are_bounded_by_the_receive_buffer() -> None:
    """Middle fragments of one byte on every other TSN never complete; the receiver
    stops taking them once their bookkeeping (not just their payload) fills the
    receive buffer, so memory stays bounded."""
    from rtcpeer.sctp.reassembly import FRAGMENT_OVERHEAD

    pair = Pair()
    pair.connect()
    b = pair.b
    limit = b._max_rbuf
    tsn0 = b._rcv_cum
    for i in range(1, 200_000):
        b._on_data((tsn0 + 2 * i) & 0xFFFFFFFF, 0, 0, 0, 51, b"x")
    held = len(b._rq._orphans)
    assert b.stats.dropped_no_buffer > 0
    # Each orphan costs Python ~200 bytes; at least 64 of them must be charged, so
    # the count stays far below what 1-byte payloads alone would allow (2 * limit).
    assert held <= 2 * limit // 64
    assert held * (1 + FRAGMENT_OVERHEAD) <= 2 * limit + 1 + FRAGMENT_OVERHEAD
