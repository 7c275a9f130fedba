"""DTLS 1.2 over memory BIOs, sans-IO (W3C ``RTCDtlsTransport``, RFC 6347, RFC 8842).

:class:`DtlsTransport` drives OpenSSL (pyOpenSSL) through memory BIOs: the owner hands
it every datagram whose first byte is 20..63 (RFC 7983 §7, see :func:`is_dtls`) with
:meth:`~DtlsTransport.handle_receive`, and drains datagrams to send with
:meth:`~DtlsTransport.poll_transmit`, received application records with
:meth:`~DtlsTransport.poll_data` and state/error events with
:meth:`~DtlsTransport.poll_event`.

Security profile (RFC 8827 §6.5, RFC 8842):

* DTLS 1.2 only, ECDHE with AES-GCM or ChaCha20-Poly1305, extended master secret
  (OpenSSL's default), no session tickets, no renegotiation, no compression.
* Both sides present a certificate; OpenSSL accepts any (self-signed) certificate and
  the peer is authenticated by comparing its certificate with the signalled
  ``a=fingerprint`` values (:meth:`~DtlsTransport.set_remote_fingerprints`). Until that
  check passes no application data is delivered and :meth:`~DtlsTransport.send` raises;
  a mismatch fails the transport with ``error_detail="fingerprint-failure"``.
* DTLS-SRTP (RFC 5764): the ``use_srtp`` extension offers
  SRTP_AEAD_AES_256_GCM, SRTP_AEAD_AES_128_GCM and SRTP_AES128_CM_SHA1_80; once
  connected, :meth:`~DtlsTransport.srtp_keys` exports and splits the keys (§4.2).

Timers and OpenSSL's clock
--------------------------
OpenSSL runs its own DTLS retransmission timer on the *real* wall clock (a fixed 1 s to
start) and there is no public hook to feed it ours. This transport therefore keeps its
own deadline in the caller's ``now``, starting at :attr:`~DtlsTransport.initial_rto` (1
s by default, RFC 6347 §4.2.4.1; a WebRTC connection sets 50 ms as libwebrtc does, or
twice the ICE round trip) and doubling up to 60 s. When it fires it first asks OpenSSL
to retransmit (``DTLSv1_handle_timeout``): if OpenSSL's own timer has expired too,
OpenSSL retransmits with fresh record sequence numbers; otherwise (an earlier first
timeout, or simulated time running ahead of the real clock) the transport resends the
last flight byte for byte. A verbatim copy is indistinguishable from network
duplication: a receiver that lost the original accepts it, one that had it drops it by
replay detection (RFC 6347 §4.1.2.6). The one case that needs more is a lost final
flight: the peer's copy of its previous flight is dropped as a replay, so OpenSSL would
never answer it; when a handshake datagram arrives after the handshake completed and
OpenSSL produced nothing in reply, the transport resends its final flight itself (RFC
6347 §4.2.4). The same holds during the handshake: a datagram that only repeats
handshake fragments already received (the peer retransmitting its flight, so ours was
lost) gets our last flight again at once (at most every 50 ms, doubling while nothing
progresses), instead of waiting for our timer. Handshakes under loss thus complete in
simulated time without real waits.
"""

from __future__ import annotations

import contextlib
import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from cryptography.hazmat.bindings.openssl.binding import Binding
from cryptography.hazmat.primitives.serialization import Encoding
from OpenSSL import SSL, crypto

from rtcpeer.dtls.certificate import (
    FINGERPRINT_ALGORITHMS,
    Certificate,
    compute_fingerprint,
    normalize_fingerprint,
)
from rtcpeer.errors import (
    InvalidAccessError,
    InvalidStateError,
    NotSupportedError,
    RTCError,
)
from rtcpeer.srtp.session import (
    PROFILES,
    SRTP_AEAD_AES_128_GCM,
    SRTP_AEAD_AES_256_GCM,
    SRTP_AES128_CM_SHA1_80,
    SrtpKeys,
    SrtpProfile,
    SrtpSession,
)

__all__ = [
    "CIPHER_LIST",
    "DEFAULT_MTU",
    "DEFAULT_SRTP_PROFILES",
    "DtlsErrorEvent",
    "DtlsEvent",
    "DtlsRole",
    "DtlsState",
    "DtlsStateChangeEvent",
    "DtlsTransport",
    "is_dtls",
]

DtlsState = Literal["new", "connecting", "connected", "closed", "failed"]
DtlsRole = Literal["client", "server"]

#: Default path MTU: the UDP payload size every WebRTC path is assumed to carry.
DEFAULT_MTU: Final = 1200
#: ECDHE + AEAD suites only (RFC 8827 §6.5 requires forward secrecy; RFC 7525).
CIPHER_LIST: Final = (
    b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    b"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    b"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)
#: SRTP protection profiles offered, most preferred first.
DEFAULT_SRTP_PROFILES: Final[tuple[SrtpProfile, ...]] = (
    SRTP_AEAD_AES_256_GCM,
    SRTP_AEAD_AES_128_GCM,
    SRTP_AES128_CM_SHA1_80,
)

