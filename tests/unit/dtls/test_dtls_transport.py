"""DtlsTransport: handshakes in simulated time, loss and retransmission, fingerprint
verification, application data, close_notify, DTLS-SRTP keying."""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcpeer.dtls import (
    Certificate,
    DtlsErrorEvent,
    DtlsEvent,
    DtlsStateChangeEvent,
    DtlsTransport,
    is_dtls,
)
from rtcpeer.dtls import transport as transport_module
from rtcpeer.errors import (
    InvalidAccessError,
    InvalidStateError,
    InvalidSyntaxError,
    NotSupportedError,
    RTCError,
)
from rtcpeer.srtp import (
    SRTP_AEAD_AES_128_GCM,
    SRTP_AEAD_AES_256_GCM,
    SRTP_AES128_CM_SHA1_32,
    SRTP_AES128_CM_SHA1_80,
    SrtpError,
    SrtpProfile,
)

WALL = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
LATENCY = 0.01

DropRule = Callable[[str, int, int, bytes], bool]


@dataclass
class Pair:
    """Two transports joined by a lossy link with a fixed latency, in simulated time.

    Each side's output is grouped into *bursts*: the datagrams one input (start,
    receive, timeout) made it emit. A handshake flight is one burst, so ``drop(side,
    burst, index_in_burst, data)`` can lose exactly one flight's first transmission.
    """

    client: DtlsTransport
    server: DtlsTransport
    drop: DropRule = lambda side, burst, index, data: False
    now: float = 0.0
    queue: list[tuple[float, int, str, bytes]] = field(default_factory=list)
    seq: int = 0
    bursts: dict[str, int] = field(default_factory=lambda: {"client": 0, "server": 0})
    sent: dict[str, list[bytes]] = field(default_factory=lambda: {"client": [], "server": []})
    events: dict[str, list[DtlsEvent]] = field(default_factory=lambda: {"client": [], "server": []})
    connected_at: dict[str, float] = field(default_factory=dict)

    def side(self, name: str) -> DtlsTransport:
        return self.client if name == "client" else self.server

    def collect(self) -> None:
        for name in ("client", "server"):
            t = self.side(name)
            burst = [d for d in iter(t.poll_transmit, None)]
            if burst:
                for index, data in enumerate(burst):
                    self.sent[name].append(data)
                    if not self.drop(name, self.bursts[name], index, data):
                        other = "server" if name == "client" else "client"
                        self.seq += 1
                        heapq.heappush(self.queue, (self.now + LATENCY, self.seq, other, data))
                self.bursts[name] += 1
            for event in iter(t.poll_event, None):
                self.events[name].append(event)
                if event == DtlsStateChangeEvent("connected"):
                    self.connected_at[name] = self.now

    def start(self) -> None:
        self.client.start(self.now, "client")
        self.server.start(self.now, "server")
        self.collect()

    def run(self, until: Callable[[], bool], limit: float = 30.0) -> None:
        self.collect()
        while not until():
            candidates = [self.queue[0][0]] if self.queue else []
            for t in (self.client, self.server):
                deadline = t.poll_timeout()
                if deadline is not None:
                    candidates.append(deadline)
            if not candidates:
                return
            self.now = max(self.now, min(candidates))
            if self.now > limit:
                return
            while self.queue and self.queue[0][0] <= self.now:
                _, _, dst, data = heapq.heappop(self.queue)
                self.side(dst).handle_receive(self.now, data)
                self.collect()
            for t in (self.client, self.server):
                t.handle_timeout(self.now)
                self.collect()

    def connect(self, limit: float = 30.0) -> None:
        self.start()
        self.run(
            lambda: self.client.state != "connecting" and self.server.state != "connecting", limit
        )

    def settle(self, limit: float = 60.0) -> None:
        """Deliver everything in flight (and fire due timers) until quiet."""
        self.run(lambda: not self.queue, limit)

    def states(self, name: str) -> list[str]:
        return [e.state for e in self.events[name] if isinstance(e, DtlsStateChangeEvent)]


def make_pair(
    client_cert: Certificate,
    server_cert: Certificate,
    *,
    drop: DropRule | None = None,
    fingerprints: bool = True,
    **kwargs: object,
) -> Pair:
    client = DtlsTransport(client_cert, wall_time=WALL, **kwargs)  # type: ignore[arg-type]
    server = DtlsTransport(server_cert, wall_time=WALL, **kwargs)  # type: ignore[arg-type]
    if fingerprints:
        client.set_remote_fingerprints(server_cert.get_fingerprints())
        server.set_remote_fingerprints(client_cert.get_fingerprints())
    pair = Pair(client, server)
    if drop is not None:
        pair.drop = drop
    return pair


def records(datagram: bytes) -> list[tuple[int, int, int]]:
    """(content type, epoch, length) of each DTLS record in a datagram."""
    out, pos = [], 0
    while pos < len(datagram):
        length = int.from_bytes(datagram[pos + 11 : pos + 13], "big")
        out.append((datagram[pos], int.from_bytes(datagram[pos + 3 : pos + 5], "big"), length))
        pos += 13 + length
    assert pos == len(datagram), "datagram does not end on a record boundary"
    return out


# -- handshakes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client_key", "server_key"),
    [("ecdsa", "ecdsa"), ("rsa", "rsa"), ("ecdsa", "rsa"), ("rsa", "ecdsa")],
)
def test_handshake_key_type_combinations(
    request: pytest.FixtureRequest, client_key: str, server_key: str
) -> None:
    client_cert = request.getfixturevalue(f"{client_key}_cert")
    server_cert = request.getfixturevalue(f"{server_key}_cert2")
    pair = make_pair(client_cert, server_cert)
    pair.connect()
    assert pair.states("client") == ["connecting", "connected"]
    assert pair.states("server") == ["connecting", "connected"]
    assert pair.client.role == "client" and pair.server.role == "server"
    # ECDHE with the server's key type; AEAD only.
    sig = "ECDSA" if server_key == "ecdsa" else "RSA"
    assert pair.client.cipher_name == f"ECDHE-{sig}-AES128-GCM-SHA256"
    assert pair.server.cipher_name == pair.client.cipher_name
    # Each side sees the other's certificate.
    assert pair.client.remote_certificates() == [server_cert.der]
    assert pair.server.remote_certificates() == [client_cert.der]
    # No loss: no retransmissions, two flights each (RFC 6347 §4.2.4, no cookie).
    assert pair.client.retransmissions == pair.server.retransmissions == 0
    assert pair.bursts == {"client": 2, "server": 2}
    assert pair.client.poll_timeout() is None and pair.server.poll_timeout() is None


