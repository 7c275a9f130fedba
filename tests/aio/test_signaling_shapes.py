"""Every signaling shape users and other stacks produce connects, over real loopback
sockets through the W3C API (the timing of each mechanism is checked in simulated
time, tests/scenario/test_establishment.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rtcpeer import RTCPeerConnection
from tests.helpers import trickle_between, until


async def gathered(pc: RTCPeerConnection) -> None:
    await until(lambda: pc.iceGatheringState == "complete")


def collect(pc: RTCPeerConnection) -> list[Any]:
    candidates: list[Any] = []
    pc.onicecandidate = lambda e: candidates.append(e.candidate)
    return candidates


async def channel_pair(a: RTCPeerConnection, b: RTCPeerConnection) -> tuple[Any, list[Any]]:
    channel = a.createDataChannel("chat")
    remote: list[Any] = []
    b.ondatachannel = lambda e: remote.append(e.channel)
    return channel, remote


async def opened_and_talking(channel: Any, remote: list[Any]) -> None:
    await until(lambda: channel.readyState == "open" and remote and remote[0].readyState == "open")
    got: list[Any] = []
    remote[0].onmessage = lambda e: got.append(e.data)
    channel.send("hello")
    await until(lambda: got == ["hello"])


async def test_trickle_both_ways(pair: Any) -> None:
    a, b, _ = pair
    channel, remote = await channel_pair(a, b)
    trickle_between(a, b)
    offer = await a.createOffer()  # no candidates in it
    await a.setLocalDescription(offer)
    await b.setRemoteDescription(offer)
    answer = await b.createAnswer()
    await b.setLocalDescription(answer)
    await a.setRemoteDescription(answer)
    await opened_and_talking(channel, remote)


async def test_full_descriptions_without_trickle(pair: Any) -> None:
    a, b, _ = pair
    channel, remote = await channel_pair(a, b)
    await a.setLocalDescription()
    await gathered(a)
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription()
    await gathered(b)
    assert b.localDescription is not None and "a=candidate:" in b.localDescription.sdp
    await a.setRemoteDescription(b.localDescription)
    await opened_and_talking(channel, remote)


@pytest.mark.parametrize("answerer_is", ["offerer-controlling", "late-gatherer"])
async def test_answer_sent_before_gathering_and_never_trickled(answerer_is: str, pair: Any) -> None:
    """aiortc's server shape, and WHIP's: the offer carries every candidate; the
    answer is sent at once, with none, and nothing is trickled after it. Only the
    answerer can start the checks."""
    a, b, _ = pair
    channel, remote = await channel_pair(a, b)
    await a.setLocalDescription()
    await gathered(a)
    await b.setRemoteDescription(a.localDescription)
    answer = await b.createAnswer()
    assert "a=candidate:" not in answer.sdp
    if answerer_is == "late-gatherer":
        await a.setRemoteDescription(answer)  # the offerer has it before b gathers
        await b.setLocalDescription(answer)
    else:
        await b.setLocalDescription(answer)
        await a.setRemoteDescription(answer)
    await opened_and_talking(channel, remote)
    assert a.iceConnectionState in ("connected", "completed")


async def test_offer_without_candidates_trickled_late(pair: Any) -> None:
    a, b, _ = pair
    channel, remote = await channel_pair(a, b)
    from_a = collect(a)
    b.onicecandidate = lambda e: asyncio.ensure_future(a.addIceCandidate(e.candidate))
    offer = await a.createOffer()
    await a.setLocalDescription(offer)
    await b.setRemoteDescription(offer)
    await b.setLocalDescription()
    await a.setRemoteDescription(b.localDescription)
    await asyncio.sleep(0.3)
    for candidate in from_a:
        await b.addIceCandidate(candidate)
    await opened_and_talking(channel, remote)


async def test_checks_and_candidates_race_the_answer(pair: Any) -> None:
    """The answerer checks the offer's candidates, and trickles its own, before the
    offerer has the answer (the application queues those candidates, as the W3C API
    requires): the early checks are answered, remembered and used once it arrives."""
    a, b, _ = pair
    channel, remote = await channel_pair(a, b)
    from_b = collect(b)
    await a.setLocalDescription()
    await gathered(a)
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription()
    await asyncio.sleep(0.3)  # b's checks reach a, which has no answer yet
    await a.setRemoteDescription(b.localDescription)
    for candidate in from_b:
        await a.addIceCandidate(candidate)
    await opened_and_talking(channel, remote)


async def test_empty_sdp_mid_with_an_index_is_accepted(pair: Any) -> None:
    """Some stacks trickle ``sdpMid: ""`` beside a valid ``sdpMLineIndex``; libwebrtc
    goes by the index, and so do we."""
    a, b, _ = pair
    channel, remote = await channel_pair(a, b)
    from_a = collect(a)
    offer = await a.createOffer()
    await a.setLocalDescription(offer)
    await b.setRemoteDescription(offer)  # no candidates in it
    await b.setLocalDescription(await b.createAnswer())
    answer = b.localDescription
    assert answer is not None
    await a.setRemoteDescription(answer)
    await until(lambda: bool(from_a) and from_a[-1] is None)
    for candidate in from_a[:-1]:
        await b.addIceCandidate(
            {"candidate": candidate.candidate, "sdpMid": "", "sdpMLineIndex": 0}
        )
    await opened_and_talking(channel, remote)
    remote_candidates = [
        s for s in (await b.getStats()).values() if s["type"] == "remote-candidate"
    ]
    assert any(s["candidateType"] == "host" for s in remote_candidates)


async def test_messages_sent_at_open_wait_for_an_async_datachannel_handler(pair: Any) -> None:
    """The peer sends as soon as its channel opens; our ``async def ondatachannel``
    sets ``onmessage`` only after an await. The first messages are kept, not lost."""
    a, b, _ = pair
    channel = a.createDataChannel("eager")
    channel.onopen = lambda e: [channel.send(f"m{i}") for i in range(3)]
    got: list[Any] = []

    async def on_channel(event: Any) -> None:
        await asyncio.sleep(0.1)
        event.channel.onmessage = lambda m: got.append(m.data)

    b.ondatachannel = on_channel
    trickle_between(a, b)
    await a.setLocalDescription()
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription()
    await a.setRemoteDescription(b.localDescription)
    await until(lambda: len(got) == 3)
    assert got == ["m0", "m1", "m2"]
    channel.send("m3")
    await until(lambda: len(got) == 4)
    assert got[-1] == "m3"