_DTLS1_2_VERSION: Final = 0xFEFD
_SRTP_EXPORTER_LABEL: Final = b"EXTRACTOR-dtls_srtp"  # RFC 5764 §4.2
_RECORD_HEADER: Final = 13  # RFC 6347 §4.1: type, version, epoch, sequence, length
_MAX_PLAINTEXT: Final = 16384  # RFC 5246 §6.2.1: 2^14
_BIO_READ_SIZE: Final = 32768
_MIN_MTU: Final = 256  # OpenSSL refuses smaller DTLS MTUs
_MAX_MTU: Final = 65507  # largest UDP payload over IPv4
_INITIAL_RTO: Final = 1.0  # RFC 6347 §4.2.4.1, also OpenSSL's initial timer (the default)
_MIN_RTO: Final = 0.01
_REPEAT_INTERVAL: Final = 0.05  # least time between two answers to the peer's repeats
_MAX_RTO: Final = 60.0  # RFC 6347 §4.2.4.1
_MAX_TIMEOUTS: Final = 8  # retransmissions without progress; the 9th timeout fails (~4 min)
_CLOCK_SLACK: Final = 0.1  # how far our clock may lead OpenSSL's before we resend ourselves
_FINAL_FLIGHT_INTERVAL: Final = 0.5  # least time between two resends of the final flight
_EARLY_LIMIT: Final = 16  # datagrams kept while waiting for start()
_PENDING_LIMIT: Final = 64  # records kept while waiting for the remote fingerprint
_HANDSHAKE_TYPES: Final = frozenset({20, 22})  # change_cipher_spec, handshake

_TRANSITIONS: Final[dict[DtlsState, frozenset[DtlsState]]] = {
    # W3C webrtc-pc §5.5 RTCDtlsTransportState. "failed" -> "closed" is
    # RTCPeerConnection.close(), which closes every transport whatever its state.
    "new": frozenset({"connecting", "closed"}),
    "connecting": frozenset({"connected", "failed", "closed"}),
    "connected": frozenset({"failed", "closed"}),
    "failed": frozenset({"closed"}),
    "closed": frozenset(),
}


def is_dtls(data: bytes) -> bool:
    """RFC 7983 §7: a datagram whose first byte is 20..63 belongs to DTLS."""
    return bool(data) and 19 < data[0] < 64


@dataclass(frozen=True, slots=True)
class DtlsStateChangeEvent:
    """The transport entered ``state`` (W3C ``statechange``)."""

    state: DtlsState


@dataclass(frozen=True, slots=True)
class DtlsErrorEvent:
    """The transport failed (W3C ``error``); ``error.errorDetail`` says why:
    ``"dtls-failure"`` or ``"fingerprint-failure"``. A ``failed`` state change follows."""

    error: RTCError


DtlsEvent = DtlsStateChangeEvent | DtlsErrorEvent


def _verify_peer(conn: SSL.Connection, cert: crypto.X509, errnum: int, depth: int, ok: int) -> bool:
    """OpenSSL verify callback: any certificate chain is acceptable (WebRTC certificates
    are self-signed); the leaf is checked against the remote fingerprints right away
    when they are already known, so a mismatch aborts the handshake with an alert."""
    transport = conn.get_app_data()
    if depth != 0 or not isinstance(transport, DtlsTransport):
        return True
    der = cert.to_cryptography().public_bytes(Encoding.DER)
    return transport._leaf_acceptable(der)