@pytest.mark.parametrize("first_is_client", [True, False])
def test_role_either_way(
    ecdsa_cert: Certificate, ecdsa_cert2: Certificate, first_is_client: bool
) -> None:
    a, b = (ecdsa_cert, ecdsa_cert2) if first_is_client else (ecdsa_cert2, ecdsa_cert)
    pair = make_pair(a, b)
    pair.connect()
    assert (pair.client.state, pair.server.state) == ("connected", "connected")
    assert pair.client.certificate is a and pair.server.certificate is b
    k_client, k_server = pair.client.srtp_keys(), pair.server.srtp_keys()
    assert k_client.local_key == k_server.remote_key
    assert k_client.remote_key == k_server.local_key


def test_flights_respect_mtu_and_are_whole_records(
    rsa_cert: Certificate, rsa_cert2: Certificate
) -> None:
    pair = make_pair(rsa_cert, rsa_cert2)
    pair.connect()
    assert pair.client.state == "connected"
    # RSA certificates make the server flight larger than one 1200-byte datagram.
    first_server_flight = [d for d in pair.sent["server"] if records(d)[0][0] == 22][:2]
    assert len(pair.sent["server"]) >= 3
    for name in ("client", "server"):
        for datagram in pair.sent[name]:
            assert len(datagram) <= 1200
            records(datagram)  # parses to the end
    assert sum(len(d) for d in first_server_flight) > 1200


def test_small_mtu_fragments_handshake(ecdsa_cert: Certificate, rsa_cert2: Certificate) -> None:
    pair = make_pair(ecdsa_cert, rsa_cert2, mtu=300)
    pair.connect()
    assert (pair.client.state, pair.server.state) == ("connected", "connected")
    for name in ("client", "server"):
        assert all(len(d) <= 300 for d in pair.sent[name]), name
    assert len(pair.sent["server"]) >= 5
    assert pair.client.mtu == 300


def test_certificate_shared_by_many_transports(
    ecdsa_cert: Certificate, ecdsa_cert2: Certificate
) -> None:
    pairs = [make_pair(ecdsa_cert, ecdsa_cert2) for _ in range(3)]
    for pair in pairs:
        pair.connect()
    keys = {p.client.srtp_keys().local_key for p in pairs}
    assert all(p.client.state == p.server.state == "connected" for p in pairs)
    assert len(keys) == 3  # independent associations, independent keys


def test_datagrams_before_start_are_kept(ecdsa_cert: Certificate, ecdsa_cert2: Certificate) -> None:
    # The answerer (active) sends its ClientHello before the offerer learnt its role.
    pair = make_pair(ecdsa_cert, ecdsa_cert2)
    pair.client.start(0.0, "client")
    hello = pair.client.poll_transmit()
    assert hello is not None and pair.client.poll_transmit() is None
    pair.server.handle_receive(0.0, hello)
    assert pair.server.state == "new" and pair.server.poll_transmit() is None
    pair.server.start(0.0, "server")
    reply = list(iter(pair.server.poll_transmit, None))
    assert reply and records(reply[0])[0][0] == 22
    assert pair.server.datagrams_dropped == 0
    for d in reply:
        pair.client.handle_receive(0.01, d)
    pair.collect()
    pair.run(lambda: pair.client.state == "connected" and pair.server.state == "connected")
    assert pair.server.state == "connected"


def test_early_datagrams_are_bounded(ecdsa_cert: Certificate) -> None:
    t = DtlsTransport(ecdsa_cert, wall_time=WALL)
    for _ in range(20):
        t.handle_receive(0.0, b"\x16\xfe\xfd" + bytes(20))
    assert t.datagrams_dropped == 4  # 16 kept for start()
    t.start(0.0, "server")  # junk ClientHellos: dropped by OpenSSL, nothing breaks
    assert t.state == "connecting" and t.poll_transmit() is None


def test_start_validations(ecdsa_cert: Certificate) -> None:
    t = DtlsTransport(ecdsa_cert, wall_time=WALL)
    assert t.state == "new" and t.poll_timeout() is None and t.cleartext_mtu is None
    with pytest.raises(ValueError, match="role"):
        t.start(0.0, "passive")  # type: ignore[arg-type]
    t.start(0.0, "server")
    assert t.poll_timeout() is None  # a server waits without a timer
    assert t.poll_transmit() is None
    with pytest.raises(InvalidStateError):
        t.start(0.0, "client")
    with pytest.raises(InvalidStateError):
        t.send(b"early")
    with pytest.raises(InvalidStateError):
        t.srtp_keys()


def test_client_timer_starts_with_one_second(ecdsa_cert: Certificate) -> None:
    t = DtlsTransport(ecdsa_cert, wall_time=WALL)
    t.start(100.0, "client")
    hello = t.poll_transmit()
    assert hello is not None and records(hello) == [(22, 0, len(hello) - 13)]
    deadline = t.poll_timeout()
    assert deadline is not None and 100.9 < deadline <= 101.0  # RFC 6347 §4.2.4.1
    t.handle_timeout(100.5)  # early: nothing
    assert t.poll_transmit() is None and t.retransmissions == 0


def test_expired_certificate_refused(ecdsa_cert: Certificate) -> None:
    after = datetime.fromtimestamp(ecdsa_cert.expires / 1000, UTC)
    with pytest.raises(InvalidAccessError, match="expired"):
        DtlsTransport(ecdsa_cert, wall_time=after)
    DtlsTransport(ecdsa_cert, wall_time=after - timedelta(seconds=1))


