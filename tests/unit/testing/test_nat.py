from __future__ import annotations

import pytest

from rtcpeer.datagram import Datagram
from rtcpeer.testing import Nat, NatBehavior

EI = NatBehavior.ENDPOINT_INDEPENDENT
AD = NatBehavior.ADDRESS_DEPENDENT
APD = NatBehavior.ADDRESS_AND_PORT_DEPENDENT

INSIDE = ("10.0.0.2", 5000)
S1 = ("192.0.2.1", 3478)
S1_OTHER_PORT = ("192.0.2.1", 3479)
S2 = ("192.0.2.2", 3478)


def out(nat: Nat, dst: tuple[str, int], now: float = 0.0) -> tuple[str, int]:
    return nat.outbound(now, Datagram(INSIDE, dst, b"x")).src


@pytest.mark.parametrize(
    ("mapping", "same_port_other_ip", "same_ip_other_port"),
    [(EI, True, True), (AD, False, True), (APD, False, False)],
)
def test_mapping_behaviour(
    mapping: NatBehavior, same_port_other_ip: bool, same_ip_other_port: bool
) -> None:
    nat = Nat("198.51.100.1", mapping=mapping, seed=1)
    first = out(nat, S1)
    assert first[0] == "198.51.100.1"
    assert out(nat, S1) == first  # same destination always reuses
    assert (out(nat, S2) == first) is same_port_other_ip
    assert (out(nat, S1_OTHER_PORT) == first) is same_ip_other_port


@pytest.mark.parametrize(
    ("filtering", "from_other_ip", "from_other_port"),
    [(EI, True, True), (AD, False, True), (APD, False, False)],
)
def test_filtering_behaviour(
    filtering: NatBehavior, from_other_ip: bool, from_other_port: bool
) -> None:
    nat = Nat("198.51.100.1", mapping=EI, filtering=filtering, seed=1)
    public = out(nat, S1)
    back = nat.inbound(0.1, Datagram(S1, public, b"r"))
    assert back is not None and back.dst == INSIDE and back.src == S1
    assert (nat.inbound(0.1, Datagram(S2, public, b"r")) is not None) is from_other_ip
    assert (nat.inbound(0.1, Datagram(S1_OTHER_PORT, public, b"r")) is not None) is from_other_port


def test_unknown_port_dropped() -> None:
    nat = Nat("198.51.100.1", filtering=EI, seed=1)
    assert nat.inbound(0.0, Datagram(S1, ("198.51.100.1", 40000), b"r")) is None
    assert nat.stats.no_binding_in == 1


def test_binding_expires_without_outbound_refresh() -> None:
    nat = Nat("198.51.100.1", binding_timeout=30.0, seed=1)
    public = out(nat, S1, now=0.0)
    # Inbound traffic does not keep it alive (inbound refresh off).
    assert nat.inbound(20.0, Datagram(S1, public, b"r")) is not None
    assert nat.inbound(31.0, Datagram(S1, public, b"r")) is None
    assert nat.stats.bindings_expired == 1
    assert nat.binding_count == 0


def test_outbound_refresh_keeps_binding() -> None:
    nat = Nat("198.51.100.1", binding_timeout=30.0, seed=1)
    public = out(nat, S1, now=0.0)
    for t in range(10, 100, 10):
        assert out(nat, S1, now=float(t)) == public
    assert nat.inbound(115.0, Datagram(S1, public, b"r")) is not None


def test_new_mapping_after_expiry_gets_new_port_usually() -> None:
    nat = Nat("198.51.100.1", binding_timeout=1.0, seed=1)
    first = out(nat, S1, now=0.0)
    second = out(nat, S1, now=5.0)
    assert nat.stats.bindings_created == 2
    assert first != second
