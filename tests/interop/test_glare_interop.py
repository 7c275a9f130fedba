"""Perfect negotiation with Chromium when both sides add video at the same moment,
from a data-only, an audio-only and an audio+video session, in both politeness
roles; and the extension numbering that makes the data-only case work."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rtcpeer import TestPatternTrack, ToneTrack
from rtcpeer.sdp.codecs import HEADER_EXTENSIONS, VIDEO_FIRST_EXTENSION_IDS
from tests.interop.harness import (
    ChromiumBrowser,
    ChromiumPeer,
    RtcpeerPeer,
    collide,
    negotiate,
)


def extmaps(sdp: str, kind: str) -> dict[str, int]:
    """URI -> id of the last ``kind`` section's a=extmap lines."""
    found: dict[str, int] = {}
    current = None
    for line in sdp.split("\r\n"):
        if line.startswith("m="):
            current = line[2:].split()[0]
            if current == kind:
                found = {}
        elif line.startswith("a=extmap:") and current == kind:
            number, uri = line[9:].split()[:2]
            found[uri] = int(number.split("/")[0])
    return found


async def _session(start: str, running: ChromiumBrowser) -> tuple[RtcpeerPeer, ChromiumPeer]:
    ours = RtcpeerPeer()
    theirs = await running.peer()
    channel = await ours.create_data_channel("chat")
    if start in ("audio", "audio-video"):
        ours.pc.addTrack(ToneTrack(440.0))
    if start == "audio-video":
        ours.pc.addTrack(TestPatternTrack())
    relays = await negotiate(ours, theirs)
    await channel.wait_open()
    for relay in relays:
        relay.stop()
    return ours, theirs


async def test_chromium_numbers_a_first_video_section_as_our_table_says() -> None:
    """Chromium's numbering of a video section added to a data-only session, which
    VIDEO_FIRST_EXTENSION_IDS copies; and its fixed numbering when audio is there,
    which HEADER_EXTENSIONS copies. Fails when a Chromium release changes either."""
    browser = ChromiumBrowser()
    async with browser.running() as running:
        ours, theirs = await _session("data", running)
        try:
            await theirs.add_media("second-video")
            offer = await theirs.create_offer()
            theirs_ids = extmaps(offer["sdp"], "video")
            assert theirs_ids == {
                uri: n for uri, n in VIDEO_FIRST_EXTENSION_IDS.items() if uri in theirs_ids
            }
            assert set(theirs_ids) == set(VIDEO_FIRST_EXTENSION_IDS)
            ours.pc.addTrack(TestPatternTrack())
            mine = extmaps((await ours.create_offer())["sdp"], "video")
            assert all(VIDEO_FIRST_EXTENSION_IDS[uri] == n for uri, n in mine.items())
        finally:
            await ours.close()
            await theirs.close()
        ours, theirs = await _session("audio", running)
        try:
            await theirs.add_media("second-video")
            offer = await theirs.create_offer()
            fixed = {h.uri: h.id for h in HEADER_EXTENSIONS}
            theirs_ids = extmaps(offer["sdp"], "video")
            assert {u: n for u, n in theirs_ids.items() if u in fixed} == {
                u: fixed[u] for u in theirs_ids if u in fixed
            }
        finally:
            await ours.close()
            await theirs.close()


@pytest.mark.parametrize("start", ["data", "audio", "audio-video"])
@pytest.mark.parametrize("polite", ["rtcpeer", "chromium"])
async def test_colliding_offers_that_add_video(start: str, polite: str) -> None:
    browser = ChromiumBrowser()
    async with browser.running() as running:
        ours, theirs = await _session(start, running)
        tracks: list[Any] = []
        ours.pc.ontrack = lambda e: tracks.append(e.track)
        try:
            ours.pc.addTrack(TestPatternTrack())
            await theirs.add_media("second-video")
            relays = await collide(ours, theirs, polite)
            # Both videos flow: Chromium's reaches us and is decoded.
            deadline = asyncio.get_running_loop().time() + 15
            while not any(t.kind == "video" for t in tracks):
                assert asyncio.get_running_loop().time() < deadline, "no video track"
                await asyncio.sleep(0.05)
            video = next(t for t in tracks if t.kind == "video")
            frame = await asyncio.wait_for(video.recv(), 15)
            assert frame.width > 0
            for relay in relays:
                relay.stop()
        finally:
            await ours.close()
            await theirs.close()
