"""Data channels on an SCTP association (RFC 8831, RFC 8832, W3C webrtc-pc §6), sans-IO.

:class:`DataChannels` owns every channel of one peer connection: stream-id allocation
by DTLS role (client even, server odd; RFC 8832 §6), in-band negotiation (DCEP
OPEN/ACK) or ``negotiated`` channels, the W3C ``readyState`` machine, message framing
by PPID (string, binary, and the empty variants), the remote ``max-message-size``, and
closing by stream reset (RFC 8831 §6.7) so that ids are reused.

The association is attached once DTLS is up (``attach``); channels created before
that wait in ``connecting`` and get their id then.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final, Literal

from rtcpeer.errors import InvalidStateError, OperationError, RTCError
from rtcpeer.sctp import events as sctp_events
from rtcpeer.sctp.association import Association
from rtcpeer.sctp.dcep import (
    PPID_BINARY,
    PPID_BINARY_EMPTY,
    PPID_BINARY_PARTIAL,
    PPID_DCEP,
    PPID_STRING,
    PPID_STRING_EMPTY,
    PPID_STRING_PARTIAL,
    DataChannelAck,
    DataChannelOpen,
    DcepParseError,
    parse_dcep,
)

__all__ = [
    "Channel",
    "ChannelAnnounced",
    "ChannelBufferedAmountLow",
    "ChannelClosed",
    "ChannelClosing",
    "ChannelError",
    "ChannelEvent",
    "ChannelMessage",
    "ChannelOpened",
    "ChannelState",
    "DataChannels",
]

ChannelState = Literal["connecting", "open", "closing", "closed"]

_TRANSITIONS: Final[dict[ChannelState, frozenset[ChannelState]]] = {
    "connecting": frozenset({"open", "closing", "closed"}),
    "open": frozenset({"closing", "closed"}),
    "closing": frozenset({"closed"}),
    "closed": frozenset(),
}
_MAX_ID: Final = 65534
_MAX_LABEL: Final = 65535


@dataclass(eq=False, slots=True)
class Channel:
    """One data channel's core state (the W3C object wraps it)."""

    label: str
    protocol: str = ""
    ordered: bool = True
    max_retransmits: int | None = None
    max_packet_lifetime: int | None = None  # milliseconds, as W3C
    negotiated: bool = False
    id: int | None = None
    priority: int = 256
    state: ChannelState = "connecting"
    remote: bool = False
    #: Our outgoing / the peer's incoming stream direction has been reset.
    outgoing_reset: bool = False
    incoming_reset: bool = False
    low_threshold: int = 0
    messages_sent: int = 0
    messages_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    _ack_pending: bool = field(default=False, repr=False)
    _reset_requested: bool = field(default=False, repr=False)


@dataclass(frozen=True, slots=True)
class ChannelAnnounced:
    """The peer opened a channel in-band (W3C ``datachannel`` event)."""

    channel: Channel


@dataclass(frozen=True, slots=True)
class ChannelOpened:
    channel: Channel


@dataclass(frozen=True, slots=True)
class ChannelMessage:
    channel: Channel
    data: str | bytes


@dataclass(frozen=True, slots=True)
class ChannelBufferedAmountLow:
    channel: Channel


@dataclass(frozen=True, slots=True)
class ChannelClosing:
    """The peer started closing the channel (W3C ``closing``)."""

    channel: Channel


@dataclass(frozen=True, slots=True)
class ChannelClosed:
    channel: Channel


@dataclass(frozen=True, slots=True)
class ChannelError:
    """The channel closed because of a failure (W3C ``error`` with an RTCError)."""

    channel: Channel
    error: RTCError


ChannelEvent = (
    ChannelAnnounced
    | ChannelOpened
    | ChannelMessage
    | ChannelBufferedAmountLow
    | ChannelClosing
    | ChannelClosed
    | ChannelError
)


