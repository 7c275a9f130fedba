"""The receiving side of an RTP session (RFC 3550), sans-IO.

:class:`RtpSession` takes decrypted RTP and RTCP packets, keeps per-SSRC reception
statistics (extended highest sequence number, cumulative loss, interarrival jitter:
RFC 3550 §6.4.1 and appendices A.1, A.3, A.8), remembers each sender's last report,
and produces compound receiver reports (RR + SDES CNAME, §6.4.2) on a randomized
interval, so a sending peer learns loss, jitter and round-trip time. Which SSRC
belongs to which transceiver is the owner's business: :meth:`set_mid_extension`
lets the session read the MID header extension (RFC 8843 §15) of each stream.

Time is ``now`` (seconds); randomness comes from the injected ``rng``.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Final

from rtcpeer.rtp.packet import (
    ReportBlock,
    RtcpPacket,
    RtcpReceiverReport,
    RtcpSdes,
    RtcpSenderReport,
    RtpHeader,
    RtpParseError,
    parse_rtcp,
    serialize_rtcp,
)

__all__ = ["ReceiveStream", "RemoteSenderInfo", "RtpSession", "RtpStreamStarted"]

_MAX_DROPOUT: Final = 3000
_MAX_MISORDER: Final = 100
_MAX_STREAMS: Final = 64
_REPORT_INTERVAL: Final = 1.0


@dataclass(frozen=True, slots=True)
class RtpStreamStarted:
    """The first packet of a new remote SSRC arrived (``mid`` when it said so)."""

    ssrc: int
    mid: str | None
    payload_type: int


@dataclass(slots=True)
class RemoteSenderInfo:
    """What the last sender report of an SSRC said (W3C ``remote-outbound-rtp``)."""

    ntp_timestamp: int
    rtp_timestamp: int
    packets_sent: int
    bytes_sent: int
    received_at: float
    reports_received: int = 1


@dataclass(slots=True)
class ReceiveStream:
    """Reception statistics of one remote SSRC (W3C ``inbound-rtp``)."""

    ssrc: int
    payload_type: int
    mid: str | None = None
    base_seq: int = 0
    max_seq: int = 0
    cycles: int = 0
    bad_seq: int = -1
    packets_received: int = 0
    bytes_received: int = 0
    header_bytes_received: int = 0
    jitter: float = 0.0  # RTP timestamp units
    last_transit: float | None = None
    last_arrival: float = 0.0
    expected_prior: int = 0
    received_prior: int = 0
    clock_rate: int = 90000
    sender: RemoteSenderInfo | None = field(default=None)

    @property
    def extended_highest(self) -> int:
        return self.cycles + self.max_seq

    @property
    def packets_lost(self) -> int:
        """Cumulative loss (RFC 3550 A.3): expected minus received, may be negative
        with duplicates."""
        expected = self.extended_highest - self.base_seq + 1
        return expected - self.packets_received

    def _update_sequence(self, seq: int) -> bool:
        """RFC 3550 A.1: False for a packet to ignore (a big jump not yet confirmed)."""
        delta = (seq - self.max_seq) & 0xFFFF
        if delta < _MAX_DROPOUT:
            if seq < self.max_seq:
                self.cycles += 1 << 16
            self.max_seq = seq
        elif delta <= 0x10000 - _MAX_MISORDER:
            if seq == self.bad_seq:
                # Two in a row after a jump: the sender restarted its sequence.
                self.base_seq = self.max_seq = seq
                self.cycles = 0
                self.packets_received = 0
                self.received_prior = self.expected_prior = 0
                self.bad_seq = -1
            else:
                self.bad_seq = (seq + 1) & 0xFFFF
                return False
        # else: duplicate or reordered, counted but not moving max_seq
        return True

    def _update_jitter(self, timestamp: int, arrival: float) -> None:
        """RFC 3550 A.8, in timestamp units."""
        transit = arrival * self.clock_rate - timestamp
        if self.last_transit is not None:
            d = abs(transit - self.last_transit)
            self.jitter += (d - self.jitter) / 16.0
        self.last_transit = transit

    def report_block(self, now: float) -> ReportBlock:
        expected = self.extended_highest - self.base_seq + 1
        expected_interval = expected - self.expected_prior
        received_interval = self.packets_received - self.received_prior
        self.expected_prior = expected
        self.received_prior = self.packets_received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        lsr = dlsr = 0
        if self.sender is not None:
            lsr = (self.sender.ntp_timestamp >> 16) & 0xFFFFFFFF
            dlsr = int((now - self.sender.received_at) * 65536)
        lost = max(-(1 << 23), min((1 << 23) - 1, self.packets_lost))
        return ReportBlock(
            self.ssrc, fraction, lost, self.extended_highest, int(self.jitter), lsr, dlsr
        )


class RtpSession:
    """Receive statistics and receiver reports for one transport, sans-IO."""

    def __init__(
        self,
        *,
        rng: random.Random,
        cname: str,
        ssrc: int | None = None,
        report_interval: float = _REPORT_INTERVAL,
    ) -> None:
        self.rng = rng
        self.cname = cname
        self.ssrc = ssrc if ssrc is not None else rng.getrandbits(32) or 1
        self.report_interval = report_interval
        self.streams: dict[int, ReceiveStream] = {}
        #: Payload type -> clock rate, from the negotiated codecs (jitter needs it).
        self.clock_rates: dict[int, int] = {}
        self._mid_extension: int | None = None
        self._next_report: float | None = None
        self._out: deque[bytes] = deque()
        self._events: deque[RtpStreamStarted] = deque()
        #: Packets dropped: malformed, or over the stream limit.
        self.dropped = 0
        self.rtcp_received = 0
        self.reports_sent = 0
        #: The last reception reports the peer sent about our streams, by SSRC.
        self.remote_reports: dict[int, tuple[ReportBlock, float]] = {}

    def set_mid_extension(self, ext_id: int | None) -> None:
        """The negotiated id of ``urn:ietf:params:rtp-hdrext:sdes:mid``."""
        self._mid_extension = ext_id

    # -- input --------------------------------------------------------------------------

    def handle_rtp(self, now: float, packet: bytes) -> RtpHeader | None:
        """A decrypted RTP packet: its header (None when malformed or dropped)."""
        try:
            header = RtpHeader.parse(packet)
        except RtpParseError:
            self.dropped += 1
            return None
        stream = self.streams.get(header.ssrc)
        if stream is None:
            if len(self.streams) >= _MAX_STREAMS:
                self.dropped += 1
                return None
            mid = None
            if self._mid_extension is not None:
                raw = header.extensions.get(self._mid_extension)
                if raw:
                    mid = raw.decode("ascii", "replace")
            stream = ReceiveStream(
                header.ssrc,
                header.payload_type,
                mid,
                base_seq=header.sequence_number,
                max_seq=header.sequence_number,
                clock_rate=self.clock_rates.get(header.payload_type, 90000),
            )
            self.streams[header.ssrc] = stream
            self._events.append(RtpStreamStarted(header.ssrc, mid, header.payload_type))
            if self._next_report is None:
                self._schedule_report(now)
        if not stream._update_sequence(header.sequence_number):
            return header
        stream.packets_received += 1
        stream.header_bytes_received += header.payload_offset
        stream.bytes_received += len(packet) - header.payload_offset - header.padding
        stream.last_arrival = now
        stream._update_jitter(header.timestamp, now)
        return header

    def handle_rtcp(self, now: float, packet: bytes) -> list[RtcpPacket]:
        """A decrypted compound RTCP packet; sender reports and reports about our
        streams are remembered."""
        try:
            parts = parse_rtcp(packet)
        except RtpParseError:
            self.dropped += 1
            return []
        self.rtcp_received += 1
        for part in parts:
            if isinstance(part, RtcpSenderReport):
                stream = self.streams.get(part.ssrc)
                if stream is not None:
                    count = stream.sender.reports_received + 1 if stream.sender else 1
                    stream.sender = RemoteSenderInfo(
                        part.ntp_timestamp,
                        part.rtp_timestamp,
                        part.packet_count,
                        part.octet_count,
                        now,
                        count,
                    )
                self._remember_reports(now, part.reports)
            elif isinstance(part, RtcpReceiverReport):
                self._remember_reports(now, part.reports)
        return parts

    def _remember_reports(self, now: float, reports: tuple[ReportBlock, ...]) -> None:
        for block in reports:
            if len(self.remote_reports) < _MAX_STREAMS or block.ssrc in self.remote_reports:
                self.remote_reports[block.ssrc] = (block, now)

    # -- timers and output ----------------------------------------------------------------

    def _schedule_report(self, now: float) -> None:
        # RFC 3550 §6.3.1: randomized over [0.5, 1.5] of the interval.
        self._next_report = now + self.report_interval * (0.5 + self.rng.random())

    def poll_timeout(self) -> float | None:
        return self._next_report

    def handle_timeout(self, now: float) -> None:
        if self._next_report is None or now < self._next_report:
            return
        self._schedule_report(now)
        if not self.streams:
            return
        blocks = [s.report_block(now) for s in list(self.streams.values())[:31]]
        compound = serialize_rtcp(
            [RtcpReceiverReport(self.ssrc, tuple(blocks)), RtcpSdes(((self.ssrc, self.cname),))]
        )
        self._out.append(compound)
        self.reports_sent += 1

    def poll_rtcp(self) -> bytes | None:
        """The next (plaintext) compound RTCP packet to protect and send."""
        return self._out.popleft() if self._out else None

    def poll_event(self) -> RtpStreamStarted | None:
        return self._events.popleft() if self._events else None
