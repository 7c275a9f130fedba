"""STUN client transactions (RFC 8489 §6.2): retransmission schedule, timeouts, RTT,
and the multiplexing table, all in simulated time."""

from __future__ import annotations

import random

import pytest

from rtcpeer.errors import InvalidStateError
from rtcpeer.ice.stun import AttrType, StunClass, StunMessage, StunMethod
from rtcpeer.ice.transaction import (
    TRANSITIONS,
    ClientTransaction,
    StunTransmit,
    TransactionEvent,
    TransactionResponse,
    TransactionState,
    TransactionTable,
    TransactionTimedOut,
)

RNG = random.Random(7)


def request(method: int = StunMethod.BINDING) -> StunMessage:
    return StunMessage(method, StunClass.REQUEST, RNG.randbytes(12))


def drive(
    t: ClientTransaction[str] | ClientTransaction[None], start: float = 0.0
) -> tuple[list[float], tuple[float, TransactionEvent[object]]]:
    """Run a lone transaction to its end: send times and its final event."""
    sends: list[float] = []
    t.start(start)
    now = start
    while True:
        while t.poll_transmit() is not None:
            sends.append(now)
        event = t.poll_event()
        if event is not None:
            return sends, (now, event)
        deadline = t.poll_timeout()
        assert deadline is not None
        now = deadline
        t.handle_timeout(now)


class TestSchedule:
    def test_udp_default_rto(self) -> None:
        # §6.2.1: sends at 0, 500, 1500, 3500, 7500, 15500, 31500 ms; fails at 39500 ms.
        t = ClientTransaction(request().serialize(), "ctx")
        sends, (end, event) = drive(t)
        assert sends == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
        assert end == 39.5
        assert isinstance(event, TransactionTimedOut)
        assert event.context == "ctx" and event.transmissions == 7
        assert event.transaction_id == t.transaction_id
        assert t.state is TransactionState.TIMED_OUT and t.done
        assert t.poll_timeout() is None

    def test_udp_browser_ice_rto(self) -> None:
        t = ClientTransaction(request().serialize(), "c", rto=0.25)
        sends, (end, _) = drive(t, start=100.0)
        assert [s - 100.0 for s in sends] == [0.0, 0.25, 0.75, 1.75, 3.75, 7.75, 15.75]
        assert end - 100.0 == pytest.approx(15.75 + 16 * 0.25)

    def test_custom_rc_rm_and_cap(self) -> None:
        t = ClientTransaction(request().serialize(), "c", rto=1.0, rc=5, rm=2, max_rto=3.0)
        sends, (end, event) = drive(t)
        assert sends == [0.0, 1.0, 3.0, 6.0, 9.0]  # intervals 1, 2, then capped at 3
        assert end == 11.0
        assert isinstance(event, TransactionTimedOut) and event.transmissions == 5

    def test_reliable_transport_sends_once(self) -> None:
        t = ClientTransaction(request().serialize(), "c", reliable=True)
        sends, (end, event) = drive(t)
        assert sends == [0.0]
        assert end == 39.5
        assert isinstance(event, TransactionTimedOut) and event.transmissions == 1

    def test_early_timeout_call_is_a_no_op(self) -> None:
        t = ClientTransaction(request().serialize(), "c")
        t.start(0.0)
        assert t.poll_transmit() is not None
        t.handle_timeout(0.49)
        assert t.poll_transmit() is None
        assert t.poll_timeout() == 0.5

    def test_late_timer_reschedules_from_actual_send(self) -> None:
        t = ClientTransaction(request().serialize(), "c")
        t.start(0.0)
        t.poll_transmit()
        t.handle_timeout(0.8)  # the driver woke late
        assert t.poll_transmit() is not None
        assert t.poll_timeout() == pytest.approx(1.8)


