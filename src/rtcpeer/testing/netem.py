"""A seeded, pure model of one direction of a network link.

``Netem`` is what Linux ``tc netem`` plus a token-bucket bottleneck do to packets,
computed rather than slept: datagrams go in with :meth:`Netem.send` at simulated time
``now`` and come out of :meth:`Netem.poll` when their delivery time has come;
:meth:`Netem.poll_timeout` says when the next one will. Every random draw comes from
the link's own ``random.Random``, so the same seed and the same inputs give the same
trace, byte for byte and time for time.

What happens to a datagram, in order:

1. **MTU**: larger than ``mtu`` → dropped (``stats.dropped_mtu``).
2. **Loss**: dropped with probability ``loss``, and/or by a Gilbert–Elliott burst model.
3. **Bottleneck**: with ``rate`` (bytes/s) the datagram is serialised behind the ones
   before it; if the bytes waiting exceed ``queue_bytes`` it is tail-dropped.
4. **Delay**: ``latency`` plus a uniform jitter in ``[-jitter, +jitter]`` (never below
   zero). Packets keep FIFO order unless ``reorder`` draws otherwise.
5. **Reordering**: with probability ``reorder`` the packet is held an extra
   ``reorder_delay`` and may overtake or be overtaken (it leaves the FIFO).
6. **Duplication**: with probability ``duplicate`` a copy is delivered too, a little later.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

__all__ = ["GilbertElliott", "LinkStats", "Netem", "Sized"]


class Sized(Protocol):
    def __len__(self) -> int: ...


T = TypeVar("T", bound=Sized)


@dataclass(slots=True)
class GilbertElliott:
    """Two-state burst-loss model (Gilbert–Elliott).

    ``p`` is the chance per packet of going from the good to the bad state, ``r`` of
    coming back; in the good state a packet is lost with ``loss_good`` (usually 0), in
    the bad state with ``loss_bad`` (usually 1). Mean burst length is ``1 / r`` and the
    stationary loss rate is ``(p * loss_bad + r * loss_good) / (p + r)``.
    """

    p: float
    r: float
    loss_good: float = 0.0
    loss_bad: float = 1.0
    bad: bool = False

    def lost(self, rng: random.Random) -> bool:
        # Transition first, then draw the loss in the new state.
        if self.bad:
            if rng.random() < self.r:
                self.bad = False
        elif rng.random() < self.p:
            self.bad = True
        return rng.random() < (self.loss_bad if self.bad else self.loss_good)

    @property
    def mean_loss(self) -> float:
        """The long-run loss rate of the model."""
        if self.p + self.r == 0:
            return self.loss_bad if self.bad else self.loss_good
        return (self.p * self.loss_bad + self.r * self.loss_good) / (self.p + self.r)


@dataclass(slots=True)
class LinkStats:
    """Counters of what a link did; useful in assertions and when a test fails."""

    sent: int = 0
    delivered: int = 0
    dropped_loss: int = 0
    dropped_queue: int = 0
    dropped_mtu: int = 0
    duplicated: int = 0
    reordered: int = 0
    bytes_sent: int = 0
    bytes_delivered: int = 0

    @property
    def dropped(self) -> int:
        return self.dropped_loss + self.dropped_queue + self.dropped_mtu


@dataclass(slots=True)
class _Queued(Generic[T]):
    due: float
    seq: int
    item: T = field(compare=False)

    def __lt__(self, other: _Queued[T]) -> bool:
        return (self.due, self.seq) < (other.due, other.seq)


class Netem(Generic[T]):
    """One direction of a link: loss, delay, jitter, reordering, duplication, rate, MTU.

    Items are any object with a length in bytes (``bytes`` or
    :class:`rtcpeer.datagram.Datagram`). Pass ``seed`` or an ``rng``; the link draws
    only from it.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        rng: random.Random | None = None,
        latency: float = 0.0,
        jitter: float = 0.0,
        loss: float = 0.0,
        burst: GilbertElliott | None = None,
        reorder: float = 0.0,
        reorder_delay: float | None = None,
        duplicate: float = 0.0,
        rate: float | None = None,
        queue_bytes: int = 64 * 1024,
        mtu: int | None = None,
    ) -> None:
        if rng is None:
            if seed is None:
                raise TypeError("Netem needs a seed or an rng, so that runs are repeatable")
            rng = random.Random(seed)
        for name, value in (("loss", loss), ("reorder", reorder), ("duplicate", duplicate)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is a probability in [0, 1], got {value}")
        if latency < 0 or jitter < 0:
            raise ValueError("latency and jitter cannot be negative")
        if rate is not None and rate <= 0:
            raise ValueError("rate is in bytes per second and must be positive (or None)")
        self.rng = rng
        self.latency = latency
        self.jitter = jitter
        self.loss = loss
        self.burst = burst
        self.reorder = reorder
        self.reorder_delay = reorder_delay if reorder_delay is not None else max(latency, 0.01)
        self.duplicate = duplicate
        self.rate = rate
        self.queue_bytes = queue_bytes
        self.mtu = mtu
        self.stats = LinkStats()
        self._heap: list[_Queued[T]] = []
        self._seq = 0
        # Bottleneck state: when the serialiser frees up, and what waits for it.
        self._busy_until = 0.0
        self._backlog: deque[tuple[float, int]] = deque()  # (departure time, size)
        self._backlog_bytes = 0
        self._last_fifo_due = 0.0

    # -- input ---------------------------------------------------------------------

    def send(self, now: float, item: T) -> None:
        """Offer ``item`` to the link at time ``now``."""
        size = len(item)
        stats = self.stats
        stats.sent += 1
        stats.bytes_sent += size
        if self.mtu is not None and size > self.mtu:
            stats.dropped_mtu += 1
            return
        lost = self.loss > 0.0 and self.rng.random() < self.loss
        if self.burst is not None and self.burst.lost(self.rng):
            lost = True
        if lost:
            stats.dropped_loss += 1
            return
        departure = now
        if self.rate is not None:
            backlog = self._backlog
            while backlog and backlog[0][0] <= now:
                self._backlog_bytes -= backlog.popleft()[1]
            if self._backlog_bytes + size > self.queue_bytes:
                stats.dropped_queue += 1
                return
            departure = max(now, self._busy_until) + size / self.rate
            self._busy_until = departure
            backlog.append((departure, size))
            self._backlog_bytes += size
        delay = self.latency
        if self.jitter:
            delay = max(0.0, delay + self.rng.uniform(-self.jitter, self.jitter))
        due = departure + delay
        if self.reorder and self.rng.random() < self.reorder:
            stats.reordered += 1
            due += self.reorder_delay
        else:
            # Jitter alone does not reorder (as netem with a rate): FIFO within the link.
            due = max(due, self._last_fifo_due)
            self._last_fifo_due = due
        self._push(due, item)
        if self.duplicate and self.rng.random() < self.duplicate:
            stats.duplicated += 1
            self._push(due + self.rng.uniform(0.0, max(self.jitter, 0.001)), item)

    def _push(self, due: float, item: T) -> None:
        self._seq += 1
        heapq.heappush(self._heap, _Queued(due, self._seq, item))

    # -- output --------------------------------------------------------------------

    def poll(self, now: float) -> T | None:
        """The next item whose delivery time is ``<= now``, or None."""
        heap = self._heap
        if heap and heap[0].due <= now:
            item = heapq.heappop(heap).item
            self.stats.delivered += 1
            self.stats.bytes_delivered += len(item)
            return item
        return None

    def poll_timeout(self) -> float | None:
        """When the next item becomes deliverable, or None if the link is empty."""
        return self._heap[0].due if self._heap else None

    def __len__(self) -> int:
        """Items in flight."""
        return len(self._heap)
