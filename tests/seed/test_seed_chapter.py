"""The seed chapter's code blocks (seed-rtcpeerconnection.md), in Python, over real
loopback sockets with two peers in one process. State sequences are asserted, not just
final states. The media blocks (addTrack, ontrack, renegotiation adding a track,
replaceTrack) are in test_seed_media.py; here the call runs on a data channel."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from rtcpeer import InvalidStateError, OperationError, RTCPeerConnection
from tests.helpers import until
from tests.seed.signaling import Signaling


def record(pc: RTCPeerConnection) -> dict[str, list[str]]:
    """Every state the seed's handlers would log, in order."""
    log: dict[str, list[str]] = {
        "signalingState": [],
        "iceGatheringState": [],
        "iceConnectionState": [],
        "connectionState": [],
        "candidates": [],
    }
    pc.addEventListener(
        "signalingstatechange", lambda e: log["signalingState"].append(pc.signalingState)
    )
    pc.addEventListener(
        "icegatheringstatechange", lambda e: log["iceGatheringState"].append(pc.iceGatheringState)
    )
    pc.addEventListener(
        "iceconnectionstatechange",
        lambda e: log["iceConnectionState"].append(pc.iceConnectionState),
    )
    pc.addEventListener(
        "connectionstatechange", lambda e: log["connectionState"].append(pc.connectionState)
    )
    pc.addEventListener(
        "icecandidate",
        lambda e: log["candidates"].append(
            "null" if e.candidate is None else f"gathering={pc.iceGatheringState}"
        ),
    )
    return log


async def alice_and_bob(
    delay: float = 0.0,
) -> tuple[RTCPeerConnection, RTCPeerConnection, Signaling, Signaling]:
    """The seed's "Offer/Answer Flow: Code View", data channel instead of camera."""
    alice_signaling, bob_signaling = Signaling.pair(delay)
    alice, bob = RTCPeerConnection(), RTCPeerConnection()

    # Alice (caller)
    def alice_candidate(event: Any) -> None:
        if event.candidate:
            alice_signaling.send("ice-candidate", {"candidate": event.candidate})

    alice.onicecandidate = alice_candidate

    async def alice_answer(data: Any) -> None:
        await alice.setRemoteDescription(data["sdp"])

    alice_signaling.on("answer", alice_answer)

    async def alice_remote_candidate(data: Any) -> None:
        await alice.addIceCandidate(data["candidate"])

    alice_signaling.on("ice-candidate", alice_remote_candidate)

    # Bob (callee)
    async def bob_offer(data: Any) -> None:
        await bob.setRemoteDescription(data["sdp"])
        answer = await bob.createAnswer()
        await bob.setLocalDescription(answer)
        bob_signaling.send("answer", {"sdp": bob.localDescription})

    bob_signaling.on("offer", bob_offer)

    def bob_candidate(event: Any) -> None:
        if event.candidate:
            bob_signaling.send("ice-candidate", {"candidate": event.candidate})

    bob.onicecandidate = bob_candidate
    pending: list[Any] = []

    async def bob_remote_candidate(data: Any) -> None:
        # The seed's "Mistake 3" fix: queue candidates until the remote description.
        try:
            await bob.addIceCandidate(data["candidate"])
        except InvalidStateError:
            if not bob.remoteDescription:
                pending.append(data["candidate"])

    bob_signaling.on("ice-candidate", bob_remote_candidate)
    bob_signaling.pending = pending  # type: ignore[attr-defined]
    return alice, bob, alice_signaling, bob_signaling