def test_constructor_validations(ecdsa_cert: Certificate) -> None:
    with pytest.raises(TypeError):
        DtlsTransport("cert", wall_time=WALL)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mtu"):
        DtlsTransport(ecdsa_cert, wall_time=WALL, mtu=100)
    with pytest.raises(TypeError):
        DtlsTransport(ecdsa_cert, wall_time=WALL, mtu=1200.0)  # type: ignore[arg-type]
    bogus = SrtpProfile("SRTP_NULL_NULL", 0x0006, 16, 14, 0)
    with pytest.raises(NotSupportedError):
        DtlsTransport(ecdsa_cert, wall_time=WALL, srtp_profiles=(bogus,))
    t = DtlsTransport(ecdsa_cert, wall_time=WALL)
    with pytest.raises(ValueError):
        t.set_mtu(70000)
    t.set_mtu(1400)
    assert t.mtu == 1400


# -- loss and retransmission in simulated time ------------------------------------------


def drop_burst(side: str, burst: int, only_index: int | None = None) -> DropRule:
    def rule(s: str, b: int, index: int, data: bytes) -> bool:
        return s == side and b == burst and (only_index is None or index == only_index)

    return rule


# Flights of a full DTLS 1.2 handshake without cookie exchange: 1 ClientHello,
# 2 ServerHello..ServerHelloDone, 3 Certificate..Finished, 4 ChangeCipherSpec+Finished.
FLIGHTS = {1: ("client", 0), 2: ("server", 0), 3: ("client", 1), 4: ("server", 1)}


@pytest.mark.parametrize("flight", [1, 2, 3, 4])
def test_lost_flight_is_retransmitted(
    ecdsa_cert: Certificate, ecdsa_cert2: Certificate, flight: int
) -> None:
    side, burst = FLIGHTS[flight]
    pair = make_pair(ecdsa_cert, ecdsa_cert2, drop=drop_burst(side, burst))
    started = time.monotonic()
    pair.connect()
    assert (pair.client.state, pair.server.state) == ("connected", "connected")
    assert pair.states("client") == ["connecting", "connected"]
    assert pair.states("server") == ["connecting", "connected"]
    # Recovery took one retransmission timeout (1 s) of simulated time, not real time.
    assert 1.0 <= max(pair.connected_at.values()) < 1.5
    assert time.monotonic() - started < 1.0
    # The side whose flight was lost (or, for flight 4, the server answering the
    # client's repeated flight 3) retransmitted.
    assert pair.side(side).retransmissions >= 1
    keys = pair.client.srtp_keys(), pair.server.srtp_keys()
    assert keys[0].local_key == keys[1].remote_key


def test_lost_final_flight_resent_on_peer_retransmission(
    ecdsa_cert: Certificate, ecdsa_cert2: Certificate
) -> None:
    pair = make_pair(ecdsa_cert, ecdsa_cert2, drop=drop_burst("server", 1))
    pair.connect()
    final = pair.sent["server"][-1]
    # The server resent its ChangeCipherSpec + Finished byte for byte.
    assert records(final) == records(pair.sent["server"][-2])
    assert [r[0] for r in records(final)] == [20, 22]
    assert pair.server.retransmissions == 1 and pair.client.retransmissions == 1


def test_partial_flight_loss(rsa_cert: Certificate, rsa_cert2: Certificate) -> None:
    # Lose only the second datagram of the (multi-datagram) server flight.
    pair = make_pair(rsa_cert, rsa_cert2, drop=drop_burst("server", 0, only_index=1))
    pair.connect()
    assert (pair.client.state, pair.server.state) == ("connected", "connected")
    assert pair.server.retransmissions >= 1


def test_repeated_loss_backs_off(ecdsa_cert: Certificate, ecdsa_cert2: Certificate) -> None:
    # Lose the first three transmissions of the ClientHello: 1 + 2 + 4 s of backoff.
    pair = make_pair(ecdsa_cert, ecdsa_cert2, drop=lambda s, b, i, d: s == "client" and b < 3)
    pair.connect()
    assert pair.client.state == "connected"
    assert pair.client.retransmissions == 3
    assert 7.0 <= pair.connected_at["client"] < 7.5


def test_handshake_gives_up(ecdsa_cert: Certificate, ecdsa_cert2: Certificate) -> None:
    pair = make_pair(ecdsa_cert, ecdsa_cert2, drop=lambda s, b, i, d: True)
    pair.connect(limit=1000.0)
    assert pair.client.state == "failed"
    err = pair.client.error
    assert isinstance(err, RTCError) and err.errorDetail == "dtls-failure"
    assert pair.states("client") == ["connecting", "failed"]
    assert isinstance(pair.events["client"][-2], DtlsErrorEvent)
    assert pair.client.retransmissions == 8
    # 1 + 2 + 4 + 8 + 16 + 32 + 60 + 60 + 60 seconds of backoff.
    assert pair.now == pytest.approx(243.0, abs=0.1)
    assert pair.client.poll_timeout() is None
    assert pair.server.state == "connecting"