class TestResponses:
    def test_response_before_retransmit_records_rtt(self) -> None:
        req = request()
        t = ClientTransaction(req.serialize(), "pair")
        t.start(10.0)
        assert t.poll_transmit() == req.serialize()
        resp = req.success_response([(AttrType.XOR_MAPPED_ADDRESS, ("192.0.2.1", 9))])
        assert t.handle_response(10.04, resp)
        event = t.poll_event()
        assert isinstance(event, TransactionResponse)
        assert event.rtt == pytest.approx(0.04) and event.elapsed == pytest.approx(0.04)
        assert event.response is resp and event.context == "pair" and event.transmissions == 1
        assert t.rtt == pytest.approx(0.04)
        assert t.state is TransactionState.ANSWERED
        assert t.poll_timeout() is None
        t.handle_timeout(100.0)
        assert t.poll_transmit() is None and t.poll_event() is None

    def test_response_after_retransmit_has_no_rtt(self) -> None:
        req = request()
        t = ClientTransaction(req.serialize(), None)
        t.start(0.0)
        t.handle_timeout(0.5)
        assert t.transmissions == 2
        assert t.handle_response(0.6, req.success_response())
        event = t.poll_event()
        assert isinstance(event, TransactionResponse)
        assert event.rtt is None  # Karn: which copy was answered is unknown
        assert event.elapsed == pytest.approx(0.6) and event.transmissions == 2

    def test_error_response_completes(self) -> None:
        req = request(StunMethod.ALLOCATE)
        t = ClientTransaction(req.serialize(), None)
        t.start(0.0)
        assert t.handle_response(0.1, req.error_response(401))
        event = t.poll_event()
        assert isinstance(event, TransactionResponse)
        assert event.response.msg_class == StunClass.ERROR
        assert event.response.error_code is not None and event.response.error_code.code == 401

    def test_non_matching_messages_ignored(self) -> None:
        req = request()
        t = ClientTransaction(req.serialize(), None)
        t.start(0.0)
        other = request().success_response()
        wrong_method = StunMessage(StunMethod.ALLOCATE, StunClass.SUCCESS, req.transaction_id)
        same_request = StunMessage(StunMethod.BINDING, StunClass.REQUEST, req.transaction_id)
        indication = StunMessage(StunMethod.BINDING, StunClass.INDICATION, req.transaction_id)
        for msg in (other, wrong_method, same_request, indication):
            assert not t.handle_response(0.1, msg)
        assert t.state is TransactionState.WAITING and t.poll_event() is None
        assert t.handle_response(0.2, req.success_response())
        assert not t.handle_response(0.3, req.success_response())  # duplicate
        assert t.poll_event() is not None and t.poll_event() is None

    def test_cancel(self) -> None:
        req = request()
        t = ClientTransaction(req.serialize(), None)
        t.start(0.0)
        t.cancel()
        assert t.state is TransactionState.CANCELLED and t.poll_timeout() is None
        assert not t.handle_response(0.1, req.success_response())
        assert t.poll_event() is None
        t.cancel()  # idempotent


class TestMisuse:
    def test_start_twice(self) -> None:
        t = ClientTransaction(request().serialize(), None)
        t.start(0.0)
        with pytest.raises(InvalidStateError):
            t.start(1.0)

    def test_response_before_start_ignored(self) -> None:
        req = request()
        t = ClientTransaction(req.serialize(), None)
        assert not t.handle_response(0.0, req.success_response())
        assert t.poll_timeout() is None

    @pytest.mark.parametrize(
        "data",
        [
            b"short",
            StunMessage(StunMethod.SEND, StunClass.INDICATION).serialize(),
            StunMessage(StunMethod.BINDING, StunClass.SUCCESS).serialize(),
        ],
    )
    def test_rejects_non_requests(self, data: bytes) -> None:
        with pytest.raises(ValueError):
            ClientTransaction(data, None)

    def test_rejects_bad_timers(self) -> None:
        with pytest.raises(ValueError):
            ClientTransaction(request().serialize(), None, rto=0)
        with pytest.raises(ValueError):
            ClientTransaction(request().serialize(), None, rc=0)

    def test_transition_table_is_closed(self) -> None:
        assert set(TRANSITIONS) == set(TransactionState)
        for targets in TRANSITIONS.values():
            assert targets <= set(TransactionState)
        for final in (
            TransactionState.ANSWERED,
            TransactionState.TIMED_OUT,
            TransactionState.CANCELLED,
        ):
            assert not TRANSITIONS[final]


def run_table(
    table: TransactionTable[str], until: float, responses: dict[str, float] | None = None
) -> tuple[list[tuple[float, str]], list[tuple[float, object]]]:
    """Drive a table on its own deadlines (and scripted response times) up to ``until``.

    ``responses`` maps a context to the time its request is answered."""
    responses = dict(responses or {})
    sent: list[tuple[float, str]] = []
    events: list[tuple[float, object]] = []
    now = 0.0

    def drain() -> None:
        while (tx := table.poll_transmit()) is not None:
            sent.append((now, tx.context))
        while (ev := table.poll_event()) is not None:
            events.append((now, ev))

    drain()
    while True:
        deadline = table.poll_timeout()
        answer = min(responses.items(), key=lambda kv: kv[1], default=None)
        times = [x for x in (deadline, answer[1] if answer else None) if x is not None]
        if not times or min(times) > until:
            return sent, events
        nxt = min(times)
        if nxt > until:
            return sent, events
        now = nxt
        if answer is not None and answer[1] == nxt:
            del responses[answer[0]]
            t = next(t for t in table.pending() if t.context == answer[0])
            msg = StunMessage.parse(t.request).success_response()
            assert table.handle_response(now, msg) is t
        else:
            table.handle_timeout(now)
        drain()


