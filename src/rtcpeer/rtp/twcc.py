"""Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-
extensions-01), sans-IO.

Every RTP packet we send carries a transport-wide sequence number (the header
extension of §2); the receiver reports, for a run of those numbers, which arrived
and when (the RTCP feedback message of §3.1: RTPFB, FMT 15). :class:`TwccFeedback`
is that message (parse/serialize); :class:`TwccRecorder` is the receiving side,
building one every ``interval`` from the arrivals it was told about.

Times on the wire: the reference time in multiples of 64 ms (24-bit signed), and
receive deltas in 250 µs units (one byte when 0..63.75 ms, else two bytes signed).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

__all__ = ["TWCC_FMT", "TwccFeedback", "TwccRecorder"]

TWCC_FMT: Final = 15
_NOT_RECEIVED: Final = 0
_SMALL: Final = 1
_LARGE: Final = 2
_DELTA_UNIT: Final = 0.00025  # seconds
_REFERENCE_UNIT: Final = 0.064  # seconds
_MAX_PER_FEEDBACK: Final = 1000
_INTERVAL: Final = 0.05


class TwccParseError(ValueError):
    """A malformed transport-wide feedback message."""


@dataclass(frozen=True, slots=True)
class TwccFeedback:
    """One feedback message: from ``base_sequence`` on, each packet's arrival time
    (seconds on the receiver's clock, relative to an arbitrary origin) or None."""

    sender_ssrc: int
    media_ssrc: int
    base_sequence: int
    reference_time: int  # 64 ms units, 24 bits
    feedback_count: int
    arrivals: tuple[float | None, ...]

    def serialize(self) -> bytes:
        """The RTCP packet (header included)."""
        statuses: list[int] = []
        deltas = bytearray()
        previous = self.reference_time * _REFERENCE_UNIT
        for arrival in self.arrivals:
            if arrival is None:
                statuses.append(_NOT_RECEIVED)
                continue
            ticks = round((arrival - previous) / _DELTA_UNIT)
            previous += ticks * _DELTA_UNIT  # deltas accumulate exactly as decoded
            if 0 <= ticks <= 255:
                statuses.append(_SMALL)
                deltas.append(ticks)
            else:
                ticks = max(-32768, min(32767, ticks))
                statuses.append(_LARGE)
                deltas += struct.pack("!h", ticks)
        chunks = bytearray()
        i = 0
        n = len(statuses)
        while i < n:
            run = 1
            while i + run < n and statuses[i + run] == statuses[i] and run < 0x1FFF:
                run += 1
            if run >= 7:
                chunks += struct.pack("!H", (statuses[i] << 13) | run)
                i += run
                continue
            # A two-bit status vector chunk: seven symbols (the tail is ignored).
            word = 0xC000
            for j in range(7):
                symbol = statuses[i + j] if i + j < n else 0
                word |= symbol << (12 - 2 * j)
            chunks += struct.pack("!H", word)
            i += 7
        body = (
            struct.pack(
                "!IIHHI",
                self.sender_ssrc,
                self.media_ssrc,
                self.base_sequence & 0xFFFF,
                n,
                ((self.reference_time & 0xFFFFFF) << 8) | (self.feedback_count & 0xFF),
            )
            + chunks
            + deltas
        )
        body += bytes(-len(body) % 4)
        header = struct.pack("!BBH", 0x80 | TWCC_FMT, 205, len(body) // 4)
        return header + body

    @classmethod
    def parse_body(cls, body: bytes) -> TwccFeedback:
        """The feedback from the body of an RTPFB FMT 15 packet (after the 4-byte
        RTCP header); raises :class:`TwccParseError`."""
        if len(body) < 16:
            raise TwccParseError("truncated transport-wide feedback")
        sender, media, base, count, ref_word = struct.unpack_from("!IIHHI", body)
        reference = ref_word >> 8  # unsigned: the sender's clock modulo 2^24 units
        pos = 16
        statuses: list[int] = []
        while len(statuses) < count:
            if pos + 2 > len(body):
                raise TwccParseError("packet chunks run past the message")
            (word,) = struct.unpack_from("!H", body, pos)
            pos += 2
            if word & 0x8000 == 0:
                symbol = (word >> 13) & 0x3
                statuses.extend([symbol] * min(word & 0x1FFF, count - len(statuses)))
            elif word & 0x4000 == 0:
                for j in range(14):
                    statuses.append((word >> (13 - j)) & 0x1)
            else:
                for j in range(7):
                    statuses.append((word >> (12 - 2 * j)) & 0x3)
        del statuses[count:]
        arrivals: list[float | None] = []
        time = reference * _REFERENCE_UNIT
        for status in statuses:
            if status == _NOT_RECEIVED:
                arrivals.append(None)
                continue
            if status == _SMALL:
                if pos + 1 > len(body):
                    raise TwccParseError("receive deltas run past the message")
                ticks = body[pos]
                pos += 1
            elif status == _LARGE:
                if pos + 2 > len(body):
                    raise TwccParseError("receive deltas run past the message")
                (ticks,) = struct.unpack_from("!h", body, pos)
                pos += 2
            else:
                raise TwccParseError("reserved packet status symbol")
            time += ticks * _DELTA_UNIT
            arrivals.append(time)
        return cls(sender, media, base, reference, ref_word & 0xFF, tuple(arrivals))


class TwccRecorder:
    """The receiving side: arrivals by transport-wide sequence number, reported
    every ``interval`` seconds."""

    def __init__(self, sender_ssrc: int, *, interval: float = _INTERVAL) -> None:
        self.sender_ssrc = sender_ssrc
        self.media_ssrc = 0
        self.interval = interval
        self._arrivals: dict[int, float] = {}
        self._highest: int | None = None
        self._next_base: int | None = None
        self._count = 0
        self._due: float | None = None
        #: Arrival times are kept relative to the first, so the 24-bit reference
        #: time (64 ms units) lasts the session (~12 days).
        self._origin: float | None = None
        self._reference = 0
        self.feedback_sent = 0

    def record(self, now: float, sequence: int, media_ssrc: int) -> None:
        """A packet with transport-wide sequence number ``sequence`` arrived."""
        if self._highest is None:
            ext = sequence + (1 << 16)  # room below for reordered predecessors
        else:
            delta = ((sequence - self._highest + 0x8000) & 0xFFFF) - 0x8000
            ext = self._highest + delta
        if self._next_base is not None and ext < self._next_base:
            return  # already reported (a late or duplicate packet)
        if len(self._arrivals) >= 4 * _MAX_PER_FEEDBACK:
            return
        if self._origin is None:
            self._origin = now
        self._arrivals.setdefault(ext, now - self._origin)
        if self._highest is None or ext > self._highest:
            self._highest = ext
        self.media_ssrc = media_ssrc
        if self._due is None:
            self._due = now + self.interval

    def poll_timeout(self) -> float | None:
        return self._due

    def feedback(self, now: float) -> list[bytes]:
        """The feedback messages due at ``now`` (serialized RTCP)."""
        if self._due is None or now < self._due or self._highest is None:
            return []
        self._due = None
        out = []
        base = self._next_base if self._next_base is not None else min(self._arrivals)
        while base <= self._highest:
            end = min(self._highest, base + _MAX_PER_FEEDBACK - 1)
            received = [self._arrivals[q] for q in range(base, end + 1) if q in self._arrivals]
            # Leading losses are reported too: the reference time anchors the first
            # receive delta, not the first sequence number; a window of losses only
            # is reported with the last reference (it times nothing).
            reference = int(received[0] / _REFERENCE_UNIT) if received else self._reference
            self._reference = reference
            arrivals = tuple(self._arrivals.pop(s, None) for s in range(base, end + 1))
            message = TwccFeedback(
                self.sender_ssrc,
                self.media_ssrc,
                base,
                reference & 0xFFFFFF,
                self._count,
                arrivals,
            )
            out.append(message.serialize())
            self._count = (self._count + 1) & 0xFF
            self.feedback_sent += 1
            base = end + 1
        self._next_base = self._highest + 1
        self._arrivals.clear()
        return out
