"""A small TURN server (RFC 8656, UDP) for simulated networks.

:class:`TurnServer` is a :class:`~rtcpeer.testing.simulator.Endpoint`: put it on a
public host of a :class:`~rtcpeer.testing.simulator.Simulator` and ICE agents behind
any NAT can relay through it. It implements what a client needs to be tested against:
long-term credentials with a nonce that can be made to go stale, Allocate (one
relayed port on the server's IP per client 5-tuple), Refresh (LIFETIME 0 deletes),
CreatePermission and ChannelBind with their lifetimes, Send/Data indications and
ChannelData both ways. Relayed traffic to a peer without a permission is dropped and
counted, as a real server does. It is for tests, not for production: no quotas, no
TCP, no IPv6 relaying policy, no rate limits.
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Final

from rtcpeer.datagram import Address, Datagram
from rtcpeer.ice.stun import (
    AttrType,
    AttrValue,
    ChannelData,
    StunClass,
    StunMessage,
    StunMethod,
    StunParseError,
    is_stun,
    long_term_key,
)

__all__ = ["TurnServer"]

_PERMISSION_LIFETIME: Final = 300.0
_CHANNEL_LIFETIME: Final = 600.0
_MAX_LIFETIME: Final = 3600


@dataclass(slots=True)
class _Allocation:
    client: Address
    relayed: Address
    username: str
    expires: float
    permissions: dict[str, float] = field(default_factory=dict)
    channels: dict[int, tuple[Address, float]] = field(default_factory=dict)
    channel_of: dict[Address, int] = field(default_factory=dict)


class TurnServer:
    """A TURN server listening on ``address`` (UDP) in simulated time."""

    def __init__(
        self,
        address: Address,
        users: dict[str, str],
        *,
        realm: str = "rtcpeer.test",
        first_relay_port: int = 49152,
        nonce_lifetime: float = 3600.0,
    ) -> None:
        self.address = address
        self.users = dict(users)
        self.realm = realm
        self.nonce_lifetime = nonce_lifetime
        self._next_port = first_relay_port
        self._nonce = secrets.token_hex(8).encode()
        self._nonce_at = 0.0
        self._allocations: dict[Address, _Allocation] = {}
        self._by_relay: dict[Address, _Allocation] = {}
        self._out: deque[Datagram] = deque()
        #: Counters for assertions.
        self.allocations_made = 0
        self.refreshes = 0
        self.permissions_created = 0
        self.channels_bound = 0
        self.stale_nonces = 0
        self.unauthorized = 0
        self.relayed_to_peers = 0
        self.relayed_to_clients = 0
        self.dropped_no_permission = 0
        self.dropped = 0

    # -- Endpoint -----------------------------------------------------------------------

    def handle_datagram(self, now: float, datagram: Datagram) -> None:
        self._expire(now)
        if datagram.dst == self.address:
            self._from_client(now, datagram)
            return
        allocation = self._by_relay.get(datagram.dst)
        if allocation is None:
            self.dropped += 1
            return
        self._from_peer(now, allocation, datagram)

    def poll_datagram(self) -> Datagram | None:
        return self._out.popleft() if self._out else None

    def poll_timeout(self) -> float | None:
        return None  # expiry is checked lazily, on the next datagram

    def handle_timeout(self, now: float) -> None:
        self._expire(now)

    # -- what tests may poke --------------------------------------------------------------

    def rotate_nonce(self, now: float) -> None:
        """Make the current nonce stale: the next signed request gets a 438."""
        self._nonce = secrets.token_hex(8).encode()
        self._nonce_at = now

    def allocation_for(self, client: Address) -> _Allocation | None:
        return self._allocations.get(client)

    @property
    def allocations(self) -> list[_Allocation]:
        return list(self._allocations.values())

    # -- internals ---------------------------------------------------------------------------

    def _expire(self, now: float) -> None:
        if now - self._nonce_at > self.nonce_lifetime:
            self.rotate_nonce(now)
        for client, allocation in list(self._allocations.items()):
            if now >= allocation.expires:
                self._delete(client)

    def _delete(self, client: Address) -> None:
        allocation = self._allocations.pop(client, None)
        if allocation is not None:
            self._by_relay.pop(allocation.relayed, None)

    def _from_peer(self, now: float, allocation: _Allocation, datagram: Datagram) -> None:
        expiry = allocation.permissions.get(datagram.src[0])
        if expiry is None or now >= expiry:
            self.dropped_no_permission += 1
            return
        self.relayed_to_clients += 1
        number = allocation.channel_of.get(datagram.src)
        if number is not None and allocation.channels[number][1] > now:
            payload = ChannelData(number, datagram.data).serialize()
        else:
            indication = StunMessage(StunMethod.DATA, StunClass.INDICATION)
            indication.add(AttrType.XOR_PEER_ADDRESS, datagram.src)
            indication.add(AttrType.DATA, datagram.data)
            payload = indication.serialize()
        self._out.append(Datagram(self.address, allocation.client, payload))

    def _from_client(self, now: float, datagram: Datagram) -> None:
        data = datagram.data
        client = datagram.src
        if data and 0x40 <= data[0] <= 0x4F:
            allocation = self._allocations.get(client)
            try:
                message = ChannelData.parse(data)
            except StunParseError:
                self.dropped += 1
                return
            channel = allocation.channels.get(message.channel) if allocation else None
            if allocation is None or channel is None or channel[1] <= now:
                self.dropped += 1
                return
            self._relay(now, allocation, channel[0], message.data)
            return
        if not is_stun(data):
            self.dropped += 1
            return
        try:
            request = StunMessage.parse(data)
        except StunParseError:
            self.dropped += 1
            return
        if request.msg_class == StunClass.INDICATION and request.method == StunMethod.SEND:
            allocation = self._allocations.get(client)
            peers = request.xor_peer_addresses
            payload = request.data
            if allocation is None or not peers or payload is None:
                self.dropped += 1
                return
            self._relay(now, allocation, peers[0], payload)
            return
        if request.msg_class != StunClass.REQUEST:
            self.dropped += 1
            return
        if request.method == StunMethod.BINDING:
            self._reply(client, request.success_response([(AttrType.XOR_MAPPED_ADDRESS, client)]))
            return
        key = self._authenticate(client, request)
        if key is None:
            return
        if request.method == StunMethod.ALLOCATE:
            self._allocate(now, client, request, key)
        elif request.method == StunMethod.REFRESH:
            self._refresh(now, client, request, key)
        elif request.method == StunMethod.CREATE_PERMISSION:
            self._create_permission(now, client, request, key)
        elif request.method == StunMethod.CHANNEL_BIND:
            self._channel_bind(now, client, request, key)
        else:
            self._reply(client, request.error_response(400), key)

    def _relay(self, now: float, allocation: _Allocation, peer: Address, payload: bytes) -> None:
        expiry = allocation.permissions.get(peer[0])
        if expiry is None or now >= expiry:
            self.dropped_no_permission += 1
            return
        self.relayed_to_peers += 1
        self._out.append(Datagram(allocation.relayed, peer, payload))

    def _authenticate(self, client: Address, request: StunMessage) -> bytes | None:
        username = request.username
        nonce = request.nonce
        challenge: list[tuple[int, AttrValue]] = [
            (AttrType.REALM, self.realm),
            (AttrType.NONCE, self._nonce),
        ]
        if username is None or nonce is None or request.realm is None:
            self.unauthorized += 1
            self._reply(client, request.error_response(401, attributes=challenge))
            return None
        password = self.users.get(username)
        if password is None:
            self.unauthorized += 1
            self._reply(client, request.error_response(401, attributes=challenge))
            return None
        key = long_term_key(username, self.realm, password)
        if not request.check_integrity(key):
            self.unauthorized += 1
            self._reply(client, request.error_response(401, attributes=challenge))
            return None
        if nonce != self._nonce:
            self.stale_nonces += 1
            self._reply(client, request.error_response(438, attributes=challenge))
            return None
        return key

    def _reply(self, client: Address, response: StunMessage, key: bytes | None = None) -> None:
        self._out.append(Datagram(self.address, client, response.serialize(key, fingerprint=True)))

    def _allocate(self, now: float, client: Address, request: StunMessage, key: bytes) -> None:
        if client in self._allocations:
            self._reply(client, request.error_response(437), key)
            return
        if request.get_int(AttrType.REQUESTED_TRANSPORT) != 17:
            self._reply(client, request.error_response(442), key)
            return
        lifetime = min(request.lifetime or 600, _MAX_LIFETIME)
        relayed = (self.address[0], self._next_port)
        self._next_port += 1
        allocation = _Allocation(client, relayed, request.username or "", now + lifetime)
        self._allocations[client] = allocation
        self._by_relay[relayed] = allocation
        self.allocations_made += 1
        response = request.success_response(
            [
                (AttrType.XOR_RELAYED_ADDRESS, relayed),
                (AttrType.LIFETIME, lifetime),
                (AttrType.XOR_MAPPED_ADDRESS, client),
            ]
        )
        self._reply(client, response, key)

    def _refresh(self, now: float, client: Address, request: StunMessage, key: bytes) -> None:
        allocation = self._allocations.get(client)
        if allocation is None:
            self._reply(client, request.error_response(437), key)
            return
        lifetime = request.lifetime
        lifetime = 600 if lifetime is None else min(lifetime, _MAX_LIFETIME)
        self.refreshes += 1
        if lifetime == 0:
            self._delete(client)
        else:
            allocation.expires = now + lifetime
        self._reply(client, request.success_response([(AttrType.LIFETIME, lifetime)]), key)

    def _create_permission(
        self, now: float, client: Address, request: StunMessage, key: bytes
    ) -> None:
        allocation = self._allocations.get(client)
        peers = request.xor_peer_addresses
        if allocation is None:
            self._reply(client, request.error_response(437), key)
            return
        if not peers:
            self._reply(client, request.error_response(400), key)
            return
        for peer in peers:
            allocation.permissions[peer[0]] = now + _PERMISSION_LIFETIME
        self.permissions_created += 1
        self._reply(client, request.success_response(), key)

    def _channel_bind(self, now: float, client: Address, request: StunMessage, key: bytes) -> None:
        allocation = self._allocations.get(client)
        number = request.channel_number
        peers = request.xor_peer_addresses
        if allocation is None:
            self._reply(client, request.error_response(437), key)
            return
        if number is None or not 0x4000 <= number <= 0x4FFE or not peers:
            self._reply(client, request.error_response(400), key)
            return
        peer = peers[0]
        bound = allocation.channels.get(number)
        if (bound is not None and bound[0] != peer) or allocation.channel_of.get(peer, number) != (
            number
        ):
            self._reply(client, request.error_response(400), key)
            return
        allocation.channels[number] = (peer, now + _CHANNEL_LIFETIME)
        allocation.channel_of[peer] = number
        allocation.permissions[peer[0]] = now + _PERMISSION_LIFETIME
        self.channels_bound += 1
        self._reply(client, request.success_response(), key)
