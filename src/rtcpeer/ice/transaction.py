"""STUN client transactions (RFC 8489 §6.2), sans-IO.

Over UDP a request is retransmitted after RTO, 2·RTO, 4·RTO… for Rc = 7 transmissions
in all, then the client waits Rm·RTO (Rm = 16) for an answer before giving up: with the
default RTO of 0.5 s the sends happen at 0, 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 s and the
transaction times out at 39.5 s (§6.2.1). Over TCP/TLS the request is sent once and the
transaction times out after Ti = 39.5 s (§6.2.2). ICE checks use a shorter RTO (browsers
start at 0.25 s): pass ``rto``.

:class:`ClientTransaction` is one request; :class:`TransactionTable` is what an ICE
agent or TURN client owns: many transactions keyed by transaction id, one earliest
deadline, transmissions and completion events pulled with ``poll_transmit()`` and
``poll_event()``. Each transaction carries an opaque ``context`` (the owner's own
record: destination, candidate pair, credentials...), handed back with every output.

The round-trip time of a transaction is recorded only when the response answers a
request sent once (Karn's rule: after a retransmission it is unknown which copy was
answered).
"""

from __future__ import annotations

import enum
import heapq
from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

from rtcpeer.errors import InvalidStateError
from rtcpeer.ice.stun import HEADER_LENGTH, StunClass, StunMessage, decode_message_type

__all__ = [
    "DEFAULT_RC",
    "DEFAULT_RM",
    "DEFAULT_RTO",
    "DEFAULT_TI",
    "TRANSITIONS",
    "ClientTransaction",
    "StunTransmit",
    "TransactionEvent",
    "TransactionResponse",
    "TransactionState",
    "TransactionTable",
    "TransactionTimedOut",
]

C = TypeVar("C")
C_co = TypeVar("C_co", covariant=True)  # outputs are read-only: covariant in the context

DEFAULT_RTO = 0.5  # s, RFC 8489 §6.2.1 initial RTO
DEFAULT_RC = 7  # transmissions over UDP
DEFAULT_RM = 16  # final wait, in initial RTOs
DEFAULT_TI = 39.5  # s, reliable-transport timeout (§6.2.2)


class TransactionState(enum.Enum):
    """Life of a client transaction."""

    NEW = "new"
    WAITING = "waiting"  # sent, no response yet
    ANSWERED = "answered"  # a success or error response arrived
    TIMED_OUT = "timed-out"
    CANCELLED = "cancelled"