def test_openssl_retransmits_when_real_clock_agrees(
    ecdsa_cert: Certificate, ecdsa_cert2: Certificate
) -> None:
    """Driven by the real monotonic clock, as the asyncio driver does: OpenSSL's own
    timer fires and retransmits with a new record sequence number. This is the one test
    that waits in real time (about one second)."""
    client = DtlsTransport(ecdsa_cert, wall_time=WALL)
    server = DtlsTransport(ecdsa_cert2, wall_time=WALL)
    client.set_remote_fingerprints(ecdsa_cert2.get_fingerprints())
    server.set_remote_fingerprints(ecdsa_cert.get_fingerprints())
    client.start(time.monotonic(), "client")
    server.start(time.monotonic(), "server")
    lost = client.poll_transmit()
    assert lost is not None
    deadline = client.poll_timeout()
    assert deadline is not None
    retransmitted = None
    while retransmitted is None:
        wait = client.poll_timeout()
        assert wait is not None and wait - deadline < 0.5
        time.sleep(max(0.0, wait - time.monotonic()))
        client.handle_timeout(time.monotonic())
        retransmitted = client.poll_transmit()
    # Same ClientHello, new record sequence number: OpenSSL's retransmission.
    assert retransmitted[13:] == lost[13:] and retransmitted[:13] != lost[:13]
    assert client.retransmissions == 1
    server.handle_receive(time.monotonic(), retransmitted)
    pair = Pair(client, server)
    pair.now = time.monotonic()
    pair.collect()
    pair.run(
        lambda: client.state == "connected" and server.state == "connected", limit=pair.now + 5
    )
    assert (client.state, server.state) == ("connected", "connected")


# -- fingerprints ---------------------------------------------------------------------


def wrong_fingerprint(cert: Certificate) -> list[tuple[str, str]]:
    alg, value = cert.get_fingerprints()[0]
    flipped = ("00" if value[:2] != "00" else "11") + value[2:]
    return [(alg, flipped)]


def test_client_rejects_server_fingerprint(
    ecdsa_cert: Certificate, ecdsa_cert2: Certificate
) -> None:
    pair = make_pair(ecdsa_cert, ecdsa_cert2)
    pair.client.set_remote_fingerprints(wrong_fingerprint(ecdsa_cert2))
    pair.connect()
    pair.settle()
    assert pair.client.state == "failed"
    assert pair.client.error is not None and pair.client.error.errorDetail == "fingerprint-failure"
    err_events = [e for e in pair.events["client"] if isinstance(e, DtlsErrorEvent)]
    assert [e.error.errorDetail for e in err_events] == ["fingerprint-failure"]
    assert pair.states("client") == ["connecting", "failed"]
    # The client's alert fails the server too.
    assert pair.server.state == "failed"
    assert pair.server.error is not None and pair.server.error.errorDetail == "dtls-failure"
    for t in (pair.client, pair.server):
        with pytest.raises(InvalidStateError):
            t.send(b"x")
        assert t.poll_data() is None
        with pytest.raises(InvalidStateError):
            t.srtp_keys()


def test_server_rejects_client_fingerprint(ecdsa_cert: Certificate, rsa_cert: Certificate) -> None:
    pair = make_pair(ecdsa_cert, rsa_cert)
    pair.server.set_remote_fingerprints(wrong_fingerprint(ecdsa_cert))
    pair.connect()
    pair.settle()
    assert pair.server.state == "failed"
    assert pair.server.error is not None and pair.server.error.errorDetail == "fingerprint-failure"
    assert pair.client.state == "failed"
    assert pair.client.error is not None and pair.client.error.errorDetail == "dtls-failure"
    assert "connected" not in pair.states("client") + pair.states("server")
    for t in (pair.client, pair.server):
        with pytest.raises(InvalidStateError):
            t.send(b"x")


def test_late_fingerprint_mismatch_delivers_nothing(
    ecdsa_cert: Certificate, ecdsa_cert2: Certificate
) -> None:
    pair = make_pair(ecdsa_cert, ecdsa_cert2, fingerprints=False)
    pair.server.set_remote_fingerprints(ecdsa_cert.get_fingerprints())
    pair.start()
    pair.run(lambda: pair.server.state == "connected" and not pair.queue)
    # The client completed the handshake but can't verify yet: still connecting.
    assert pair.client.state == "connecting"
    assert pair.client.remote_certificates() == [ecdsa_cert2.der]
    with pytest.raises(InvalidStateError):
        pair.client.send(b"too early")
    pair.server.send(b"secret")
    pair.settle()
    assert pair.client.poll_data() is None
    pair.client.set_remote_fingerprints(wrong_fingerprint(ecdsa_cert2))
    assert pair.client.state == "failed"
    assert pair.client.error is not None and pair.client.error.errorDetail == "fingerprint-failure"
    assert pair.client.poll_data() is None
    pair.collect()
    pair.settle()
    # The client's close_notify closes the server.
    assert pair.server.state == "closed"
    assert pair.client.poll_data() is None


def test_late_fingerprint_match_releases_buffered_data(
    ecdsa_cert: Certificate, ecdsa_cert2: Certificate
) -> None:
    pair = make_pair(ecdsa_cert, ecdsa_cert2, fingerprints=False)
    pair.client.set_remote_fingerprints(ecdsa_cert2.get_fingerprints())
    pair.start()
    pair.run(lambda: pair.client.state == "connected" and not pair.queue)
    assert pair.server.state == "connecting"  # handshake done, fingerprint unknown
    pair.client.send(b"one")
    pair.client.send(b"two")
    for i in range(70):  # more than the 64 records kept while unverified
        pair.client.send(b"%d" % i)
    pair.settle()
    assert pair.server.poll_data() is None
    # Lower-case hex, and an unknown hash next to a good one, are fine.
    alg, value = ecdsa_cert.get_fingerprints()[0]
    pair.server.set_remote_fingerprints([("md5", "00"), (alg.upper(), value.lower())])
    assert pair.server.state == "connected"
    received = list(iter(pair.server.poll_data, None))
    assert received == [b"one", b"two"] + [b"%d" % i for i in range(62)]
    assert pair.server.records_dropped == 8


def test_any_fingerprint_may_match(ecdsa_cert: Certificate, ecdsa_cert2: Certificate) -> None:
    pair = make_pair(ecdsa_cert, ecdsa_cert2)
    pair.client.set_remote_fingerprints(
        wrong_fingerprint(ecdsa_cert2) + ecdsa_cert2.get_fingerprints(["sha-512"])
    )
    pair.connect()
    assert pair.client.state == "connected"


