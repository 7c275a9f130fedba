"""Receive side of user messages: reassembly of fragments and per-stream ordering.

RFC 9260 §6.9: the fragments of one message carry consecutive TSNs, B on the first and
E on the last. Fragments usually arrive in TSN order, so a partial message ("run") is
kept in a dict under the TSN it expects next: an in-order fragment is one dict pop and
one push. A fragment whose predecessor has not arrived waits as an "orphan" under its
own TSN and is absorbed when the run reaches it.

Complete messages are delivered at once if unordered (U flag), else in SSN order per
stream (§6.6); early ones are held. Everything held counts in :attr:`buffered`, which
the association subtracts from its receive window: payload bytes plus
:data:`FRAGMENT_OVERHEAD` per fragment or held message, so that a peer sending tiny
fragments cannot make us hold far more memory than the window says.

TSNs here are unwrapped (64-bit, monotonic); the association unwraps the wire values.
"""

from __future__ import annotations

from collections import deque

from rtcpeer.sctp.events import Event, MessageReceived
from rtcpeer.sctp.packet import FLAG_BEGIN, FLAG_END, FLAG_UNORDERED

__all__ = ["FRAGMENT_OVERHEAD", "ReassemblyQueue"]

#: Bytes charged per held fragment or message on top of its payload: roughly what
#: Python spends on it (the bytes object, its list or dict slot, an orphan's tuple).
FRAGMENT_OVERHEAD = 128
_OVH = FRAGMENT_OVERHEAD


class _Run:
    """A message whose first fragments have arrived."""

    __slots__ = ("cost", "first_tsn", "parts", "ppid", "sid", "size", "ssn", "unordered")

    def __init__(
        self, first_tsn: int, sid: int, ssn: int, ppid: int, unordered: bool, payload: bytes
    ) -> None:
        self.first_tsn = first_tsn
        self.sid = sid
        self.ssn = ssn
        self.ppid = ppid
        self.unordered = unordered
        self.parts: list[bytes] | None = [payload]  # None: too large, being discarded
        self.size = len(payload)
        #: What this run adds to the queue's ``buffered``.
        self.cost = len(payload) + _OVH


