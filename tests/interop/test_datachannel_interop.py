"""rtcpeer's data channels against real foreign peers: Chromium and aiortc, each as
offerer and as answerer."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from tests.interop.harness import (
    ROLES,
    ChromiumBrowser,
    ChromiumPeer,
    RtcpeerPeer,
    negotiate,
    pair,
)


@pytest.mark.parametrize("role", ROLES)
async def test_chat_both_ways_with_state_sequences(
    peer_kind: tuple[str, ChromiumBrowser | None], role: str
) -> None:
    kind, browser = peer_kind
    offerer, answerer, ours, theirs = await pair(kind, role, browser)
    try:
        channel = await offerer.create_data_channel("chat")
        await negotiate(offerer, answerer)
        await channel.wait_open()
        remote = await answerer.channel_from_event("chat")
        await remote.wait_open()
        await channel.send("Hello Bob!")
        await channel.send(b"\x00\x01binary")
        await channel.send("")
        assert await remote.messages(3) == ["Hello Bob!", b"\x00\x01binary", ""]
        await remote.send("Hello Alice!")
        await remote.send(b"\xff" * 1000)
        assert await channel.messages(2) == ["Hello Alice!", b"\xff" * 1000]
        await ours.log.wait("connectionstatechange", lambda e: e["state"] == "connected")
        assert ours.log.states("connectionstatechange")[:2] == ["connecting", "connected"]
        ice = ours.log.states("iceconnectionstatechange")
        assert ice[:2] == ["checking", "connected"]
        assert ours.log.states("icegatheringstatechange")[:2] == ["gathering", "complete"]
    finally:
        await ours.close()
        await theirs.close()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "options",
    [
        {"ordered": True},
        {"ordered": False},
        {"ordered": True, "maxRetransmits": 0},
        {"ordered": False, "maxRetransmits": 3},
        {"ordered": True, "maxPacketLifeTime": 500},
    ],
    ids=["reliable", "unordered", "rexmit0", "unordered-rexmit3", "lifetime500"],
)
async def test_reliability_options_are_negotiated_in_band(
    peer_kind: tuple[str, ChromiumBrowser | None], role: str, options: dict[str, object]
) -> None:
    kind, browser = peer_kind
    offerer, answerer, ours, theirs = await pair(kind, role, browser)
    try:
        channel = await offerer.create_data_channel("opts", **options)
        await negotiate(offerer, answerer)
        await channel.wait_open()
        remote = await answerer.channel_from_event("opts")
        await remote.wait_open()
        # DCEP carried every option: the answerer's channel reports what was asked.
        info = remote.info
        assert info["ordered"] == options.get("ordered", True)
        assert info["maxRetransmits"] == options.get("maxRetransmits")
        assert info["maxPacketLifeTime"] == options.get("maxPacketLifeTime")
        assert info["negotiated"] is False
        if channel.info.get("id") is not None:
            assert info["id"] == channel.info["id"]
        for i in range(20):
            await channel.send(f"m{i}")
        got = await remote.messages(20)
        assert sorted(got) == sorted(f"m{i}" for i in range(20))  # loopback: nothing lost
        if options.get("ordered", True):
            assert got == [f"m{i}" for i in range(20)]
    finally:
        await ours.close()
        await theirs.close()


@pytest.mark.parametrize("role", ROLES)
async def test_large_messages_up_to_max_message_size(
    peer_kind: tuple[str, ChromiumBrowser | None], role: str
) -> None:
    kind, browser = peer_kind
    offerer, answerer, ours, theirs = await pair(kind, role, browser)
    try:
        channel = await offerer.create_data_channel("big")
        await negotiate(offerer, answerer)
        await channel.wait_open()
        remote = await answerer.channel_from_event("big")
        await remote.wait_open()
        # Each way, exactly the receiver's a=max-message-size (262144 for all three:
        # Chromium, aiortc 1.16 and rtcpeer), and one byte more is refused on our side.
        sctp = ours.pc.sctp
        assert sctp is not None
        to_them = sctp.maxMessageSize
        assert to_them == 262144
        to_us = 262144
        ours_channel, theirs_channel = (channel, remote) if ours is offerer else (remote, channel)
        blob = hashlib.sha256(b"x").digest() * (max(to_them, to_us) // 32 + 1)
        with pytest.raises(TypeError, match="max-message-size"):
            ours_channel.key.send(blob[: to_them + 1])
        await ours_channel.send(blob[:to_them])
        await theirs_channel.send(blob[::-1][:to_us])
        assert await theirs_channel.messages(1, timeout=30) == [blob[:to_them]]
        assert await ours_channel.messages(1, timeout=30) == [blob[::-1][:to_us]]
    finally:
        await ours.close()
        await theirs.close()


async def test_chromium_sends_20_megabytes_byte_exact() -> None:
    browser = ChromiumBrowser()
    async with browser.running() as running:
        theirs: ChromiumPeer = await running.peer()
        ours = RtcpeerPeer()
        try:
            channel = await theirs.create_data_channel("bulk")
            await negotiate(theirs, ours)
            await channel.wait_open()
            remote = await ours.channel_from_event("bulk")
            total = 20_000_000
            received = bytearray()
            done = asyncio.get_running_loop().create_future()
            rtc_channel = remote.key

            def on_message(event: object) -> None:
                received.extend(event.data)  # type: ignore[attr-defined]
                if len(received) >= total and not done.done():
                    done.set_result(None)

            rtc_channel.onmessage = on_message
            result = await theirs.send_pattern(channel, total, 65536)
            await asyncio.wait_for(done, 120)
            assert result["sent"] == total
            expected = bytes(i % 251 for i in range(251)) * (total // 251 + 1)
            assert bytes(received) == expected[:total]
        finally:
            await ours.close()
            await theirs.close()


async def test_rtcpeer_sends_20_megabytes_to_chromium_byte_exact() -> None:
    browser = ChromiumBrowser()
    async with browser.running() as running:
        theirs: ChromiumPeer = await running.peer()
        ours = RtcpeerPeer()
        try:
            channel = await ours.create_data_channel("bulk")
            await negotiate(ours, theirs)
            await channel.wait_open()
            remote = await theirs.channel_from_event("bulk")
            await remote.wait_open()
            total = 20_000_000
            await theirs.sink(remote, total)
            pattern = bytes(i % 251 for i in range(251)) * (65536 // 251 + 2)
            dc = channel.key
            dc.bufferedAmountLowThreshold = 1 << 20
            low = asyncio.Event()
            dc.onbufferedamountlow = lambda e: low.set()
            sent = 0
            while sent < total:
                if dc.bufferedAmount > 4 << 20:
                    low.clear()
                    await low.wait()
                    continue
                n = min(65536, total - sent)
                dc.send(pattern[sent % 251 : sent % 251 + n])
                sent += n
            done = await theirs.log.wait("sinkdone", timeout=120)
            assert done["received"] == total and done["errors"] == 0
        finally:
            await ours.close()
            await theirs.close()


async def test_close_is_seen_by_chromium() -> None:
    browser = ChromiumBrowser()
    async with browser.running() as running:
        theirs = await running.peer()
        ours = RtcpeerPeer()
        try:
            channel = await ours.create_data_channel("c")
            await negotiate(ours, theirs)
            await channel.wait_open()
            remote = await theirs.channel_from_event("c")
            await remote.wait_open()
            await ours.close()
            await theirs.log.wait("channelclose", lambda e: e["channel"] == remote.key, timeout=10)
        finally:
            await theirs.close()


@pytest.mark.parametrize("restarter", ["rtcpeer", "chromium"])
async def test_ice_restart_mid_transfer_loses_nothing(restarter: str) -> None:
    browser = ChromiumBrowser()
    async with browser.running() as running:
        theirs: ChromiumPeer = await running.peer()
        ours = RtcpeerPeer()
        try:
            channel = await ours.create_data_channel("bulk")
            relays = await negotiate(ours, theirs)
            await channel.wait_open()
            remote = await theirs.channel_from_event("bulk")
            await remote.wait_open()
            total = 8_000_000
            await theirs.sink(remote, total)
            pattern = bytes(i % 251 for i in range(251)) * (16384 // 251 + 2)
            dc = channel.key
            sent = 0
            restarted = False
            while sent < total:
                if dc.bufferedAmount > 2 << 20:
                    await asyncio.sleep(0.005)
                    continue
                n = min(16384, total - sent)
                dc.send(pattern[sent % 251 : sent % 251 + n])
                sent += n
                if not restarted and sent >= total // 2:
                    restarted = True
                    for relay in relays:
                        relay.stop()
                    if restarter == "rtcpeer":
                        relays = await negotiate(ours, theirs, ice_restart=True)
                    else:
                        relays = await negotiate(theirs, ours, ice_restart=True)
            done = await theirs.log.wait("sinkdone", timeout=60)
            assert done["received"] == total and done["errors"] == 0
            local = ours.pc.localDescription
            assert local is not None
            assert ours.pc.connectionState == "connected"
            ufrags = {
                e["candidate"]["usernameFragment"]
                for e in ours.log.events
                if e["type"] == "icecandidate" and e["candidate"]
            }
            assert len(ufrags) == 2  # candidates were re-announced under new credentials
        finally:
            await ours.close()
            await theirs.close()


@pytest.mark.parametrize("role", ROLES)
async def test_twenty_megabytes_each_way_with_aiortc(role: str) -> None:
    offerer, answerer, ours, theirs = await pair("aiortc", role, None)
    try:
        channel = await offerer.create_data_channel("bulk")
        await negotiate(offerer, answerer)
        await channel.wait_open()
        remote = await answerer.channel_from_event("bulk")
        await remote.wait_open()
        ours_channel, theirs_channel = (channel, remote) if ours is offerer else (remote, channel)
        total, chunk = 20_000_000, 65536
        pattern = hashlib.sha256(role.encode()).digest() * (total // 32 + 1)
        pattern = pattern[:total]
        got = bytearray()
        done = asyncio.get_running_loop().create_future()

        def on_message(event: object) -> None:
            got.extend(event.data)  # type: ignore[attr-defined]
            if len(got) >= total and not done.done():
                done.set_result(None)

        ours_channel.key.onmessage = on_message
        # aiortc -> rtcpeer: aiortc queues it all at once.
        for offset in range(0, total, chunk):
            theirs_channel.key.send(pattern[offset : offset + chunk])
        await asyncio.wait_for(done, 120)
        assert bytes(got) == pattern
        # rtcpeer -> aiortc, with bufferedAmount flow control.
        dc = ours_channel.key
        for offset in range(0, total, chunk):
            while dc.bufferedAmount > 4 << 20:
                await asyncio.sleep(0.002)
            dc.send(pattern[offset : offset + chunk][::-1])
        expected = total // chunk + (1 if total % chunk else 0)
        received = await theirs_channel.messages(expected, timeout=180)
        assert b"".join(m[::-1] for m in received) == pattern  # type: ignore[index]
    finally:
        await ours.close()
        await theirs.close()
