"""The sending side of one RTP stream (RFC 3550), sans-IO.

:class:`RtpSendStream` turns encoded frames into RTP packets: a random initial
sequence number and timestamp offset (§5.1), the marker on a frame's last packet,
the MID header extension (RFC 8843 §15) so a bundled receiver knows the
m-section. It keeps what it sent for a while, so a NACK (RFC 4585 §6.2.1) can be
answered: in an RTX packet (RFC 4588 §4, original sequence number first) when RTX
was negotiated, as the same packet otherwise. Its counters are W3C
``outbound-rtp``; :meth:`sender_info` gives what a sender report says (§6.4.1).
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterable
from typing import Final

from rtcpeer.media.payload import Payloader
from rtcpeer.rtp.packet import RtpHeader

__all__ = ["RtpSendStream", "TransportSequence"]

_HISTORY: Final = 1024
#: What one RTP packet may hold after the RTP header, SRTP tag and TURN framing are
#: taken from a 1200-byte datagram.
PAYLOAD_BUDGET: Final = 1100


class TransportSequence:
    """The transport-wide sequence numbers of one transport (all its streams, RTX
    included), for congestion control feedback."""

    __slots__ = ("_next", "extension", "on_sent")

    def __init__(self, extension: int, on_sent: Callable[[float, int, int], None]) -> None:
        self.extension = extension
        self._next = 1
        #: Called with (now, sequence, packet size) for every packet stamped.
        self.on_sent = on_sent

    def take(self) -> int:
        seq = self._next
        self._next = (seq + 1) & 0xFFFF
        return seq


class RtpSendStream:
    """Packetizes encoded frames of one SSRC and answers NACKs."""

    def __init__(
        self,
        *,
        ssrc: int,
        payload_type: int,
        clock_rate: int,
        payloader: Payloader,
        rng: random.Random,
        kind: str = "video",
        mid: str | None = None,
        mid_extension: int | None = None,
        rtx_ssrc: int | None = None,
        rtx_payload_type: int | None = None,
        payload_budget: int = PAYLOAD_BUDGET,
        history: int = _HISTORY,
    ) -> None:
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self.payloader = payloader
        self.kind = kind
        self.mid = mid
        self.rtx_ssrc = rtx_ssrc
        self.rtx_payload_type = rtx_payload_type
        self.payload_budget = payload_budget
        self._extensions: dict[int, bytes] = (
            {mid_extension: mid.encode()} if mid is not None and mid_extension is not None else {}
        )
        self._seq = rng.getrandbits(16)
        self._rtx_seq = rng.getrandbits(16)
        self.timestamp_offset = rng.getrandbits(32)
        self._history: dict[int, bytes] = {}
        self._resent: dict[int, float] = {}
        #: Set by the session when transport-wide congestion control was negotiated.
        self.transport: TransportSequence | None = None
        self._history_size = history
        # W3C outbound-rtp counters.
        self.packets_sent = 0
        self.bytes_sent = 0
        self.header_bytes_sent = 0
        self.frames_encoded = 0
        self.key_frames_encoded = 0
        self.retransmitted_packets_sent = 0
        self.retransmitted_bytes_sent = 0
        self.nack_count = 0
        self.pli_count = 0
        self.fir_count = 0
        self.last_timestamp: int | None = None
        self.last_sent_at: float | None = None

    def send_frame(self, now: float, frame: bytes, timestamp: int, keyframe: bool) -> list[bytes]:
        """The RTP packets of an encoded frame; ``timestamp`` is in clock-rate units
        from the track's start (the random offset is added here)."""
        ts = (timestamp + self.timestamp_offset) & 0xFFFFFFFF
        payloads = self.payloader.payload(frame, self.payload_budget)
        packets = []
        last = len(payloads) - 1
        history = self._history
        transport = self.transport
        for i, payload in enumerate(payloads):
            seq = self._seq
            self._seq = (seq + 1) & 0xFFFF
            extensions = self._extensions
            if transport is not None:
                tseq = transport.take()
                extensions = {**extensions, transport.extension: tseq.to_bytes(2)}
            header = RtpHeader(self.payload_type, seq, ts, self.ssrc, i == last, (), extensions)
            packet = header.serialize(payload)
            if transport is not None:
                transport.on_sent(now, tseq, len(packet))
            packets.append(packet)
            history[seq] = packet
            self.packets_sent += 1
            self.bytes_sent += len(payload)
            self.header_bytes_sent += len(packet) - len(payload)
        while len(history) > self._history_size:
            del history[next(iter(history))]
        self.frames_encoded += 1
        if keyframe:
            self.key_frames_encoded += 1
        self.last_timestamp = ts
        self.last_sent_at = now
        return packets

    def retransmit(
        self,
        now: float,
        sequence_numbers: Iterable[int],
        *,
        min_interval: float = 0.0,
        budget: int | None = None,
    ) -> list[bytes]:
        """Packets answering a NACK for ``sequence_numbers`` (those still kept).

        A packet resent less than ``min_interval`` ago (about a round trip) is not
        sent again: the first copy may still be on its way. At most ``budget``
        bytes go out, so repairs cannot crowd out the media on a congested path.
        """
        self.nack_count += 1
        out = []
        resent = self._resent
        for seq in sequence_numbers:
            seq &= 0xFFFF
            original = self._history.get(seq)
            if original is None:
                continue
            last = resent.get(seq)
            if last is not None and now - last < min_interval:
                continue
            if budget is not None:
                if budget < len(original):
                    break
                budget -= len(original)
            resent[seq] = now
            if len(resent) > self._history_size:
                del resent[next(iter(resent))]
            if self.rtx_ssrc is None or self.rtx_payload_type is None:
                packet = self._restamp(now, original) if self.transport else original
            else:
                packet = self._rtx(now, original)
            payload = len(original) - RtpHeader.parse(original).payload_offset
            # W3C: packetsSent and bytesSent include retransmissions.
            self.packets_sent += 1
            self.bytes_sent += payload
            self.retransmitted_packets_sent += 1
            self.retransmitted_bytes_sent += payload
            out.append(packet)
        return out

    def _stamped(self, extensions: dict[int, bytes]) -> tuple[dict[int, bytes], int | None]:
        transport = self.transport
        if transport is None:
            return extensions, None
        tseq = transport.take()
        return {**extensions, transport.extension: tseq.to_bytes(2)}, tseq

    def _restamp(self, now: float, original: bytes) -> bytes:
        """The same packet with a new transport-wide sequence number."""
        header = RtpHeader.parse(original)
        extensions, tseq = self._stamped(header.extensions)
        packet = RtpHeader(
            header.payload_type, header.sequence_number, header.timestamp, header.ssrc,
            header.marker, header.csrcs, extensions,
        ).serialize(original[header.payload_offset :])  # fmt: skip
        if tseq is not None and self.transport is not None:
            self.transport.on_sent(now, tseq, len(packet))
        return packet

    def _rtx(self, now: float, original: bytes) -> bytes:
        """RFC 4588 §4: the RTX SSRC and payload type, its own sequence number, and
        the original sequence number ahead of the original payload."""
        header = RtpHeader.parse(original)
        assert self.rtx_ssrc is not None and self.rtx_payload_type is not None
        seq = self._rtx_seq
        self._rtx_seq = (seq + 1) & 0xFFFF
        extensions, tseq = self._stamped(header.extensions)
        rtx = RtpHeader(
            self.rtx_payload_type,
            seq,
            header.timestamp,
            self.rtx_ssrc,
            header.marker,
            header.csrcs,
            extensions,
        )
        osn = struct.pack("!H", header.sequence_number)
        packet = rtx.serialize(osn + original[header.payload_offset :])
        if tseq is not None and self.transport is not None:
            self.transport.on_sent(now, tseq, len(packet))
        return packet

    def sender_info(self, now: float) -> tuple[int, int, int] | None:
        """RTP timestamp at ``now`` (extrapolated from the last frame), packet and
        octet counts; None before the first packet."""
        if self.last_timestamp is None or self.last_sent_at is None:
            return None
        elapsed = int((now - self.last_sent_at) * self.clock_rate)
        return (self.last_timestamp + elapsed) & 0xFFFFFFFF, self.packets_sent, self.bytes_sent
