"""RTCDataChannel options and events over real loopback sockets: priority travels in
DCEP, bufferedAmount counts the user's bytes only, and a close from one end gives the
other end closing then close."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rtcpeer import RTCPeerConnection


async def connected_pair() -> tuple[RTCPeerConnection, RTCPeerConnection]:
    a, b = RTCPeerConnection(), RTCPeerConnection()
    a.onicecandidate = lambda e: (
        e.candidate and asyncio.ensure_future(b.addIceCandidate(e.candidate))
    )
    b.onicecandidate = lambda e: (
        e.candidate and asyncio.ensure_future(a.addIceCandidate(e.candidate))
    )
    return a, b


async def negotiate(a: RTCPeerConnection, b: RTCPeerConnection) -> None:
    await a.setLocalDescription()
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription()
    await a.setRemoteDescription(b.localDescription)


async def wait_for(condition: Any, timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), timeout)


@pytest.mark.parametrize("priority", ["very-low", "low", "medium", "high"])
async def test_priority_reaches_the_remote(priority: str) -> None:
    a, b = await connected_pair()
    remote: list[Any] = []
    b.ondatachannel = lambda e: remote.append(e.channel)
    try:
        channel = a.createDataChannel("p", {"priority": priority})
        assert channel.priority == priority
        await negotiate(a, b)
        await wait_for(lambda: bool(remote))
        assert remote[0].priority == priority
    finally:
        await a.close()
        await b.close()


async def test_bad_priority_is_a_type_error() -> None:
    pc = RTCPeerConnection()
    try:
        with pytest.raises(TypeError, match="priority"):
            pc.createDataChannel("p", {"priority": "urgent"})
    finally:
        await pc.close()


async def test_buffered_amount_low_only_for_user_bytes_and_close_sequence() -> None:
    a, b = await connected_pair()
    remote: list[Any] = []
    b.ondatachannel = lambda e: remote.append(e.channel)
    events: dict[str, list[str]] = {"a": [], "b": []}
    try:
        channel = a.createDataChannel("c")
        for name in ("open", "bufferedamountlow", "closing", "close", "error"):
            channel.addEventListener(name, lambda e, n=name: events["a"].append(n))
        await negotiate(a, b)
        await wait_for(lambda: channel.readyState == "open" and bool(remote))
        far = remote[0]
        for name in ("bufferedamountlow", "closing", "close", "error"):
            far.addEventListener(name, lambda e, n=name: events["b"].append(n))
        got: list[Any] = []
        far.onmessage = lambda e: got.append(e.data)
        await asyncio.sleep(0.1)  # the DCEP ACK has come and gone
        assert events["a"] == ["open"]
        channel.send("")
        assert channel.bufferedAmount == 0
        channel.send(b"x" * 1000)
        assert channel.bufferedAmount == 1000
        await wait_for(lambda: len(got) == 2)
        assert got == ["", b"x" * 1000]
        await wait_for(lambda: "bufferedamountlow" in events["a"])
        assert events["a"] == ["open", "bufferedamountlow"]
        channel.close()
        assert channel.readyState == "closing"
        await wait_for(lambda: far.readyState == "closed" and channel.readyState == "closed")
        assert events["a"] == ["open", "bufferedamountlow", "close"]
        assert events["b"] == ["closing", "close"]
    finally:
        await a.close()
        await b.close()