async def test_offer_answer_flow_and_three_state_machines() -> None:
    alice, bob, alice_signaling, bob_signaling = await alice_and_bob()
    alice_log, bob_log = record(alice), record(bob)
    channel = alice.createDataChannel("chat", {"ordered": True, "maxRetransmits": 10})
    offer = await alice.createOffer()
    await alice.setLocalDescription(offer)
    alice_signaling.send("offer", {"sdp": alice.localDescription})
    await until(lambda: alice.connectionState == "connected" and bob.connectionState == "connected")
    await until(lambda: channel.readyState == "open")
    # Signaling: stable -> have-local-offer -> stable / stable -> have-remote-offer -> stable.
    assert alice_log["signalingState"] == ["have-local-offer", "stable"]
    assert bob_log["signalingState"] == ["have-remote-offer", "stable"]
    # Gathering: new -> gathering -> complete, then the null candidate.
    assert alice_log["iceGatheringState"] == ["gathering", "complete"]
    assert alice_log["candidates"][-1] == "null"
    assert all(c == "gathering=gathering" for c in alice_log["candidates"][:-1])
    # ICE: checking -> connected (-> completed); connection: connecting -> connected.
    assert alice_log["iceConnectionState"][:2] == ["checking", "connected"]
    assert bob_log["iceConnectionState"][:2] == ["checking", "connected"]
    assert alice_log["connectionState"] == ["connecting", "connected"]
    assert bob_log["connectionState"] == ["connecting", "connected"]
    assert alice.currentLocalDescription is not None and alice.pendingLocalDescription is None
    assert not alice_signaling.errors and not bob_signaling.errors
    await alice.close()
    await bob.close()


async def test_add_ice_candidate_before_remote_description_is_invalid_state() -> None:
    alice, bob = RTCPeerConnection(), RTCPeerConnection()
    candidates: list[Any] = []
    alice.onicecandidate = lambda e: e.candidate and candidates.append(e.candidate)
    alice.createDataChannel("x")
    await alice.setLocalDescription()
    await until(lambda: bool(candidates))
    with pytest.raises(InvalidStateError):
        await bob.addIceCandidate(candidates[0])
    # ...and after the remote description, the queued candidate is accepted.
    await bob.setRemoteDescription(alice.localDescription)
    await bob.addIceCandidate(candidates[0])
    await alice.close()
    await bob.close()


async def test_data_channel_chat_exactly_as_in_the_seed() -> None:
    alice, bob, alice_signaling, _ = await alice_and_bob()
    received: dict[str, list[Any]] = {"alice": [], "bob": []}
    data_channel = alice.createDataChannel("chat", {"ordered": True, "maxRetransmits": 10})
    data_channel.onopen = lambda e: data_channel.send("Hello Bob!")
    data_channel.onmessage = lambda e: received["alice"].append(e.data)

    def on_datachannel(event: Any) -> None:
        channel = event.channel

        def on_message(e: Any) -> None:
            received["bob"].append(e.data)
            channel.send("Hello Alice!")

        channel.onmessage = on_message

    bob.ondatachannel = on_datachannel
    await alice.setLocalDescription(await alice.createOffer())
    alice_signaling.send("offer", {"sdp": alice.localDescription})
    await until(lambda: received["alice"] == ["Hello Alice!"])
    assert received["bob"] == ["Hello Bob!"]
    await alice.close()
    await bob.close()


async def test_trickle_with_candidates_racing_the_offer() -> None:
    # Candidates arrive at Bob before the offer (signaling reorders): Bob queues them.
    alice, bob, alice_signaling, bob_signaling = await alice_and_bob(delay=0.0)
    channel = alice.createDataChannel("chat")
    await alice.setLocalDescription(await alice.createOffer())
    await asyncio.sleep(0.05)  # candidates are sent first
    offer = alice.localDescription
    assert offer is not None
    # Strip the candidates out of the offer so only trickle can connect the peers.
    stripped = "\r\n".join(
        line
        for line in offer.sdp.split("\r\n")
        if not line.startswith("a=candidate") and line != "a=end-of-candidates"
    )
    alice_signaling.send("offer", {"sdp": {"type": "offer", "sdp": stripped}})
    await until(lambda: bob.remoteDescription is not None)
    pending = bob_signaling.pending  # type: ignore[attr-defined]
    assert pending, "the candidates arrived before the offer and were queued"
    # Apply what was queued (the seed's candidateQueue).
    for candidate in pending:
        await bob.addIceCandidate(candidate)
    await until(lambda: channel.readyState == "open")
    remote = [r for r in (await bob.getStats()).values() if r.type == "remote-candidate"]
    assert any(r.candidateType == "host" and r.address == "127.0.0.1" for r in remote)
    await alice.close()
    await bob.close()


