"""A packet pacer, sans-IO: media leaves at a steady rate instead of in bursts.

A key frame is dozens of packets produced at once; sent back to back they overflow
a bottleneck's queue and are lost (and then repaired, which costs more). The pacer
releases packets at ``factor`` times the congestion controller's target (libwebrtc
uses 2.5), in priority order: audio first (it is small and late audio is useless),
then repairs (a receiver is waiting for them), then video. So that pacing never
adds more than ``max_delay`` of queueing, the rate rises to drain a long queue.
"""

from __future__ import annotations

from collections import deque
from typing import Final

__all__ = ["AUDIO", "REPAIR", "VIDEO", "Pacer"]

AUDIO: Final = 0
REPAIR: Final = 1
VIDEO: Final = 2
_BURST: Final = 0.005  # seconds of budget that may go out at once


class Pacer:
    """Queues packets by priority and releases them at the pacing rate."""

    def __init__(
        self, *, target_bitrate: int = 1_000_000, factor: float = 2.5, max_delay: float = 0.5
    ) -> None:
        self.factor = factor
        self.max_delay = max_delay
        self._rate = factor * target_bitrate / 8  # bytes per second
        self._queues: tuple[deque[tuple[float, bytes]], ...] = (deque(), deque(), deque())
        self._queued_bytes = 0
        self._budget = 0.0
        self._at: float | None = None

    def set_target(self, bitrate: int) -> None:
        self._rate = self.factor * max(bitrate, 10_000) / 8

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues)

    def clear(self) -> None:
        """Drop what waits (nowhere to send it: media is not buffered)."""
        for queue in self._queues:
            queue.clear()
        self._queued_bytes = 0

    def push(self, now: float, packet: bytes, priority: int) -> None:
        self._queues[priority].append((now, packet))
        self._queued_bytes += len(packet)

    def _rate_now(self) -> float:
        # Drain a long queue so that its oldest packet waits at most max_delay,
        # whatever the target says.
        oldest = min((q[0][0] for q in self._queues if q), default=None)
        if oldest is None or self._at is None:
            return self._rate
        remaining = max(oldest + self.max_delay - self._at, 0.01)
        return max(self._rate, self._queued_bytes / remaining)

    def _refill(self, now: float) -> None:
        rate = self._rate_now()
        if self._at is not None:
            self._budget = min(self._budget + (now - self._at) * rate, max(rate * _BURST, 1200))
        self._at = now

    def pop(self, now: float) -> bytes | None:
        """The next packet that may go at ``now`` (None: wait for :meth:`poll_timeout`)."""
        if not self._queued_bytes:
            self._at = now
            self._budget = max(self._budget, 0.0)
            return None
        self._refill(now)
        audio = self._queues[AUDIO]
        if audio:
            _, packet = audio.popleft()  # audio is never held back; it costs budget
        elif self._budget <= 0:
            return None
        else:
            _, packet = (self._queues[REPAIR] or self._queues[VIDEO]).popleft()
        self._queued_bytes -= len(packet)
        self._budget -= len(packet)
        return packet

    def poll_timeout(self) -> float | None:
        if not self._queued_bytes or self._at is None:
            return None
        if self._queues[AUDIO] or self._budget > 0:
            return self._at
        return self._at + (-self._budget + 1) / self._rate_now()