class DataChannels:
    """All data channels of a connection, over one (later attached) association."""

    def __init__(self, *, max_channels: int = 65535) -> None:
        self.max_channels = max_channels
        self.association: Association | None = None
        self.dtls_role: Literal["client", "server"] | None = None
        self.remote_max_message_size: int = 65536
        self.connected = False
        self.closed = False
        self._by_id: dict[int, Channel] = {}
        self._pending: list[Channel] = []  # no id yet (DTLS role unknown)
        self._events: deque[ChannelEvent] = deque()
        self.opened_total = 0
        self.closed_total = 0
        self.dropped_messages = 0

    # -- creation -------------------------------------------------------------------------

    def create(
        self,
        now: float,
        label: str,
        *,
        ordered: bool = True,
        max_retransmits: int | None = None,
        max_packet_lifetime: int | None = None,
        protocol: str = "",
        negotiated: bool = False,
        id: int | None = None,
        priority: int = 256,
    ) -> Channel:
        """W3C ``createDataChannel`` steps 3-15: validate, then add the channel."""
        if self.closed:
            raise InvalidStateError("the peer connection is closed")
        if len(label.encode()) > _MAX_LABEL:
            raise TypeError("label is longer than 65535 bytes")
        if len(protocol.encode()) > _MAX_LABEL:
            raise TypeError("protocol is longer than 65535 bytes")
        if max_retransmits is not None and max_packet_lifetime is not None:
            raise TypeError("set maxRetransmits or maxPacketLifeTime, not both")
        for name, value in (
            ("maxRetransmits", max_retransmits),
            ("maxPacketLifeTime", max_packet_lifetime),
        ):
            if value is not None and not 0 <= value <= 65535:
                # WebIDL unsigned short: clamp is not applied, out of range is a TypeError.
                raise TypeError(f"{name} must be from 0 to 65535, got {value}")
        if negotiated and id is None:
            raise TypeError("a negotiated channel needs an id")
        if not negotiated:
            id = None  # W3C RTCDataChannelInit: id is ignored unless negotiated
        if id is not None:
            if not 0 <= id <= _MAX_ID:
                raise TypeError(f"id must be from 0 to 65534, got {id}")
            if id in self._by_id:
                raise OperationError(f"data channel id {id} is already in use")
        if len(self._by_id) + len(self._pending) >= self.max_channels:
            raise OperationError("no data channel ids are left")
        channel = Channel(
            label,
            protocol,
            ordered,
            max_retransmits,
            max_packet_lifetime,
            negotiated,
            id,
            priority,
        )
        if id is not None:
            self._by_id[id] = channel
        elif self.dtls_role is not None:
            channel.id = self._allocate_id()
            self._by_id[channel.id] = channel
        else:
            self._pending.append(channel)
        if self.connected and self.association is not None:
            self._open(now, channel)
        return channel

    def _allocate_id(self) -> int:
        start = 0 if self.dtls_role == "client" else 1
        for candidate in range(start, _MAX_ID + 1, 2):
            if candidate not in self._by_id:
                return candidate
        raise OperationError("no data channel ids are left")

    # -- association lifecycle ----------------------------------------------------------------

    def set_dtls_role(self, role: Literal["client", "server"]) -> None:
        """Assign ids to channels created before the role was known (W3C: when the
        SCTP transport's DTLS role is known)."""
        if self.dtls_role == role:
            return
        self.dtls_role = role
        pending, self._pending = self._pending, []
        for channel in pending:
            if channel.state == "closed":
                continue
            channel.id = self._allocate_id()
            self._by_id[channel.id] = channel

    def attach(
        self,
        association: Association,
        role: Literal["client", "server"],
        remote_max_message_size: int | None,
    ) -> None:
        self.association = association
        self.set_dtls_role(role)
        # RFC 8841 §6: no a=max-message-size means 64 KiB; 0 means "no limit", so
        # what we can send in one message is what our send buffer holds.
        if remote_max_message_size is None:
            self.remote_max_message_size = 65536
        elif remote_max_message_size == 0:
            self.remote_max_message_size = association.max_send_buffer
        else:
            self.remote_max_message_size = remote_max_message_size
        association.max_send_message_size = self.remote_max_message_size

    def _open(self, now: float, channel: Channel) -> None:
        association = self.association
        assert association is not None and channel.id is not None
        if channel.low_threshold:
            association.set_buffered_amount_low_threshold(channel.id, channel.low_threshold)
        if not channel.negotiated and not channel.remote:
            open_message = DataChannelOpen(
                channel.label,
                channel.protocol,
                channel.ordered,
                channel.max_retransmits,
                channel.max_packet_lifetime,
                channel.priority,
            )
            association.send(now, channel.id, PPID_DCEP, open_message.serialize(), counted=False)
            channel._ack_pending = True
        self._set_state(channel, "open")
        self.opened_total += 1
        self._events.append(ChannelOpened(channel))

    def handle_event(self, now: float, event: sctp_events.Event) -> None:
        """Feed an association event; data channel events follow."""
        if isinstance(event, sctp_events.MessageReceived):
            self._on_message(now, event)
        elif isinstance(event, sctp_events.Connected):
            self.connected = True
            for channel in list(self._by_id.values()):
                if channel.state == "connecting":
                    self._open(now, channel)
        elif isinstance(event, sctp_events.BufferedAmountLow):
            low = self._by_id.get(event.stream_id)
            if low is not None and low.state in ("open", "closing"):
                self._events.append(ChannelBufferedAmountLow(low))
        elif isinstance(event, sctp_events.StreamsReset):
            self._on_reset(now, event)
        elif isinstance(event, (sctp_events.Closed, sctp_events.Aborted)):
            error = None
            if isinstance(event, sctp_events.Aborted):
                error = RTCError(
                    f"the SCTP association ended: {event.reason or 'aborted'}",
                    error_detail="sctp-failure",
                    sctp_cause_code=event.cause_code,
                )
            self._close_all(error)
        elif isinstance(event, sctp_events.Restarted):
            self._close_all(
                RTCError("the peer restarted the SCTP association", error_detail="sctp-failure")
            )

    def _on_message(self, now: float, event: sctp_events.MessageReceived) -> None:
        sid = event.stream_id
        ppid = event.ppid
        if ppid == PPID_DCEP:
            self._on_dcep(now, sid, event.data)
            return
        channel = self._by_id.get(sid)
        if channel is None or channel.state not in ("open", "closing") or channel.incoming_reset:
            self.dropped_messages += 1
            return
        data: str | bytes
        if ppid in (PPID_STRING, PPID_STRING_PARTIAL):
            try:
                data = event.data.decode()
            except UnicodeDecodeError:
                self.dropped_messages += 1
                return
        elif ppid in (PPID_BINARY, PPID_BINARY_PARTIAL):
            data = event.data
        elif ppid == PPID_STRING_EMPTY:
            data = ""
        elif ppid == PPID_BINARY_EMPTY:
            data = b""
        else:
            self.dropped_messages += 1
            return
        channel._ack_pending = False  # RFC 8832 §6: data implies the open was seen
        channel.messages_received += 1
        channel.bytes_received += len(event.data)
        self._events.append(ChannelMessage(channel, data))

    def _on_dcep(self, now: float, sid: int, payload: bytes) -> None:
        try:
            message = parse_dcep(payload)
        except DcepParseError:
            self.dropped_messages += 1
            return
        association = self.association
        if isinstance(message, DataChannelAck):
            channel = self._by_id.get(sid)
            if channel is not None:
                channel._ack_pending = False
            return
        existing = self._by_id.get(sid)
        if existing is not None:
            # A channel already uses this id (e.g. negotiated on both ends): ignore.
            self.dropped_messages += 1
            return
        if association is None:
            return
        channel = Channel(
            message.label,
            message.protocol,
            message.ordered,
            message.max_retransmits,
            message.max_packet_lifetime,
            False,
            sid,
            message.priority,
            remote=True,
        )
        self._by_id[sid] = channel
        association.send(now, sid, PPID_DCEP, DataChannelAck().serialize(), counted=False)
        self._events.append(ChannelAnnounced(channel))
        self._set_state(channel, "open")
        self.opened_total += 1
        self._events.append(ChannelOpened(channel))

    def _on_reset(self, now: float, event: sctp_events.StreamsReset) -> None:
        for sid in event.incoming:
            channel = self._by_id.get(sid)
            if channel is None:
                continue
            channel.incoming_reset = True
            if channel.state == "open":
                # The peer closed: W3C "closing", then reset our side too.
                self._set_state(channel, "closing")
                self._events.append(ChannelClosing(channel))
            if not channel.outgoing_reset and not channel._reset_requested:
                self._request_reset(now, channel)
            self._maybe_closed(channel)
        for sid in event.outgoing:
            channel = self._by_id.get(sid)
            if channel is None:
                continue
            channel.outgoing_reset = True
            self._maybe_closed(channel)

    def _request_reset(self, now: float, channel: Channel) -> None:
        association = self.association
        assert association is not None and channel.id is not None
        channel._reset_requested = True
        try:
            association.reset_streams(now, [channel.id])
        except (InvalidStateError, OperationError, ValueError):
            channel.outgoing_reset = True
        except Exception:  # NotSupportedError: the peer cannot reset streams
            channel.outgoing_reset = channel.incoming_reset = True

    def _maybe_closed(self, channel: Channel) -> None:
        if channel.outgoing_reset and channel.incoming_reset and channel.state != "closed":
            self._finish(channel, None)

    def _finish(self, channel: Channel, error: RTCError | None) -> None:
        if channel.state == "closed":
            return
        if error is not None:
            self._events.append(ChannelError(channel, error))
        self._set_state(channel, "closed")
        self.closed_total += 1
        if channel.id is not None and self._by_id.get(channel.id) is channel:
            del self._by_id[channel.id]  # the id may be reused now
        self._events.append(ChannelClosed(channel))

    def _close_all(self, error: RTCError | None) -> None:
        self.connected = False
        association = self.association
        for channel in list(self._by_id.values()) + self._pending:
            reported = error if channel.state in ("open", "closing") else None
            if reported is not None and association is not None and channel.id is not None:
                lost = association.undelivered(channel.id)
                if lost:
                    # What never reached the peer is part of the report (W3C closing
                    # procedure); bufferedAmount still shows the part never sent.
                    reported = RTCError(
                        f"{reported.message}; {lost} bytes on this channel never reached "
                        "the peer (queued, or sent and not acknowledged)",
                        error_detail=reported.errorDetail,
                        sctp_cause_code=reported.sctpCauseCode,
                    )
            self._finish(channel, reported)
        self._pending.clear()

    # -- user operations ---------------------------------------------------------------------

    def send(
        self, now: float, channel: Channel, data: str | bytes | bytearray | memoryview
    ) -> None:
        """W3C ``send()``: InvalidStateError unless open; TypeError over the remote
        max-message-size."""
        if channel.state != "open":
            raise InvalidStateError(
                f"data channel {channel.label!r} is {channel.state}; wait for 'open' before send()"
            )
        association = self.association
        assert association is not None and channel.id is not None
        if isinstance(data, str):
            payload = data.encode()
            ppid = PPID_STRING if payload else PPID_STRING_EMPTY
        elif isinstance(data, (bytes, bytearray, memoryview)):
            payload = bytes(data)
            ppid = PPID_BINARY if payload else PPID_BINARY_EMPTY
        else:
            raise TypeError(f"send() takes str or bytes, got {type(data).__name__}")
        if len(payload) > self.remote_max_message_size:
            raise TypeError(
                f"message of {len(payload)} bytes exceeds the peer's max-message-size "
                f"{self.remote_max_message_size}; split it"
            )
        counted = bool(payload)
        if not counted:
            # RFC 8831 §6.6: empty messages carry one byte, which W3C's
            # bufferedAmount does not count (the message is zero bytes long).
            payload = b"\x00"
        lifetime = (
            channel.max_packet_lifetime / 1000.0
            if channel.max_packet_lifetime is not None
            else None
        )
        association.send(
            now,
            channel.id,
            ppid,
            payload,
            # RFC 8832 §6: ordered until the ACK (or any data) shows the peer has the open.
            ordered=channel.ordered or channel._ack_pending,
            max_retransmits=channel.max_retransmits,
            max_lifetime=lifetime,
            counted=counted,
        )
        channel.messages_sent += 1
        channel.bytes_sent += len(payload) if counted else 0

    def close(self, now: float, channel: Channel) -> None:
        """W3C ``close()``: closing now, closed once both stream directions are reset."""
        if channel.state in ("closing", "closed"):
            return
        association = self.association
        if association is None or channel.id is None or not self.connected:
            if channel in self._pending:
                self._pending.remove(channel)
            self._finish(channel, None)
            return
        self._set_state(channel, "closing")
        self._request_reset(now, channel)
        self._maybe_closed(channel)

    def buffered_amount(self, channel: Channel) -> int:
        association = self.association
        if association is None or channel.id is None:
            return 0
        return association.buffered_amount(channel.id)

    def set_buffered_amount_low_threshold(self, channel: Channel, threshold: int) -> None:
        if not 0 <= threshold <= 0xFFFFFFFF:
            raise TypeError("bufferedAmountLowThreshold is an unsigned long")
        channel.low_threshold = threshold
        if self.association is not None and channel.id is not None:
            self.association.set_buffered_amount_low_threshold(channel.id, threshold)

    def close_all(self) -> None:
        """The peer connection closed: every channel is closed, without error."""
        self.closed = True
        self._close_all(None)

    @property
    def channels(self) -> list[Channel]:
        return list(self._by_id.values()) + list(self._pending)

    def poll_event(self) -> ChannelEvent | None:
        return self._events.popleft() if self._events else None

    def _set_state(self, channel: Channel, state: ChannelState) -> None:
        if state == channel.state:
            return
        if state not in _TRANSITIONS[channel.state]:
            raise AssertionError(f"data channel {channel.state} -> {state}")
        channel.state = state
