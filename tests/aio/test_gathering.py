"""Gathering over real loopback sockets: the candidate pool gathers before any
description, and slow server names never hold back host candidates."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rtcpeer import RTCPeerConnection
from rtcpeer.ice.stun import AttrType, StunMessage


class StunResponder(asyncio.DatagramProtocol):
    """A Binding server on 127.0.0.1 that notes when each request came."""

    def __init__(self) -> None:
        self.requests: list[float] = []
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request = StunMessage.parse(data)
        self.requests.append(asyncio.get_running_loop().time())
        response = request.success_response([(AttrType.XOR_MAPPED_ADDRESS, addr)])
        assert self.transport is not None
        self.transport.sendto(response.serialize(fingerprint=True), addr)


async def stun_server() -> tuple[StunResponder, int]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        StunResponder, local_addr=("127.0.0.1", 0)
    )
    assert isinstance(protocol, StunResponder)
    return protocol, transport.get_extra_info("sockname")[1]


def record(pc: RTCPeerConnection) -> list[tuple[str, Any]]:
    log: list[tuple[str, Any]] = []
    pc.onicecandidate = lambda e: log.append(("candidate", e.candidate))
    pc.onicegatheringstatechange = lambda e: log.append(("gathering", pc.iceGatheringState))
    return log


async def test_candidate_pool_gathers_before_any_description() -> None:
    responder, port = await stun_server()
    pc = RTCPeerConnection(
        {"iceServers": [{"urls": f"stun:127.0.0.1:{port}"}], "iceCandidatePoolSize": 1}
    )
    log = record(pc)
    try:
        for _ in range(200):
            if responder.requests:
                break
            await asyncio.sleep(0.01)
        # The STUN server was asked before any description existed...
        assert responder.requests
        await asyncio.sleep(0.05)
        # ...but nothing surfaced: the pool holds its candidates until SLD.
        assert log == [] and pc.iceGatheringState == "new"
        pc.createDataChannel("x")
        await pc.setLocalDescription()
        assert log == []  # events fire after setLocalDescription resolves
        for _ in range(200):
            if ("candidate", None) in log:
                break
            await asyncio.sleep(0.01)
        kinds = [k for k, _ in log]
        assert kinds[0] == "gathering" and log[0][1] == "gathering"
        assert log[-2:] == [("gathering", "complete"), ("candidate", None)]
        hosts = [c for k, c in log if k == "candidate" and c is not None]
        assert hosts and all(c.type == "host" for c in hosts)
        assert len(responder.requests) == 1  # no second round of gathering
    finally:
        await pc.close()


async def test_slow_dns_never_delays_host_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    resolved = asyncio.Event()
    original = loop.getaddrinfo

    async def slow_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "stun.slow.test":
            await asyncio.sleep(0.5)
            resolved.set()
            raise OSError("no such host (test)")
        return await original(host, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", slow_getaddrinfo)
    pc = RTCPeerConnection({"iceServers": [{"urls": "stun:stun.slow.test:3478"}]})
    log = record(pc)
    errors: list[Any] = []
    pc.onicecandidateerror = errors.append
    try:
        pc.createDataChannel("x")
        await pc.setLocalDescription()
        assert not resolved.is_set()  # setLocalDescription did not wait for DNS
        for _ in range(100):
            if any(k == "candidate" for k, _ in log):
                break
            await asyncio.sleep(0.01)
        assert not resolved.is_set()
        hosts = [c for k, c in log if k == "candidate" and c is not None]
        assert hosts and hosts[0].type == "host"  # before the name resolved
        assert pc.iceGatheringState == "gathering"  # completes only after the lookup
        await asyncio.wait_for(resolved.wait(), 5)
        for _ in range(100):
            if ("candidate", None) in log:
                break
            await asyncio.sleep(0.01)
        assert pc.iceGatheringState == "complete"
        assert [e.errorCode for e in errors] == [701]
    finally:
        await pc.close()


async def test_pool_then_set_local_description_at_once() -> None:
    """setLocalDescription right after construction (before the pool's task ran):
    one round of gathering, and its candidates do surface."""
    responder, port = await stun_server()
    pc = RTCPeerConnection(
        {"iceServers": [{"urls": f"stun:127.0.0.1:{port}"}], "iceCandidatePoolSize": 1}
    )
    log = record(pc)
    try:
        pc.createDataChannel("x")
        await pc.setLocalDescription()
        for _ in range(200):
            if ("candidate", None) in log:
                break
            await asyncio.sleep(0.01)
        hosts = [c for k, c in log if k == "candidate" and c is not None]
        assert len(hosts) == 1 and log[-1] == ("candidate", None)
        await asyncio.sleep(0.1)
        assert len(responder.requests) == 1  # gathered once, not twice
    finally:
        await pc.close()