def test_fingerprint_change_after_connect_is_checked(
    ecdsa_cert: Certificate, ecdsa_cert2: Certificate
) -> None:
    pair = make_pair(ecdsa_cert, ecdsa_cert2)
    pair.connect()
    pair.client.set_remote_fingerprints(ecdsa_cert2.get_fingerprints(["sha-384"]))
    assert pair.client.state == "connected"
    pair.client.set_remote_fingerprints(wrong_fingerprint(ecdsa_cert2))
    assert pair.client.state == "failed"
    assert pair.client.error is not None and pair.client.error.errorDetail == "fingerprint-failure"
    with pytest.raises(InvalidStateError):
        pair.client.set_remote_fingerprints(ecdsa_cert2.get_fingerprints())


def test_set_remote_fingerprints_validation(ecdsa_cert: Certificate) -> None:
    t = DtlsTransport(ecdsa_cert, wall_time=WALL)
    with pytest.raises(InvalidAccessError):
        t.set_remote_fingerprints([])
    with pytest.raises(NotSupportedError):
        t.set_remote_fingerprints([("md5", "AA:BB")])
    with pytest.raises(InvalidSyntaxError):
        t.set_remote_fingerprints([("sha-256", "AB:CD")])
    with pytest.raises(InvalidSyntaxError):
        t.set_remote_fingerprints([("sha-256", ":".join(["ZZ"] * 32))])


# -- application data and close -----------------------------------------------------


def test_application_data_both_ways(ecdsa_cert: Certificate, rsa_cert: Certificate) -> None:
    pair = make_pair(ecdsa_cert, rsa_cert)
    pair.connect()
    cleartext_mtu = pair.client.cleartext_mtu
    assert cleartext_mtu is not None and 1100 < cleartext_mtu < 1200
    messages = [b"a", bytes(range(256)) * 4, b"x" * cleartext_mtu]
    for m in messages:
        pair.client.send(m)
    pair.server.send(b"pong")
    sent_client = len(pair.sent["client"])
    pair.settle()
    # One datagram per record, each within the MTU.
    new = pair.sent["client"][sent_client - len(messages) :]
    assert all(records(d)[0][0] == 23 and len(records(d)) == 1 for d in new)
    assert all(len(d) <= 1200 for d in new)
    assert list(iter(pair.server.poll_data, None)) == messages
    assert list(iter(pair.client.poll_data, None)) == [b"pong"]


def test_large_record_travels_alone(ecdsa_cert: Certificate, ecdsa_cert2: Certificate) -> None:
    pair = make_pair(ecdsa_cert, ecdsa_cert2)
    pair.connect()
    pair.client.send(b"y" * 5000)
    datagram = pair.client.poll_transmit()
    assert datagram is not None and len(datagram) > 5000 and len(records(datagram)) == 1
    pair.server.handle_receive(pair.now, datagram)
    assert pair.server.poll_data() == b"y" * 5000
    with pytest.raises(ValueError, match="16384"):
        pair.client.send(b"z" * 16385)
    with pytest.raises(ValueError):
        pair.client.send(b"")
    assert pair.client.state == "connected"


def test_close_notify(ecdsa_cert: Certificate, ecdsa_cert2: Certificate) -> None:
    pair = make_pair(ecdsa_cert, ecdsa_cert2)
    pair.connect()
    pair.client.close()
    notify = pair.client.poll_transmit()
    assert notify is not None and [r[0] for r in records(notify)] == [21]  # alert
    assert pair.client.state == "closed"
    pair.server.handle_receive(pair.now, notify)
    assert pair.server.state == "closed"
    reply = pair.server.poll_transmit()
    assert reply is not None and records(reply)[0][0] == 21  # answered close_notify
    pair.client.handle_receive(pair.now, reply)  # ignored by a closed transport
    assert pair.client.datagrams_dropped == 1
    pair.collect()
    assert pair.states("client") == ["connecting", "connected", "closed"]
    assert pair.states("server") == ["connecting", "connected", "closed"]
    for t in (pair.client, pair.server):
        with pytest.raises(InvalidStateError):
            t.send(b"after close")
        t.close()  # idempotent
        assert t.poll_event() is None


def test_close_before_connected_sends_nothing(ecdsa_cert: Certificate) -> None:
    t = DtlsTransport(ecdsa_cert, wall_time=WALL)
    t.close()
    assert t.state == "closed"
    assert list(iter(t.poll_event, None)) == [DtlsStateChangeEvent("closed")]
    u = DtlsTransport(ecdsa_cert, wall_time=WALL)
    u.start(0.0, "client")
    assert u.poll_transmit() is not None
    u.close()
    assert u.poll_transmit() is None and u.poll_timeout() is None
    with pytest.raises(InvalidStateError):
        u.start(0.0, "client")


def test_failed_transport_can_be_closed(ecdsa_cert: Certificate, ecdsa_cert2: Certificate) -> None:
    pair = make_pair(ecdsa_cert, ecdsa_cert2)
    pair.client.set_remote_fingerprints(wrong_fingerprint(ecdsa_cert2))
    pair.connect()
    assert pair.client.state == "failed"
    pair.client.close()
    assert pair.client.state == "closed"
    assert pair.client.poll_transmit() is None


def test_garbage_is_dropped_not_raised(ecdsa_cert: Certificate, ecdsa_cert2: Certificate) -> None:
    pair = make_pair(ecdsa_cert, ecdsa_cert2)
    pair.connect()
    before = pair.server.datagrams_dropped
    pair.server.handle_receive(pair.now, b"")
    pair.server.handle_receive(pair.now, b"\x00\x01\x00\x00")  # STUN, not ours
    pair.server.handle_receive(pair.now, b"\x80" + bytes(20))  # RTP, not ours
    assert pair.server.datagrams_dropped == before + 3
    # A tampered application record fails authentication and is discarded silently
    # (RFC 6347 §4.1.2.7); the association survives.
    pair.client.send(b"genuine")
    datagram = pair.client.poll_transmit()
    assert datagram is not None
    tampered = datagram[:-1] + bytes([datagram[-1] ^ 1])
    pair.server.handle_receive(pair.now, tampered)
    assert pair.server.poll_data() is None
    pair.server.handle_receive(pair.now, datagram)
    assert pair.server.poll_data() == b"genuine"
    assert pair.server.state == "connected"


