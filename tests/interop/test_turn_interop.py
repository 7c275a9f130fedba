"""Relayed connections through a real coturn on loopback: rtcpeer with rtcpeer, and
rtcpeer with headless Chromium, under ``iceTransportPolicy: "relay"``."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from rtcpeer import RTCPeerConnection
from tests.helpers import nominated_pair
from tests.interop.coturn import Coturn, coturn
from tests.interop.harness import ChromiumBrowser, RtcpeerPeer, negotiate


@pytest.fixture
def turn() -> Iterator[Coturn]:
    with coturn() as server:
        yield server


def relay_config(server: Coturn, **options: Any) -> dict[str, Any]:
    return {"iceServers": [server.ice_server(**options)], "iceTransportPolicy": "relay"}


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
async def test_relay_only_between_two_rtcpeers_is_byte_exact(
    turn: Coturn, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # turns: verifies the server's certificate against the trust store: trust coturn's.
    monkeypatch.setenv("SSL_CERT_FILE", turn.ca_file)
    a = RTCPeerConnection(relay_config(turn, transport=transport))
    b = RTCPeerConnection(relay_config(turn, transport=transport))
    seen: dict[str, list[Any]] = {"a": [], "b": []}
    tasks: set[asyncio.Future[None]] = set()

    def relay(src: RTCPeerConnection, dst: RTCPeerConnection, name: str) -> None:
        def on_candidate(event: Any) -> None:
            seen[name].append(event.candidate)
            if event.candidate is not None:
                task = asyncio.ensure_future(dst.addIceCandidate(event.candidate))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        src.onicecandidate = on_candidate

    relay(a, b, "a")
    relay(b, a, "b")
    channel = a.createDataChannel("bulk")
    opened = asyncio.get_running_loop().create_future()
    channel.onopen = lambda e: opened.set_result(None)
    received: list[bytes] = []
    done = asyncio.get_running_loop().create_future()
    total = 2_000_000

    def on_channel(event: Any) -> None:
        def on_message(message: Any) -> None:
            received.append(message.data)
            if sum(map(len, received)) >= total and not done.done():
                done.set_result(None)

        event.channel.onmessage = on_message

    b.ondatachannel = on_channel
    try:
        await a.setLocalDescription()
        await b.setRemoteDescription(a.localDescription)
        await b.setLocalDescription()
        await a.setRemoteDescription(b.localDescription)
        await asyncio.wait_for(opened, 20)
        for name in ("a", "b"):
            candidates = [c for c in seen[name] if c is not None]
            assert candidates and {c.type for c in candidates} == {"relay"}
            assert all(c.address == "127.0.0.1" for c in candidates)
            assert seen[name][-1] is None  # gathering completed
        payload = hashlib.sha256(b"turn").digest() * (total // 32)
        for offset in range(0, total, 16384):
            while channel.bufferedAmount > 1 << 20:
                await asyncio.sleep(0.005)
            channel.send(payload[offset : offset + 16384])
        await asyncio.wait_for(done, 60)
        assert b"".join(received) == payload
        pair, stats = await nominated_pair(a)
        local = stats[pair["localCandidateId"]]
        remote = stats[pair["remoteCandidateId"]]
        assert local["candidateType"] == remote["candidateType"] == "relay"
        assert local["relayProtocol"] == transport
        assert local["url"].startswith("turn")
    finally:
        await a.close()
        await b.close()


async def test_wrong_credential_is_an_icecandidateerror(turn: Coturn) -> None:
    candidates, errors = await gather_with_errors(relay_config(turn, credential="wrong"))
    assert candidates == [None]  # no relay candidate, and nothing else under "relay"
    assert [e.errorCode for e in errors] == [401]
    assert errors[0].url.startswith(f"turn:{turn.host}:{turn.port}")


async def gather_with_errors(config: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """Gather until the null candidate; the candidates and icecandidateerror events."""
    pc = RTCPeerConnection(config)
    errors: list[Any] = []
    candidates: list[Any] = []
    pc.onicecandidateerror = errors.append
    pc.onicecandidate = lambda e: candidates.append(e.candidate)
    try:
        pc.createDataChannel("x")
        await pc.setLocalDescription()
        for _ in range(400):
            if candidates and candidates[-1] is None:
                break
            await asyncio.sleep(0.025)
        return candidates, errors
    finally:
        await pc.close()


@pytest.mark.parametrize(
    ("relay_side", "transport"),
    [("both", "udp"), ("rtcpeer", "udp"), ("chromium", "udp"), ("both", "tcp")],
)
async def test_relay_only_with_chromium(turn: Coturn, relay_side: str, transport: str) -> None:
    browser = ChromiumBrowser()
    async with browser.running() as running:
        all_config = {"iceServers": [turn.ice_server(transport=transport)]}
        relayed = relay_config(turn, transport=transport)
        theirs = await running.peer(relayed if relay_side in ("both", "chromium") else all_config)
        ours = RtcpeerPeer(relayed if relay_side in ("both", "rtcpeer") else all_config)
        try:
            channel = await ours.create_data_channel("relayed")
            await negotiate(ours, theirs)
            await channel.wait_open(timeout=30)
            remote = await theirs.channel_from_event("relayed")
            await channel.send("through coturn")
            assert await remote.messages(1) == ["through coturn"]
            await remote.send(b"\x00" * 10000)
            assert await channel.messages(1) == [b"\x00" * 10000]
            pair, stats = await nominated_pair(ours.pc)
            types = {
                stats[pair["localCandidateId"]]["candidateType"],
                stats[pair["remoteCandidateId"]]["candidateType"],
            }
            assert "relay" in types
            if relay_side in ("both", "rtcpeer"):
                local = stats[pair["localCandidateId"]]
                assert local["candidateType"] == "relay"
                assert local["relayProtocol"] == transport
        finally:
            await ours.close()
            await theirs.close()


async def test_untrusted_turns_certificate_is_an_icecandidateerror(turn: Coturn) -> None:
    """turns: checks the server certificate like a browser: coturn's self-signed one
    is not trusted unless the trust store says so."""
    candidates, errors = await gather_with_errors(relay_config(turn, transport="tls"))
    assert candidates == [None]
    assert [e.errorCode for e in errors] == [701]
    assert "CERTIFICATE_VERIFY_FAILED" in errors[0].errorText
