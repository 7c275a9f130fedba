"""An RTP session (RFC 3550) of one transport, both directions, sans-IO.

Receiving, :class:`RtpSession` takes decrypted RTP and RTCP packets, keeps per-SSRC
reception statistics (extended highest sequence number, cumulative loss,
interarrival jitter: RFC 3550 §6.4.1 and appendices A.1, A.3, A.8), remembers each
sender's last report, re-assembles encoded frames (:class:`FrameReceived`), asks for
lost packets with NACKs (RFC 4585 §6.2.1) and for key frames with PLI (§6.3.1), and
unwraps RTX retransmissions (RFC 4588). Sending, it packetizes frames through its
:class:`~rtcpeer.rtp.sender.RtpSendStream` objects, answers NACKs, reports key-frame
requests (:class:`KeyframeRequested`), and measures round-trip time from the
peer's reception reports (LSR/DLSR, §6.4.1). Compound reports (SR or RR, with
SDES CNAME, §6.4) go out on a randomized interval.

Which SSRC belongs to which transceiver is the owner's business:
:meth:`set_mid_extension` lets the session read the MID header extension (RFC 8843
§15) of each stream. Time is ``now`` (seconds); randomness comes from ``rng``.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Final

from rtcpeer.media.payload import depayloader_for
from rtcpeer.rtp.bwe import BandwidthEstimator
from rtcpeer.rtp.jitterbuffer import EncodedFrame, FrameAssembler
from rtcpeer.rtp.pacer import AUDIO, REPAIR, VIDEO, Pacer
from rtcpeer.rtp.packet import (
    RTCP_BYE,
    ReportBlock,
    RtcpFir,
    RtcpNack,
    RtcpOther,
    RtcpPacket,
    RtcpPli,
    RtcpReceiverReport,
    RtcpSdes,
    RtcpSenderReport,
    RtpHeader,
    RtpParseError,
    parse_rtcp,
    serialize_rtcp,
)
from rtcpeer.rtp.sender import RtpSendStream, stamp_transport_sequence
from rtcpeer.rtp.twcc import TWCC_FMT, TwccFeedback, TwccParseError, TwccRecorder

__all__ = [
    "FrameReceived",
    "KeyframeRequested",
    "ReceiveStream",
    "RemoteReceiverInfo",
    "RemoteSenderInfo",
    "RtpSession",
    "RtpStreamStarted",
    "SessionEvent",
    "TargetBitrate",
]

_MAX_DROPOUT: Final = 3000
_MAX_MISORDER: Final = 100
_MAX_STREAMS: Final = 64
_REPORT_INTERVAL: Final = 1.0
_NTP_EPOCH: Final = 2208988800  # 1900-01-01 to 1970-01-01, seconds
_MAX_MISSING: Final = 256
_NACK_RETRIES: Final = 5
_NACK_MAX_AGE: Final = 1.0
_PLI_INTERVAL: Final = 0.3
_SEEN_WINDOW: Final = 1024  # a power of two
_STREAM_TIMEOUT: Final = 30.0
_LEADING_NACK: Final = 8
#: Retransmissions may use this share of the target bitrate, in bursts of this long.
_REPAIR_SHARE: Final = 0.3
_REPAIR_BURST: Final = 1.0


@dataclass(frozen=True, slots=True)
class RtpStreamStarted:
    """The first packet of a new remote SSRC arrived (``mid`` when it said so)."""

    ssrc: int
    mid: str | None
    payload_type: int


@dataclass(frozen=True, slots=True)
class FrameReceived:
    """A whole encoded frame of a remote SSRC (payload format header removed)."""

    ssrc: int
    payload_type: int
    frame: EncodedFrame


@dataclass(frozen=True, slots=True)
class KeyframeRequested:
    """The peer asked for a key frame of our ``ssrc`` (PLI, or FIR when ``fir``)."""

    ssrc: int
    fir: bool = False


@dataclass(frozen=True, slots=True)
class TargetBitrate:
    """The congestion controller's target for everything we send, bits per second."""

    bitrate: int


SessionEvent = RtpStreamStarted | FrameReceived | KeyframeRequested | TargetBitrate