@settings(max_examples=60, deadline=None)
@given(junk=st.lists(st.binary(max_size=300), max_size=4))
def test_random_datagrams_never_raise(
    ecdsa_cert: Certificate, ecdsa_cert2: Certificate, junk: list[bytes]
) -> None:
    pair = make_pair(ecdsa_cert, ecdsa_cert2)
    pair.start()
    for data in junk:  # into a server waiting for a ClientHello, and into a client
        pair.server.handle_receive(0.0, bytes([22]) + data)
        pair.client.handle_receive(0.0, bytes([23]) + data)
    pair.collect()
    pair.run(lambda: pair.client.state != "connecting" and pair.server.state != "connecting")
    for data in junk:
        pair.server.handle_receive(pair.now, bytes([22, 0xFE, 0xFD]) + data)
        pair.server.handle_receive(pair.now, bytes([23, 0xFE, 0xFD, 0, 1]) + data)
    assert pair.server.state in ("connected", "failed")


# -- DTLS-SRTP ------------------------------------------------------------------------


def test_default_srtp_profile_is_aes256_gcm(
    ecdsa_cert: Certificate, ecdsa_cert2: Certificate
) -> None:
    pair = make_pair(ecdsa_cert, ecdsa_cert2)
    pair.connect()
    assert pair.client.srtp_profile is SRTP_AEAD_AES_256_GCM
    assert pair.server.srtp_profile is SRTP_AEAD_AES_256_GCM


@pytest.mark.parametrize(
    "profile",
    [SRTP_AEAD_AES_256_GCM, SRTP_AEAD_AES_128_GCM, SRTP_AES128_CM_SHA1_80, SRTP_AES128_CM_SHA1_32],
    ids=lambda p: p.name,
)
def test_srtp_keys_and_sessions_per_profile(
    ecdsa_cert: Certificate, ecdsa_cert2: Certificate, profile: SrtpProfile
) -> None:
    pair = make_pair(ecdsa_cert, ecdsa_cert2, srtp_profiles=(profile,))
    pair.connect()
    assert pair.client.srtp_profile is profile and pair.server.srtp_profile is profile
    kc, ks = pair.client.srtp_keys(), pair.server.srtp_keys()
    # RFC 5764 §4.2: the client's write key is the server's read key, and back.
    assert (kc.local_key, kc.local_salt) == (ks.remote_key, ks.remote_salt)
    assert (kc.remote_key, kc.remote_salt) == (ks.local_key, ks.local_salt)
    assert kc.local_key != kc.remote_key
    assert len(kc.local_key) == profile.key_length and len(kc.local_salt) == profile.salt_length
    # ... and the client's is the first one the exporter gives (RFC 5764 §4.2).
    conn = pair.client._conn
    assert conn is not None
    material = conn.export_keying_material(
        b"EXTRACTOR-dtls_srtp", 2 * (profile.key_length + profile.salt_length)
    )
    assert kc.local_key == material[: profile.key_length]
    assert ks.local_salt == material[-profile.salt_length :]
    sc, ss = pair.client.create_srtp_session(), pair.server.create_srtp_session()
    rtp = bytes.fromhex("80600001000000640000beef") + b"media" * 20
    rtcp = bytes.fromhex("80c8000600000bef") + bytes(20)
    assert ss.unprotect_rtp(sc.protect_rtp(rtp)) == rtp
    assert sc.unprotect_rtp(ss.protect_rtp(rtp)) == rtp
    assert ss.unprotect_rtcp(sc.protect_rtcp(rtcp)) == rtcp
    assert sc.unprotect_rtcp(ss.protect_rtcp(rtcp)) == rtcp
    # Our own outbound packets don't authenticate as inbound ones.
    with pytest.raises(SrtpError):
        sc.unprotect_rtp(sc.protect_rtp(rtp[:2] + b"\x00\x02" + rtp[4:]))


def test_srtp_profile_intersection(ecdsa_cert: Certificate, ecdsa_cert2: Certificate) -> None:
    client = DtlsTransport(
        ecdsa_cert, wall_time=WALL, srtp_profiles=(SRTP_AES128_CM_SHA1_80, SRTP_AEAD_AES_128_GCM)
    )
    server = DtlsTransport(ecdsa_cert2, wall_time=WALL, srtp_profiles=(SRTP_AEAD_AES_128_GCM,))
    client.set_remote_fingerprints(ecdsa_cert2.get_fingerprints())
    server.set_remote_fingerprints(ecdsa_cert.get_fingerprints())
    pair = Pair(client, server)
    pair.connect()
    assert client.srtp_profile is server.srtp_profile is SRTP_AEAD_AES_128_GCM


def test_no_srtp_when_not_offered(ecdsa_cert: Certificate, ecdsa_cert2: Certificate) -> None:
    pair = make_pair(ecdsa_cert, ecdsa_cert2, srtp_profiles=())
    pair.connect()
    assert pair.client.state == "connected"  # data channels only
    assert pair.client.srtp_profile is None
    with pytest.raises(InvalidStateError, match="use_srtp"):
        pair.client.srtp_keys()


def test_state_table_is_w3c() -> None:
    table = transport_module._TRANSITIONS
    assert set(table) == {"new", "connecting", "connected", "closed", "failed"}
    assert table["closed"] == frozenset()
    assert "connected" not in table["new"]
    assert table["connected"] == {"closed", "failed"}


@pytest.mark.parametrize(
    ("first", "expected"),
    [(19, False), (20, True), (23, True), (63, True), (64, False), (0, False), (128, False)],
)
def test_is_dtls(first: int, expected: bool) -> None:
    assert is_dtls(bytes([first, 0xFE, 0xFD])) is expected
    assert is_dtls(b"") is False


# -- suites and the extended master secret ------------------------------------------