async def test_close_states_and_what_the_remote_sees() -> None:
    alice, bob, alice_signaling, _ = await alice_and_bob()
    bob_log = record(bob)
    alice_events: list[str] = []
    alice.createDataChannel("chat")
    await alice.setLocalDescription(await alice.createOffer())
    alice_signaling.send("offer", {"sdp": alice.localDescription})
    await until(lambda: bob.connectionState == "connected" and alice.connectionState == "connected")
    for name in ("signalingstatechange", "iceconnectionstatechange", "connectionstatechange"):
        alice.addEventListener(name, lambda e, n=name: alice_events.append(n))
    alice.close()  # synchronous, like the browser
    assert (alice.signalingState, alice.iceConnectionState, alice.connectionState) == (
        "closed",
    ) * 3
    # "Remote peer sees: ICE state -> disconnected -> failed."
    await until(lambda: bob.iceConnectionState == "failed", timeout=5.0)
    assert bob_log["iceConnectionState"][-2:] == ["disconnected", "failed"]
    assert bob_log["connectionState"][-1] == "failed"
    await asyncio.sleep(0.1)
    assert alice_events == []  # no events after close()
    await bob.close()


async def test_stats_loop_and_bandwidth_estimation() -> None:
    alice, bob, alice_signaling, _ = await alice_and_bob()
    channel = alice.createDataChannel("bulk")
    await alice.setLocalDescription(await alice.createOffer())
    alice_signaling.send("offer", {"sdp": alice.localDescription})
    await until(lambda: channel.readyState == "open")

    async def pair_stats() -> Any:
        stats = await alice.getStats()
        found = []
        stats.forEach(
            lambda report: (
                found.append(report)
                if report.type == "candidate-pair" and report.state == "succeeded"
                else None
            )
        )
        assert found, "a succeeded candidate pair"
        return found[0]

    first = await pair_stats()
    assert first.currentRoundTripTime is not None and first.currentRoundTripTime < 0.1
    assert first["bytesSent"] == first.bytesSent
    # Pattern 3: bitrate from two samples while sending.
    sending = True

    async def send_loop() -> None:
        while sending:
            if channel.bufferedAmount < 1 << 20:
                channel.send(bytes(16384))
            else:
                await asyncio.sleep(0.001)
            await asyncio.sleep(0)

    task = asyncio.create_task(send_loop())
    before = await pair_stats()
    await asyncio.sleep(1.0)
    after = await pair_stats()
    sending = False
    await task
    delta_bytes = after.bytesSent - before.bytesSent
    delta_time = (after.timestamp - before.timestamp) / 1000
    kbps = delta_bytes * 8 / delta_time / 1000
    assert kbps > 1000  # real numbers: megabits per second on loopback
    assert after.get("availableOutgoingBitrate", 0) > 0
    types = {report.type for report in (await alice.getStats()).values()}
    assert {
        "peer-connection",
        "transport",
        "candidate-pair",
        "local-candidate",
        "remote-candidate",
        "certificate",
        "data-channel",
    } <= types
    await alice.close()
    await bob.close()