@dataclass(slots=True)
class RemoteReceiverInfo:
    """What the peer's reception reports say about one of our SSRCs (W3C
    ``remote-inbound-rtp``)."""

    block: ReportBlock
    received_at: float
    round_trip_time: float | None = None
    total_round_trip_time: float = 0.0
    round_trip_time_measurements: int = 0
    reports_received: int = 1


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
    #: The RFC 8852 rid the stream carried (simulcast), if any.
    rid: str | None = None
    base_seq: int = 0
    max_seq: int = 0
    cycles: int = 0
    bad_seq: int = -1
    packets_received: int = 0
    bytes_received: int = 0
    header_bytes_received: int = 0
    jitter: float = 0.0  # RTP timestamp units
    last_transit: float | None = None  # arrival time of the last packet timed
    last_timestamp: int = 0
    last_arrival: float = 0.0
    #: Set when the sender restarted its sequence numbers (RFC 3550 A.1).
    restarted: bool = False
    expected_prior: int = 0
    received_prior: int = 0
    clock_rate: int = 90000
    sender: RemoteSenderInfo | None = field(default=None)
    assembler: FrameAssembler | None = None
    nack: bool = False
    #: Missing extended sequence numbers -> (when to ask again, times asked, first seen).
    missing: dict[int, tuple[float, int, float]] = field(default_factory=dict)
    frames_received: int = 0
    nack_count: int = 0
    pli_count: int = 0
    last_pli: float | None = None
    retransmitted_packets_received: int = 0
    retransmitted_bytes_received: int = 0
    #: W3C ``packetsReceived``: every packet for this SSRC as RFC 3550 §6.4.1 counts
    #: them (duplicates too), plus what arrived on its RTX stream (repairs and
    #: padding probes), as the sender counts them in ``packetsSent``. The RR's loss
    #: figures use ``packets_received`` (each sequence number once) instead.
    packets_received_total: int = 0
    duplicates: int = 0
    #: The last RTP timestamp and RFC 6464 level (0..127) it carried.
    last_timestamp_seen: int = 0
    audio_level: int | None = None
    #: Extended sequence numbers received recently, by ``ext % _SEEN_WINDOW``.
    seen: list[int] = field(default_factory=lambda: [-1] * _SEEN_WINDOW)

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
                self.restarted = True
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
        """RFC 3550 A.8, in timestamp units; successive timestamps are compared as a
        signed 32-bit difference, so the timestamp's wrap is no jump."""
        if self.last_transit is not None:
            elapsed = (timestamp - self.last_timestamp + 0x80000000) % (1 << 32) - 0x80000000
            d = abs((arrival - self.last_transit) * self.clock_rate - elapsed)
            self.jitter += (d - self.jitter) / 16.0
        self.last_transit = arrival
        self.last_timestamp = timestamp

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
        self._rid_extension: int | None = None
        self._repaired_rid_extension: int | None = None
        self._learned_rtx: set[int] = set()
        self._audio_level_extension: int | None = None
        #: Contributing sources (RFC 3550 CSRC) seen: csrc -> (arrival, RTP timestamp).
        self.contributing: dict[int, tuple[float, int]] = {}
        self._next_report: float | None = None
        self._out: deque[bytes] = deque()
        self._events: deque[SessionEvent] = deque()
        #: Outgoing RTP waits here and leaves at the pacing rate.
        self.pacer = Pacer()
        #: Packets dropped: malformed, or over the stream limit.
        self.dropped = 0
        self.rtcp_received = 0
        self.reports_sent = 0
        #: The last reception reports the peer sent about our streams, by SSRC.
        self.remote_reports: dict[int, RemoteReceiverInfo] = {}
        #: Seconds from ``now`` to Unix time (the owner sets it; NTP timestamps of
        #: sender reports use it, RTT only needs it to be constant).
        self.wallclock_offset = 0.0
        #: Our streams, by SSRC (RTX SSRCs map to their stream in ``_rtx_senders``).
        self.send_streams: dict[int, RtpSendStream] = {}
        #: Payload type -> codec name, for re-assembling frames (from negotiation).
        self.payload_formats: dict[int, str] = {}
        #: Payload types whose streams we NACK (``a=rtcp-fb:<pt> nack``).
        self.nack_payload_types: set[int] = set()
        #: RTX payload type -> the payload type it repairs (``apt``).
        self.rtx_payload_types: dict[int, int] = {}
        #: Remote RTX SSRC -> the SSRC it repairs (``a=ssrc-group:FID``).
        self.rtx_ssrcs: dict[int, int] = {}
        self._next_nack: float | None = None
        #: Congestion control (transport-wide feedback), once the owner enables it.
        self.bwe = BandwidthEstimator()
        self.twcc = TwccRecorder(self.ssrc)
        self._transport_extension: int | None = None
        self._transport_seq = 1
        self._announced_bitrate: int | None = None
        self._repair_budget = 0.0
        self._repair_at: float | None = None

    def set_mid_extension(self, ext_id: int | None) -> None:
        """The negotiated id of ``urn:ietf:params:rtp-hdrext:sdes:mid``."""
        self._mid_extension = ext_id

    def set_audio_level_extension(self, ext_id: int | None) -> None:
        """The negotiated id of ``ssrc-audio-level`` (RFC 6464)."""
        self._audio_level_extension = ext_id

    def set_rid_extensions(self, rid: int | None, repaired: int | None) -> None:
        """The negotiated ids of ``rtp-stream-id`` and ``repaired-rtp-stream-id``
        (RFC 8852): simulcast streams say which encoding they are."""
        self._rid_extension = rid
        self._repaired_rid_extension = repaired

    # -- input --------------------------------------------------------------------------

    def set_transport_cc_extension(self, ext_id: int | None) -> None:
        """The negotiated id of the transport-wide sequence number extension: our
        packets carry it (and feed :attr:`bwe`), the peer's are reported back."""
        self._transport_extension = ext_id
        for stream in self.send_streams.values():
            stream.transport_extension = ext_id

    def handle_rtp(self, now: float, packet: bytes) -> RtpHeader | None:
        """A decrypted RTP packet: its header (None when malformed or dropped)."""
        try:
            header = RtpHeader.parse(packet)
        except RtpParseError:
            self.dropped += 1
            return None
        if self._transport_extension is not None:
            raw = header.extensions.get(self._transport_extension)
            if raw is not None and len(raw) == 2:
                self.twcc.record(now, int.from_bytes(raw), header.ssrc)
        if header.payload_type in self.rtx_payload_types:
            return self._handle_rtx(now, header, packet)
        return self._handle_media(now, header, packet, False)

    def _handle_rtx(self, now: float, header: RtpHeader, packet: bytes) -> RtpHeader | None:
        """RFC 4588 §4: rebuild the original packet from an RTX one."""
        media_ssrc = self.rtx_ssrcs.get(header.ssrc)
        if media_ssrc is None and self._repaired_rid_extension is not None:
            # Unsignalled simulcast RTX: its repaired rid names the stream.
            raw = header.extensions.get(self._repaired_rid_extension)
            if raw:
                rid = raw.decode("ascii", "replace")
                media_ssrc = next((s.ssrc for s in self.streams.values() if s.rid == rid), None)
                if media_ssrc is not None and len(self.rtx_ssrcs) < _MAX_STREAMS:
                    self.rtx_ssrcs[header.ssrc] = media_ssrc
                    self._learned_rtx.add(header.ssrc)
        end = len(packet) - header.padding
        if media_ssrc is None or end - header.payload_offset < 2:
            if media_ssrc is not None and (media := self.streams.get(media_ssrc)) is not None:
                media.packets_received_total += 1  # a padding probe on its RTX stream
            return None  # padding-only probe, or an RTX stream we cannot map
        osn = int.from_bytes(packet[header.payload_offset : header.payload_offset + 2])
        original = RtpHeader(
            self.rtx_payload_types[header.payload_type],
            osn,
            header.timestamp,
            media_ssrc,
            header.marker,
            header.csrcs,
            header.extensions,
            0,
            header.payload_offset,
        )
        rebuilt = packet[: header.payload_offset] + packet[header.payload_offset + 2 : end]
        return self._handle_media(now, original, rebuilt, True)

    def _handle_media(
        self, now: float, header: RtpHeader, packet: bytes, repaired: bool
    ) -> RtpHeader | None:
        stream = self.streams.get(header.ssrc)
        if stream is None:
            if repaired:
                return None
            if len(self.streams) >= _MAX_STREAMS and not self._evict_idle(now):
                self.dropped += 1
                return None
            mid = None
            if self._mid_extension is not None:
                raw = header.extensions.get(self._mid_extension)
                if raw:
                    mid = raw.decode("ascii", "replace")
            rid = None
            if self._rid_extension is not None:
                raw = header.extensions.get(self._rid_extension)
                if raw:
                    rid = raw.decode("ascii", "replace")
            stream = ReceiveStream(
                header.ssrc,
                header.payload_type,
                mid,
                rid,
                base_seq=header.sequence_number,
                max_seq=header.sequence_number,
                clock_rate=self.clock_rates.get(header.payload_type, 90000),
            )
            codec = self.payload_formats.get(header.payload_type)
            depayloader = depayloader_for(codec) if codec is not None else None
            if depayloader is not None:
                stream.assembler = FrameAssembler(depayloader)
            stream.nack = header.payload_type in self.nack_payload_types
            self.streams[header.ssrc] = stream
            self._events.append(RtpStreamStarted(header.ssrc, mid, header.payload_type))
            if self._next_report is None:
                self._schedule_report(now)
        stream.packets_received_total += 1
        if repaired:
            stream.retransmitted_packets_received += 1  # a subset of packetsReceived
        previous = stream.extended_highest
        if not stream._update_sequence(header.sequence_number):
            return header
        if stream.restarted:
            stream.restarted = False
            stream.missing.clear()
            stream.seen = [-1] * _SEEN_WINDOW
            stream.last_transit = None  # a new timestamp base too, maybe
            previous = stream.extended_highest
            if stream.assembler is not None:
                stream.assembler = FrameAssembler(stream.assembler.depayloader)
        if (
            header.payload_type != stream.payload_type
            and not repaired
            and stream.extended_highest > previous
        ):
            # Only a new packet switches codecs: a late or repaired one of the old
            # type must not switch back.
            self._switch_payload_type(stream, header.payload_type)
        current = stream.extended_highest
        ext = current - ((current - header.sequence_number) & 0xFFFF)
        slot = ext & (_SEEN_WINDOW - 1)
        if stream.seen[slot] == ext:
            stream.duplicates += 1  # a copy, or a repair of what was only late
            return header
        stream.seen[slot] = ext
        if ext < stream.base_seq:
            stream.base_seq = ext  # a repaired packet from before the first one
        payload_end = len(packet) - header.padding
        # W3C: packetsReceived and bytesReceived include retransmissions.
        stream.packets_received += 1
        stream.header_bytes_received += header.payload_offset
        stream.bytes_received += payload_end - header.payload_offset
        stream.last_arrival = now
        if repaired:
            stream.retransmitted_bytes_received += payload_end - header.payload_offset
        else:
            stream._update_jitter(header.timestamp, now)
        if not repaired:
            stream.last_timestamp_seen = header.timestamp
            if self._audio_level_extension is not None:
                raw = header.extensions.get(self._audio_level_extension)
                if raw:
                    stream.audio_level = raw[0] & 0x7F
            for csrc in header.csrcs:
                if csrc in self.contributing or len(self.contributing) < _MAX_STREAMS:
                    self.contributing[csrc] = (now, header.timestamp)
        if stream.nack:
            self._track_loss(
                now, stream, previous, header.sequence_number,
                packet[header.payload_offset : payload_end],
            )  # fmt: skip
        assembler = stream.assembler
        if assembler is not None and header.payload_type == stream.payload_type:
            if payload_end == header.payload_offset:
                # Padding only (a bandwidth probe): a gap to step over, not media.
                assembler.push_padding(now, header.sequence_number)
            else:
                assembler.push(
                    now,
                    header.sequence_number,
                    header.timestamp,
                    header.marker,
                    packet[header.payload_offset : payload_end],
                )
            self._drain_assembler(now, stream)
        return header

    def _evict_idle(self, now: float) -> bool:
        """Make room for a new stream by forgetting one silent for a while (RFC 3550
        §6.3.5 times members out)."""
        idle = min(self.streams.values(), key=lambda s: s.last_arrival)
        if now - idle.last_arrival < _STREAM_TIMEOUT:
            return False
        self._forget_stream(idle.ssrc)
        return True

    def _forget_stream(self, ssrc: int) -> None:
        self.streams.pop(ssrc, None)
        # Signalled RTX pairs (a=ssrc-group:FID) stay: the stream may come back
        # without a renegotiation. Only pairs learned from repaired rids go.
        for rtx in [r for r in self._learned_rtx if self.rtx_ssrcs.get(r) == ssrc]:
            self.rtx_ssrcs.pop(rtx, None)
            self._learned_rtx.discard(rtx)

    def _switch_payload_type(self, stream: ReceiveStream, payload_type: int) -> None:
        """A packet of another negotiated payload type on this SSRC: a codec switch
        re-assembles with the new payload format; a type without one (DTMF
        telephone-event, comfort noise) leaves the stream's codec alone."""
        codec = self.payload_formats.get(payload_type)
        depayloader = depayloader_for(codec) if codec is not None else None
        if depayloader is None:
            return
        stream.payload_type = payload_type
        stream.clock_rate = self.clock_rates.get(payload_type, stream.clock_rate)
        stream.nack = payload_type in self.nack_payload_types
        stream.assembler = FrameAssembler(depayloader)
        stream.last_transit = None  # jitter restarts with the new clock

    def _track_loss(
        self,
        now: float,
        stream: ReceiveStream,
        previous: int,
        seq: int,
        payload: bytes,
    ) -> None:
        current = stream.extended_highest
        missing = stream.missing
        if stream.packets_received == 1:
            assembler = stream.assembler
            # The first packet is not where a frame starts: the start (and the
            # packets before it) went missing. Ask for a few.
            if (
                assembler is not None
                and payload
                and not assembler.depayloader.whole_frames
                and not assembler.depayloader.is_frame_start(payload)
            ):
                for ext in range(current - _LEADING_NACK, current):
                    missing[ext] = (now, 0, now)
                self._next_nack = now
            return
        if current > previous + 1:
            for ext in range(max(previous + 1, current - _MAX_MISSING), current):
                missing[ext] = (now, 0, now)
            if len(missing) > _MAX_MISSING:
                for ext in sorted(missing)[: len(missing) - _MAX_MISSING]:
                    del missing[ext]
            self._next_nack = now
        elif missing:
            # A late or repaired packet: find its extended number near the top.
            ext = current - ((current - seq) & 0xFFFF)
            missing.pop(ext, None)

    def _drain_assembler(self, now: float, stream: ReceiveStream) -> None:
        assembler = stream.assembler
        assert assembler is not None
        while (frame := assembler.poll()) is not None:
            stream.frames_received += 1
            self._events.append(FrameReceived(stream.ssrc, stream.payload_type, frame))
        if assembler.keyframe_needed and (
            stream.last_pli is None or now - stream.last_pli >= _PLI_INTERVAL
        ):
            assembler.keyframe_needed = False
            stream.last_pli = now
            stream.pli_count += 1
            self._out.append(serialize_rtcp([RtcpPli(self._sender_ssrc(), stream.ssrc)]))

    def _sender_ssrc(self) -> int:
        return next(iter(self.send_streams), self.ssrc)

    # -- sending ---------------------------------------------------------------------------

    def add_send_stream(self, stream: RtpSendStream) -> None:
        stream.transport_extension = self._transport_extension
        self.send_streams[stream.ssrc] = stream

    def remove_send_stream(self, ssrc: int, *, bye: bool = False) -> None:
        """Stop sending ``ssrc``; with ``bye`` (the source leaves for good, RFC 3550
        §6.6) a BYE tells the peer, if it ever heard from it."""
        stream = self.send_streams.pop(ssrc, None)
        if bye and stream is not None and stream.packets_sent:
            body = ssrc.to_bytes(4)
            self._out.append(serialize_rtcp([RtcpOther(RTCP_BYE, 1, body)]))

    def send_frame(
        self,
        now: float,
        ssrc: int,
        frame: bytes,
        timestamp: int,
        keyframe: bool,
        audio_level: int | None = None,
    ) -> int:
        """Packetize an encoded frame of our stream ``ssrc``; the packets wait in
        :meth:`poll_rtp`. Returns how many."""
        stream = self.send_streams[ssrc]
        stream.audio_level_extension = self._audio_level_extension
        packets = stream.send_frame(now, frame, timestamp, keyframe, audio_level)
        priority = AUDIO if stream.kind == "audio" else VIDEO
        for packet in packets:
            self.pacer.push(now, packet, priority)
        if self._next_report is None:
            self._schedule_report(now)
        return len(packets)

    def send_event(
        self, now: float, ssrc: int, payload: bytes, timestamp: int, marker: bool, payload_type: int
    ) -> None:
        """A telephone-event packet (RFC 4733) on our audio stream ``ssrc``."""
        stream = self.send_streams[ssrc]
        packet = stream.send_event(now, payload, timestamp, marker, payload_type)
        self.pacer.push(now, packet, AUDIO)

    def poll_rtp(self, now: float) -> bytes | None:
        """The next (plaintext) RTP packet to protect and send now; its
        transport-wide sequence number is stamped as it leaves (so the send times
        congestion control compares are the real ones)."""
        packet = self.pacer.pop(now)
        ext = self._transport_extension
        if packet is None or ext is None:
            return packet
        seq = self._transport_seq
        stamped = stamp_transport_sequence(packet, ext, seq)
        if stamped is None:
            return packet
        self._transport_seq = (seq + 1) & 0xFFFF
        self.bwe.on_packet_sent(now, seq, len(stamped))
        return stamped

    def _ntp(self, now: float) -> int:
        return int((now + self.wallclock_offset + _NTP_EPOCH) * (1 << 32)) & (1 << 64) - 1

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
            elif isinstance(part, RtcpNack):
                sender = self.send_streams.get(part.media_ssrc)
                if sender is not None:
                    self._retransmit(now, sender, part.lost)
            elif isinstance(part, RtcpPli):
                sender = self.send_streams.get(part.media_ssrc)
                if sender is not None:
                    sender.pli_count += 1
                    self._events.append(KeyframeRequested(sender.ssrc))
            elif isinstance(part, RtcpOther):
                if part.packet_type == RTCP_BYE:
                    # RFC 3550 §6.6: these sources left.
                    for i in range(min(part.count, len(part.body) // 4)):
                        self._forget_stream(int.from_bytes(part.body[4 * i : 4 * i + 4]))
                elif part.packet_type == 205 and part.count == TWCC_FMT:
                    try:
                        feedback = TwccFeedback.parse_body(part.body)
                    except TwccParseError:
                        self.dropped += 1
                        continue
                    self.bwe.on_feedback(now, feedback)
                    self.pacer.set_target(self.bwe.target_bitrate)
                    self._announce_bitrate()
            elif isinstance(part, RtcpFir):
                for ssrc, _seq in part.entries:
                    sender = self.send_streams.get(ssrc)
                    if sender is not None:
                        sender.fir_count += 1
                        self._events.append(KeyframeRequested(sender.ssrc, fir=True))
        return parts

    def _retransmit(self, now: float, sender: RtpSendStream, lost: tuple[int, ...]) -> None:
        """Answer a NACK within a repair budget of a fraction of the target rate
        (libwebrtc likewise caps retransmissions), once per round trip per packet."""
        rate = _REPAIR_SHARE * self.bwe.target_bitrate / 8
        if self._repair_at is None:
            self._repair_budget = rate * _REPAIR_BURST
        else:
            self._repair_budget += (now - self._repair_at) * rate
        self._repair_at = now
        self._repair_budget = min(self._repair_budget, rate * _REPAIR_BURST)
        report = self.remote_reports.get(sender.ssrc)
        rtt = report.round_trip_time if report is not None else None
        packets = sender.retransmit(
            now,
            lost,
            min_interval=0.5 * rtt if rtt else 0.05,
            budget=int(self._repair_budget) if self._transport_extension is not None else None,
        )
        self._repair_budget -= sum(len(p) for p in packets)
        for packet in packets:
            self.pacer.push(now, packet, REPAIR)

    def _announce_bitrate(self) -> None:
        target = self.bwe.target_bitrate
        last = self._announced_bitrate
        if last is None or abs(target - last) > 0.05 * last:
            self._announced_bitrate = target
            self._events.append(TargetBitrate(target))

    def _remember_reports(self, now: float, reports: tuple[ReportBlock, ...]) -> None:
        for block in reports:
            known = self.remote_reports.get(block.ssrc)
            if known is None:
                if len(self.remote_reports) >= _MAX_STREAMS:
                    continue
                known = self.remote_reports[block.ssrc] = RemoteReceiverInfo(block, now, None, 0)
            else:
                known.block = block
                known.received_at = now
                known.reports_received += 1
            if block.last_sr and block.ssrc in self.send_streams:
                # RFC 3550 §6.4.1: RTT = A - LSR - DLSR, in 1/65536 s.
                arrival = (self._ntp(now) >> 16) & 0xFFFFFFFF
                rtt = ((arrival - block.last_sr - block.delay_since_last_sr) & 0xFFFFFFFF) / 65536
                if rtt < 60.0:
                    known.round_trip_time = rtt
                    known.total_round_trip_time += rtt
                    known.round_trip_time_measurements += 1

    # -- timers and output ----------------------------------------------------------------

    def _schedule_report(self, now: float) -> None:
        # RFC 3550 §6.3.1: randomized over [0.5, 1.5] of the interval.
        self._next_report = now + self.report_interval * (0.5 + self.rng.random())

    def poll_timeout(self) -> float | None:
        deadlines = [
            t
            for t in (
                self._next_report,
                self._next_nack,
                self.twcc.poll_timeout(),
                self.pacer.poll_timeout(),
            )
            if t is not None
        ]
        for stream in self.streams.values():
            if stream.assembler is not None:
                deadline = stream.assembler.poll_timeout()
                if deadline is not None:
                    deadlines.append(deadline)
        return min(deadlines) if deadlines else None

    def handle_timeout(self, now: float) -> None:
        for stream in self.streams.values():
            assembler = stream.assembler
            if assembler is not None:
                deadline = assembler.poll_timeout()
                if deadline is not None and now >= deadline:
                    assembler.handle_timeout(now)
                    self._drain_assembler(now, stream)
        if self._next_nack is not None and now >= self._next_nack:
            self._send_nacks(now)
        self._out.extend(self.twcc.feedback(now))
        if self._next_report is None or now < self._next_report:
            return
        self._schedule_report(now)
        self._send_report(now)

    def _send_nacks(self, now: float) -> None:
        """Ask for missing packets (RFC 4585 §6.2.1), again after a round trip, a few
        times, for at most a second."""
        self._next_nack = None
        retry = self._retry_interval()
        for stream in self.streams.values():
            if not stream.missing:
                continue
            due = []
            for ext, (when, tries, first) in list(stream.missing.items()):
                if tries >= _NACK_RETRIES or now - first > _NACK_MAX_AGE:
                    del stream.missing[ext]
                elif when <= now:
                    due.append(ext)
                    stream.missing[ext] = (now + retry, tries + 1, first)
            if due:
                stream.nack_count += 1
                packet = RtcpNack(self._sender_ssrc(), stream.ssrc, tuple(e & 0xFFFF for e in due))
                self._out.append(serialize_rtcp([packet]))
            for when, *_ in stream.missing.values():
                if self._next_nack is None or when < self._next_nack:
                    self._next_nack = when

    def _retry_interval(self) -> float:
        """Ask again after about 1.5 round trips (when our own reports measured one)."""
        rtts = [r.round_trip_time for r in self.remote_reports.values() if r.round_trip_time]
        return max(0.02, min(0.5, 1.5 * max(rtts))) if rtts else 0.1

    def _send_report(self, now: float) -> None:
        blocks = tuple(s.report_block(now) for s in list(self.streams.values())[:31])
        parts: list[RtcpPacket] = []
        chunks: list[tuple[int, str]] = []
        for stream in self.send_streams.values():
            info = stream.sender_info(now)
            if info is None:
                continue
            rtp_ts, packets, octets = info
            parts.append(
                RtcpSenderReport(stream.ssrc, self._ntp(now), rtp_ts, packets, octets,
                                 () if parts else blocks)
            )  # fmt: skip
            chunks.append((stream.ssrc, self.cname))
        if not parts:
            if not blocks:
                return
            parts.append(RtcpReceiverReport(self.ssrc, blocks))
            chunks.append((self.ssrc, self.cname))
        parts.append(RtcpSdes(tuple(chunks[:31])))
        self._out.append(serialize_rtcp(parts))
        self.reports_sent += 1

    def poll_rtcp(self) -> bytes | None:
        """The next (plaintext) compound RTCP packet to protect and send."""
        return self._out.popleft() if self._out else None

    def poll_event(self) -> SessionEvent | None:
        return self._events.popleft() if self._events else None