class DtlsTransport:
    """One DTLS association (W3C ``RTCDtlsTransport``), sans-IO.

    ``certificate`` is our identity (it may be shared with other transports);
    ``wall_time`` is the current wall-clock time, used to refuse an expired certificate
    (W3C: ``InvalidAccessError``). ``mtu`` is the largest datagram to emit (UDP
    payload). ``srtp_profiles`` are offered in ``use_srtp`` (empty: no DTLS-SRTP,
    data channels only).

    Call :meth:`start` with the role from ``a=setup`` (``"client"`` for ``active``),
    and :meth:`set_remote_fingerprints` with the remote ``a=fingerprint`` lines, in
    either order. Datagrams received before :meth:`start` are kept (a few) and
    processed when it is called.
    """

    __slots__ = (
        "_certificate",
        "_conn",
        "_ctx",
        "_data",
        "_deadline",
        "_deferred",
        "_early",
        "_events",
        "_final_sent_at",
        "_fingerprint_mismatch",
        "_handshake_done",
        "_initial_rto",
        "_last_flight",
        "_max_timeouts",
        "_mtu",
        "_pending",
        "_pipe",
        "_remote_chain",
        "_remote_fingerprints",
        "_repeat_interval",
        "_role",
        "_rto",
        "_seen_fragments",
        "_srtp_keys",
        "_srtp_profile",
        "_state",
        "_timeouts",
        "_transmits",
        "_verified",
        "datagrams_dropped",
        "error",
        "records_dropped",
        "retransmissions",
    )

    def __init__(
        self,
        certificate: Certificate,
        *,
        wall_time: datetime,
        mtu: int = DEFAULT_MTU,
        srtp_profiles: Sequence[SrtpProfile] = DEFAULT_SRTP_PROFILES,
    ) -> None:
        if not isinstance(certificate, Certificate):
            raise TypeError("certificate must be an rtcpeer.dtls.Certificate")
        if certificate.is_expired(wall_time):
            raise InvalidAccessError(
                f"the certificate expired at {certificate.expires} ms since the epoch; "
                "generate a new one with Certificate.generate()"
            )
        _check_mtu(mtu)
        for profile in srtp_profiles:
            if PROFILES.get(profile.name) != profile:
                raise NotSupportedError(f"SRTP profile {profile.name!r} is not supported")
        self._certificate = certificate
        self._mtu = mtu
        self._ctx = _make_context(certificate, tuple(srtp_profiles))
        self._conn: SSL.Connection | None = None
        self._state: DtlsState = "new"
        self._role: DtlsRole | None = None
        self._transmits: deque[bytes] = deque()
        self._events: deque[DtlsEvent] = deque()
        self._data: deque[bytes] = deque()
        self._early: list[bytes] = []
        self._pending: list[bytes] = []
        self._remote_fingerprints: tuple[tuple[str, str], ...] | None = None
        self._remote_chain: list[bytes] = []
        self._handshake_done = False
        self._verified = False
        self._pipe: _RecordPipe | None = None
        self._fingerprint_mismatch = False
        self._srtp_profile: SrtpProfile | None = None
        self._srtp_keys: SrtpKeys | None = None
        self._deadline: float | None = None
        self._rto = _INITIAL_RTO
        self._initial_rto = _INITIAL_RTO
        self._max_timeouts = _MAX_TIMEOUTS
        self._seen_fragments: set[tuple[int, int, int]] = set()
        self._repeat_interval = _REPEAT_INTERVAL
        self._deferred = False
        self._timeouts = 0
        self._last_flight: list[bytes] = []
        self._final_sent_at = float("-inf")
        #: The failure, once the state is ``failed``.
        self.error: RTCError | None = None
        #: Datagrams dropped unread: not DTLS, after close/failure, or early overflow.
        self.datagrams_dropped = 0
        #: Application records dropped (received while unverified, over the limit).
        self.records_dropped = 0
        #: Handshake flights sent again (by OpenSSL or by this transport).
        self.retransmissions = 0

    # -- properties ---------------------------------------------------------------

    @property
    def state(self) -> DtlsState:
        """W3C ``RTCDtlsTransport.state``."""
        return self._state

    @property
    def role(self) -> DtlsRole | None:
        """``"client"`` or ``"server"`` once started."""
        return self._role

    @property
    def certificate(self) -> Certificate:
        """Our certificate."""
        return self._certificate

    @property
    def mtu(self) -> int:
        """Largest datagram emitted (UDP payload bytes)."""
        return self._mtu

    @property
    def cleartext_mtu(self) -> int | None:
        """Largest :meth:`send` payload that fits one ``mtu`` datagram, once the
        cipher is known (after the handshake); ``None`` before."""
        if self._conn is None or not self._handshake_done:
            return None
        return self._conn.get_cleartext_mtu()

    @property
    def cipher_name(self) -> str | None:
        """The negotiated cipher suite (OpenSSL name), once the handshake is done."""
        return self._conn.get_cipher_name() if self._handshake_done and self._conn else None

    @property
    def srtp_profile(self) -> SrtpProfile | None:
        """The negotiated DTLS-SRTP profile; ``None`` before the handshake or when the
        peer did not negotiate DTLS-SRTP."""
        return self._srtp_profile

    def remote_certificates(self) -> list[bytes]:
        """The peer's certificate chain in DER, leaf first (W3C
        ``getRemoteCertificates()``); empty until the handshake completed."""
        return list(self._remote_chain)

    # -- configuration --------------------------------------------------------------

    @property
    def initial_rto(self) -> float:
        """The first handshake retransmission timeout, in seconds (default 1 s, RFC
        6347 §4.2.4.1). A WebRTC connection sets it from the ICE round trip, or to
        50 ms as libwebrtc does: the handshake then survives a lost flight in a
        fraction of a second. It doubles on each timeout up to 60 s; the handshake
        fails after about as long as with the default (some 4 minutes of silence)."""
        return self._initial_rto

    @initial_rto.setter
    def initial_rto(self, value: float) -> None:
        if not _MIN_RTO <= value <= _MAX_RTO:
            raise ValueError(f"initial_rto must be within {_MIN_RTO}..{_MAX_RTO} s")
        self._initial_rto = float(value)
        # Keep the give-up time: a shorter first timeout allows more doublings.
        self._max_timeouts = _MAX_TIMEOUTS + max(0, round(math.log2(_INITIAL_RTO / value)))
        if self._deadline is None or not self._last_flight:
            self._rto = self._initial_rto

    def set_mtu(self, mtu: int) -> None:
        """Change the largest datagram size (e.g. after path MTU discovery)."""
        _check_mtu(mtu)
        self._mtu = mtu
        if self._conn is not None:
            self._conn.set_ciphertext_mtu(mtu)

    def set_remote_fingerprints(self, fingerprints: Iterable[tuple[str, str]]) -> None:
        """Set the peer's ``a=fingerprint`` values: ``[(algorithm, "AB:CD:..."), ...]``.

        The peer's certificate must match at least one of them (RFC 8122 §5; hex is
        compared case-insensitively). Entries with a hash function rtcpeer doesn't know
        are ignored; ``NotSupportedError`` if none is left, ``InvalidSyntaxError`` for a
        malformed value. If the handshake already completed the check runs now.
        """
        if self._state in ("closed", "failed"):
            raise InvalidStateError(f"the DTLS transport is {self._state}")
        entries = list(fingerprints)
        if not entries:
            raise InvalidAccessError("no fingerprint given; the remote SDP needs a=fingerprint")
        known = tuple(
            normalize_fingerprint(alg, value)
            for alg, value in entries
            if alg.lower() in FINGERPRINT_ALGORITHMS
        )
        if not known:
            raise NotSupportedError(
                "none of the remote fingerprints uses a supported hash function "
                f"({', '.join(FINGERPRINT_ALGORITHMS)})"
            )
        self._remote_fingerprints = known
        if self._handshake_done and self._state == "connecting":
            self._verify()
        elif self._verified and not self._matches(self._remote_chain[0]):
            self._fail_fingerprint(notify_peer=True)

    # -- inputs -------------------------------------------------------------------

    def start(self, now: float, role: DtlsRole) -> None:
        """Begin the handshake as ``"client"`` (sends the ClientHello now) or
        ``"server"`` (answers the peer's ClientHello)."""
        if self._state != "new":
            raise InvalidStateError(f"start() needs a new transport; it is {self._state}")
        if role not in ("client", "server"):
            raise ValueError("role must be 'client' or 'server' (from a=setup)")
        conn = SSL.Connection(self._ctx, None)
        conn.set_app_data(self)
        conn.set_ciphertext_mtu(self._mtu)
        if role == "client":
            conn.set_connect_state()
        else:
            conn.set_accept_state()
        self._conn = conn
        self._role = role
        self._set_state("connecting")
        if role == "client":
            self._handshake(now)
        early, self._early = self._early, []
        for data in early:
            self.handle_receive(now, data)

    def handle_receive(self, now: float, data: bytes) -> None:
        """Feed one received datagram (first byte 20..63). Never raises for bad bytes:
        OpenSSL discards invalid records, and a fatal alert fails the transport."""
        state = self._state
        conn = self._conn
        if conn is None or state not in ("connecting", "connected") or not is_dtls(data):
            if state == "new" and is_dtls(data) and len(self._early) < _EARLY_LIMIT:
                self._early.append(bytes(data))
            else:
                self.datagrams_dropped += 1
            return
        pipe = self._pipe
        if pipe is not None:
            records = _application_records(data)
            if records:
                # Fast path: only application data records, so OpenSSL will write
                # nothing back; read exactly that many.
                self._read_pipe(pipe, data, records)
                return
        if not self._handshake_done:
            repeat = self._is_repeat(data)
            conn.bio_write(data)
            if (
                not self._handshake(now)
                and repeat
                and self._last_flight
                and now - self._final_sent_at >= self._repeat_interval
            ):
                # The peer sent its last flight again, so ours was lost (or never
                # left): OpenSSL drops the copy and says nothing, so we resend ours
                # now rather than at our next timeout (RFC 6347 §4.2.4). Backing off
                # while nothing progresses keeps two such ends from ping-ponging.
                self._final_sent_at = now
                self._repeat_interval = min(self._repeat_interval * 2, _MAX_RTO)
                self._transmits.extend(self._last_flight)
                self.retransmissions += 1
            return
        conn.bio_write(data)
        records = _application_records(data)
        if records and self._verified and not self._pending:
            self._read_known(conn, records)
            return
        self._read_records()
        out = self._drain()
        if out:
            self._transmits.extend(out)
        elif (
            self._last_flight
            and data[0] in _HANDSHAKE_TYPES
            and now - self._final_sent_at >= _FINAL_FLIGHT_INTERVAL
        ):
            # The peer is retransmitting its last flight, so ours was lost. OpenSSL
            # didn't answer (the copy was replay-dropped): resend it ourselves.
            self._final_sent_at = now
            self._transmits.extend(self._last_flight)
            self.retransmissions += 1

    def poll_timeout(self) -> float | None:
        """Absolute deadline (in ``now`` terms) of the retransmission timer, or None."""
        return self._deadline

    def handle_timeout(self, now: float) -> None:
        """Retransmit the current handshake flight if its timer expired."""
        deadline = self._deadline
        if deadline is None or now < deadline:
            return
        conn = self._conn
        if conn is None or self._handshake_done or self._state != "connecting":
            self._deadline = None
            return
        try:
            fired = conn.DTLSv1_handle_timeout()
        except SSL.Error as exc:
            self._transmits.extend(self._drain())
            self._fail("dtls-failure", f"DTLS handshake gave up: {_describe(exc)}")
            return
        out = self._drain()
        if fired or out:
            # OpenSSL's real clock agrees: it retransmitted with new sequence numbers.
            if out:
                self._transmits.extend(out)
                self._last_flight = out
                self._final_sent_at = now
            self.retransmissions += 1
            if self._count_timeout():
                self._rto = min(self._rto * 2, _MAX_RTO)
                self._deadline = now + self._rto
                self._deferred = False
            return
        remaining = conn.DTLSv1_get_timeout()
        if remaining is None:
            self._deadline = None
            return
        if remaining <= _CLOCK_SLACK and not self._deferred:
            # Our clock is a hair ahead of OpenSSL's: let OpenSSL retransmit itself.
            self._deferred = True
            self._deadline = now + float(remaining) + 0.001
            return
        # ``now`` runs ahead of the real clock (simulated time): resend verbatim.
        if not self._count_timeout():
            return
        self._final_sent_at = now
        self._transmits.extend(self._last_flight)
        self.retransmissions += 1
        self._rto = min(self._rto * 2, _MAX_RTO)
        self._deadline = now + self._rto
        self._deferred = False

    def send(self, data: bytes) -> None:
        """Send one application data record (one datagram out of :meth:`poll_transmit`).

        Only when ``connected`` (``InvalidStateError`` otherwise). Keep ``data`` within
        :attr:`cleartext_mtu` to avoid IP fragmentation; DTLS itself allows up to
        16384 bytes.
        """
        if self._state != "connected" or self._conn is None:
            raise InvalidStateError(
                f"the DTLS transport is {self._state}; send only once it is connected"
            )
        if not 0 < len(data) <= _MAX_PLAINTEXT:
            raise ValueError(f"a DTLS record carries 1..{_MAX_PLAINTEXT} bytes of data")
        pipe = self._pipe
        if pipe is not None:
            out = pipe.write(data)
            if out is None:
                message = _openssl_errors()
                self._transmits.extend(self._drain())
                self._fail("dtls-failure", f"DTLS write failed: {message}")
            elif len(out) <= self._mtu:
                if out:
                    self._transmits.append(out)
            else:
                self._transmits.extend(_split_records(out, self._mtu))
            return
        try:
            self._conn.send(data)
        except SSL.Error as exc:
            self._transmits.extend(self._drain())
            self._fail("dtls-failure", f"DTLS write failed: {_describe(exc)}")
            return
        self._transmits.extend(self._drain())

    def seal(self, data: bytes) -> bytes | None:
        """The fast form of :meth:`send` for the connected data path: the sealed
        record(s) as one datagram, returned instead of queued. ``None`` means "use
        :meth:`send`" (not connected through the fast path, a record that needs
        splitting, or an error, which :meth:`send` then reports)."""
        pipe = self._pipe
        if pipe is None or not 0 < len(data) <= _MAX_PLAINTEXT:
            return None
        out = pipe.write(data)
        if out is None:
            message = _openssl_errors()
            self._transmits.extend(self._drain())
            self._fail("dtls-failure", f"DTLS write failed: {message}")
            return b""
        if len(out) > self._mtu:
            self._transmits.extend(_split_records(out, self._mtu))
            return b""
        return out

    def open(self, data: bytes) -> list[bytes] | None:
        """The fast form of :meth:`handle_receive` for a connected session: the
        application records of a datagram holding nothing else (after any still
        queued), returned instead of queued for :meth:`poll_data`. ``None`` means
        "use :meth:`handle_receive`"; then nothing was consumed."""
        pipe = self._pipe
        if pipe is None:
            return None
        records = _application_records(data)
        if not records:
            return None
        self._read_pipe(pipe, data, records)
        queue = self._data  # records queued earlier, if any, come first
        out = list(queue)
        queue.clear()
        return out

    def close(self) -> None:
        """Close the transport, sending close_notify if the handshake completed
        (RFC 5246 §7.2.1). The transport becomes ``closed``."""
        if self._state == "closed":
            return
        conn = self._conn
        if conn is not None and self._handshake_done and self._state != "failed":
            self._shutdown(conn)
        self._finish()
        self._set_state("closed")

    # -- outputs ------------------------------------------------------------------

    def poll_transmit(self) -> bytes | None:
        """Next datagram to send (at most ``mtu`` bytes unless a record alone is larger)."""
        return self._transmits.popleft() if self._transmits else None

    def poll_data(self) -> bytes | None:
        """Next received application data record, or None."""
        return self._data.popleft() if self._data else None

    def poll_event(self) -> DtlsEvent | None:
        """Next state-change or error event, or None."""
        return self._events.popleft() if self._events else None

    # -- DTLS-SRTP ----------------------------------------------------------------

    def srtp_keys(self) -> SrtpKeys:
        """The SRTP master keys and salts for both directions (RFC 5764 §4.2), from
        our side's point of view. Only once connected with a negotiated profile."""
        if self._state != "connected":
            raise InvalidStateError(
                f"SRTP keys exist once connected; the transport is {self._state}"
            )
        if self._srtp_keys is None:
            raise InvalidStateError("the peer did not negotiate DTLS-SRTP (use_srtp)")
        return self._srtp_keys

    def create_srtp_session(self, *, replay_window: int = 0) -> SrtpSession:
        """A new :class:`~rtcpeer.srtp.SrtpSession` keyed from this association."""
        return SrtpSession(self.srtp_keys(), replay_window=replay_window)

    # -- internals ----------------------------------------------------------------

    def _handshake(self, now: float) -> bool:
        """Run OpenSSL's handshake on what was fed; True if it sent something."""
        conn = self._conn
        assert conn is not None
        try:
            conn.do_handshake()
        except SSL.WantReadError:
            done = False
        except SSL.Error as exc:
            self._transmits.extend(self._drain())  # the alert, if OpenSSL made one
            if self._fingerprint_mismatch:
                self._fail_fingerprint(notify_peer=False)
            else:
                self._fail("dtls-failure", f"DTLS handshake failed: {_describe(exc)}")
            return True
        else:
            done = True
        out = self._drain()
        if out:
            self._transmits.extend(out)
            self._last_flight = out
            self._final_sent_at = now
            self._repeat_interval = _REPEAT_INTERVAL
            self._timeouts = 0
        if done:
            self._on_handshake_done(bool(out))
            return bool(out)
        remaining = conn.DTLSv1_get_timeout()
        if remaining is None:
            self._deadline = None
        elif out or self._deadline is None:
            # Our own schedule (from initial_rto), not OpenSSL's fixed 1 s.
            self._rto = self._initial_rto
            self._deadline = now + self._rto
            self._deferred = False
        return bool(out)

    def _is_repeat(self, data: bytes) -> bool:
        """Whether every handshake record of ``data`` repeats a fragment already seen
        (the peer retransmitting its flight); remembers the new ones. Only cleartext
        (epoch 0) records can be told apart; a datagram with others is not a repeat."""
        seen = self._seen_fragments
        pos = 0
        end = len(data)
        repeat = True
        any_record = False
        while pos + _RECORD_HEADER <= end:
            length = (data[pos + 11] << 8) | data[pos + 12]
            ctype = data[pos]
            epoch = (data[pos + 3] << 8) | data[pos + 4]
            body = pos + _RECORD_HEADER
            if epoch != 0 or ctype not in _HANDSHAKE_TYPES:
                repeat = False
            elif ctype == 20:
                key = (-1, 0, 0)  # ChangeCipherSpec
                any_record = True
                if key not in seen:
                    seen.add(key)
                    repeat = False
            elif body + 12 <= end:
                # RFC 6347 §4.2.2: message_seq (2), fragment_offset (3), fragment_length (3).
                key = (
                    (data[body + 4] << 8) | data[body + 5],
                    int.from_bytes(data[body + 6 : body + 9], "big"),
                    int.from_bytes(data[body + 9 : body + 12], "big"),
                )
                any_record = True
                if key not in seen:
                    repeat = False
                    if len(seen) < 256:  # a handshake has a few dozen fragments at most
                        seen.add(key)
            pos = body + length
        return repeat and any_record

    def _on_handshake_done(self, sent_final_flight: bool) -> None:
        conn = self._conn
        assert conn is not None
        self._handshake_done = True
        self._deadline = None
        self._seen_fragments = set()
        if not sent_final_flight:
            self._last_flight = []
        if not _extended_master_secret(conn):
            # RFC 7627 §5.4 / RFC 8827 §6.5: a session without it is refused.
            self._fail(
                "dtls-failure",
                "the peer did not negotiate the extended master secret (RFC 7627); "
                "upgrade the peer's DTLS library",
            )
            return
        peer = conn.get_peer_certificate(as_cryptography=True)
        if peer is None:  # VERIFY_FAIL_IF_NO_PEER_CERT makes this unreachable in practice
            self._fail("dtls-failure", "the peer presented no certificate")
            return
        leaf = peer.public_bytes(Encoding.DER)
        chain = [leaf]
        for cert in conn.get_peer_cert_chain(as_cryptography=True) or ():
            der = cert.public_bytes(Encoding.DER)
            if der != leaf:
                chain.append(der)
        self._remote_chain = chain
        name = conn.get_selected_srtp_profile().decode("ascii", "replace")
        profile = PROFILES.get(name) if name else None
        if profile is not None:
            material = conn.export_keying_material(
                _SRTP_EXPORTER_LABEL, profile.keying_material_length
            )
            self._srtp_profile = profile
            self._srtp_keys = SrtpKeys.from_keying_material(
                material, profile, is_client=self._role == "client"
            )
        if self._remote_fingerprints is not None:
            self._verify()
        if self._state == "connecting" or self._state == "connected":
            # Application data may have arrived in the same datagrams as the last flight.
            self._read_records()

    def _leaf_acceptable(self, der: bytes) -> bool:
        if self._remote_fingerprints is None or self._matches(der):
            return True
        self._fingerprint_mismatch = True
        return False

    def _matches(self, der: bytes) -> bool:
        assert self._remote_fingerprints is not None
        return any(
            compute_fingerprint(der, alg) == value for alg, value in self._remote_fingerprints
        )

    def _verify(self) -> None:
        if self._matches(self._remote_chain[0]):
            self._verified = True
            if self._conn is not None:
                try:
                    self._pipe = _RecordPipe(self._conn)
                except AttributeError:  # another pyOpenSSL's internals: stay on its API
                    self._pipe = None
            self._set_state("connected")
            pending, self._pending = self._pending, []
            self._data.extend(pending)
        else:
            self._fail_fingerprint(notify_peer=True)

    def _fail_fingerprint(self, *, notify_peer: bool) -> None:
        if notify_peer and self._conn is not None:
            # OpenSSL has no public call to send a bad_certificate alert after the
            # handshake; close_notify at least tells the peer to stop.
            self._shutdown(self._conn)
        self._fail(
            "fingerprint-failure",
            "the remote certificate does not match the remote a=fingerprint",
        )

    def _read_records(self) -> None:
        conn = self._conn
        assert conn is not None
        while True:
            try:
                record = conn.recv(_MAX_PLAINTEXT)
            except SSL.WantReadError:
                return
            except SSL.ZeroReturnError:
                self._on_close_notify(conn)
                return
            except SSL.Error as exc:
                self._transmits.extend(self._drain())
                self._fail("dtls-failure", f"DTLS connection failed: {_describe(exc)}")
                return
            # Application data proves the peer finished the handshake: our final
            # flight needs no more resending.
            self._last_flight = []
            if self._verified:
                self._data.append(record)
            elif len(self._pending) < _PENDING_LIMIT:
                self._pending.append(record)
            else:
                self.records_dropped += 1

    def _read_known(self, conn: SSL.Connection, records: int) -> None:
        append = self._data.append
        for _ in range(records):
            try:
                append(conn.recv(_MAX_PLAINTEXT))
            except SSL.WantReadError:
                return  # a replayed or undecryptable record, silently dropped
            except SSL.ZeroReturnError:
                self._on_close_notify(conn)
                return
            except SSL.Error as exc:
                self._transmits.extend(self._drain())
                self._fail("dtls-failure", f"DTLS connection failed: {_describe(exc)}")
                return
        self._last_flight = []

    def _read_pipe(self, pipe: _RecordPipe, data: bytes, records: int) -> None:
        lib = _ssl_lib
        ssl = pipe.ssl
        rbuf = pipe.rbuf
        buffer = _ssl_ffi.buffer
        append = self._data.append
        lib.BIO_write(pipe.rbio, data, len(data))
        for _ in range(records):
            n = lib.SSL_read(ssl, rbuf, _MAX_PLAINTEXT)
            if n > 0:
                append(buffer(rbuf, n)[:])
                continue
            code = lib.SSL_get_error(ssl, n)
            if code == _WANT_READ:
                # A replayed or undecryptable record, silently dropped (RFC 6347 §4.1.2.7).
                lib.ERR_clear_error()
                break
            if code == _ZERO_RETURN:
                self._on_close_notify(pipe.conn)
                return
            message = _openssl_errors()
            self._transmits.extend(self._drain())
            self._fail("dtls-failure", f"DTLS connection failed: {message}")
            return
        self._last_flight = []

    def _on_close_notify(self, conn: SSL.Connection) -> None:
        self._shutdown(conn)  # answer with our own close_notify (RFC 5246 §7.2.1)
        self._finish()
        self._set_state("closed")

    def _shutdown(self, conn: SSL.Connection) -> None:
        with contextlib.suppress(SSL.Error):  # a broken connection has nothing to say
            conn.shutdown()
        self._transmits.extend(self._drain())

    def _count_timeout(self) -> bool:
        """Count one timeout without progress; fail and return False past the limit."""
        self._timeouts += 1
        if self._timeouts > self._max_timeouts:
            self._fail("dtls-failure", "DTLS handshake timed out: the peer stopped answering")
            return False
        return True

    def _fail(self, detail: str, message: str) -> None:
        self.error = RTCError(message, error_detail=detail)
        self._finish()
        self._events.append(DtlsErrorEvent(self.error))
        self._set_state("failed")

    def _finish(self) -> None:
        self._pipe = None
        self._deadline = None
        self._pending = []
        self._early = []
        self._last_flight = []

    def _set_state(self, state: DtlsState) -> None:
        assert state in _TRANSITIONS[self._state], f"DTLS {self._state} -> {state}"
        self._state = state
        self._events.append(DtlsStateChangeEvent(state))

    def _drain(self) -> list[bytes]:
        """Everything OpenSSL wrote, cut into datagrams of at most ``mtu`` bytes at
        record boundaries (a memory BIO concatenates OpenSSL's datagrams)."""
        conn = self._conn
        assert conn is not None
        try:
            data = conn.bio_read(_BIO_READ_SIZE)
        except SSL.WantReadError:
            return []
        if len(data) == _BIO_READ_SIZE:
            parts = [data]
            while True:
                try:
                    parts.append(conn.bio_read(_BIO_READ_SIZE))
                except SSL.WantReadError:
                    break
            data = b"".join(parts)
        if len(data) <= self._mtu:
            return [data]
        return _split_records(data, self._mtu)


