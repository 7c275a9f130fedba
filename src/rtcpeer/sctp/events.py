"""Events an :class:`~rtcpeer.sctp.association.Association` queues for its owner.

Drained with ``Association.poll_event()``; all are frozen slotted dataclasses.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "Aborted",
    "AssociationState",
    "BufferedAmountLow",
    "Closed",
    "Connected",
    "Event",
    "MessageReceived",
    "Restarted",
    "StateChanged",
    "StreamResetFailed",
    "StreamsReset",
]


class AssociationState(enum.Enum):
    """The association states of RFC 9260 §4."""

    CLOSED = "closed"
    COOKIE_WAIT = "cookie-wait"
    COOKIE_ECHOED = "cookie-echoed"
    ESTABLISHED = "established"
    SHUTDOWN_PENDING = "shutdown-pending"
    SHUTDOWN_SENT = "shutdown-sent"
    SHUTDOWN_RECEIVED = "shutdown-received"
    SHUTDOWN_ACK_SENT = "shutdown-ack-sent"


@dataclass(frozen=True, slots=True)
class StateChanged:
    """The association moved to ``state``."""

    state: AssociationState


@dataclass(frozen=True, slots=True)
class Connected:
    """The association is established (COOKIE ECHO / COOKIE ACK done): data may flow."""


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A complete user message arrived on ``stream_id`` (reassembled, in order if ordered)."""

    stream_id: int
    ppid: int
    data: bytes
    unordered: bool = False


@dataclass(frozen=True, slots=True)
class StreamsReset:
    """Streams were reset (RFC 6525).

    ``incoming``: the peer reset its outgoing side of these streams (all its data on them
    up to the reset has been delivered); for a data channel this is the remote close.
    ``outgoing``: our own reset request for these streams succeeded; their SSNs start at
    0 again and the ids may be reused once both directions are reset.
    """

    incoming: tuple[int, ...] = ()
    outgoing: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class StreamResetFailed:
    """The peer refused our reset request for ``stream_ids`` (``result``, RFC 6525 §4.4)."""

    stream_ids: tuple[int, ...]
    result: int


@dataclass(frozen=True, slots=True)
class BufferedAmountLow:
    """The bytes queued on ``stream_id`` and not yet sent fell to its low threshold."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class Restarted:
    """The peer restarted the association (RFC 9260 §5.2.4 action A): all streams are
    new, queued and in-flight data of the old incarnation is gone."""


@dataclass(frozen=True, slots=True)
class Closed:
    """The association closed gracefully (SHUTDOWN sequence, RFC 9260 §9.2)."""


@dataclass(frozen=True, slots=True)
class Aborted:
    """The association ended abruptly.

    ``by_peer``: an ABORT arrived; otherwise we aborted (``abort()`` or a failure such
    as too many retransmissions, in which case ``reason`` says which). ``cause_code`` is
    the first error cause's code (RFC 9260 §3.3.10), if any.
    """

    reason: str
    by_peer: bool
    cause_code: int | None = None


Event = (
    StateChanged
    | Connected
    | MessageReceived
    | StreamsReset
    | StreamResetFailed
    | BufferedAmountLow
    | Restarted
    | Closed
    | Aborted
)
