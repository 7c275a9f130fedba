"""ReassemblyQueue: fragments in any order, ordered/unordered delivery, PR-SCTP skipping."""

from __future__ import annotations

import random
from collections import deque

from rtcpeer.sctp.events import Event, MessageReceived
from rtcpeer.sctp.reassembly import FRAGMENT_OVERHEAD, ReassemblyQueue

B, E, U = 2, 1, 4


def make(max_message_size: int = 1 << 20) -> tuple[ReassemblyQueue, deque[Event]]:
    events: deque[Event] = deque()
    return ReassemblyQueue(events, max_message_size), events


def fragments(first_tsn: int, sid: int, ssn: int, data: bytes, size: int, flags: int = 0):
    parts = [data[i : i + size] for i in range(0, len(data), size)]
    out = []
    for i, part in enumerate(parts):
        f = flags | (B if i == 0 else 0) | (E if i == len(parts) - 1 else 0)
        out.append((first_tsn + i, f, sid, ssn, 51, part))
    return out


def test_single_chunk_messages_in_order() -> None:
    rq, events = make()
    rq.add(1, B | E, 0, 0, 51, b"a")
    rq.add(2, B | E, 0, 1, 52, b"b")
    assert list(events) == [MessageReceived(0, 51, b"a"), MessageReceived(0, 52, b"b")]
    assert rq.buffered == 0


def test_fragments_in_any_order_reassemble() -> None:
    data = bytes(range(256)) * 10
    frags = fragments(100, 3, 0, data, 100)
    for seed in range(20):
        rq, events = make()
        shuffled = frags[:]
        random.Random(seed).shuffle(shuffled)
        for f in shuffled:
            rq.add(*f)
        assert list(events) == [MessageReceived(3, 51, data)]
        assert rq.buffered == 0


def test_ordered_messages_held_until_their_turn() -> None:
    rq, events = make()
    for f in fragments(10, 1, 1, b"second-message", 5):
        rq.add(*f)
    rq.add(20, B | E, 1, 2, 51, b"third")
    assert not events
    # Two complete messages held for their turn, each charged its overhead too.
    assert rq.buffered == len(b"second-message") + 5 + 2 * FRAGMENT_OVERHEAD
    rq.add(9, B | E, 1, 0, 51, b"first")
    assert [e.data for e in events] == [b"first", b"second-message", b"third"]  # type: ignore[union-attr]
    assert rq.buffered == 0


def test_unordered_delivered_at_once_and_streams_independent() -> None:
    rq, events = make()
    rq.add(5, B | E, 1, 1, 51, b"waits")  # ordered, SSN 1 before 0
    rq.add(6, B | E | U, 1, 0, 51, b"unordered")
    rq.add(7, B | E, 2, 0, 51, b"other stream")
    assert [(e.stream_id, e.data, e.unordered) for e in events] == [  # type: ignore[union-attr]
        (1, b"unordered", True),
        (2, b"other stream", False),
    ]


def test_skip_ssn_delivers_held_and_moves_on() -> None:
    rq, events = make()
    rq.add(3, B | E, 4, 1, 51, b"one")
    rq.add(5, B | E, 4, 3, 51, b"three")
    rq.forget(4, 5)  # TSN 4 (SSN 2) abandoned; SSN 0 too
    rq.skip_ssn(4, 2)
    assert [e.data for e in events] == [b"one", b"three"]  # type: ignore[union-attr]
    rq.add(6, B | E, 4, 4, 51, b"four")
    assert [e.data for e in events][-1] == b"four"  # type: ignore[union-attr]


def test_forget_drops_partial_messages() -> None:
    rq, events = make()
    frags = fragments(10, 0, 0, b"x" * 50, 10)
    rq.add(*frags[0])
    rq.add(*frags[2])  # orphan
    assert rq.buffered == 20 + 2 * FRAGMENT_OVERHEAD
    rq.forget(14, 14)
    assert rq.buffered == 0
    rq.skip_ssn(0, 0)
    rq.add(15, B | E, 0, 1, 51, b"next")
    assert [e.data for e in events] == [b"next"]  # type: ignore[union-attr]