def _application_records(data: bytes) -> int:
    """How many records the datagram holds if all are application data (type 23,
    RFC 6347 §4.1), else 0."""
    count = 0
    pos = 0
    end = len(data)
    while pos < end:
        if data[pos] != 23 or pos + _RECORD_HEADER > end:
            return 0
        pos += _RECORD_HEADER + ((data[pos + 11] << 8) | data[pos + 12])
        count += 1
    return count if pos == end else 0


def _split_records(data: bytes, mtu: int) -> list[bytes]:
    """Pack whole DTLS records greedily into datagrams of at most ``mtu`` bytes; a
    record larger than ``mtu`` travels alone."""
    out: list[bytes] = []
    start = pos = 0
    end = len(data)
    while pos + _RECORD_HEADER <= end:
        record_end = pos + _RECORD_HEADER + int.from_bytes(data[pos + 11 : pos + 13], "big")
        if record_end - start > mtu and pos > start:
            out.append(data[start:pos])
            start = pos
        pos = record_end
    if start < end:
        out.append(data[start:])
    return out


def _check_mtu(mtu: int) -> None:
    if isinstance(mtu, bool) or not isinstance(mtu, int):
        raise TypeError("mtu must be an int")
    if not _MIN_MTU <= mtu <= _MAX_MTU:
        raise ValueError(f"mtu must be within {_MIN_MTU}..{_MAX_MTU} bytes")