async def run_perfect_negotiation(seed: int) -> None:
    """Both peers renegotiate at the same moment; the polite one rolls back."""
    rng = random.Random(seed)
    sig_a, sig_b = Signaling.pair(delay=rng.uniform(0, 0.01))
    a, b = RTCPeerConnection(), RTCPeerConnection()
    peers = ((a, sig_a, False), (b, sig_b, True))  # b is polite
    ignore_offer = {id(a): False, id(b): False}

    for pc, signaling, polite in peers:

        async def on_negotiation_needed(
            event: Any, pc: RTCPeerConnection = pc, signaling: Signaling = signaling
        ) -> None:
            await pc.setLocalDescription()
            signaling.send("description", pc.localDescription)

        pc.onnegotiationneeded = on_negotiation_needed

        def on_candidate(event: Any, signaling: Signaling = signaling) -> None:
            if event.candidate:
                signaling.send("candidate", event.candidate)

        pc.onicecandidate = on_candidate

        async def on_description(
            description: Any,
            pc: RTCPeerConnection = pc,
            signaling: Signaling = signaling,
            polite: bool = polite,
        ) -> None:
            collision = description.type == "offer" and (
                pc.signalingState != "stable" or pc.pendingRemoteDescription is not None
            )
            ignore_offer[id(pc)] = not polite and collision
            if ignore_offer[id(pc)]:
                return  # ignore: the remote peer will back off
            await pc.setRemoteDescription(description)  # polite: implicit rollback
            if description.type == "offer":
                await pc.setLocalDescription()
                signaling.send("description", pc.localDescription)

        signaling.on("description", on_description)

        async def on_remote_candidate(candidate: Any, pc: RTCPeerConnection = pc) -> None:
            try:
                await pc.addIceCandidate(candidate)
            except (InvalidStateError, OperationError):
                # W3C's perfect negotiation example: only errors for candidates of an
                # offer we ignored are expected.
                if not ignore_offer[id(pc)]:
                    raise

        signaling.on("candidate", on_remote_candidate)

    got: list[str] = []

    def on_datachannel(event: Any) -> None:
        event.channel.onmessage = lambda e: got.append(e.data)

    b.ondatachannel = on_datachannel
    # First negotiation, then both renegotiate at once (restartIce on both sides).
    a_channel = a.createDataChannel("a")
    await until(lambda: a.connectionState == "connected" and b.connectionState == "connected")
    await until(lambda: a.signalingState == "stable" and b.signalingState == "stable")
    ufrags = (a.localDescription.sdp, b.localDescription.sdp)  # type: ignore[union-attr]
    a.restartIce()
    b.restartIce()
    await until(
        lambda: (
            a.signalingState == "stable"
            and b.signalingState == "stable"
            and a.localDescription.sdp != ufrags[0]  # type: ignore[union-attr]
            and b.localDescription.sdp != ufrags[1]
        ),  # type: ignore[union-attr]
        timeout=10.0,
    )
    await until(lambda: a_channel.readyState == "open")
    assert not sig_a.errors and not sig_b.errors, (sig_a.errors, sig_b.errors)
    a_channel.send("after glare")
    await until(lambda: got == ["after glare"])
    assert a.connectionState == "connected" and b.connectionState == "connected"
    await a.close()
    await b.close()
    sig_a.close()
    sig_b.close()


@pytest.mark.parametrize("seed", range(20))
async def test_perfect_negotiation_glare_no_deadlock(seed: int) -> None:
    await run_perfect_negotiation(seed)


async def test_ice_restart_mid_transfer_loses_nothing() -> None:
    alice, bob, alice_signaling, _ = await alice_and_bob()
    channel = alice.createDataChannel("bulk")
    received = bytearray()

    def on_datachannel(event: Any) -> None:
        event.channel.onmessage = lambda e: received.extend(e.data)

    bob.ondatachannel = on_datachannel
    await alice.setLocalDescription(await alice.createOffer())
    alice_signaling.send("offer", {"sdp": alice.localDescription})
    await until(lambda: channel.readyState == "open")
    payload = bytes(range(256)) * 64  # 16 KiB
    for _ in range(200):
        channel.send(payload)
    old_ufrag = next(
        line for line in alice.localDescription.sdp.split("\r\n") if line.startswith("a=ice-ufrag")
    )  # type: ignore[union-attr]
    # Pattern 2: createOffer({iceRestart: true}).
    offer = await alice.createOffer({"iceRestart": True})
    await alice.setLocalDescription(offer)
    alice_signaling.send("offer", {"sdp": alice.localDescription})
    for _ in range(200):
        if channel.bufferedAmount > 4 << 20:
            await asyncio.sleep(0.01)
        channel.send(payload)
    await until(lambda: len(received) >= 400 * len(payload), timeout=20)
    assert bytes(received) == payload * 400
    new_ufrag = next(
        line for line in alice.localDescription.sdp.split("\r\n") if line.startswith("a=ice-ufrag")
    )  # type: ignore[union-attr]
    assert new_ufrag != old_ufrag
    assert alice.signalingState == "stable"
    assert alice.connectionState == "connected"
    await alice.close()
    await bob.close()