class ReassemblyQueue:
    """Fragments in, complete messages out (as :class:`MessageReceived` events)."""

    def __init__(self, events: deque[Event], max_message_size: int) -> None:
        self._events = events
        self.max_message_size = max_message_size
        self._runs: dict[int, _Run] = {}  # keyed by the next TSN the run expects
        self._orphans: dict[int, tuple[int, int, int, int, bytes]] = {}
        self._next_ssn: dict[int, int] = {}  # per stream: the SSN to deliver next
        # sid -> ssn -> (ppid, data); data None marks a message dropped as too large.
        self._held: dict[int, dict[int, tuple[int, bytes | None]]] = {}
        #: Bytes held here (partial messages and early ordered ones).
        self.buffered = 0
        #: Messages dropped because they grew beyond ``max_message_size``.
        self.oversized = 0
        #: Ordered messages dropped as older than the stream's next SSN.
        self.stale = 0

    # -- input ---------------------------------------------------------------------------

    def add(self, tsn: int, flags: int, sid: int, ssn: int, ppid: int, payload: bytes) -> None:
        """One new (not duplicate) DATA chunk."""
        if flags & FLAG_BEGIN:
            if self._runs:
                dead = self._runs.pop(tsn, None)
                if dead is not None:
                    # A message waiting for this TSN never ended: its sender abandoned
                    # the rest of it (PR-SCTP) and moved on to a new message.
                    self.buffered -= dead.cost
            if flags & FLAG_END:
                self._complete(sid, ssn, ppid, payload, bool(flags & FLAG_UNORDERED))
                return
            n = len(payload)
            first = _Run(tsn, sid, ssn, ppid, bool(flags & FLAG_UNORDERED), payload)
            self.buffered += n + _OVH
            if self._orphans:
                self._absorb(first, tsn + 1)
            else:
                self._runs[tsn + 1] = first
            return
        n = len(payload)
        run = self._runs.pop(tsn, None)
        if run is None or run.sid != sid:
            if run is not None:
                self._runs[tsn] = run
            self._orphans[tsn] = (flags, sid, ssn, ppid, payload)
            self.buffered += n + _OVH
            return
        parts = run.parts
        if parts is not None and run.size + n <= self.max_message_size:
            # The common case, inlined: one more fragment in order.
            parts.append(payload)
            run.size += n
            run.cost += n + _OVH
            self.buffered += n + _OVH
        else:
            self._append(run, payload)
        if flags & FLAG_END:
            self._finish(run)
        elif self._orphans:
            self._absorb(run, tsn + 1)
        else:
            self._runs[tsn + 1] = run

    def _append(self, run: _Run, payload: bytes) -> None:
        parts = run.parts
        n = len(payload)
        run.size += n
        if parts is None:
            return
        if run.size > self.max_message_size:
            # Too large to ever deliver: drop what we hold, keep consuming its fragments.
            self.buffered -= run.cost
            run.cost = 0
            run.parts = None
            self.oversized += 1
            return
        parts.append(payload)
        run.cost += n + _OVH
        self.buffered += n + _OVH

    def _absorb(self, run: _Run, nxt: int) -> None:
        orphans = self._orphans
        while orphans:
            orphan = orphans.pop(nxt, None)
            if orphan is None:
                break
            flags, sid, _ssn, _ppid, payload = orphan
            self.buffered -= len(payload) + _OVH
            if sid != run.sid:
                # Not ours: a malformed sequence. Leave the run waiting; drop the orphan.
                break
            self._append(run, payload)
            if flags & FLAG_END:
                self._finish(run)
                return
            nxt += 1
        self._runs[nxt] = run

    def _finish(self, run: _Run) -> None:
        parts = run.parts
        if parts is None:
            # Dropped as too large; an ordered one still takes its SSN's turn.
            if not run.unordered:
                self._complete(run.sid, run.ssn, run.ppid, None, False)
            return
        self.buffered -= run.cost
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        self._complete(run.sid, run.ssn, run.ppid, data, run.unordered)

    def _complete(self, sid: int, ssn: int, ppid: int, data: bytes | None, unordered: bool) -> None:
        """A whole message; ``data`` None stands for one dropped as too large."""
        if unordered:
            if data is not None:
                self._events.append(MessageReceived(sid, ppid, data, True))
            return
        expected = self._next_ssn.get(sid, 0)
        if ssn == expected:
            if data is not None:
                self._events.append(MessageReceived(sid, ppid, data, False))
            expected = (expected + 1) & 0xFFFF
            held = self._held.get(sid)
            if held:
                expected = self._release(sid, held, expected)
            self._next_ssn[sid] = expected
        elif (ssn - expected) & 0xFFFF < 0x8000:
            self._held.setdefault(sid, {})[ssn] = (ppid, data)
            if data is not None:
                self.buffered += len(data) + _OVH
        else:
            self.stale += 1

    def _release(self, sid: int, held: dict[int, tuple[int, bytes | None]], expected: int) -> int:
        events = self._events
        while True:
            item = held.pop(expected, None)
            if item is None:
                break
            data = item[1]
            if data is not None:
                self.buffered -= len(data) + _OVH
                events.append(MessageReceived(sid, item[0], data, False))
            expected = (expected + 1) & 0xFFFF
        if not held:
            del self._held[sid]
        return expected

    # -- PR-SCTP and stream reset ----------------------------------------------------------

    def forget(self, skipped: int, cum: int) -> None:
        """Drop partial messages that can no longer complete after a FORWARD TSN to
        ``skipped`` moved the cumulative TSN to ``cum`` (RFC 3758 §3.6).

        Dead are: messages that began at or below ``skipped`` (abandoned by the
        sender), runs waiting for a TSN at or below ``cum`` (it was skipped: had it
        arrived, the run would have taken it), and fragments at or below ``cum`` still
        waiting for their predecessors. A run that began at or below ``cum`` but waits
        above it is alive: gaps merged into ``cum`` may hold a message's first part.
        """
        runs = self._runs
        for key in [k for k, r in runs.items() if r.first_tsn <= skipped or k <= cum]:
            self.buffered -= runs.pop(key).cost
        orphans = self._orphans
        for key in [k for k in orphans if k <= cum]:
            self.buffered -= len(orphans.pop(key)[4]) + _OVH

    def skip_ssn(self, sid: int, ssn: int) -> None:
        """RFC 3758 §3.6: messages up to ``ssn`` on ``sid`` will not come; deliver what is
        held up to it, then continue after it."""
        expected = self._next_ssn.get(sid, 0)
        if (ssn - expected) & 0xFFFF >= 0x8000:
            return  # already past it
        held = self._held.get(sid)
        if held:
            for s in sorted(held, key=lambda s: (s - expected) & 0xFFFF):
                if (s - expected) & 0xFFFF > (ssn - expected) & 0xFFFF:
                    break
                ppid, data = held.pop(s)
                if data is not None:
                    self.buffered -= len(data) + _OVH
                    self._events.append(MessageReceived(sid, ppid, data, False))
        expected = (ssn + 1) & 0xFFFF
        if held:
            expected = self._release(sid, held, expected)
        elif held is not None:
            del self._held[sid]
        self._next_ssn[sid] = expected

    def reset_stream(self, sid: int) -> None:
        """RFC 6525: the peer's SSNs on ``sid`` start again at 0."""
        self._next_ssn.pop(sid, None)
        held = self._held.pop(sid, None)
        if held:
            self.buffered -= sum(len(d) + _OVH for _, d in held.values() if d is not None)

    def reset_all(self) -> None:
        """Forget everything (association restart)."""
        self._runs.clear()
        self._orphans.clear()
        self._next_ssn.clear()
        self._held.clear()
        self.buffered = 0