def _make_context(certificate: Certificate, profiles: tuple[SrtpProfile, ...]) -> SSL.Context:
    ctx = SSL.Context(SSL.DTLS_METHOD)
    ctx.set_min_proto_version(_DTLS1_2_VERSION)
    ctx.set_max_proto_version(_DTLS1_2_VERSION)
    # NO_QUERY_MTU: a memory BIO knows no path MTU; ours is set on each connection.
    ctx.set_options(
        SSL.OP_NO_QUERY_MTU | SSL.OP_NO_TICKET | SSL.OP_NO_RENEGOTIATION | SSL.OP_NO_COMPRESSION
    )
    ctx.set_session_cache_mode(SSL.SESS_CACHE_OFF)
    ctx.set_cipher_list(CIPHER_LIST)
    ctx.use_certificate(certificate.x509)
    ctx.use_privatekey(certificate.private_key)
    ctx.check_privatekey()
    ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, _verify_peer)
    if profiles:
        ctx.set_tlsext_use_srtp(b":".join(p.name.encode("ascii") for p in profiles))
    return ctx


_ssl_lib: Any = Binding.lib
_ssl_ffi: Any = Binding.ffi
_WANT_READ: Final[int] = _ssl_lib.SSL_ERROR_WANT_READ
_ZERO_RETURN: Final[int] = _ssl_lib.SSL_ERROR_ZERO_RETURN
_PIPE_BUFFER: Final = 20480  # one record of 2^14 bytes plus its header and AEAD overhead


