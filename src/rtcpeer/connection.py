"""One peer connection's transports, composed: ICE → DTLS → SCTP → data channels.

:class:`Connection` is sans-IO like its layers. It owns one ICE agent (bundle: every
m-section shares it), one DTLS transport and, once DTLS is up and a data channel
section was negotiated, one SCTP association and the data channels on it. It
demultiplexes what ICE hands up (RFC 7983: DTLS is 20..63, RTP/RTCP 128..191), moves
bytes between the layers after every input, and re-emits every layer's events in one
queue, in the order they happened.

The asyncio shell feeds it datagrams and timeouts and sends what
:meth:`Connection.poll_transmit` returns; JSEP tells it what was negotiated
(:meth:`set_remote_ice`, :meth:`start_dtls`, :meth:`start_sctp`).

First packets never wait for a timer: application data made before ICE has a valid
pair is held by the agent and sent the moment one is; SCTP records and SRTP that
arrive in the same batch as the peer's Finished (before "connected" creates the
association and exports the keys) are kept, bounded, and fed in order; both ends
send INIT. Path changes (a new pair, consent back after an outage) make SCTP
retransmit at once; ICE failing for good ends the association, so every data
channel reports it.
"""

from __future__ import annotations

import random
from collections import deque
from datetime import datetime
from typing import Final, Literal

from rtcpeer.datagram import Datagram
from rtcpeer.dtls.certificate import Certificate
from rtcpeer.dtls.transport import DtlsErrorEvent, DtlsEvent, DtlsStateChangeEvent, DtlsTransport
from rtcpeer.ice.agent import IceAgent, IceEvent, IceSelectedPairEvent, IceStateEvent
from rtcpeer.ice.candidate import Candidate
from rtcpeer.rtp.sender import RtpSendStream
from rtcpeer.rtp.session import RtpSession, SessionEvent
from rtcpeer.sctp import events as sctp_events
from rtcpeer.sctp.association import Association
from rtcpeer.sctp.datachannel import ChannelEvent, DataChannels
from rtcpeer.srtp.session import SrtpError, SrtpSession

__all__ = ["Connection", "ConnectionEvent", "SctpStateEvent"]

SctpState = Literal["connecting", "connected", "closed"]

# SCTP packets ride in DTLS records; the records must fit the path MTU (DTLS 1.2
# AES-GCM adds 13 + 8 + 16 = 37 bytes; ChaCha20 less). Measured at handshake when
# possible, this is the fallback.
_DTLS_OVERHEAD: Final = 48
# First packets that may arrive before the layer that reads them exists: SCTP packets
# in the datagrams that complete DTLS (the association is created on "connected"),
# SRTP sent right after the peer's Finished (keys are exported on "connected").
_EARLY_RECORDS: Final = 64
_EARLY_MEDIA: Final = 64
# DTLS retransmission: libwebrtc starts at 50 ms; with a measured ICE round trip we
# start at twice that, so long paths are not flooded with copies.
_DTLS_MIN_RTO: Final = 0.05
# ICE "failed" (consent lost for 30 s, RFC 7675) leaves this long for an ICE restart
# to begin before the association is given up and the channels close with an error.
_SCTP_FAILED_GRACE: Final = 10.0


class SctpStateEvent:
    """The SCTP transport's W3C state changed (``connecting``/``connected``/``closed``)."""

    __slots__ = ("state",)

    def __init__(self, state: SctpState) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"SctpStateEvent({self.state!r})"


ConnectionEvent = IceEvent | DtlsEvent | ChannelEvent | SctpStateEvent | SessionEvent