def _hello_extensions(datagram: bytes) -> set[int]:
    """Extension types of the (unfragmented) ClientHello/ServerHello in a datagram."""
    assert datagram[0] == 22  # handshake record
    body = datagram[13 + 12 :]  # record header, then handshake header (DTLS: 12 bytes)
    pos = 2 + 32  # version, random
    pos += 1 + body[pos]  # session id
    if datagram[13] == 1:  # ClientHello: cookie, cipher suites, compression methods
        pos += 1 + body[pos]
        pos += 2 + int.from_bytes(body[pos : pos + 2], "big")
        pos += 1 + body[pos]
    else:  # ServerHello: one suite, one compression method
        pos += 3
    end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
    pos += 2
    types = set()
    while pos < end:
        types.add(int.from_bytes(body[pos : pos + 2], "big"))
        pos += 4 + int.from_bytes(body[pos + 2 : pos + 4], "big")
    return types


def test_extended_master_secret_negotiated(
    ecdsa_cert: Certificate, ecdsa_cert2: Certificate
) -> None:
    pair = make_pair(ecdsa_cert, ecdsa_cert2)
    pair.connect()
    assert (pair.client.state, pair.server.state) == ("connected", "connected")
    hellos = [
        d for d in pair.sent["client"] + pair.sent["server"] if d[0] == 22 and d[13] in (1, 2)
    ]
    assert {d[13] for d in hellos} == {1, 2}
    for hello in hellos:
        assert 0x0017 in _hello_extensions(hello)  # RFC 7627 extended_master_secret


@pytest.mark.parametrize("refuser", ["client", "server"])
def test_peer_without_extended_master_secret_is_refused(
    ecdsa_cert: Certificate, ecdsa_cert2: Certificate, refuser: str
) -> None:
    """A peer that will not do RFC 7627 fails the handshake on our side, and nothing
    is keyed."""
    pair = make_pair(ecdsa_cert, ecdsa_cert2)
    legacy = pair.server if refuser == "server" else pair.client
    ours = pair.client if refuser == "server" else pair.server
    original = transport_module._make_context

    def legacy_context(*args: object, **kwargs: object) -> object:
        ctx = original(*args, **kwargs)  # type: ignore[arg-type]
        ctx.set_options(0x1)  # OpenSSL's SSL_OP_NO_EXTENDED_MASTER_SECRET
        return ctx

    transport_module._make_context = legacy_context  # type: ignore[assignment]
    try:
        legacy_side = DtlsTransport(legacy.certificate, wall_time=WALL)
    finally:
        transport_module._make_context = original
    legacy_side.set_remote_fingerprints(ours.certificate.get_fingerprints())
    if refuser == "server":
        pair.server = legacy_side
    else:
        pair.client = legacy_side
    pair.connect()
    pair.settle()
    assert ours.state == "failed"
    assert ours.error is not None and "extended master secret" in str(ours.error)
    with pytest.raises(InvalidStateError):
        ours.srtp_keys()
    assert ours.poll_data() is None


def test_only_ecdhe_aead_suites_offered(ecdsa_cert: Certificate) -> None:
    for suite in transport_module.CIPHER_LIST.decode().split(":"):
        assert suite.startswith("ECDHE-") and ("GCM" in suite or "CHACHA20-POLY1305" in suite)
    pair = make_pair(ecdsa_cert, ecdsa_cert)
    pair.start()
    hello = pair.sent["client"][0]
    body = hello[13 + 12 :]
    pos = 2 + 32
    pos += 1 + body[pos]
    pos += 1 + body[pos]
    n = int.from_bytes(body[pos : pos + 2], "big")
    suites = {int.from_bytes(body[pos + 2 + i : pos + 4 + i], "big") for i in range(0, n, 2)}
    # IANA: ECDHE-ECDSA/RSA with AES-GCM and ChaCha20-Poly1305, plus the SCSV.
    allowed = {0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0x00FF}
    assert suites <= allowed and {0xC02B, 0xCCA9} <= suites


def test_chacha20_poly1305_handshake(ecdsa_cert: Certificate, ecdsa_cert2: Certificate) -> None:
    original = transport_module._make_context

    def chacha_context(*args: object, **kwargs: object) -> object:
        ctx = original(*args, **kwargs)  # type: ignore[arg-type]
        ctx.set_cipher_list(b"ECDHE-ECDSA-CHACHA20-POLY1305")
        return ctx

    transport_module._make_context = chacha_context  # type: ignore[assignment]
    try:
        client = DtlsTransport(ecdsa_cert, wall_time=WALL)
    finally:
        transport_module._make_context = original
    server = DtlsTransport(ecdsa_cert2, wall_time=WALL)
    client.set_remote_fingerprints(ecdsa_cert2.get_fingerprints())
    server.set_remote_fingerprints(ecdsa_cert.get_fingerprints())
    pair = Pair(client, server)
    pair.connect()
    assert (client.state, server.state) == ("connected", "connected")
    assert server.cipher_name == "ECDHE-ECDSA-CHACHA20-POLY1305"
    client.send(b"over chacha")
    pair.settle()
    assert server.poll_data() == b"over chacha"


def test_connected_data_path_drops_tampered_and_replayed_records(
    ecdsa_cert: Certificate, ecdsa_cert2: Certificate
) -> None:
    """The fast record path (OpenSSL's C API) keeps DTLS's guarantees: a record with
    a flipped bit and a replayed one are dropped silently, the rest arrive."""
    pair = make_pair(ecdsa_cert, ecdsa_cert2)
    pair.connect()
    assert pair.client._pipe is not None and pair.server._pipe is not None
    for text in (b"one", b"two", b"three"):
        pair.client.send(text)
    sealed = [d for d in iter(pair.client.poll_transmit, None)]
    assert len(sealed) == 3 and all(d[0] == 23 for d in sealed)
    tampered = bytearray(sealed[1])
    tampered[-1] ^= 0x01
    for datagram in (sealed[0], bytes(tampered), sealed[0], sealed[2]):
        pair.server.handle_receive(pair.now, datagram)
    assert [d for d in iter(pair.server.poll_data, None)] == [b"one", b"three"]
    assert pair.server.state == "connected"
    assert pair.server.poll_transmit() is None  # nothing to say about bad records
    # Large records are split at record boundaries by the same path.
    pair.client.send(bytes(5000))
    (big,) = [d for d in iter(pair.client.poll_transmit, None)]
    pair.server.handle_receive(pair.now, big)
    assert pair.server.poll_data() == bytes(5000)