class TestTable:
    def test_multiplexes_with_earliest_deadline(self) -> None:
        table: TransactionTable[str] = TransactionTable(rto=0.5)
        a = table.start(0.0, request().serialize(), "a")
        b = table.start(0.2, request().serialize(), "b", rto=0.1)
        assert len(table) == 2 and a.transaction_id in table and table.get(b.transaction_id) is b
        first = table.poll_transmit()
        assert isinstance(first, StunTransmit)
        assert (first.context, first.transaction_id, first.data) == (
            "a",
            a.transaction_id,
            a.request,
        )
        assert table.poll_transmit() is not None and table.poll_transmit() is None
        deadline = table.poll_timeout()
        assert deadline is not None and deadline == pytest.approx(0.3)  # b's retransmission
        table.handle_timeout(deadline)
        tx = table.poll_transmit()
        assert tx is not None and tx.context == "b"
        assert table.poll_timeout() == pytest.approx(0.5)  # now a's

    def test_schedule_through_table(self) -> None:
        table: TransactionTable[str] = TransactionTable()
        table.start(0.0, request(), "a")
        sent, events = run_table(table, until=100.0)
        assert [t for t, _ in sent] == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
        assert len(events) == 1
        when, event = events[0]
        assert when == 39.5 and isinstance(event, TransactionTimedOut)
        assert len(table) == 0 and table.poll_timeout() is None

    def test_answered_transactions_leave_the_timer(self) -> None:
        table: TransactionTable[str] = TransactionTable()
        table.start(0.0, request(), "a")
        table.start(0.0, request(), "b")
        table.start(0.0, request(), "c", reliable=True)
        sent, events = run_table(table, until=100.0, responses={"a": 0.05, "b": 2.0})
        assert [(t, c) for t, c in sent if c == "a"] == [(0.0, "a")]
        assert [t for t, c in sent if c == "b"] == [0.0, 0.5, 1.5]
        assert [t for t, c in sent if c == "c"] == [0.0]
        kinds = [(when, type(ev).__name__, ev.context) for when, ev in events]  # type: ignore[attr-defined]
        assert kinds == [
            (0.05, "TransactionResponse", "a"),
            (2.0, "TransactionResponse", "b"),
            (39.5, "TransactionTimedOut", "c"),
        ]
        rtts = {ev.context: ev.rtt for _, ev in events if isinstance(ev, TransactionResponse)}
        assert rtts["a"] == pytest.approx(0.05) and rtts["b"] is None

    def test_stray_and_late_responses(self) -> None:
        table: TransactionTable[str] = TransactionTable()
        req = request()
        table.start(0.0, req, "a")
        assert table.handle_response(0.1, request().success_response()) is None
        assert table.handle_response(0.1, req.success_response()) is not None
        assert table.handle_response(0.2, req.success_response()) is None  # duplicate
        assert table.poll_timeout() is None

    def test_duplicate_transaction_id(self) -> None:
        table: TransactionTable[str] = TransactionTable()
        req = request()
        table.start(0.0, req, "a")
        with pytest.raises(ValueError, match="fresh transaction id"):
            table.start(0.0, req, "b")

    def test_cancel(self) -> None:
        table: TransactionTable[str] = TransactionTable()
        a = table.start(0.0, request(), "a")
        table.start(1.0, request(), "b")
        assert table.cancel(a.transaction_id)
        assert not table.cancel(a.transaction_id)
        assert a.state is TransactionState.CANCELLED
        assert table.poll_timeout() == 1.5
        table.cancel_all()
        assert len(table) == 0 and table.poll_timeout() is None
        assert table.poll_transmit() is None and table.poll_event() is None

    def test_many_expire_in_one_call(self) -> None:
        table: TransactionTable[int] = TransactionTable(rc=1, rm=1, rto=1.0)
        for i in range(50):
            table.start(i * 0.01, request(), i)
        while table.poll_transmit() is not None:
            pass
        table.handle_timeout(10.0)
        events = []
        while (ev := table.poll_event()) is not None:
            events.append(ev)
        assert [e.context for e in events] == list(range(50))
        assert all(isinstance(e, TransactionTimedOut) for e in events)
        assert len(table) == 0