class Connection:
    """ICE, DTLS, SCTP and data channels of one peer connection, sans-IO."""

    def __init__(
        self,
        *,
        controlling: bool,
        certificate: Certificate,
        wall_time: datetime,
        rng: random.Random | None = None,
        ice: IceAgent | None = None,
        mtu: int = 1200,
        max_message_size: int = 262144,
        sctp_initiate: bool = True,
    ) -> None:
        """``sctp_initiate=False`` waits for the peer's INIT instead of sending one,
        as stacks that tie SCTP's initiator to their DTLS or ICE role do (tests use it
        to stand in for them)."""
        self.rng = rng if rng is not None else random.Random()
        self.ice = ice if ice is not None else IceAgent(controlling=controlling, rng=self.rng)
        self.dtls = DtlsTransport(certificate, wall_time=wall_time, mtu=mtu)
        self.channels = DataChannels()
        self.sctp: Association | None = None
        self.sctp_state: SctpState | None = None
        self.mtu = mtu
        self.max_message_size = max_message_size
        self.sctp_initiate = sctp_initiate
        self._dtls_role: Literal["client", "server"] | None = None
        self._sctp_ports: tuple[int, int] | None = None
        self._remote_max_message_size: int | None = None
        self._events: deque[ConnectionEvent] = deque()
        self._closed = False
        #: Media: SRTP once DTLS is up with a profile, and the RTP receive session.
        self.srtp: SrtpSession | None = None
        self.rtp = RtpSession(rng=self.rng, cname=f"{self.rng.getrandbits(64):016x}")
        #: Datagrams that were neither STUN, DTLS nor (decryptable) RTP/RTCP: dropped.
        self.dropped_unknown = 0
        self.srtp_dropped = 0
        self.media_packets_sent = 0
        #: Records that arrived before the association existed, fed to it in order.
        self._early_records: list[bytes] = []
        #: SRTP/SRTCP that arrived before DTLS exported the keys, replayed after.
        self._early_media: list[bytes] | None = []
        #: First packets beyond those bounds, dropped.
        self.early_dropped = 0
        self._dtls_rtt_known = False
        self._dtls_settled = False  # handshake over: no start or timer tuning to do
        self._ice_state = "new"
        self._ice_failed_at: float | None = None
        self._had_selected = False
        self._last_consent: float | None = None
        self._stall_seen: float | None = None
        self._next_probe: float | None = None

    # -- negotiation inputs --------------------------------------------------------------

    def set_remote_ice(
        self,
        now: float,
        ufrag: str,
        pwd: str,
        candidates: list[Candidate] = (),  # type: ignore[assignment]
        *,
        lite: bool = False,
        end_of_candidates: bool = False,
    ) -> None:
        self.ice.set_remote_credentials(now, ufrag, pwd, lite=lite)
        for candidate in candidates:
            self.ice.add_remote_candidate(now, candidate)
        if end_of_candidates:
            self.ice.add_remote_candidate(now, None)
        self._pump(now)

    def start_dtls(
        self,
        now: float,
        role: Literal["client", "server"],
        remote_fingerprints: list[tuple[str, str]],
    ) -> None:
        """The answer fixed our DTLS role (``a=setup``). A server waits for the
        ClientHello; a client starts once ICE has a valid pair (not only once one is
        nominated: RFC 8445 §12.1)."""
        self.dtls.set_remote_fingerprints(remote_fingerprints)
        if self._dtls_role is not None:
            return  # renegotiation keeps the transport
        self._dtls_role = role
        self.channels.set_dtls_role(role)
        if role == "server" or self.ice.can_send:
            self._start_dtls(now, role)
        self._pump(now)

    def _start_dtls(self, now: float, role: Literal["client", "server"]) -> None:
        self._tune_dtls_rto()
        self.dtls.start(now, role)

    def _tune_dtls_rto(self) -> None:
        """The first DTLS retransmission timeout: twice the ICE round trip once a
        check measured one, else libwebrtc's 50 ms (not OpenSSL's fixed 1 s)."""
        rtt = None
        for pair in (self.ice.selected, *self.ice.pairs):
            if pair is not None and pair.current_round_trip_time is not None:
                rtt = pair.current_round_trip_time
                break
        if rtt is not None:
            self._dtls_rtt_known = True
        self.dtls.initial_rto = _DTLS_MIN_RTO if rtt is None else max(_DTLS_MIN_RTO, 2 * rtt)

    def start_sctp(
        self, now: float, local_port: int, remote_port: int, remote_max_message_size: int | None
    ) -> None:
        """A data channel section was negotiated: run SCTP once DTLS is connected."""
        if self._sctp_ports is None:
            self._sctp_ports = (local_port, remote_port)
            self._remote_max_message_size = remote_max_message_size
            self._set_sctp_state("connecting")
        self._maybe_start_sctp(now)
        self._pump(now)

    def _maybe_start_sctp(self, now: float) -> None:
        if (
            self.sctp is not None
            or self._sctp_ports is None
            or self.dtls.state != "connected"
            or self._dtls_role is None
        ):
            return
        cleartext = self.dtls.cleartext_mtu
        sctp_mtu = cleartext if cleartext is not None else self.mtu - _DTLS_OVERHEAD
        local_port, remote_port = self._sctp_ports
        self.sctp = Association(
            rng=self.rng,
            local_port=local_port,
            remote_port=remote_port,
            mtu=sctp_mtu,
            max_message_size=self.max_message_size,
        )
        self.channels.attach(self.sctp, self._dtls_role, self._remote_max_message_size)
        # Both ends send INIT whatever their DTLS role, as libwebrtc and libdatachannel
        # do: some stacks only ever initiate, others (tying SCTP to their ICE or DTLS
        # role) only ever wait. Crossing INITs resolve into one association (RFC 9260
        # §5.2.1-5.2.4).
        if self.sctp_initiate:
            self.sctp.connect(now)
        early, self._early_records = self._early_records, []
        for record in early:
            self.sctp.handle_receive(now, record)

    # -- I/O ------------------------------------------------------------------------------

    def handle_datagram(self, now: float, datagram: Datagram) -> None:
        self.handle_datagrams(now, [datagram])

    def handle_datagrams(self, now: float, datagrams: list[Datagram]) -> None:
        """A batch from one socket wake-up: process all, then move bytes once."""
        ice = self.ice
        dtls = self.dtls
        backlog = ice.relayed_backlog
        for datagram in datagrams:
            data = ice.handle_datagram(now, datagram)
            if data is not None and not self._closed:
                self._receive(now, dtls, data)
                if backlog:
                    # One read of a TURN TCP stream carried several relayed packets.
                    extra = backlog[:]
                    backlog.clear()
                    for more in extra:
                        self._receive(now, dtls, more)
        if self.sctp is not None and self.sctp.stalled_since is not None:
            self._check_path(now)
        self._pump(now)

    def _receive(self, now: float, dtls: DtlsTransport, data: bytes) -> None:
        first = data[0] if data else 0
        if 127 < first < 192:
            self._receive_media(now, data)
            return
        if 19 < first < 64:
            sctp = self.sctp
            if sctp is not None:
                records = dtls.open(data)  # the connected fast path, or None
                if records is None:
                    dtls.handle_receive(now, data)
                    records = list(iter(dtls.poll_data, None))
                # Feed SCTP as records arrive so its SACK logic sees packets one by one.
                for record in records:
                    sctp.handle_receive(now, record)
            else:
                dtls.handle_receive(now, data)
        else:
            self.dropped_unknown += 1

    def _receive_media(self, now: float, data: bytes) -> None:
        """RTP or RTCP (RFC 7983: 128..191), SRTP-protected (RFC 5764)."""
        srtp = self.srtp
        if srtp is None:
            if self.dtls.state in ("closed", "failed") or self._early_media is None:
                self.dropped_unknown += 1
            elif len(self._early_media) < _EARLY_MEDIA:
                # Sent right after the peer's Finished, ahead of our "connected"
                # (possibly in the same batch): kept until the keys exist.
                self._early_media.append(data)
            else:
                self.early_dropped += 1
            return
        rtcp = len(data) > 1 and 191 < data[1] < 224  # RFC 5761 §4
        try:
            plain = srtp.unprotect_rtcp(data) if rtcp else srtp.unprotect_rtp(data)
        except SrtpError:
            self.srtp_dropped += 1
            return
        if rtcp:
            self.rtp.handle_rtcp(now, plain)
        else:
            self.rtp.handle_rtp(now, plain)
        while (event := self.rtp.poll_event()) is not None:
            self._events.append(event)
        self._send_media(now)

    def _send_media(self, now: float) -> None:
        """Protect and send what the RTP session lets go now (media at the pacing
        rate, repairs, RTCP)."""
        srtp = self.srtp
        rtp = self.rtp
        if srtp is None or self.ice.selected is None or self._closed:
            rtp.pacer.clear()  # nowhere to send it: media is not buffered
            while rtp.poll_rtcp() is not None:
                pass
            return
        send = self.ice.send
        while (packet := rtp.poll_rtp(now)) is not None:
            send(srtp.protect_rtp(packet))
            self.media_packets_sent += 1
        while (packet := rtp.poll_rtcp()) is not None:
            send(srtp.protect_rtcp(packet))

    # -- media ------------------------------------------------------------------------------

    @property
    def media_ready(self) -> bool:
        """SRTP is keyed and a path is selected: frames sent now go out."""
        return self.srtp is not None and self.ice.selected is not None and not self._closed

    def add_send_stream(self, stream: RtpSendStream) -> None:
        """Send an RTP stream (an SSRC of one of our transceivers)."""
        self.rtp.add_send_stream(stream)

    def remove_send_stream(self, ssrc: int, *, bye: bool = False) -> None:
        self.rtp.remove_send_stream(ssrc, bye=bye)  # (the BYE leaves with the next RTCP)

    def send_frame(
        self,
        now: float,
        ssrc: int,
        frame: bytes,
        timestamp: int,
        keyframe: bool,
        audio_level: int | None = None,
    ) -> bool:
        """Packetize, protect and send an encoded frame of our stream ``ssrc``;
        False (nothing sent) until :attr:`media_ready`."""
        if not self.media_ready:
            return False
        self.rtp.send_frame(now, ssrc, frame, timestamp, keyframe, audio_level)
        self._send_media(now)
        return True

    def send_event(
        self, now: float, ssrc: int, payload: bytes, timestamp: int, marker: bool, payload_type: int
    ) -> bool:
        """Send a telephone-event packet (RFC 4733) on our stream ``ssrc``."""
        if not self.media_ready or ssrc not in self.rtp.send_streams:
            return False
        self.rtp.send_event(now, ssrc, payload, timestamp, marker, payload_type)
        self._send_media(now)
        return True

    def handle_timeout(self, now: float) -> None:
        failed_at = self._ice_failed_at
        if failed_at is not None and now >= failed_at + _SCTP_FAILED_GRACE:
            self._ice_failed_at = None
            if self.sctp is not None and self.ice.state == "failed":
                # Nothing can be sent (RFC 7675 §5.1) and no restart began: the
                # association cannot deliver any more, so its channels must say so.
                self.sctp.give_up(
                    now, "the ICE transport failed (no consent from the peer for 30 s)"
                )
        self.ice.handle_timeout(now)
        self.dtls.handle_timeout(now)
        if self.sctp is not None:
            self.sctp.handle_timeout(now)
        if self.srtp is not None:
            self.rtp.handle_timeout(now)
            while (event := self.rtp.poll_event()) is not None:
                self._events.append(event)
            self._send_media(now)
        if self.sctp is not None and self.sctp.stalled_since is not None:
            self._check_path(now)
        self._pump(now)

    def poll_timeout(self) -> float | None:
        best = self.ice.poll_timeout()
        failed_at = self._ice_failed_at
        sctp = self.sctp
        probe = (
            self._next_probe
            if sctp is not None and sctp.stalled_since is not None and self.ice.selected is not None
            else None
        )
        for deadline in (
            self.dtls.poll_timeout(),
            sctp.poll_timeout() if sctp is not None else None,
            self.rtp.poll_timeout() if self.srtp is not None else None,
            failed_at + _SCTP_FAILED_GRACE if failed_at is not None else None,
            probe,
        ):
            if deadline is not None and (best is None or deadline < best):
                best = deadline
        return best

    def poll_transmit(self) -> Datagram | None:
        return self.ice.poll_transmit()

    def poll_event(self) -> ConnectionEvent | None:
        return self._events.popleft() if self._events else None

    # -- user operations --------------------------------------------------------------------

    def pump(self, now: float) -> None:
        """Move bytes after a user operation (send, create, close on a channel)."""
        self._pump(now)

    def close(self, now: float) -> None:
        """Close everything (W3C ``close()``): channels closed, SCTP ABORT, DTLS
        close_notify, ICE stopped, with the final packets queued for sending."""
        if self._closed:
            return
        self._closed = True
        self.channels.close_all()
        if self.sctp is not None:
            self.sctp.abort(now, "peer connection closed")
            self._move_sctp(now)
        self.dtls.close()
        self._move_dtls()
        # The goodbyes first (relayed ones wrapped while the allocations live), then
        # the TURN allocations are deleted (RFC 8656 §8).
        transmits = list(self._drain_ice())
        self.ice.release(now)
        transmits += self._drain_ice()
        self.ice.close()
        self._final_transmits = deque(transmits)
        self._set_sctp_state("closed")
        self._events.clear()

    def poll_final_transmit(self) -> Datagram | None:
        """After :meth:`close`: the goodbye datagrams (ABORT, close_notify) to send."""
        final: deque[Datagram] | None = getattr(self, "_final_transmits", None)
        return final.popleft() if final else None

    def _drain_ice(self) -> list[Datagram]:
        out = []
        while (datagram := self.ice.poll_transmit()) is not None:
            out.append(datagram)
        return out

    # -- plumbing ----------------------------------------------------------------------------

    def _pump(self, now: float) -> None:
        if self._closed:
            return
        for _ in range(64):  # converges in one or two rounds; bounded to be safe
            progressed = False
            while (ice_event := self.ice.poll_event()) is not None:
                progressed = True
                self._events.append(ice_event)
                self._on_ice_event(now, ice_event)
            self._maybe_start_dtls_client(now)
            dtls = self.dtls
            sctp = self.sctp
            while (record := dtls.poll_data()) is not None:
                progressed = True
                if sctp is not None:
                    sctp.handle_receive(now, record)
                elif len(self._early_records) < _EARLY_RECORDS:
                    # Arrived with the peer's Finished, before "connected" below
                    # creates the association: kept and fed to it in order.
                    self._early_records.append(record)
                else:
                    self.early_dropped += 1
            while (dtls_event := dtls.poll_event()) is not None:
                progressed = True
                self._events.append(dtls_event)
                self._on_dtls_event(now, dtls_event)
            if self._move_sctp(now):
                progressed = True
            while (channel_event := self.channels.poll_event()) is not None:
                progressed = True
                self._events.append(channel_event)
            if self._move_dtls():
                progressed = True
            if not progressed:
                return

    def _move_sctp(self, now: float) -> bool:
        sctp = self.sctp
        if sctp is None:
            return False
        moved = False
        dtls = self.dtls
        can_send = dtls.state == "connected"
        ice = self.ice
        while (packet := sctp.poll_transmit()) is not None:
            moved = True
            if can_send:
                sealed = dtls.seal(packet)  # straight to ICE on the fast path
                if sealed is None:
                    dtls.send(packet)
                elif sealed:
                    ice.send(sealed)
        while (event := sctp.poll_event()) is not None:
            moved = True
            if isinstance(event, sctp_events.Connected):
                self._set_sctp_state("connected")
            elif isinstance(event, (sctp_events.Closed, sctp_events.Aborted)):
                self._set_sctp_state("closed")
            self.channels.handle_event(now, event)
        return moved

    def _move_dtls(self) -> bool:
        moved = False
        ice = self.ice
        dtls = self.dtls
        while (datagram := dtls.poll_transmit()) is not None:
            moved = True
            ice.send(datagram)
        return moved

    def _on_ice_event(self, now: float, event: IceEvent) -> None:
        if isinstance(event, IceStateEvent):
            previous, self._ice_state = self._ice_state, event.state
            self._ice_failed_at = now if event.state == "failed" else None
            if previous == "disconnected" and event.state in ("connected", "completed"):
                self._path_changed(now)  # consent is back after an outage
        elif isinstance(event, IceSelectedPairEvent):
            sctp = self.sctp
            if self._had_selected and sctp is not None and sctp.stalled_since is not None:
                # A new pair (after a restart) while data waits on a backed-off timer.
                # (An upgrade to a better pair while the old one works changes nothing.)
                self._path_changed(now)
            self._had_selected = True

    def _path_changed(self, now: float) -> None:
        """Tell SCTP its path changed or came back: it retransmits what is outstanding
        now, with an RTO from the pair's measured round trip, as a T3-rtx expiry would
        (RFC 9260 §6.3.3 E3), instead of when its backed-off timer fires."""
        sctp = self.sctp
        pair = self.ice.selected
        if sctp is None or pair is None:
            return
        sctp.path_changed(now, pair.current_round_trip_time)
        self._last_consent = pair.last_response

    def _check_path(self, now: float) -> None:
        """While SCTP is stalled (T3-rtx expired with nothing acknowledged), probe the
        path with single consent checks every max(0.1 s, 2 RTT) (libwebrtc pings a
        weak connection every few tens of ms). A consent answer that ends a gap of
        more than 1.5 consent intervals between answers means an outage just ended:
        SCTP retransmits at once instead of after its backed-off timer."""
        sctp = self.sctp
        pair = self.ice.selected
        stalled = sctp.stalled_since if sctp is not None else None
        if stalled is None or pair is None:
            self._next_probe = None
            return
        last = pair.last_response
        interval = max(0.1, 2 * (pair.current_round_trip_time or 0.0))
        if stalled != self._stall_seen:
            self._stall_seen = stalled
            self._last_consent = last
            self._next_probe = now + interval
            return
        before = self._last_consent
        if last is not None and last != before:
            self._last_consent = last  # consecutive answers: compare each with the last
            gap = 1.5 * self.ice.consent_interval
            if before is not None and last > stalled and last - before > gap:
                self._path_changed(now)
                self._next_probe = None
                return
        if self._next_probe is None or now >= self._next_probe:
            self.ice.probe_consent(now)
            self._next_probe = now + interval

    def _maybe_start_dtls_client(self, now: float) -> None:
        # Runs on every pump until the handshake is over, then costs one test.
        if self._dtls_settled:
            return
        if self.dtls.state not in ("new", "connecting"):
            self._dtls_settled = True
            return
        if not self._dtls_rtt_known:
            self._tune_dtls_rto()
        # RFC 8445 §12.1: a valid pair may carry data before one is selected, so the
        # ClientHello leaves as soon as our first check succeeds.
        if self._dtls_role == "client" and self.dtls.state == "new" and self.ice.can_send:
            self._start_dtls(now, "client")

    def _on_dtls_event(self, now: float, event: DtlsEvent) -> None:
        if isinstance(event, DtlsStateChangeEvent):
            if event.state == "connected":
                self._maybe_start_sctp(now)
                if self.dtls.srtp_profile is not None and self.srtp is None:
                    # DTLS-SRTP keyed: RTP and RTCP can be protected from now on.
                    self.srtp = self.dtls.create_srtp_session(replay_window=128)
                early, self._early_media = self._early_media or [], None
                for packet in early:
                    self._receive_media(now, packet)  # (dropped if no SRTP was agreed)
            elif event.state == "closed":
                # The peer sent close_notify: consent is revoked (RFC 7675 §5.2).
                self.ice.revoke_consent(now)
                if self.sctp is not None:
                    self.sctp.abort(now, "DTLS closed by the peer")
            elif event.state == "failed" and self.sctp is not None:
                self.sctp.abort(now, "DTLS failed")
        elif isinstance(event, DtlsErrorEvent):
            pass

    def _set_sctp_state(self, state: SctpState) -> None:
        if state == self.sctp_state or self.sctp_state == "closed":
            return
        self.sctp_state = state
        self._events.append(SctpStateEvent(state))
