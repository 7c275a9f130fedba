"""Session scenarios with foreign peers: candidates racing the description, a second
data channel on a running session, perfect negotiation with offers colliding, close
seen from either side, and both sides' getStats agreeing on bytes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.interop.harness import (
    ROLES,
    ChromiumBrowser,
    ChromiumPeer,
    Peer,
    RtcpeerPeer,
    collide,
    foreign_peer,
    loopback_only,
    negotiate,
    pair,
)


@pytest.mark.parametrize("role", ROLES)
async def test_candidates_racing_the_description(peer_kind: tuple[str, Any], role: str) -> None:
    """The answerer's addIceCandidate calls are issued while its setRemoteDescription
    is still running (no await in between): the W3C operations chain orders them, so
    none is refused. Only rtcpeer is fed this way; the foreign peer gets the usual
    queued trickle."""
    kind, browser = peer_kind
    offerer, answerer, ours, theirs = await pair(kind, role, browser)
    try:
        channel = await offerer.create_data_channel("race")
        offer = await offerer.set_local_description(await offerer.create_offer())
        # Wait for the offerer's candidates first so they can race the description.
        gathered: list[dict[str, Any] | None] = []
        while not gathered or gathered[-1] is not None:
            gathered.append(await asyncio.wait_for(offerer.candidates.get(), 20))
        if answerer is ours:
            calls = [ours.pc.setRemoteDescription(loopback_only(offer))]
            calls += [ours.pc.addIceCandidate(c) for c in gathered if c is not None]
            await asyncio.gather(*calls)
        else:
            await answerer.set_remote_description(loopback_only(offer))
            for c in gathered:
                if c is None or c["candidate"].split()[4].startswith("127."):
                    await answerer.add_ice_candidate(c)
        answer = await answerer.set_local_description(await answerer.create_answer())
        await offerer.set_remote_description(loopback_only(answer))
        while True:  # the answerer's candidates, to the offerer
            candidate = await asyncio.wait_for(answerer.candidates.get(), 20)
            text = candidate["candidate"] if candidate else ""
            if candidate is None or text.split()[4].startswith("127."):
                await offerer.add_ice_candidate(candidate)
            if candidate is None:
                break
        await channel.wait_open()
        remote = await answerer.channel_from_event("race")
        await channel.send("won the race")
        assert await remote.messages(1) == ["won the race"]
    finally:
        await ours.close()
        await theirs.close()


@pytest.mark.parametrize("role", ROLES)
async def test_second_data_channel_needs_no_renegotiation(
    peer_kind: tuple[str, Any], role: str
) -> None:
    kind, browser = peer_kind
    offerer, answerer, ours, theirs = await pair(kind, role, browser)
    try:
        first = await offerer.create_data_channel("first")
        await negotiate(offerer, answerer)
        await first.wait_open()
        negotiations = len([e for e in ours.log.events if e["type"] == "negotiationneeded"])
        # Each side opens one more channel on the running association.
        from_ours = await ours.create_data_channel("from-rtcpeer")
        from_theirs = await theirs.create_data_channel(f"from-{kind}")
        await from_ours.wait_open()
        await from_theirs.wait_open()
        at_theirs = await theirs.channel_from_event("from-rtcpeer")
        at_ours = await ours.channel_from_event(f"from-{kind}")
        await from_ours.send("one")
        await from_theirs.send("two")
        assert await at_theirs.messages(1) == ["one"]
        assert await at_ours.messages(1) == ["two"]
        await asyncio.sleep(0.1)
        after = len([e for e in ours.log.events if e["type"] == "negotiationneeded"])
        assert after == negotiations  # W3C: only the first data channel needs an m-section
    finally:
        await ours.close()
        await theirs.close()


@pytest.mark.parametrize("polite", ["rtcpeer", "chromium"])
async def test_perfect_negotiation_with_colliding_offers(polite: str) -> None:
    """Both sides make an offer at the same moment. The impolite one ignores the
    incoming offer; the polite one rolls back (implicitly, in setRemoteDescription),
    answers, and then gets its own change negotiated."""
    browser = ChromiumBrowser()
    async with browser.running() as running:
        theirs: ChromiumPeer = await running.peer()
        ours = RtcpeerPeer()
        try:
            a = await ours.create_data_channel("from-rtcpeer")
            await theirs.add_media("recvonly")
            await collide(ours, theirs, polite)
            await a.wait_open(timeout=30)
            remote = await theirs.channel_from_event("from-rtcpeer")
            await a.send("after the glare")
            assert await remote.messages(1) == ["after the glare"]
            transceivers = await theirs.transceivers()
            assert [t["currentDirection"] for t in transceivers] == ["inactive", "inactive"]
        finally:
            await ours.close()
            await theirs.close()


@pytest.mark.parametrize("closer", ["rtcpeer", "foreign"])
async def test_close_is_seen_by_the_other_side(peer_kind: tuple[str, Any], closer: str) -> None:
    kind, browser = peer_kind
    ours: Peer = RtcpeerPeer()
    theirs = await foreign_peer(kind, browser)
    try:
        channel = await ours.create_data_channel("bye")
        await negotiate(ours, theirs)
        await channel.wait_open()
        remote = await theirs.channel_from_event("bye")
        await remote.wait_open()
        if closer == "rtcpeer":
            await ours.close()
            watcher = theirs
        else:
            await theirs.close()
            watcher = ours
        # Promptly (DTLS close_notify / SCTP ABORT), not after the 30 s consent expiry.
        event = await watcher.log.wait(
            "connectionstatechange",
            lambda e: e["state"] in ("closed", "failed", "disconnected"),
            timeout=10,
        )
        assert event["state"] in ("closed", "failed", "disconnected")
        if watcher is ours:
            await ours.log.wait("channelclose", timeout=10)
            assert ours.pc.connectionState in ("closed", "failed", "disconnected")
    finally:
        await ours.close()
        await theirs.close()


def _pair_bytes(stats: list[dict[str, Any]]) -> tuple[int, int]:
    """Bytes sent and received over every candidate pair: data may flow on a valid
    pair before another is nominated (RFC 8445 §12.1), so both count."""
    pairs = [s for s in stats if s["type"] == "candidate-pair"]
    assert any(s.get("nominated") for s in pairs), "no nominated candidate pair in getStats"
    return (
        sum(int(s.get("bytesSent", 0)) for s in pairs),
        sum(int(s.get("bytesReceived", 0)) for s in pairs),
    )


async def test_get_stats_from_both_sides_agree_on_bytes() -> None:
    """Chromium only: aiortc's getStats reports senders and receivers, nothing for a
    data-only session."""
    browser = ChromiumBrowser()
    async with browser.running() as running:
        await _stats_agree(await running.peer())


async def _stats_agree(theirs: Peer) -> None:
    ours = RtcpeerPeer()
    try:
        channel = await ours.create_data_channel("count")
        await negotiate(ours, theirs)
        await channel.wait_open()
        remote = await theirs.channel_from_event("count")
        for _ in range(50):
            await channel.send(b"\x00" * 10000)
            await remote.send(b"\x01" * 5000)
        await remote.messages(50, timeout=30)
        await channel.messages(50, timeout=30)
        await asyncio.sleep(0.5)  # let the last SACKs land
        our_sent, our_received = _pair_bytes(await ours.stats())
        their_sent, their_received = _pair_bytes(await theirs.stats())
        assert our_sent > 500_000 and their_sent > 250_000
        # Up to a few consent checks (and what was in flight at the snapshot) apart.
        assert abs(our_sent - their_received) <= 0.02 * our_sent
        assert abs(their_sent - our_received) <= 0.02 * their_sent
    finally:
        await ours.close()
        await theirs.close()