class _RecordPipe:
    """The data path of a connected session, straight through OpenSSL's C API.

    pyOpenSSL's ``send``/``recv``/``bio_*`` wrappers cost about 6 µs a record in
    Python (argument checks, error-queue inspection, a fresh buffer each call);
    calling the same OpenSSL functions through the binding pyOpenSSL itself uses,
    with buffers kept for the life of the session, costs about 1.5 µs. Handshake,
    alerts and shutdown stay on pyOpenSSL.
    """

    __slots__ = ("conn", "rbio", "rbuf", "ssl", "wbio", "wbuf")

    def __init__(self, conn: SSL.Connection) -> None:
        self.conn = conn  # keeps the SSL object (and its BIOs) alive
        self.ssl = conn._ssl
        self.rbio = conn._into_ssl
        self.wbio = conn._from_ssl
        self.rbuf = _ssl_ffi.new("char[]", _PIPE_BUFFER)
        self.wbuf = _ssl_ffi.new("char[]", _PIPE_BUFFER)

    def write(self, data: bytes) -> bytes | None:
        """One application data record sealed, as it goes on the wire; None on error
        (the OpenSSL error queue says why)."""
        if _ssl_lib.SSL_write(self.ssl, data, len(data)) <= 0:
            return None
        wbuf = self.wbuf
        n = _ssl_lib.BIO_read(self.wbio, wbuf, _PIPE_BUFFER)
        if n <= 0:
            return b""
        out: bytes = _ssl_ffi.buffer(wbuf, n)[:]
        if n == _PIPE_BUFFER:
            parts = [out]
            while (n := _ssl_lib.BIO_read(self.wbio, wbuf, _PIPE_BUFFER)) > 0:
                parts.append(_ssl_ffi.buffer(wbuf, n)[:])
            out = b"".join(parts)
        return out


def _openssl_errors() -> str:
    """Drain OpenSSL's error queue into one line."""
    reasons = []
    while code := _ssl_lib.ERR_get_error():
        text = _ssl_lib.ERR_reason_error_string(code)
        reasons.append(_ssl_ffi.string(text).decode() if text != _ssl_ffi.NULL else str(code))
    return "; ".join(reasons) or "unknown OpenSSL error"


def _extended_master_secret(conn: SSL.Connection) -> bool:
    # pyOpenSSL has no wrapper for it; the binding is the one pyOpenSSL itself uses.
    return bool(_ssl_lib.SSL_get_extms_support(conn._ssl) == 1)


def _describe(exc: Any) -> str:
    """OpenSSL's error queue entries as one line."""
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], list) and args[0]:
        return "; ".join(str(entry[-1]) for entry in args[0] if entry)
    return str(exc) or type(exc).__name__