async def test_connection_with_retry_pattern() -> None:
    """Pattern 1: the first attempt's signaling loses everything; the retry connects."""

    async def create_connection(retries: int, attempt: list[int]) -> RTCPeerConnection:
        attempt[0] += 1
        alice, bob, alice_signaling, _ = await alice_and_bob()
        if attempt[0] == 1:
            alice_signaling.peer = Signaling(0)  # messages go nowhere
        alice.createDataChannel("chat")
        await alice.setLocalDescription(await alice.createOffer())
        alice_signaling.send("offer", {"sdp": alice.localDescription})
        loop = asyncio.get_running_loop()
        result: asyncio.Future[RTCPeerConnection] = loop.create_future()

        def timeout() -> None:
            if result.done():
                return
            alice.close()
            bob.close()
            if retries > 0:
                result.set_result(None)  # type: ignore[arg-type]
            else:
                result.set_exception(RuntimeError("Connection timeout"))

        handle = loop.call_later(1.0, timeout)  # the seed's 30 s, scaled for a test

        def on_state(event: Any) -> None:
            if alice.iceConnectionState == "connected" and not result.done():
                handle.cancel()
                result.set_result(alice)

        alice.oniceconnectionstatechange = on_state
        pc = await result
        if pc is None:
            return await create_connection(retries - 1, attempt)
        return pc

    attempts = [0]
    pc = await create_connection(3, attempts)
    assert attempts[0] == 2
    assert pc.iceConnectionState in ("connected", "completed")
    await pc.close()


async def test_auto_ice_restart_after_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pattern 2: the network drops out long enough for ICE to fail; the caller's
    handler restarts ICE and the same data channel carries on afterwards. (ICE
    timeouts shortened from 4 s / 30 s so the test does not sit out consent expiry.)"""
    from rtcpeer.aio.udp import UdpSocket

    cut = {"on": False}
    original = UdpSocket.sendto

    def sendto(self: UdpSocket, data: bytes, address: Any) -> None:
        if not cut["on"]:
            original(self, data, address)

    monkeypatch.setattr(UdpSocket, "sendto", sendto)
    alice, bob, alice_signaling, _ = await alice_and_bob()
    for pc in (alice, bob):
        pc._agent.disconnected_timeout = 0.5
        pc._agent.failed_timeout = 1.5
    log = record(alice)
    restarts: list[str] = []

    async def on_ice_state(event: Any) -> None:
        if alice.iceConnectionState == "failed":
            restarts.append("restart")
            offer = await alice.createOffer({"iceRestart": True})
            await alice.setLocalDescription(offer)
            alice_signaling.send("offer", {"sdp": alice.localDescription})

    alice.oniceconnectionstatechange = on_ice_state
    channel = alice.createDataChannel("chat", {"ordered": True})
    got: list[Any] = []
    bob.ondatachannel = lambda e: setattr(e.channel, "onmessage", lambda m: got.append(m.data))
    await alice.setLocalDescription(await alice.createOffer())
    alice_signaling.send("offer", {"sdp": alice.localDescription})
    await until(lambda: channel.readyState == "open")
    channel.send("before the outage")
    await until(lambda: got == ["before the outage"])
    cut["on"] = True
    await until(lambda: "failed" in log["iceConnectionState"], timeout=10)
    cut["on"] = False  # the network comes back; the handler already asked for a restart
    await until(lambda: log["iceConnectionState"][-1] in ("connected", "completed"), timeout=15)
    assert restarts == ["restart"]
    # As in browsers: the restart from failed goes back through checking.
    assert log["iceConnectionState"] == [
        "checking",
        "connected",
        "disconnected",
        "failed",
        "checking",
        "connected",
    ]
    channel.send("after the restart")
    await until(lambda: got == ["before the outage", "after the restart"], timeout=15)
    assert alice.connectionState == "connected"
    await alice.close()
    await bob.close()