#: Legal state changes of a :class:`ClientTransaction`.
TRANSITIONS: dict[TransactionState, frozenset[TransactionState]] = {
    TransactionState.NEW: frozenset({TransactionState.WAITING, TransactionState.CANCELLED}),
    TransactionState.WAITING: frozenset(
        {TransactionState.ANSWERED, TransactionState.TIMED_OUT, TransactionState.CANCELLED}
    ),
    TransactionState.ANSWERED: frozenset(),
    TransactionState.TIMED_OUT: frozenset(),
    TransactionState.CANCELLED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class TransactionResponse(Generic[C_co]):
    """A success or error response answered the transaction.

    ``rtt`` is the round-trip time when the request had been sent only once, else
    ``None``; ``elapsed`` is the time since the first transmission either way.
    The owner checks ``response.msg_class`` (and, before handing the response in,
    its MESSAGE-INTEGRITY).
    """

    transaction_id: bytes
    context: C_co
    response: StunMessage
    rtt: float | None
    elapsed: float
    transmissions: int


@dataclass(frozen=True, slots=True)
class TransactionTimedOut(Generic[C_co]):
    """No response came in time: the transaction failed (RFC 8489 §6.2.1, §6.2.2)."""

    transaction_id: bytes
    context: C_co
    transmissions: int


TransactionEvent = TransactionResponse[C] | TransactionTimedOut[C]


@dataclass(frozen=True, slots=True)
class StunTransmit(Generic[C_co]):
    """A (re)transmission the owner must send to wherever ``context`` says."""

    transaction_id: bytes
    data: bytes
    context: C_co


class ClientTransaction(Generic[C]):
    """One STUN request and its retransmission timer (RFC 8489 §6.2.1, §6.2.2).

    ``request`` is the serialized request (it is resent byte for byte). Drive it with
    :meth:`start`, :meth:`handle_timeout` and :meth:`handle_response`; pull
    :meth:`poll_transmit` (bytes to send) and :meth:`poll_event` after each call.
    """

    __slots__ = (
        "_deadline",
        "_events",
        "_interval",
        "_transmits",
        "context",
        "first_sent",
        "max_rto",
        "method",
        "rc",
        "reliable",
        "request",
        "rm",
        "rto",
        "rtt",
        "state",
        "ti",
        "transaction_id",
        "transmissions",
    )

    def __init__(
        self,
        request: bytes,
        context: C,
        *,
        rto: float = DEFAULT_RTO,
        reliable: bool = False,
        rc: int = DEFAULT_RC,
        rm: int = DEFAULT_RM,
        ti: float = DEFAULT_TI,
        max_rto: float | None = None,
    ) -> None:
        if len(request) < HEADER_LENGTH:
            raise ValueError("request must be a serialized STUN message (20+ bytes)")
        method, msg_class = decode_message_type(int.from_bytes(request[:2]))
        if msg_class != StunClass.REQUEST:
            raise ValueError("only requests are transactions; indications are just sent")
        if rto <= 0 or rc < 1 or rm < 0 or ti <= 0:
            raise ValueError("rto and ti must be positive, rc at least 1, rm not negative")
        self.request = bytes(request)
        self.transaction_id = self.request[8:20]
        self.method = method
        self.context = context
        self.rto = rto
        self.reliable = reliable
        self.rc = rc
        self.rm = rm
        self.ti = ti
        self.max_rto = max_rto
        self.state = TransactionState.NEW
        self.transmissions = 0
        self.first_sent: float | None = None
        self.rtt: float | None = None
        self._interval = rto
        self._deadline: float | None = None
        self._transmits: deque[bytes] = deque()
        self._events: deque[TransactionEvent[C]] = deque()

    def _set_state(self, state: TransactionState) -> None:
        if state not in TRANSITIONS[self.state]:
            raise InvalidStateError(
                f"transaction {self.transaction_id.hex()} cannot go from "
                f"{self.state.value} to {state.value}"
            )
        self.state = state

    def _send(self, now: float) -> None:
        self.transmissions += 1
        self._transmits.append(self.request)

    @property
    def done(self) -> bool:
        """Answered, timed out or cancelled."""
        return self.state not in (TransactionState.NEW, TransactionState.WAITING)

    def start(self, now: float) -> None:
        """Send the request for the first time and arm the timer."""
        if self.state is not TransactionState.NEW:
            raise InvalidStateError("start() runs once per transaction; create a new one")
        self._set_state(TransactionState.WAITING)
        self.first_sent = now
        self._send(now)
        self._deadline = now + (self.ti if self.reliable else self.rto)

    def poll_timeout(self) -> float | None:
        """When :meth:`handle_timeout` must next run, or ``None`` once done."""
        return self._deadline

    def handle_timeout(self, now: float) -> None:
        """Retransmit or time out when the deadline has passed; otherwise nothing."""
        deadline = self._deadline
        if deadline is None or now < deadline:
            return
        if self.reliable or self.transmissions >= self.rc:
            self._deadline = None
            self._set_state(TransactionState.TIMED_OUT)
            self._events.append(
                TransactionTimedOut(self.transaction_id, self.context, self.transmissions)
            )
            return
        self._send(now)
        if self.transmissions >= self.rc:
            # The last transmission: wait Rm times the initial RTO (§6.2.1).
            self._deadline = now + self.rm * self.rto
        else:
            self._interval *= 2
            if self.max_rto is not None and self._interval > self.max_rto:
                self._interval = self.max_rto
            self._deadline = now + self._interval

    def handle_response(self, now: float, msg: StunMessage) -> bool:
        """Take a success or error response; ``False`` (and nothing changes) when it is
        not one for this waiting transaction. Verify MESSAGE-INTEGRITY before calling."""
        if (
            self.state is not TransactionState.WAITING
            or msg.transaction_id != self.transaction_id
            or msg.msg_class < StunClass.SUCCESS
            or msg.method != self.method
        ):
            return False
        assert self.first_sent is not None
        self._deadline = None
        self._set_state(TransactionState.ANSWERED)
        elapsed = now - self.first_sent
        if self.transmissions == 1:
            self.rtt = elapsed
        self._events.append(
            TransactionResponse(
                self.transaction_id, self.context, msg, self.rtt, elapsed, self.transmissions
            )
        )
        return True

    def cancel(self) -> None:
        """Stop retransmitting and forget the transaction; no event is queued. A late
        response is then not accepted (RFC 8489 §6.2.1 allows it to be ignored)."""
        if not self.done:
            self._deadline = None
            self._set_state(TransactionState.CANCELLED)

    def poll_transmit(self) -> bytes | None:
        """The next copy of the request to send, or ``None``."""
        return self._transmits.popleft() if self._transmits else None

    def poll_event(self) -> TransactionEvent[C] | None:
        """The completion event once it happened, or ``None``."""
        return self._events.popleft() if self._events else None


class TransactionTable(Generic[C]):
    """Many client transactions keyed by transaction id, with one earliest deadline.

    Defaults (``rto``, ``rc``, ``rm``, ``ti``, ``max_rto``) apply to every transaction
    :meth:`start` creates unless overridden there. Responses are routed by transaction
    id with :meth:`handle_response`; an owner that checks MESSAGE-INTEGRITY looks the
    transaction up with :meth:`get` first (its context knows the key).
    """

    def __init__(
        self,
        *,
        rto: float = DEFAULT_RTO,
        rc: int = DEFAULT_RC,
        rm: int = DEFAULT_RM,
        ti: float = DEFAULT_TI,
        max_rto: float | None = None,
    ) -> None:
        self.rto = rto
        self.rc = rc
        self.rm = rm
        self.ti = ti
        self.max_rto = max_rto
        self._by_id: dict[bytes, ClientTransaction[C]] = {}
        self._heap: list[tuple[float, int, bytes]] = []
        self._seq = 0
        self._transmits: deque[StunTransmit[C]] = deque()
        self._events: deque[TransactionEvent[C]] = deque()

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, transaction_id: object) -> bool:
        return transaction_id in self._by_id

    def get(self, transaction_id: bytes) -> ClientTransaction[C] | None:
        """The pending transaction with this id, or ``None``."""
        return self._by_id.get(transaction_id)

    def pending(self) -> list[ClientTransaction[C]]:
        """Every transaction still waiting, in start order."""
        return list(self._by_id.values())

    def start(
        self,
        now: float,
        request: bytes | StunMessage,
        context: C,
        *,
        reliable: bool = False,
        rto: float | None = None,
        rc: int | None = None,
    ) -> ClientTransaction[C]:
        """Begin a transaction for ``request`` (bytes, or a message serialized as is —
        pass bytes when it needs MESSAGE-INTEGRITY or FINGERPRINT). The first
        transmission is queued at once."""
        data = request.serialize() if isinstance(request, StunMessage) else request
        t: ClientTransaction[C] = ClientTransaction(
            data,
            context,
            rto=self.rto if rto is None else rto,
            reliable=reliable,
            rc=self.rc if rc is None else rc,
            rm=self.rm,
            ti=self.ti,
            max_rto=self.max_rto,
        )
        if t.transaction_id in self._by_id:
            raise ValueError(
                f"transaction {t.transaction_id.hex()} is already pending; "
                "every request needs a fresh transaction id"
            )
        t.start(now)
        self._by_id[t.transaction_id] = t
        self._drain(t)
        self._push(t)
        return t

    def _push(self, t: ClientTransaction[C]) -> None:
        deadline = t.poll_timeout()
        if deadline is not None:
            self._seq += 1
            heapq.heappush(self._heap, (deadline, self._seq, t.transaction_id))

    def _drain(self, t: ClientTransaction[C]) -> None:
        while (data := t.poll_transmit()) is not None:
            self._transmits.append(StunTransmit(t.transaction_id, data, t.context))
        while (event := t.poll_event()) is not None:
            self._events.append(event)

    def _live_top(self) -> tuple[float, ClientTransaction[C]] | None:
        # Heap entries go stale when a transaction is answered, cancelled or rescheduled.
        heap = self._heap
        while heap:
            deadline, _, tid = heap[0]
            t = self._by_id.get(tid)
            if t is not None and t.poll_timeout() == deadline:
                return deadline, t
            heapq.heappop(heap)
        return None

    def poll_timeout(self) -> float | None:
        """The earliest deadline of all pending transactions."""
        top = self._live_top()
        return top[0] if top is not None else None

    def handle_timeout(self, now: float) -> None:
        """Retransmit or time out every transaction whose deadline has passed."""
        while (top := self._live_top()) is not None and top[0] <= now:
            t = top[1]
            heapq.heappop(self._heap)
            t.handle_timeout(now)
            self._drain(t)
            if t.done:
                del self._by_id[t.transaction_id]
            else:
                self._push(t)

    def handle_response(self, now: float, msg: StunMessage) -> ClientTransaction[C] | None:
        """Route a response to its transaction. Returns the transaction it completed, or
        ``None`` when it matches none (a stray or late response: drop it)."""
        t = self._by_id.get(msg.transaction_id)
        if t is None or not t.handle_response(now, msg):
            return None
        del self._by_id[t.transaction_id]
        self._drain(t)
        return t

    def cancel(self, transaction_id: bytes) -> bool:
        """Forget a pending transaction (no event); ``False`` when unknown."""
        t = self._by_id.pop(transaction_id, None)
        if t is None:
            return False
        t.cancel()
        return True

    def cancel_all(self) -> None:
        """Forget every pending transaction and queued transmission."""
        for t in self._by_id.values():
            t.cancel()
        self._by_id.clear()
        self._heap.clear()
        self._transmits.clear()

    def poll_transmit(self) -> StunTransmit[C] | None:
        """The next request copy to send, or ``None``."""
        return self._transmits.popleft() if self._transmits else None

    def poll_event(self) -> TransactionEvent[C] | None:
        """The next completion event, or ``None``."""
        return self._events.popleft() if self._events else None
