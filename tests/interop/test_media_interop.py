"""Media with headless Chromium, both directions and both roles: what we encode
(Opus, VP8) Chromium decodes, what Chromium's fake camera and microphone send we
decode, replaceTrack changes what Chromium shows without renegotiation, and each
side's reports give the other a round-trip time."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from rtcpeer import mediaDevices
from tests.interop.harness import (
    ROLES,
    CandidateRelay,
    ChromiumBrowser,
    ChromiumPeer,
    RtcpeerPeer,
    loopback_only,
    negotiate,
)


@pytest_asyncio.fixture
async def peers(chromium: ChromiumBrowser) -> AsyncIterator[tuple[RtcpeerPeer, ChromiumPeer]]:
    """An rtcpeer peer and a Chromium page's peer, closed after the test."""
    theirs: ChromiumPeer = await chromium.peer()
    ours = RtcpeerPeer()
    yield ours, theirs
    await ours.close()
    await theirs.close()


async def poll(get: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 15.0) -> Any:
    """``get()`` (a value, or an awaitable of one) until ``ok(value)``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = get()
        if inspect.isawaitable(value):
            value = await value
        if ok(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached in {timeout} s; last: {value!r}")
        await asyncio.sleep(0.2)


def by_kind(stats: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {s["kind"]: s for s in stats if s["type"] == kind}


async def answer_with(theirs: Any, ours: RtcpeerPeer, stream: Any) -> None:
    """Take their offer, add our tracks (the seed's Bob), answer; trickle both ways."""
    offer = await theirs.set_local_description(await theirs.create_offer())
    to_ours, to_theirs = CandidateRelay(theirs, ours), CandidateRelay(ours, theirs)
    await ours.pc.setRemoteDescription(loopback_only(offer))
    to_ours.remote_set.set()
    for track in stream.getTracks():
        ours.pc.addTrack(track, stream)
    answer = await ours.set_local_description()
    await theirs.set_remote_description(loopback_only(answer))
    to_theirs.remote_set.set()


async def connect(role: str, ours: RtcpeerPeer, theirs: ChromiumPeer) -> None:
    """rtcpeer sends a 320x240 test pattern and a tone; Chromium offers recvonly
    transceivers when it is the offerer."""
    stream = await mediaDevices.getUserMedia(
        {"audio": True, "video": {"width": 320, "height": 240}}
    )
    channel = None
    if role == "rtcpeer-offers":
        for track in stream.getTracks():
            ours.pc.addTrack(track, stream)
        channel = await ours.create_data_channel("up")
        await negotiate(ours, theirs)
    else:
        await theirs.add_media("recvonly")
        channel = await theirs.create_data_channel("up")
        await answer_with(theirs, ours, stream)  # our tracks take its recvonly m-lines
    await channel.wait_open()
    assert [t.currentDirection for t in ours.pc.getTransceivers()] == ["sendonly"] * 2


@pytest.mark.parametrize("role", ROLES)
async def test_chromium_decodes_our_audio_and_video(
    role: str, peers: tuple[RtcpeerPeer, ChromiumPeer]
) -> None:
    ours, theirs = peers
    await connect(role, ours, theirs)
    inbound = await poll(
        lambda: theirs.stats(),
        lambda s: (
            set(by_kind(s, "inbound-rtp")) == {"audio", "video"}
            and by_kind(s, "inbound-rtp")["video"].get("framesDecoded", 0) >= 30
            and by_kind(s, "inbound-rtp")["audio"].get("totalSamplesReceived", 0) > 48000
        ),
    )
    video = by_kind(inbound, "inbound-rtp")["video"]
    audio = by_kind(inbound, "inbound-rtp")["audio"]
    assert (video["frameWidth"], video["frameHeight"]) == (320, 240)
    assert video["packetsLost"] == 0 and video["keyFramesDecoded"] >= 1
    assert audio["packetsLost"] == 0
    # Opus decoded, not concealed: at most a few frames of start-up concealment.
    assert audio["concealedSamples"] < 0.1 * audio["totalSamplesReceived"]
    # Chromium read our sender reports...
    remote_out = await poll(
        lambda: theirs.stats(), lambda s: len(by_kind(s, "remote-outbound-rtp")) == 2
    )
    assert by_kind(remote_out, "remote-outbound-rtp")["video"]["packetsSent"] > 0
    # ...and its receiver reports give us a round-trip time.
    ours_stats = await poll(
        lambda: ours.stats(),
        lambda s: (
            len(by_kind(s, "remote-inbound-rtp")) == 2
            and all("roundTripTime" in r for r in by_kind(s, "remote-inbound-rtp").values())
        ),
    )
    for remote in by_kind(ours_stats, "remote-inbound-rtp").values():
        assert 0 <= remote["roundTripTime"] < 0.5


async def test_replace_track_changes_what_chromium_decodes_without_renegotiation(
    peers: tuple[RtcpeerPeer, ChromiumPeer],
) -> None:
    ours, theirs = peers
    await connect("rtcpeer-offers", ours, theirs)
    await poll(
        lambda: theirs.stats(),
        lambda s: by_kind(s, "inbound-rtp").get("video", {}).get("frameWidth") == 320,
    )
    states = await theirs.states()
    sender = next(s for s in ours.pc.getSenders() if s.track and s.track.kind == "video")
    wide = await mediaDevices.getUserMedia({"video": {"width": 480, "height": 360}})
    await sender.replaceTrack(wide.getVideoTracks()[0])
    stats = await poll(
        lambda: theirs.stats(),
        lambda s: by_kind(s, "inbound-rtp").get("video", {}).get("frameWidth") == 480,
    )
    assert by_kind(stats, "inbound-rtp")["video"]["frameHeight"] == 360
    assert await theirs.states() == states  # no renegotiation happened
    assert ours.pc.signalingState == "stable"


@pytest.mark.parametrize("role", ROLES)
async def test_we_decode_chromium_camera_and_microphone(
    role: str, peers: tuple[RtcpeerPeer, ChromiumPeer]
) -> None:
    ours, theirs = peers
    tracks: dict[str, Any] = {}
    ours.pc.ontrack = lambda e: tracks.setdefault(e.track.kind, e.track)
    await theirs.add_media("audio-video")
    if role == "rtcpeer-offers":
        # Chromium's tracks take the recvonly m-lines of our offer.
        ours.pc.addTransceiver("audio", direction="recvonly")
        ours.pc.addTransceiver("video", direction="recvonly")
        channel = await ours.create_data_channel("up")
        await negotiate(ours, theirs)
    else:
        channel = await theirs.create_data_channel("up")
        await negotiate(theirs, ours)
    await channel.wait_open()
    await poll(lambda: set(tracks) == {"audio", "video"}, bool)
    pictures = [await asyncio.wait_for(tracks["video"].recv(), 10) for _ in range(10)]
    assert all(p.width >= 160 and p.height >= 120 for p in pictures)
    sounds = [await asyncio.wait_for(tracks["audio"].recv(), 10) for _ in range(10)]
    assert all(s.sample_rate == 48000 for s in sounds)
    stats = await ours.stats()
    video = by_kind(stats, "inbound-rtp")["video"]
    assert video["framesDecoded"] >= 10 and video["keyFramesDecoded"] >= 1
    assert video["frameWidth"] == pictures[-1].width
    assert by_kind(stats, "inbound-rtp")["audio"]["totalSamplesReceived"] > 0


@pytest.mark.parametrize("role", ROLES)
async def test_media_both_ways_with_aiortc(role: str) -> None:
    """aiortc decodes our VP8 and Opus; we decode its (640x480, green) video and its
    audio. Both roles."""
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    from tests.interop.harness import AiortcPeer

    theirs = AiortcPeer()
    ours = RtcpeerPeer()
    their_tracks: dict[str, Any] = {}
    our_tracks: dict[str, Any] = {}
    theirs.pc.on("track", lambda track: their_tracks.setdefault(track.kind, track))
    ours.pc.ontrack = lambda e: our_tracks.setdefault(e.track.kind, e.track)
    stream = await mediaDevices.getUserMedia(
        {"audio": True, "video": {"width": 320, "height": 240}}
    )
    try:
        if role == "rtcpeer-offers":
            for track in stream.getTracks():
                ours.pc.addTrack(track, stream)
            theirs.pc.addTrack(AudioStreamTrack())
            theirs.pc.addTrack(VideoStreamTrack())
            channel = await ours.create_data_channel("up")
            await negotiate(ours, theirs)
        else:
            theirs.pc.addTrack(AudioStreamTrack())
            theirs.pc.addTrack(VideoStreamTrack())
            channel = await theirs.create_data_channel("up")
            await answer_with(theirs, ours, stream)
        await channel.wait_open()
        await poll(lambda: set(their_tracks) == set(our_tracks) == {"audio", "video"}, bool)
        # aiortc decodes what we send...
        theirs_video = [await asyncio.wait_for(their_tracks["video"].recv(), 10) for _ in range(5)]
        assert {(f.width, f.height) for f in theirs_video} == {(320, 240)}
        theirs_audio = await asyncio.wait_for(their_tracks["audio"].recv(), 10)
        assert theirs_audio.sample_rate == 48000
        # ...and we decode what it sends.
        ours_video = [await asyncio.wait_for(our_tracks["video"].recv(), 10) for _ in range(5)]
        assert {(f.width, f.height) for f in ours_video} == {(640, 480)}
        ours_audio = await asyncio.wait_for(our_tracks["audio"].recv(), 10)
        assert ours_audio.sample_rate == 48000
    finally:
        await ours.close()
        await theirs.close()


def only_codec(transceiver: Any, mime: str, fmtp: str) -> None:
    """Offer one video codec alone on this transceiver."""
    from rtcpeer import RTCRtpReceiver

    codecs = RTCRtpReceiver.getCapabilities("video")["codecs"]  # type: ignore[index]
    transceiver.setCodecPreferences(
        [c for c in codecs if c["mimeType"] == mime and fmtp in c.get("sdpFmtpLine", "")]
    )


@pytest.mark.parametrize(
    ("mime", "fmtp"),
    [("video/H264", "packetization-mode=1"), ("video/VP9", "profile-id=0"), ("video/AV1", "")],
)
async def test_each_video_codec_both_ways_with_chromium(
    mime: str, fmtp: str, peers: tuple[RtcpeerPeer, ChromiumPeer]
) -> None:
    """We offer one codec only for video: Chromium decodes what we encode with it and
    sends its camera with it, which we decode."""
    ours, theirs = peers
    tracks: dict[str, Any] = {}
    ours.pc.ontrack = lambda e: tracks.setdefault(e.track.kind, e.track)
    await theirs.add_media("audio-video")  # its tracks take our m-lines
    stream = await mediaDevices.getUserMedia(
        {"audio": True, "video": {"width": 320, "height": 240}}
    )
    for track in stream.getTracks():
        ours.pc.addTrack(track, stream)
    transceiver = next(t for t in ours.pc.getTransceivers() if t.receiver.track.kind == "video")
    only_codec(transceiver, mime, fmtp)
    channel = await ours.create_data_channel("up")
    await negotiate(ours, theirs)
    await channel.wait_open()
    theirs_stats = await poll(
        lambda: theirs.stats(),
        lambda s: by_kind(s, "inbound-rtp").get("video", {}).get("framesDecoded", 0) >= 30,
    )
    video = by_kind(theirs_stats, "inbound-rtp")["video"]
    codec = next(s for s in theirs_stats if s["id"] == video["codecId"])
    assert codec["mimeType"] == mime
    assert (video["frameWidth"], video["frameHeight"]) == (320, 240)
    await poll(lambda: "video" in tracks, bool)
    pictures = [await asyncio.wait_for(tracks["video"].recv(), 10) for _ in range(10)]
    assert all(p.width >= 160 for p in pictures)
    ours_stats = await ours.stats()
    inbound = by_kind(ours_stats, "inbound-rtp")["video"]
    ours_codec = next(s for s in ours_stats if s["id"] == inbound["codecId"])
    assert ours_codec["mimeType"] == mime
    assert inbound["framesDecoded"] >= 10 and inbound["keyFramesDecoded"] >= 1


async def test_transport_wide_congestion_feedback_both_ways_with_chromium(
    peers: tuple[RtcpeerPeer, ChromiumPeer],
) -> None:
    """Both directions carry transport-wide sequence numbers: Chromium's feedback
    reaches our estimator, and ours lets Chromium's estimate climb past the 300 kbit/s
    it holds without feedback."""
    ours, theirs = peers
    await theirs.add_media("audio-video")
    stream = await mediaDevices.getUserMedia(
        {"audio": True, "video": {"width": 320, "height": 240}}
    )
    for track in stream.getTracks():
        ours.pc.addTrack(track, stream)
    channel = await ours.create_data_channel("up")
    await negotiate(ours, theirs)
    await channel.wait_open()

    def chromium_pair(stats: list[dict[str, Any]]) -> dict[str, Any]:
        return next((s for s in stats if s["type"] == "candidate-pair" and s.get("nominated")), {})

    stats = await poll(
        lambda: theirs.stats(),
        lambda s: chromium_pair(s).get("availableOutgoingBitrate", 0) > 300_000,
        timeout=20.0,
    )
    assert chromium_pair(stats)["availableOutgoingBitrate"] > 300_000
    ours_stats = await poll(
        lambda: ours.stats(),
        lambda s: any(
            r["type"] == "candidate-pair" and r.get("availableOutgoingBitrate") for r in s
        ),
    )
    rtp = ours.pc._connection.rtp

    # Chromium reports every 50-250 ms.
    await poll(lambda: rtp.bwe.feedback_received, lambda n: n > 10)
    assert rtp.twcc.feedback_sent > 10
    video = by_kind(ours_stats, "outbound-rtp")["video"]
    assert video["targetBitrate"] > 0


async def test_chromium_simulcast_reaches_us_and_we_decode_one_layer(
    peers: tuple[RtcpeerPeer, ChromiumPeer],
) -> None:
    """Chromium offers simulcast (rids h, m, l): we answer accepting it, receive the
    layers Chromium sends as separate SSRCs with their rids, and decode one."""
    ours, theirs = peers
    tracks: list[Any] = []
    ours.pc.ontrack = lambda e: tracks.append(e.track)
    await theirs.add_media("simulcast")
    channel = await theirs.create_data_channel("up")
    await negotiate(theirs, ours)
    await channel.wait_open()
    await poll(lambda: len(tracks), lambda n: n == 1)
    pictures = [await asyncio.wait_for(tracks[0].recv(), 10) for _ in range(5)]
    assert len({(p.width, p.height) for p in pictures}) == 1  # one layer decoded
    stats = await poll(
        lambda: ours.stats(),
        lambda s: len({r.get("rid") for r in s if r["type"] == "inbound-rtp"} - {None}) >= 2,
    )
    inbound = [r for r in stats if r["type"] == "inbound-rtp"]
    assert {r["rid"] for r in inbound} <= {"h", "m", "l"}
    assert sum(1 for r in inbound if r.get("framesDecoded", 0) > 0) == 1


async def test_our_simulcast_offer_falls_back_to_one_stream_for_chromium(
    peers: tuple[RtcpeerPeer, ChromiumPeer],
) -> None:
    """Chromium does not receive simulcast: its answer drops a=simulcast, so we send
    the first encoding only, which it decodes."""
    ours, theirs = peers
    from rtcpeer import TestPatternTrack

    ours.pc.addTransceiver(
        TestPatternTrack(320, 240, 30),
        direction="sendonly",
        sendEncodings=[{"rid": "h"}, {"rid": "l", "scaleResolutionDownBy": 2}],
    )
    channel = await ours.create_data_channel("up")
    await negotiate(ours, theirs)
    await channel.wait_open()
    stats = await poll(
        lambda: theirs.stats(),
        lambda s: by_kind(s, "inbound-rtp").get("video", {}).get("framesDecoded", 0) >= 10,
    )
    assert by_kind(stats, "inbound-rtp")["video"]["frameWidth"] == 320
    outbound = [r for r in await ours.stats() if r["type"] == "outbound-rtp"]
    assert len(outbound) == 1 and "rid" not in outbound[0]


async def test_chromium_sees_our_audio_level(peers: tuple[RtcpeerPeer, ChromiumPeer]) -> None:
    """Chromium's receiver reports the RFC 6464 level our Opus packets carry."""
    ours, theirs = peers
    await connect("rtcpeer-offers", ours, theirs)

    async def audio_levels() -> list[float]:
        receivers = await theirs.sync_sources()
        return [
            s.get("audioLevel") or 0.0
            for r in receivers if r["kind"] == "audio"
            for s in r["sources"]
        ]  # fmt: skip

    levels = await poll(audio_levels, lambda v: bool(v) and v[0] > 0.05)
    assert 0.05 < levels[0] < 0.5  # the tone at 0.3 amplitude: about 0.21


async def test_our_packets_received_match_what_chromium_sent(
    peers: tuple[RtcpeerPeer, ChromiumPeer],
) -> None:
    """W3C packetsReceived counts retransmissions and padding (Chromium's packetsSent
    does): read ours, then Chromium's, then ours again; Chromium's count lies between
    (up to what was in flight between the reads)."""
    ours, theirs = peers
    await theirs.add_media("audio-video")
    ours.pc.addTransceiver("audio", direction="recvonly")
    ours.pc.addTransceiver("video", direction="recvonly")
    channel = await ours.create_data_channel("up")
    await negotiate(ours, theirs)
    await channel.wait_open()
    # Past the start, where Chromium probes the path with padding and RTX.
    await poll(
        lambda: theirs.stats(),
        lambda s: by_kind(s, "outbound-rtp").get("video", {}).get("packetsSent", 0) > 300,
        timeout=20.0,
    )
    before = by_kind(await ours.stats(), "inbound-rtp")["video"]["packetsReceived"]
    sent = by_kind(await theirs.stats(), "outbound-rtp")["video"]
    after = by_kind(await ours.stats(), "inbound-rtp")["video"]
    assert before - 5 <= sent["packetsSent"] <= after["packetsReceived"] + 5, (before, sent, after)
