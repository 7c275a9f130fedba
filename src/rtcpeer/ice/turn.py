"""A TURN client (RFC 8656) for one allocation, sans-IO.

:class:`TurnClient` holds one allocation on one TURN server, reached from one local
socket (the *base*). It speaks STUN to the server through :meth:`poll_transmit` /
:meth:`handle_receive` and turns the allocation into a relayed address for ICE:

- Allocate with long-term credentials (§7.2, RFC 8489 §9.2): the first request goes
  without credentials, the 401 names the REALM and NONCE, the retry is signed. A
  ``438 Stale Nonce`` on any request refreshes the nonce and retries once;
  ``300 Try Alternate`` moves to the ALTERNATE-SERVER once.
- Refresh (§8) a minute before the lifetime runs out; :meth:`release` sends a Refresh
  with LIFETIME 0 (§8: deleting the allocation).
- Permissions (§9) per peer IP, requested by :meth:`permit` and refreshed every
  four minutes while the peer is in use (they last five); data for a peer whose
  permission is still pending waits (bounded) until it is installed.
- Channels (§12): :meth:`bind_channel` binds a channel to a peer; once bound, data
  to and from that peer travels as 4-byte-header ChannelData instead of Send/Data
  indications (36 bytes of headers). Bindings are refreshed before their 10 minutes.
- Data: :meth:`send` wraps a datagram for a peer; :meth:`handle_receive` unwraps
  Data indications and ChannelData into ``(peer, payload)``.

Over TCP or TLS (``transport="tcp"``) the same messages travel on a stream: requests
are sent once (RFC 8489 §6.2.2), ChannelData is padded to 4 bytes (§12.5), and
:meth:`handle_receive` takes stream bytes in any chunking. The shell owns the
connection; the client only frames.

Time is ``now`` (seconds) passed in; randomness (transaction ids) comes from the
injected ``rng``.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Final, Literal

from rtcpeer.datagram import Address
from rtcpeer.ice.stun import (
    AttrType,
    ChannelData,
    StunClass,
    StunMessage,
    StunMethod,
    StunParseError,
    is_stun,
    long_term_key,
    new_transaction_id,
    stream_frame_length,
)
from rtcpeer.ice.transaction import TransactionResponse, TransactionTable, TransactionTimedOut

__all__ = [
    "TurnAllocated",
    "TurnClient",
    "TurnEvent",
    "TurnFailed",
    "TurnServerConfig",
    "TurnState",
]

TurnState = Literal["new", "allocating", "allocated", "failed", "released"]
Transport = Literal["udp", "tcp"]
#: How the client reaches the server, for ICE's ``relayProtocol``.
RelayProtocol = Literal["udp", "tcp", "tls"]

_TRANSPORT_UDP: Final = 17  # REQUESTED-TRANSPORT: IANA protocol number (§18.11)
_DEFAULT_LIFETIME: Final = 600
_PERMISSION_REFRESH: Final = 240.0  # permissions last 300 s (§9)
_CHANNEL_REFRESH: Final = 540.0  # channel bindings last 600 s (§12)
_FIRST_CHANNEL: Final = 0x4000
_LAST_CHANNEL: Final = 0x4FFE
_MAX_QUEUED_PER_PEER: Final = 16
_MAX_STREAM_BUFFER: Final = 1 << 17
_SOFTWARE: Final = "rtcpeer"


@dataclass(frozen=True, slots=True)
class TurnAllocated:
    """The allocation exists: ``relayed`` is the relayed transport address (the relay
    candidate), ``mapped`` the client's address as the server saw it."""

    relayed: Address
    mapped: Address | None
    lifetime: int


@dataclass(frozen=True, slots=True)
class TurnFailed:
    """Allocating (or keeping) the allocation failed; W3C ``icecandidateerror``
    carries ``code`` and ``reason`` (701 when the server never answered)."""

    code: int
    reason: str


TurnEvent = TurnAllocated | TurnFailed


@dataclass(frozen=True, slots=True)
class TurnServerConfig:
    """A resolved TURN server for the ICE agent: where, how, and who we are there."""

    server: Address
    username: str
    password: str
    url: str = ""
    transport: RelayProtocol = "udp"


@dataclass(slots=True)
class _Permission:
    state: Literal["pending", "installed", "failed"] = "pending"
    refresh_at: float | None = None
    in_flight: bool = False
    queued: deque[tuple[Address, bytes]] = field(default_factory=deque)


