"""Streams a peer does not signal (no a=ssrc, no MID header extension): routed by a
payload type unique to one m-section (RFC 8843 §9.2, as browsers do); otherwise
counted in getStats, not silently lost."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from rtcpeer import RTCPeerConnection, ToneTrack
from tests.helpers import trickle_between, until


def unsignalled(sdp: str) -> str:
    """The description as a stack that announces neither SSRCs nor the MID
    extension would write it."""
    lines = [
        line
        for line in sdp.split("\r\n")
        if not line.startswith(("a=ssrc:", "a=ssrc-group:"))
        and not re.match(r"a=extmap:\d+ urn:ietf:params:rtp-hdrext:sdes:mid", line)
    ]
    return "\r\n".join(lines)


async def call(a: RTCPeerConnection, b: RTCPeerConnection) -> None:
    trickle_between(a, b)
    await a.setLocalDescription()
    offer = a.localDescription
    assert offer is not None
    await b.setRemoteDescription({"type": "offer", "sdp": unsignalled(offer.sdp)})
    await b.setLocalDescription()
    await a.setRemoteDescription(b.localDescription)


async def transport_stats(pc: RTCPeerConnection) -> dict[str, Any]:
    return next(s for s in (await pc.getStats()).values() if s["type"] == "transport")


async def test_audio_without_ssrc_or_mid_is_routed_by_its_payload_type(pair: Any) -> None:
    a, b, tracks = pair
    a.addTrack(ToneTrack(440.0))
    await call(a, b)
    await until(lambda: bool(tracks))
    frame = await asyncio.wait_for(tracks[0].recv(), 10)
    assert frame.sample_rate == 48000
    stats = await transport_stats(b)
    assert stats["rtcpeerUnroutedRtpStreams"] == 0


async def test_streams_sharing_a_payload_type_are_counted_when_unroutable(pair: Any) -> None:
    a, b, _ = pair
    a.addTrack(ToneTrack(440.0))
    a.addTrack(ToneTrack(880.0))  # two audio sections, both with Opus as 111
    await call(a, b)

    async def unrouted() -> int:
        return int((await transport_stats(b))["rtcpeerUnroutedRtpStreams"])

    deadline = asyncio.get_running_loop().time() + 10
    while await unrouted() < 2:
        assert asyncio.get_running_loop().time() < deadline, "streams not counted"
        await asyncio.sleep(0.05)
    assert (await transport_stats(b))["rtcpeerUnroutedRtpPackets"] > 0
