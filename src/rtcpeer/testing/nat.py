"""A NAT model with the behaviours RFC 4787 names, for ICE tests in simulated time.

Mapping behaviour (RFC 4787 §4.1) decides when an outbound datagram reuses an
external port: *endpoint-independent* (one mapping per internal address, whatever the
destination: a "full cone" / "restricted cone" NAT), *address-dependent* (one per
destination IP), *address-and-port-dependent* (one per destination IP and port: the
"symmetric" NAT that defeats server-reflexive candidates and needs TURN).

Filtering behaviour (RFC 4787 §5) decides which inbound datagrams pass: from anyone
(endpoint-independent), only from IPs the mapping has sent to (address-dependent), or
only from IP *and* port pairs it has sent to (address-and-port-dependent).

Bindings expire ``binding_timeout`` seconds after the last outbound datagram (RFC 4787
REQ-6: outbound refresh; inbound refresh is optional and off by default, as on most
NATs). Time is an argument; external ports are drawn from the NAT's ``rng``.
Hairpinning (REQ-9) is supported when ``hairpinning=True``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum

from rtcpeer.datagram import Address, Datagram

__all__ = ["Nat", "NatBehavior", "NatStats"]


class NatBehavior(Enum):
    """RFC 4787 mapping or filtering behaviour."""

    ENDPOINT_INDEPENDENT = "endpoint-independent"
    ADDRESS_DEPENDENT = "address-dependent"
    ADDRESS_AND_PORT_DEPENDENT = "address-and-port-dependent"


@dataclass(slots=True)
class NatStats:
    translated_out: int = 0
    translated_in: int = 0
    filtered_in: int = 0
    no_binding_in: int = 0
    bindings_created: int = 0
    bindings_expired: int = 0


@dataclass(slots=True)
class _Binding:
    internal: Address
    external_port: int
    last_outbound: float
    # Remote endpoints this binding has sent to, for filtering.
    contacted: set[Address] = field(default_factory=set)
    contacted_ips: set[str] = field(default_factory=set)


class Nat:
    """A NAT between a private realm and the public one, with one public IP."""

    def __init__(
        self,
        public_ip: str,
        *,
        mapping: NatBehavior = NatBehavior.ENDPOINT_INDEPENDENT,
        filtering: NatBehavior = NatBehavior.ADDRESS_AND_PORT_DEPENDENT,
        binding_timeout: float = 120.0,
        inbound_refresh: bool = False,
        hairpinning: bool = False,
        rng: random.Random | None = None,
        seed: int | None = None,
        port_range: tuple[int, int] = (49152, 65535),
    ) -> None:
        if rng is None:
            if seed is None:
                raise TypeError("Nat needs a seed or an rng, so that runs are repeatable")
            rng = random.Random(seed)
        self.public_ip = public_ip
        self.mapping = mapping
        self.filtering = filtering
        self.binding_timeout = binding_timeout
        self.inbound_refresh = inbound_refresh
        self.hairpinning = hairpinning
        self.rng = rng
        self.port_range = port_range
        self.stats = NatStats()
        self._by_key: dict[tuple[Address, str | None, int | None], _Binding] = {}
        self._by_port: dict[int, _Binding] = {}

    def _key(self, internal: Address, remote: Address) -> tuple[Address, str | None, int | None]:
        if self.mapping is NatBehavior.ENDPOINT_INDEPENDENT:
            return (internal, None, None)
        if self.mapping is NatBehavior.ADDRESS_DEPENDENT:
            return (internal, remote[0], None)
        return (internal, remote[0], remote[1])

    def _alive(self, binding: _Binding, now: float) -> bool:
        if now - binding.last_outbound <= self.binding_timeout:
            return True
        self._drop(binding)
        return False

    def _drop(self, binding: _Binding) -> None:
        self.stats.bindings_expired += 1
        self._by_port.pop(binding.external_port, None)
        for key, value in list(self._by_key.items()):
            if value is binding:
                del self._by_key[key]

    def _allocate_port(self) -> int:
        low, high = self.port_range
        for _ in range(10_000):
            port = self.rng.randint(low, high)
            if port not in self._by_port:
                return port
        raise RuntimeError("NAT model ran out of external ports")

    def outbound(self, now: float, datagram: Datagram) -> Datagram:
        """Translate a datagram leaving the private realm (creating or refreshing a binding)."""
        key = self._key(datagram.src, datagram.dst)
        binding = self._by_key.get(key)
        if binding is None or not self._alive(binding, now):
            binding = _Binding(datagram.src, self._allocate_port(), now)
            self._by_key[key] = binding
            self._by_port[binding.external_port] = binding
            self.stats.bindings_created += 1
        binding.last_outbound = now
        binding.contacted.add(datagram.dst)
        binding.contacted_ips.add(datagram.dst[0])
        self.stats.translated_out += 1
        return Datagram((self.public_ip, binding.external_port), datagram.dst, datagram.data)

    def inbound(self, now: float, datagram: Datagram) -> Datagram | None:
        """Translate a datagram arriving at the public IP, or None if the NAT drops it."""
        binding = self._by_port.get(datagram.dst[1])
        if binding is None or not self._alive(binding, now):
            self.stats.no_binding_in += 1
            return None
        if self.filtering is NatBehavior.ADDRESS_DEPENDENT:
            allowed = datagram.src[0] in binding.contacted_ips
        elif self.filtering is NatBehavior.ADDRESS_AND_PORT_DEPENDENT:
            allowed = datagram.src in binding.contacted
        else:
            allowed = True
        if not allowed:
            self.stats.filtered_in += 1
            return None
        if self.inbound_refresh:
            binding.last_outbound = now
        self.stats.translated_in += 1
        return Datagram(datagram.src, binding.internal, datagram.data)

    def external_address(self, internal: Address, remote: Address) -> Address | None:
        """The public address ``internal`` currently has towards ``remote`` (for tests)."""
        binding = self._by_key.get(self._key(internal, remote))
        return None if binding is None else (self.public_ip, binding.external_port)

    @property
    def binding_count(self) -> int:
        return len(self._by_port)