@dataclass(slots=True)
class _Channel:
    number: int
    peer: Address
    bound: bool = False
    refresh_at: float | None = None


@dataclass(frozen=True, slots=True)
class _Request:
    """What a pending transaction was for, to act on its answer."""

    kind: Literal["allocate", "refresh", "permission", "channel"]
    message: StunMessage
    peer_ip: str | None = None
    channel: int | None = None
    #: Retried once already after a 438 (stale nonce) or 401.
    retried: bool = False


class TurnClient:
    """One TURN allocation from ``base`` on ``server``, sans-IO."""

    def __init__(
        self,
        *,
        server: Address,
        base: Address,
        username: str,
        password: str,
        url: str = "",
        transport: Transport = "udp",
        rng: random.Random | None = None,
        lifetime: int = _DEFAULT_LIFETIME,
        rto: float = 0.25,
    ) -> None:
        self.server = server
        self.base = base
        self.url = url
        self.transport: Transport = transport
        #: ``tls`` when the shell wraps the TCP stream in TLS (only reported).
        self.relay_protocol: RelayProtocol = transport
        self.username = username
        self._password = password
        self.rng = rng if rng is not None else random.Random()
        self.requested_lifetime = lifetime
        self.state: TurnState = "new"
        self.relayed: Address | None = None
        self.mapped: Address | None = None
        self.lifetime = 0
        self.realm: str | None = None
        self.nonce: bytes | None = None
        self._key: bytes | None = None
        self._refresh_at: float | None = None
        self._transactions: TransactionTable[_Request] = TransactionTable(rto=rto)
        self._transmits: deque[bytes] = deque()
        self._events: deque[TurnEvent] = deque()
        self._permissions: dict[str, _Permission] = {}
        self._channels: dict[Address, _Channel] = {}
        self._channel_peers: dict[int, Address] = {}
        self._next_channel = _FIRST_CHANNEL
        self._stream = bytearray()
        self._alternate_tried = False
        #: Inputs dropped: malformed, unknown transaction, unauthenticated, no permission.
        self.dropped = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, now: float) -> None:
        """Send the first Allocate request (without credentials, §7.2)."""
        if self.state != "new":
            raise ValueError(f"start() needs a new TURN client; it is {self.state}")
        self.state = "allocating"
        self._allocate(now)

    def _allocate(self, now: float) -> None:
        request = StunMessage(StunMethod.ALLOCATE, StunClass.REQUEST, self._tid())
        request.add(AttrType.REQUESTED_TRANSPORT, _TRANSPORT_UDP)
        request.add(AttrType.LIFETIME, self.requested_lifetime)
        self._start(now, _Request("allocate", request))

    def release(self, now: float) -> None:
        """Delete the allocation (Refresh with LIFETIME 0, §8); nothing more is sent
        after it. The datagram is queued for :meth:`poll_transmit`."""
        if self.state == "allocated":
            request = StunMessage(StunMethod.REFRESH, StunClass.REQUEST, self._tid())
            request.add(AttrType.LIFETIME, 0)
            self._transmits.append(self._sign(request))
        self._transactions.cancel_all()
        self._stop_refreshing()
        self.state = "released"

    # -- data -----------------------------------------------------------------------------

    def permit(self, now: float, peer_ip: str) -> None:
        """Ask for (or keep) a permission for ``peer_ip`` (§9.1); idempotent."""
        if self.state != "allocated":
            self._permissions.setdefault(peer_ip, _Permission())
            return
        permission = self._permissions.get(peer_ip)
        if permission is None:
            permission = self._permissions[peer_ip] = _Permission()
        elif permission.state == "installed" or permission.in_flight:
            return
        self._create_permission(now, peer_ip)

    def bind_channel(self, now: float, peer: Address) -> None:
        """Bind a channel to ``peer`` (§12.1) so data uses ChannelData; idempotent."""
        if self.state != "allocated" or peer in self._channels:
            return
        if self._next_channel > _LAST_CHANNEL:
            return  # all 4095 channels taken: keep using indications
        channel = _Channel(self._next_channel, peer)
        self._next_channel += 1
        self._channels[peer] = channel
        self._channel_peers[channel.number] = peer
        self._channel_bind(now, channel)

    def send(self, now: float, peer: Address, data: bytes) -> None:
        """Relay ``data`` to ``peer``: ChannelData on a bound channel, else a Send
        indication (§11.1). Waits for the peer's permission when it is pending."""
        if self.state != "allocated":
            self.dropped += 1
            return
        channel = self._channels.get(peer)
        if channel is not None and channel.bound:
            self._transmits.append(
                ChannelData(channel.number, data).serialize(pad=self.transport == "tcp")
            )
            return
        permission = self._permissions.get(peer[0])
        if permission is None:
            self.permit(now, peer[0])
            permission = self._permissions[peer[0]]
        if permission.state == "pending":
            if len(permission.queued) < _MAX_QUEUED_PER_PEER:
                permission.queued.append((peer, data))
            else:
                self.dropped += 1
            return
        if permission.state == "failed":
            self.dropped += 1
            return
        self._transmits.append(self._send_indication(peer, data))

    def _send_indication(self, peer: Address, data: bytes) -> bytes:
        indication = StunMessage(StunMethod.SEND, StunClass.INDICATION, self._tid())
        indication.add(AttrType.XOR_PEER_ADDRESS, peer)
        indication.add(AttrType.DATA, data)
        return indication.serialize()

    def handle_receive(self, now: float, data: bytes) -> list[tuple[Address, bytes]]:
        """Feed what the server sent (one datagram, or stream bytes over TCP).
        Returns the relayed ``(peer, payload)`` datagrams it carried."""
        if self.transport == "tcp":
            return self._handle_stream(now, data)
        out: list[tuple[Address, bytes]] = []
        self._handle_frame(now, data, out)
        return out

    def _handle_stream(self, now: float, data: bytes) -> list[tuple[Address, bytes]]:
        stream = self._stream
        stream += data
        out: list[tuple[Address, bytes]] = []
        while True:
            try:
                length = stream_frame_length(stream)
            except StunParseError:
                # Neither STUN nor ChannelData: the stream is out of step, drop it all.
                self.dropped += 1
                stream.clear()
                break
            if length is None or length > len(stream):
                if len(stream) > _MAX_STREAM_BUFFER:
                    self.dropped += 1
                    stream.clear()
                break
            frame = bytes(stream[:length])
            del stream[:length]
            self._handle_frame(now, frame, out)
        return out

    def _handle_frame(self, now: float, data: bytes, out: list[tuple[Address, bytes]]) -> None:
        if data and 0x40 <= data[0] <= 0x4F:
            try:
                channel_data = ChannelData.parse(data)
            except StunParseError:
                self.dropped += 1
                return
            peer = self._channel_peers.get(channel_data.channel)
            if peer is None:
                self.dropped += 1
                return
            out.append((peer, channel_data.data))
            return
        if not is_stun(data):
            self.dropped += 1
            return
        try:
            message = StunMessage.parse(data)
        except StunParseError:
            self.dropped += 1
            return
        if message.msg_class == StunClass.INDICATION:
            if message.method == StunMethod.DATA:
                peers = message.xor_peer_addresses
                payload = message.data
                if peers and payload is not None and peers[0][0] in self._permissions:
                    out.append((peers[0], payload))
                    return
            self.dropped += 1
            return
        if message.is_response:
            self._handle_response(now, message)
            return
        self.dropped += 1

    # -- timers and outputs -----------------------------------------------------------------

    def poll_timeout(self) -> float | None:
        best = self._transactions.poll_timeout()
        for deadline in self._deadlines():
            if best is None or deadline < best:
                best = deadline
        return best

    def _deadlines(self) -> list[float]:
        if self.state != "allocated":
            return []  # refreshes only make sense for a live allocation
        out = [self._refresh_at] if self._refresh_at is not None else []
        out.extend(p.refresh_at for p in self._permissions.values() if p.refresh_at is not None)
        out.extend(c.refresh_at for c in self._channels.values() if c.refresh_at is not None)
        return out

    def handle_timeout(self, now: float) -> None:
        self._transactions.handle_timeout(now)
        self._drain_transactions(now)
        if self.state != "allocated":
            return
        if self._refresh_at is not None and now >= self._refresh_at:
            self._refresh_at = None
            request = StunMessage(StunMethod.REFRESH, StunClass.REQUEST, self._tid())
            request.add(AttrType.LIFETIME, self.requested_lifetime)
            self._start(now, _Request("refresh", request))
        for ip, permission in self._permissions.items():
            if permission.refresh_at is not None and now >= permission.refresh_at:
                permission.refresh_at = None
                self._create_permission(now, ip)
        for channel in self._channels.values():
            if channel.refresh_at is not None and now >= channel.refresh_at:
                channel.refresh_at = None
                self._channel_bind(now, channel)

    def poll_transmit(self) -> bytes | None:
        """Next message for the server (a datagram, or stream bytes over TCP)."""
        return self._transmits.popleft() if self._transmits else None

    def poll_event(self) -> TurnEvent | None:
        return self._events.popleft() if self._events else None

    # -- requests ---------------------------------------------------------------------------

    def _tid(self) -> bytes:
        return new_transaction_id(self.rng)

    def _sign(self, request: StunMessage) -> bytes:
        """Add the long-term credential attributes (RFC 8489 §9.2.4) and serialize."""
        if self._key is None or self.realm is None or self.nonce is None:
            return request.serialize(fingerprint=True)
        for attr in (AttrType.USERNAME, AttrType.REALM, AttrType.NONCE, AttrType.SOFTWARE):
            request.remove(attr)
        request.add(AttrType.USERNAME, self.username)
        request.add(AttrType.REALM, self.realm)
        request.add(AttrType.NONCE, self.nonce)
        request.add(AttrType.SOFTWARE, _SOFTWARE)
        return request.serialize(self._key, fingerprint=True)

    def _start(self, now: float, request: _Request) -> None:
        self._transactions.start(
            now, self._sign(request.message), request, reliable=self.transport == "tcp"
        )
        self._drain_transactions(now)

    def _retry(self, now: float, request: _Request) -> None:
        """Send the same request again, signed with what we know now, new id."""
        message = request.message
        fresh = StunMessage(
            message.method, StunClass.REQUEST, self._tid(), list(message.attributes)
        )
        self._start(
            now,
            _Request(request.kind, fresh, request.peer_ip, request.channel, retried=True),
        )

    def _create_permission(self, now: float, peer_ip: str) -> None:
        permission = self._permissions.get(peer_ip)
        if permission is not None:
            permission.in_flight = True
        request = StunMessage(StunMethod.CREATE_PERMISSION, StunClass.REQUEST, self._tid())
        request.add(AttrType.XOR_PEER_ADDRESS, (peer_ip, 0))  # the port is ignored (§9.1)
        self._start(now, _Request("permission", request, peer_ip=peer_ip))

    def _channel_bind(self, now: float, channel: _Channel) -> None:
        request = StunMessage(StunMethod.CHANNEL_BIND, StunClass.REQUEST, self._tid())
        request.add(AttrType.CHANNEL_NUMBER, channel.number)
        request.add(AttrType.XOR_PEER_ADDRESS, channel.peer)
        self._start(now, _Request("channel", request, channel=channel.number))

    def _drain_transactions(self, now: float) -> None:
        table = self._transactions
        while (transmit := table.poll_transmit()) is not None:
            self._transmits.append(transmit.data)
        while (event := table.poll_event()) is not None:
            if isinstance(event, TransactionTimedOut):
                self._on_timeout(event.context)

    def _on_timeout(self, request: _Request) -> None:
        if request.kind == "allocate" or request.kind == "refresh":
            self._fail(701, f"the TURN server {self.server[0]}:{self.server[1]} did not answer")
        elif request.kind == "permission" and request.peer_ip is not None:
            self._permission_failed(request.peer_ip)
        elif request.kind == "channel" and request.channel is not None:
            self._forget_channel(request.channel)

    def _forget_channel(self, number: int) -> None:
        """The binding failed or could not be refreshed: back to Send/Data
        indications for that peer (the server's binding expires on its own)."""
        peer = self._channel_peers.pop(number, None)
        if peer is not None:
            self._channels.pop(peer, None)

    def _handle_response(self, now: float, response: StunMessage) -> None:
        transaction = self._transactions.get(response.transaction_id)
        if transaction is None:
            self.dropped += 1
            return
        if self._key is not None and not response.check_integrity(self._key):
            # RFC 8489 §9.2.5: once signed, only 401/438 may come unsigned (they carry a
            # new nonce/realm); anything else unsigned could be forged (a 437 killing
            # the allocation, a 300 moving us to an attacker's server): let it time out.
            error = response.error_code if response.msg_class == StunClass.ERROR else None
            if error is None or error.code not in (401, 438):
                self.dropped += 1
                return
        self._transactions.handle_response(now, response)
        while (event := self._transactions.poll_event()) is not None:
            if isinstance(event, TransactionResponse):
                self._on_response(now, event.context, event.response)
            else:
                self._on_timeout(event.context)
        self._drain_transactions(now)

    def _on_response(self, now: float, request: _Request, response: StunMessage) -> None:
        if response.msg_class == StunClass.ERROR:
            self._on_error(now, request, response)
            return
        if request.kind == "allocate":
            relayed = response.xor_relayed_addresses
            if not relayed:
                self._fail(600, "the Allocate response has no XOR-RELAYED-ADDRESS")
                return
            self.relayed = relayed[0]
            self.mapped = response.xor_mapped_address
            self.lifetime = response.lifetime or self.requested_lifetime
            self.state = "allocated"
            self._schedule_refresh(now)
            self._events.append(TurnAllocated(self.relayed, self.mapped, self.lifetime))
            for ip in list(self._permissions):
                self._create_permission(now, ip)
        elif request.kind == "refresh":
            self.lifetime = response.lifetime or self.requested_lifetime
            self._schedule_refresh(now)
        elif request.kind == "permission" and request.peer_ip is not None:
            permission = self._permissions.get(request.peer_ip)
            if permission is None:
                return
            permission.in_flight = False
            permission.state = "installed"
            permission.refresh_at = now + _PERMISSION_REFRESH
            queued, permission.queued = permission.queued, deque()
            for peer, data in queued:
                self.send(now, peer, data)
        elif request.kind == "channel" and request.channel is not None:
            bound_peer = self._channel_peers.get(request.channel)
            channel = self._channels.get(bound_peer) if bound_peer is not None else None
            if channel is None:
                return
            channel.bound = True
            channel.refresh_at = now + _CHANNEL_REFRESH
            # A channel binding installs (and refreshes) the peer's permission (§12.2).
            permission = self._permissions.setdefault(channel.peer[0], _Permission())
            if permission.state != "installed":
                permission.state = "installed"
                permission.refresh_at = now + _PERMISSION_REFRESH
                queued, permission.queued = permission.queued, deque()
                for queued_peer, data in queued:
                    self.send(now, queued_peer, data)

    def _on_error(self, now: float, request: _Request, response: StunMessage) -> None:
        error = response.error_code
        code = error.code if error is not None else 600
        reason = error.reason if error is not None else "no ERROR-CODE"
        if code in (401, 438) and not request.retried:
            realm = response.realm
            nonce = response.nonce
            if nonce is not None and (realm is not None or self.realm is not None):
                # 401: learn REALM/NONCE and sign; 438: the nonce went stale (§9.2.5).
                if realm is not None and realm != self.realm:
                    self.realm = realm
                    self._key = long_term_key(self.username, realm, self._password)
                self.nonce = nonce
                self._retry(now, request)
                return
        if (
            code == 300
            and request.kind == "allocate"
            and not self._alternate_tried
            and self.transport == "udp"  # a stream is connected to this server only
        ):
            alternate = response.alternate_server
            if alternate is not None:
                # §7.2: start over with the alternate server, same credentials.
                self._alternate_tried = True
                self.server = alternate
                self.realm = self.nonce = self._key = None
                self._allocate(now)
                return
        if request.kind in ("allocate", "refresh"):
            if request.kind == "refresh" and code == 437:
                reason = "the allocation expired on the server"
            self._fail(code, reason)
        elif request.kind == "permission" and request.peer_ip is not None:
            self._permission_failed(request.peer_ip)
        elif request.kind == "channel" and request.channel is not None:
            self._forget_channel(request.channel)

    def _permission_failed(self, peer_ip: str) -> None:
        permission = self._permissions.get(peer_ip)
        if permission is not None:
            permission.in_flight = False
            permission.state = "failed"
            permission.refresh_at = None
            self.dropped += len(permission.queued)
            permission.queued.clear()

    def _schedule_refresh(self, now: float) -> None:
        # A minute early, or at half the lifetime when that is short.
        lead = 60.0 if self.lifetime > 120 else self.lifetime / 2
        self._refresh_at = now + self.lifetime - lead

    def lost(self, reason: str) -> None:
        """The shell lost the connection to the server (TCP/TLS): the allocation is
        gone with it (RFC 8656 §3.1)."""
        self._fail(701, reason)

    def _stop_refreshing(self) -> None:
        self._refresh_at = None
        for permission in self._permissions.values():
            permission.refresh_at = None
        for channel in self._channels.values():
            channel.refresh_at = None

    def _fail(self, code: int, reason: str) -> None:
        if self.state in ("failed", "released"):
            return
        self.state = "failed"
        self._stop_refreshing()
        self._transactions.cancel_all()
        self._events.append(TurnFailed(code, reason))