def test_oversized_message_dropped_and_counted() -> None:
    rq, events = make(max_message_size=25)
    for f in fragments(1, 0, 0, b"y" * 40, 10):
        rq.add(*f)
    rq.add(5, B | E, 0, 1, 51, b"small")
    assert rq.oversized == 1
    assert rq.buffered == 0
    # The dropped message still takes its SSN's turn: the next one is not stuck.
    assert [e.data for e in events] == [b"small"]  # type: ignore[union-attr]


def test_oversized_ordered_message_completing_late_unblocks_held() -> None:
    rq, events = make(max_message_size=25)
    frags = fragments(1, 0, 0, b"y" * 40, 10)
    rq.add(*frags[0])
    rq.add(*frags[1])
    rq.add(*frags[2])  # now too large: dropped
    rq.add(5, B | E, 0, 1, 51, b"small")
    assert not events
    rq.add(*frags[3])
    assert [e.data for e in events] == [b"small"]  # type: ignore[union-attr]
    assert rq.buffered == 0


def test_ssn_wraps() -> None:
    rq, events = make()
    rq._next_ssn[0] = 65535
    rq.add(1, B | E, 0, 0, 51, b"after-wrap")
    rq.add(2, B | E, 0, 65535, 51, b"before-wrap")
    assert [e.data for e in events] == [b"before-wrap", b"after-wrap"]  # type: ignore[union-attr]


def test_stale_ordered_message_dropped() -> None:
    rq, events = make()
    rq.add(1, B | E, 0, 0, 51, b"a")
    rq.add(2, B | E, 0, 0, 51, b"again")  # SSN behind the expected one
    assert rq.stale == 1
    assert len(events) == 1


def test_reset_stream_restarts_ssn() -> None:
    rq, events = make()
    rq.add(1, B | E, 7, 0, 51, b"a")
    rq.add(3, B | E, 7, 2, 51, b"held")
    rq.reset_stream(7)
    assert rq.buffered == 0
    rq.add(4, B | E, 7, 0, 51, b"new incarnation")
    assert [e.data for e in events] == [b"a", b"new incarnation"]  # type: ignore[union-attr]


def test_forget_keeps_live_message_whose_start_merged_into_cum() -> None:
    rq, events = make()
    frags = fragments(20, 0, 0, b"z" * 60, 10)  # TSNs 20..25
    for f in frags[:3]:
        rq.add(*f)  # 20..22 arrived; FORWARD TSN skips 19 and cum merges up to 22
    rq.forget(19, 22)
    for f in frags[3:]:
        rq.add(*f)
    assert [e.data for e in events] == [b"z" * 60]  # type: ignore[union-attr]


def test_abandoned_partial_message_dropped_when_next_message_starts() -> None:
    rq, events = make()
    frags = fragments(1, 0, 0, b"q" * 50, 10)
    rq.add(*frags[0])
    rq.add(*frags[1])  # the sender gave up on the rest
    rq.add(3, B | E, 0, 1, 51, b"next")
    # held for SSN 0; the dead run is gone
    assert rq.buffered == len(b"next") + FRAGMENT_OVERHEAD
    rq.skip_ssn(0, 0)
    assert [e.data for e in events] == [b"next"]  # type: ignore[union-attr]
    assert rq.buffered == 0


def test_tiny_fragments_are_charged_their_overhead() -> None:
    """A hostile peer sends 1-byte middle fragments on every other TSN: each waits as
    an orphan. ``buffered`` (what the receive window and the drop checks see) must
    grow with their count, not only with their 1-byte payloads."""
    rq, _events = make()
    for i in range(1000):
        rq.add(100 + 2 * i, 0, 0, 0, 51, b"x")
    assert rq.buffered == 1000 * (1 + FRAGMENT_OVERHEAD)
    assert rq.buffered >= 1000 * 64  # what Python really spends, at the least
    rq.forget(100 + 2 * 1000, 100 + 2 * 1000)
    assert rq.buffered == 0
