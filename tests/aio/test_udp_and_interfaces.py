from __future__ import annotations

import asyncio

import pytest

from rtcpeer.aio.interfaces import ENV_HOST_ADDRESSES, host_addresses
from rtcpeer.aio.udp import UdpSocket
from rtcpeer.datagram import Address


async def test_batches_arrive_in_order_on_loopback() -> None:
    received: list[tuple[bytes, Address]] = []
    batches: list[int] = []
    done = asyncio.Event()

    def on_batch(batch: list[tuple[bytes, Address]]) -> None:
        batches.append(len(batch))
        received.extend(batch)
        if len(received) >= 2000:
            done.set()

    server = UdpSocket.bind("127.0.0.1", 0, on_batch)
    client = UdpSocket.bind("127.0.0.1", 0, lambda batch: None)
    try:
        for i in range(2000):
            client.sendto(i.to_bytes(4, "big"), server.local_address)
        await asyncio.wait_for(done.wait(), 5.0)
        assert [int.from_bytes(d, "big") for d, _ in received] == list(range(2000))
        assert all(addr == client.local_address for _, addr in received)
        assert max(batches) > 1  # several datagrams per wake-up
    finally:
        server.close()
        client.close()


async def test_ipv6_loopback() -> None:
    got = asyncio.get_running_loop().create_future()
    try:
        server = UdpSocket.bind("::1", 0, lambda batch: got.set_result(batch))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    client = UdpSocket.bind("::1", 0, lambda batch: None)
    try:
        client.sendto(b"hi", server.local_address)
        batch = await asyncio.wait_for(got, 2.0)
        assert batch == [(b"hi", client.local_address)]
        assert client.local_address[0] == "::1"
    finally:
        server.close()
        client.close()


def test_host_addresses_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_HOST_ADDRESSES, "127.0.0.1, ::1")
    assert host_addresses() == ["127.0.0.1", "::1"]
    assert host_addresses(["127.0.0.2"]) == ["127.0.0.2"]
    monkeypatch.delenv(ENV_HOST_ADDRESSES)
    found = host_addresses()
    assert "127.0.0.1" not in found and "::1" not in found
    assert not any(a.startswith("fe80") for a in found)


def test_bad_host_address_is_a_type_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TypeError, match="hostAddresses"):
        host_addresses(["localhost"])
    monkeypatch.setenv(ENV_HOST_ADDRESSES, "1.2.3")
    with pytest.raises(TypeError, match=ENV_HOST_ADDRESSES):
        host_addresses()