def test_close_notify_after_fast_path_traffic(
    ecdsa_cert: Certificate, ecdsa_cert2: Certificate
) -> None:
    pair = make_pair(ecdsa_cert, ecdsa_cert2)
    pair.connect()
    pair.client.send(b"before close")
    pair.client.close()
    pair.settle()
    assert pair.server.poll_data() == b"before close"
    assert pair.server.state == "closed"
    assert pair.server._pipe is None and pair.client._pipe is None


def test_seal_and_open_fast_forms(ecdsa_cert: Certificate, ecdsa_cert2: Certificate) -> None:
    """seal()/open() are send()/handle_receive() returning instead of queueing; they
    decline (None) what only the general path handles, consuming nothing."""
    pair = make_pair(ecdsa_cert, ecdsa_cert2)
    fresh = DtlsTransport(ecdsa_cert, wall_time=WALL)
    assert fresh.seal(b"x") is None and fresh.open(b"\x17" + bytes(20)) is None
    pair.connect()
    sealed = [pair.client.seal(text) for text in (b"one", b"two")]
    assert all(s and s[0] == 23 for s in sealed)
    assert pair.client.poll_transmit() is None  # nothing was queued
    # An older record still queued comes out first, in order.
    pair.server.handle_receive(pair.now, sealed[0])
    assert pair.server.open(sealed[1]) == [b"one", b"two"]
    assert pair.server.poll_data() is None
    assert pair.server.open(b"\x16\xfe\xfd" + bytes(10)) is None  # not application data
    assert pair.client.seal(bytes(5000)) == b""  # split across datagrams: queued instead
    assert [d[0] for d in iter(pair.client.poll_transmit, None)] == [23]
    pair.client.close()
    assert pair.client.seal(b"late") is None


# -- a short first timeout, and answering the peer's repeated flight ---------------------


def test_initial_rto_sets_the_first_timeout_and_doubles(ecdsa_cert: Certificate) -> None:
    t = DtlsTransport(ecdsa_cert, wall_time=WALL)
    t.initial_rto = 0.05
    t.start(10.0, "client")
    hello = t.poll_transmit()
    assert hello is not None and t.poll_timeout() == pytest.approx(10.05)
    t.handle_timeout(10.05)  # OpenSSL's own 1 s has not passed: a verbatim copy
    assert t.poll_transmit() == hello and t.retransmissions == 1
    assert t.poll_timeout() == pytest.approx(10.15)
    with pytest.raises(ValueError, match="initial_rto"):
        t.initial_rto = 0.0


def test_short_initial_rto_still_gives_up_after_minutes(
    ecdsa_cert: Certificate, ecdsa_cert2: Certificate
) -> None:
    pair = make_pair(ecdsa_cert, ecdsa_cert2, drop=lambda s, b, i, d: True)
    pair.client.initial_rto = 0.05
    pair.connect(limit=1000.0)
    assert pair.client.state == "failed"
    # 0.05 doubling to 60 s, 13 timeouts: the same order as 1 s with 9.
    assert 150.0 < pair.now < 300.0


def test_peer_repeating_its_flight_gets_ours_again_at_once(
    ecdsa_cert: Certificate, ecdsa_cert2: Certificate
) -> None:
    """The server's flight 2 is lost; the client (50 ms timer) repeats its
    ClientHello. OpenSSL ignores the repeat, but the server resends its flight at
    once instead of waiting for its own (here 5 s) timer."""
    pair = make_pair(ecdsa_cert, ecdsa_cert2, drop=drop_burst("server", 0))
    pair.client.initial_rto = 0.05
    pair.server.initial_rto = 5.0
    pair.connect()
    assert (pair.client.state, pair.server.state) == ("connected", "connected")
    assert max(pair.connected_at.values()) < 0.5
    assert pair.server.retransmissions == 1


def test_partial_flight_and_unrelated_records_are_not_repeats(
    rsa_cert: Certificate, rsa_cert2: Certificate
) -> None:
    """A flight arriving in several datagrams is new, datagram by datagram: the
    receiver does not answer each piece with a copy of its own flight."""
    pair = make_pair(rsa_cert, rsa_cert2)
    pair.client.initial_rto = pair.server.initial_rto = 5.0
    pair.connect()
    assert (pair.client.state, pair.server.state) == ("connected", "connected")
    assert pair.client.retransmissions == pair.server.retransmissions == 0


def test_answers_to_a_repeating_peer_back_off(
    ecdsa_cert: Certificate, ecdsa_cert2: Certificate
) -> None:
    """A peer that keeps repeating its flight (or a replayer) gets our flight again
    at most every 50 ms, doubling while nothing progresses: no ping-pong at a fixed
    rate between two ends that each answer the other's repeats."""
    client = DtlsTransport(ecdsa_cert, wall_time=WALL)
    server = DtlsTransport(ecdsa_cert2, wall_time=WALL)
    server.initial_rto = 60.0  # only answers to repeats, no timer
    client.start(0.0, "client")
    hello = client.poll_transmit()
    assert hello is not None
    server.start(0.0, "server")
    server.handle_receive(0.0, hello)
    list(iter(server.poll_transmit, None))
    for step in range(1, 101):  # the same ClientHello every 10 ms for a second
        server.handle_receive(step * 0.01, hello)
    # 50, 100, 200, 400 ms apart: resent at about 0.05, 0.15, 0.35, 0.75 s.
    assert 3 <= server.retransmissions <= 5
