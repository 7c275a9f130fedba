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
from collections.abc import Iterable
from typing import Final

from rtcpeer.media.payload import Payloader
from rtcpeer.rtp.packet import RtpHeader

__all__ = ["RtpSendStream", "stamp_transport_sequence"]

_HISTORY: Final = 1024
#: What one RTP packet may hold after the RTP header, SRTP tag and TURN framing are
#: taken from a 1200-byte datagram.
PAYLOAD_BUDGET: Final = 1100


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
        rid: str | None = None,
        rid_extension: int | None = None,
        repaired_rid_extension: int | None = None,
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
        self.rid = rid
        #: RFC 8852: simulcast streams carry their rid; their RTX carries it as the
        #: repaired rid.
        self._rtx_extensions = dict(self._extensions)
        if rid is not None and rid_extension is not None:
            self._extensions[rid_extension] = rid.encode()
        if rid is not None and repaired_rid_extension is not None:
            self._rtx_extensions[repaired_rid_extension] = rid.encode()
        self._seq = rng.getrandbits(16)
        self._rtx_seq = rng.getrandbits(16)
        self.timestamp_offset = rng.getrandbits(32)
        self._history: dict[int, bytes] = {}
        self._resent: dict[int, float] = {}
        #: The negotiated id of ``ssrc-audio-level`` (RFC 6464), for audio streams.
        self.audio_level_extension: int | None = None
        #: Set by the session when transport-wide congestion control was negotiated:
        #: packets carry a placeholder there, stamped as they leave the pacer.
        self.transport_extension: int | None = None
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

    def continue_from(self, previous: RtpSendStream) -> None:
        """Carry on where ``previous`` (the same SSRC, before a renegotiation or a
        pause) stopped: sequence numbers, timestamps and counters, so a receiver
        sees one stream (RFC 3550 §5.1) and the W3C counters keep counting."""
        self._seq = previous._seq
        self._rtx_seq = previous._rtx_seq
        self.timestamp_offset = previous.timestamp_offset
        self._history = previous._history
        for name in ("packets_sent", "bytes_sent", "header_bytes_sent", "frames_encoded",
                     "key_frames_encoded", "retransmitted_packets_sent",
                     "retransmitted_bytes_sent", "nack_count", "pli_count", "fir_count",
                     "last_timestamp", "last_sent_at"):  # fmt: skip
            setattr(self, name, getattr(previous, name))

    def send_frame(
        self,
        now: float,
        frame: bytes,
        timestamp: int,
        keyframe: bool,
        audio_level: int | None = None,
    ) -> list[bytes]:
        """The RTP packets of an encoded frame; ``timestamp`` is in clock-rate units
        from the track's start (the random offset is added here); ``audio_level``
        (RFC 6464, 0..127) rides in the ``ssrc-audio-level`` extension."""
        ts = (timestamp + self.timestamp_offset) & 0xFFFFFFFF
        payloads = self.payloader.payload(frame, self.payload_budget)
        packets = []
        last = len(payloads) - 1
        history = self._history
        extensions = self._extensions
        if audio_level is not None and self.audio_level_extension is not None:
            # V (voice activity) set above -50 dBov, a rough but common choice.
            level = max(0, min(127, audio_level))
            byte = (0x80 if level < 50 else 0) | level
            extensions = {**extensions, self.audio_level_extension: bytes((byte,))}
        if self.transport_extension is not None:
            # First, so its value sits at a fixed offset (stamp_transport_sequence).
            extensions = {self.transport_extension: b"\x00\x00", **extensions}
        for i, payload in enumerate(payloads):
            seq = self._seq
            self._seq = (seq + 1) & 0xFFFF
            header = RtpHeader(self.payload_type, seq, ts, self.ssrc, i == last, (), extensions)
            packet = header.serialize(payload)
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

    def send_event(
        self, now: float, payload: bytes, timestamp: int, marker: bool, payload_type: int
    ) -> bytes:
        """One packet of another payload type on this stream (RFC 4733 telephone
        events): its own sequence number, ``timestamp`` from the track's start."""
        seq = self._seq
        self._seq = (seq + 1) & 0xFFFF
        extensions = self._extensions
        if self.transport_extension is not None:
            extensions = {self.transport_extension: b"\x00\x00", **extensions}
        ts = (timestamp + self.timestamp_offset) & 0xFFFFFFFF
        packet = RtpHeader(payload_type, seq, ts, self.ssrc, marker, (), extensions).serialize(
            payload
        )
        self.packets_sent += 1
        self.bytes_sent += len(payload)
        self.header_bytes_sent += len(packet) - len(payload)
        self.last_sent_at = now
        return packet

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
            header = RtpHeader.parse(original)
            if self.rtx_ssrc is None or self.rtx_payload_type is None:
                packet = original
            else:
                packet = self._rtx(original, header)
            payload = len(original) - header.payload_offset
            # W3C: packetsSent, bytesSent and headerBytesSent include retransmissions.
            self.packets_sent += 1
            self.bytes_sent += payload
            self.header_bytes_sent += len(packet) - payload
            self.retransmitted_packets_sent += 1
            self.retransmitted_bytes_sent += payload
            out.append(packet)
        return out

    def _rtx(self, original: bytes, header: RtpHeader) -> bytes:
        """RFC 4588 §4: the RTX SSRC and payload type, its own sequence number, and
        the original sequence number ahead of the original payload."""
        assert self.rtx_ssrc is not None and self.rtx_payload_type is not None
        seq = self._rtx_seq
        self._rtx_seq = (seq + 1) & 0xFFFF
        extensions = self._rtx_extensions
        if self.transport_extension is not None:
            extensions = {self.transport_extension: b"\x00\x00", **extensions}
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
        return rtx.serialize(osn + original[header.payload_offset :])

    def sender_info(self, now: float) -> tuple[int, int, int] | None:
        """RTP timestamp at ``now`` (extrapolated from the last frame), packet and
        octet counts; None before the first packet."""
        if self.last_timestamp is None or self.last_sent_at is None:
            return None
        elapsed = int((now - self.last_sent_at) * self.clock_rate)
        return (self.last_timestamp + elapsed) & 0xFFFFFFFF, self.packets_sent, self.bytes_sent


def stamp_transport_sequence(packet: bytes, extension: int, sequence: int) -> bytes | None:
    """``packet`` with ``sequence`` written into its transport-wide sequence number
    placeholder (the first one-byte extension, after a CSRC-less header); None
    when the packet has no such placeholder."""
    if (
        len(packet) < 19
        or packet[0] & 0x1F != 0x10  # extension bit, no CSRCs
        or packet[12:14] != b"\xbe\xde"
        or packet[16] != (extension << 4) | 1
    ):
        return None
    return packet[:17] + sequence.to_bytes(2) + packet[19:]
