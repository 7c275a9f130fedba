"""The harness itself, proven with two foreign peers talking to each other: if these
fail, the scenario tests against rtcpeer would prove nothing."""

from __future__ import annotations

import pytest

from tests.interop.harness import AiortcPeer, ChromiumBrowser, Peer, negotiate


async def exchange(offerer: Peer, answerer: Peer) -> None:
    channel = await offerer.create_data_channel("chat", ordered=True)
    await negotiate(offerer, answerer)
    await channel.wait_open()
    remote = await answerer.channel_from_event("chat")
    await remote.wait_open()
    await channel.send("Hello Bob!")
    await channel.send(b"\x00\x01binary")
    assert await remote.messages(2) == ["Hello Bob!", b"\x00\x01binary"]
    await remote.send("Hello Alice!")
    assert await channel.messages(1) == ["Hello Alice!"]


@pytest.mark.parametrize("chromium_offers", [True, False], ids=["chromium-offers", "aiortc-offers"])
async def test_chromium_and_aiortc_through_the_harness(
    chromium: ChromiumBrowser, chromium_offers: bool
) -> None:
    browser_peer = await chromium.peer()
    aiortc_peer = AiortcPeer()
    try:
        if chromium_offers:
            await exchange(browser_peer, aiortc_peer)
        else:
            await exchange(aiortc_peer, browser_peer)
        await browser_peer.log.wait("connectionstatechange", lambda e: e["state"] == "connected")
        states = browser_peer.log.states("connectionstatechange")
        assert states[:2] == ["connecting", "connected"]
        # Chromium offered loopback host candidates, not mDNS names.
        local = [
            e for e in browser_peer.log.events if e["type"] == "icecandidate" and e["candidate"]
        ]
        assert local and all(".local" not in e["candidate"]["candidate"] for e in local)
        assert any(" 127.0.0.1 " in e["candidate"]["candidate"] for e in local)
    finally:
        await aiortc_peer.close()
        await browser_peer.close()
