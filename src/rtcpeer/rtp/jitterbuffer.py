"""Re-assembly of encoded frames from RTP packets, sans-IO.

:class:`FrameAssembler` takes the RTP packets of one stream in any order (with
duplicates) and hands out whole encoded frames in sequence order. A frame is the
run of packets from one that starts a frame (per its payload format) up to the
marker bit, every sequence number present. A gap waits ``max_wait`` seconds for a
retransmission (NACK/RTX); then the assembler skips ahead to the next whole key
frame, or to the next whole frame with ``keyframe_needed`` set so the owner can ask
the sender for one (PLI, RFC 4585 §6.3.1). Memory is bounded by ``capacity``
packets.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

from rtcpeer.media.payload import Depayloader

__all__ = ["EncodedFrame", "FrameAssembler"]

_CAPACITY: Final = 1024
_MAX_WAIT: Final = 0.5


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One whole encoded frame: codec bytes, its RTP timestamp, key or delta."""

    timestamp: int
    data: bytes
    keyframe: bool
    packets: int


class FrameAssembler:
    """Encoded frames out of the RTP packets of one SSRC."""

    def __init__(
        self, depayloader: Depayloader, *, capacity: int = _CAPACITY, max_wait: float = _MAX_WAIT
    ) -> None:
        self.depayloader = depayloader
        self.capacity = capacity
        self.max_wait = max_wait
        # extended seq -> (timestamp, marker, payload)
        self._packets: dict[int, tuple[int, bool, bytes]] = {}
        self._highest: int | None = None
        #: The extended sequence number the next frame must start at.
        self._next: int | None = None
        self._gap_since: float | None = None
        self._ready: deque[EncodedFrame] = deque()
        #: Set when frames were dropped without a key frame after them.
        self.keyframe_needed = False
        self.frames_dropped = 0
        self.packets_dropped = 0
        self._waiting_keyframe = True
        #: Sequence numbers of padding-only packets ahead of ``_next``.
        self._padding: set[int] = set()

    def _extend(self, seq: int) -> int:
        if self._highest is None:
            return seq + (1 << 16)  # room below for reordered predecessors
        delta = ((seq - self._highest + 0x8000) & 0xFFFF) - 0x8000
        return self._highest + delta

    def push(self, now: float, seq: int, timestamp: int, marker: bool, payload: bytes) -> None:
        """One RTP packet's sequence number, timestamp, marker and payload."""
        ext = self._extend(seq)
        if self._next is not None and ext < self._next:
            return  # late: its frame was emitted or skipped
        if ext in self._packets:
            return
        if self.depayloader.whole_frames:
            self._push_whole(ext, timestamp, payload)
            return
        if len(self._packets) >= self.capacity:
            self.packets_dropped += 1
            return
        self._packets[ext] = (timestamp, marker, payload)
        if self._highest is None or ext > self._highest:
            self._highest = ext
        self._assemble(now)

    def push_padding(self, now: float, seq: int) -> None:
        """A padding-only packet (a bandwidth probe): no media, but it takes a
        sequence number the next frame would otherwise wait for."""
        ext = self._extend(seq)
        if self._highest is None or ext > self._highest:
            self._highest = ext
        if self._next is None or ext < self._next or self.depayloader.whole_frames:
            if self.depayloader.whole_frames and self._next is not None and ext >= self._next:
                self._next = ext + 1
            return
        if len(self._padding) < self.capacity:
            self._padding.add(ext)
        self._assemble(now)

    def _push_whole(self, ext: int, timestamp: int, payload: bytes) -> None:
        if self._highest is None or ext > self._highest:
            self._highest = ext
        self._next = ext + 1
        try:
            data = self.depayloader.strip(payload)
        except ValueError:
            self.packets_dropped += 1
            return
        self._ready.append(EncodedFrame(timestamp, data, True, 1))

    def _frame_at(self, start: int) -> tuple[int, EncodedFrame] | None:
        """The whole frame starting at ``start`` and the seq after it, or None."""
        packets = self._packets
        first = packets.get(start)
        if first is None or not self.depayloader.is_frame_start(first[2]):
            return None
        timestamp = first[0]
        seq = start
        parts = []
        while True:
            entry = packets.get(seq)
            if entry is None or entry[0] != timestamp:
                return None
            parts.append(entry[2])
            if entry[1]:
                break
            seq += 1
        try:
            data = self.depayloader.assemble(parts)
        except ValueError:
            data = b""
        keyframe = self.depayloader.is_keyframe(first[2])
        return seq + 1, EncodedFrame(timestamp, data, keyframe, len(parts))

    def _emit(self, start: int, end: int, frame: EncodedFrame) -> None:
        for seq in range(start, end):
            self._packets.pop(seq, None)
        self._next = end
        self._gap_since = None
        if frame.keyframe:
            self._waiting_keyframe = False
            self.keyframe_needed = False
        if self._waiting_keyframe or not frame.data:
            self.frames_dropped += 1
            self.keyframe_needed = self.keyframe_needed or not frame.keyframe
            return
        self._ready.append(frame)

    def _assemble(self, now: float) -> None:
        while self._packets:
            if self._next is None:
                # The first frame: the lowest start seen (reordering may still bring
                # an earlier one; a gap timeout settles it).
                starts = sorted(
                    s for s, e in self._packets.items() if self.depayloader.is_frame_start(e[2])
                )
                # Packets before the first start belong to a frame whose start is
                # missing: wait for its repair (or the gap timer) before choosing.
                if not starts or starts[0] != min(self._packets):
                    break
                found = self._frame_at(starts[0])
                if found is None:
                    break
                self._emit(starts[0], *found)
                continue
            found = self._frame_at(self._next)
            if found is None:
                if self._next in self._padding:
                    self._padding.discard(self._next)
                    self._next += 1
                    continue
                break
            self._emit(self._next, *found)
        if self._padding and self._next is not None:
            self._padding = {p for p in self._padding if p >= self._next}
        if self._packets and self._gap_since is None:
            self._gap_since = now

    def poll_timeout(self) -> float | None:
        if self._gap_since is None or not self._packets:
            return None
        return self._gap_since + self.max_wait

    def handle_timeout(self, now: float) -> None:
        """A gap waited long enough: skip to the next whole frame (key frame first)."""
        if self._gap_since is None or now < self._gap_since + self.max_wait:
            return
        self._gap_since = None
        frames = []
        for seq in sorted(self._packets):
            if self._next is not None and seq < self._next:
                continue
            found = self._frame_at(seq)
            if found is not None:
                frames.append((seq, found))
        if not frames:
            # Nothing whole: drop what is older than the newest frame start (all of it
            # when there is none), freeze until a key frame, and wait again.
            starts = [q for q, e in self._packets.items() if self.depayloader.is_frame_start(e[2])]
            cut = max(starts) if starts else max(self._packets) + 1
            stale = [q for q in self._packets if q < cut]
            for q in stale:
                del self._packets[q]
            self.packets_dropped += len(stale)
            if self._next is not None and cut > self._next:
                self._next = cut  # the next frame can only start there
            if stale:
                self._next = max(self._next or cut, cut)
                self._waiting_keyframe = True
                self.keyframe_needed = True
            self._gap_since = now if self._packets else None
            return
        key = next((f for f in frames if f[1][1].keyframe), None)
        start, (end, frame) = key if key is not None else frames[0]
        skipped = [s for s in self._packets if s < start]
        for seq in skipped:
            del self._packets[seq]
        self.packets_dropped += len(skipped)
        if key is None:
            # Delta frames after a loss decode to garbage: freeze until a key frame.
            self._waiting_keyframe = True
        self._emit(start, end, frame)
        self._assemble(now)

    def poll(self) -> EncodedFrame | None:
        return self._ready.popleft() if self._ready else None
