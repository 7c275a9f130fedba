"""W3C ``RTCDataChannel`` over the sans-IO data channel core."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rtcpeer.aio.events import EventTarget
from rtcpeer.errors import RTCError
from rtcpeer.sctp.datachannel import Channel

if TYPE_CHECKING:
    from rtcpeer.aio.peerconnection import RTCPeerConnection

__all__ = [
    "DCEP_PRIORITIES",
    "MessageEvent",
    "RTCDataChannel",
    "RTCDataChannelEvent",
    "RTCErrorEvent",
]

logger = logging.getLogger(__name__)

#: Messages (and bytes) a peer-opened channel keeps while nobody listens for them.
_HELD_LIMIT = 4096
_HELD_BYTES = 1 << 20

#: W3C ``RTCPriorityType`` -> DCEP priority (WebRTC Priority Control, RFC 8832 §5.1).
DCEP_PRIORITIES: dict[str, int] = {"very-low": 128, "low": 256, "medium": 512, "high": 1024}


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """``message``: ``data`` is ``str`` for text messages and ``bytes`` for binary."""

    type: str
    data: str | bytes
    target: Any = None


@dataclass(frozen=True, slots=True)
class RTCDataChannelEvent:
    """``datachannel`` on the peer connection: ``channel`` is the new channel."""

    type: str
    channel: RTCDataChannel
    target: Any = None


@dataclass(frozen=True, slots=True)
class RTCErrorEvent:
    type: str
    error: RTCError
    target: Any = None


@dataclass(frozen=True, slots=True)
class _Event:
    type: str
    target: Any = None


class RTCDataChannel(EventTarget):
    """A bidirectional message channel (W3C webrtc-pc §6.2).

    Create with ``pc.createDataChannel(label, ...)`` or receive in ``ondatachannel``.
    ``send(str)`` arrives as ``str``, ``send(bytes)`` as ``bytes``.
    """

    _event_types: ClassVar[frozenset[str]] = frozenset(
        {"open", "message", "bufferedamountlow", "error", "closing", "close"}
    )

    def __init__(self, pc: RTCPeerConnection, channel: Channel) -> None:
        super().__init__()
        self._pc = pc
        self._channel = channel
        self._binary_type = "arraybuffer"
        # Messages that arrive before anyone listens (see _hold_messages).
        self._held: list[MessageEvent] | None = None
        self._held_bytes = 0
        self._flush_scheduled = False

    # -- attributes ---------------------------------------------------------------------

    @property
    def label(self) -> str:
        return self._channel.label

    @property
    def ordered(self) -> bool:
        return self._channel.ordered

    @property
    def maxPacketLifeTime(self) -> int | None:
        return self._channel.max_packet_lifetime

    @property
    def maxRetransmits(self) -> int | None:
        return self._channel.max_retransmits

    @property
    def protocol(self) -> str:
        return self._channel.protocol

    @property
    def negotiated(self) -> bool:
        return self._channel.negotiated

    @property
    def id(self) -> int | None:
        return self._channel.id

    @property
    def readyState(self) -> str:
        return self._channel.state

    @property
    def bufferedAmount(self) -> int:
        """Bytes given to :meth:`send` and not yet sent on the wire."""
        return self._pc._connection.channels.buffered_amount(self._channel)

    @property
    def bufferedAmountLowThreshold(self) -> int:
        return self._channel.low_threshold

    @bufferedAmountLowThreshold.setter
    def bufferedAmountLowThreshold(self, value: int) -> None:
        self._pc._connection.channels.set_buffered_amount_low_threshold(self._channel, value)

    @property
    def binaryType(self) -> str:
        """Binary messages are always ``bytes`` in Python; kept for browser code."""
        return self._binary_type

    @binaryType.setter
    def binaryType(self, value: str) -> None:
        if value not in ("arraybuffer", "blob"):
            raise ValueError("binaryType is 'arraybuffer' or 'blob'")
        self._binary_type = value

    @property
    def priority(self) -> str:
        """W3C ``RTCPriorityType`` from the DCEP priority (RFC 8832 §5.1): both ends
        see what the opener asked for."""
        value = self._channel.priority
        for name, level in DCEP_PRIORITIES.items():
            if value <= level:
                return name
        return "high"

    # -- methods ------------------------------------------------------------------------

    def send(self, data: str | bytes | bytearray | memoryview) -> None:
        """Queue a message. ``InvalidStateError`` unless ``open``; ``TypeError`` if
        larger than the peer's max-message-size."""
        pc = self._pc
        pc._connection.channels.send(pc._driver_now(), self._channel, data)
        pc._kick()

    def close(self) -> None:
        """Start the closing procedure (``closing`` now, ``close`` event later)."""
        pc = self._pc
        if pc._closed:
            return
        pc._connection.channels.close(pc._driver_now(), self._channel)
        pc._kick()

    # -- dispatch from the peer connection -------------------------------------------------

    def _fire(self, type_: str) -> None:
        if self._held and type_ in ("closing", "close"):
            self._flush_held()  # messages come before the channel says it closes
        self.dispatchEvent(_Event(type_, self))

    def _hold_messages(self) -> None:
        """A channel the peer opened: its first messages may arrive in the same batch
        as its DCEP OPEN, before an ``async def ondatachannel`` handler (which runs as
        a task) had a chance to set ``onmessage``. They are kept (up to 4096
        messages and 1 MiB) until a message handler is registered, then delivered
        in order, and before the channel's ``closing``/``error``/``close``."""
        self._held = []

    def _fire_message(self, data: str | bytes) -> None:
        event = MessageEvent("message", data, self)
        held = self._held
        if held is not None:
            if held or not self._has_message_listener():
                if len(held) < _HELD_LIMIT and self._held_bytes + len(data) <= _HELD_BYTES:
                    held.append(event)
                    self._held_bytes += len(data)
                    return
                logger.warning(
                    "%r: %d messages arrived and nobody listens; set onmessage",
                    self,
                    len(held) + 1,
                )
                self._flush_held()
            else:
                self._held = None
        self.dispatchEvent(event)

    def _has_message_listener(self) -> bool:
        return self._handlers.get("message") is not None or bool(self._listeners.get("message"))

    def _listener_added(self, event_type: str) -> None:
        if event_type != "message" or self._held is None:
            return
        if not self._held:
            self._held = None
        elif not self._flush_scheduled:
            # After the registering code returns (it may set more handlers first).
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_held)

    def _flush_held(self) -> None:
        held, self._held = self._held or [], None
        self._held_bytes = 0
        for event in held:
            self.dispatchEvent(event)

    def _fire_error(self, error: RTCError) -> None:
        if self._held:
            self._flush_held()
        self.dispatchEvent(RTCErrorEvent("error", error, self))

    def __repr__(self) -> str:
        return f"<RTCDataChannel {self.label!r} id={self.id} {self.readyState}>"
