"""Media frames over loopback between two rtcpeer connections: sources, encoding,
RTP, decoding, and the track-level behaviours (enabled, replace, remove, end)."""

from __future__ import annotations

import array
import asyncio
import fractions
import itertools
from typing import Any

import pytest
from av.video.frame import VideoFrame

from rtcpeer import (
    InvalidStateError,
    MediaStreamTrack,
    RTCPeerConnection,
    TestPatternTrack,
    ToneTrack,
    mediaDevices,
)
from tests.helpers import trickle_between, until
from tests.seed.test_seed_media import brightness


async def connect(a: RTCPeerConnection, b: RTCPeerConnection) -> None:
    trickle_between(a, b)
    await negotiate(a, b)


async def negotiate(a: RTCPeerConnection, b: RTCPeerConnection) -> None:
    await a.setLocalDescription()
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription()
    await a.setRemoteDescription(b.localDescription)


async def recv(track: Any) -> Any:
    return await asyncio.wait_for(track.recv(), 10)


def zero_crossings(frame: Any) -> int:
    """Sign changes of the first channel of an s16 frame."""
    samples = array.array("h", bytes(frame.planes[0]))[:: len(frame.layout.channels)]
    return sum((x < 0) != (y < 0) for x, y in itertools.pairwise(samples))


async def test_the_tone_arrives_at_its_frequency(pair: Any) -> None:
    a, b, tracks = pair
    a.addTrack(ToneTrack(1000.0))
    await connect(a, b)
    await until(lambda: tracks)
    for _ in range(10):  # past the codec's start-up
        await recv(tracks[0])
    frame = await recv(tracks[0])
    assert frame.sample_rate == 48000 and frame.samples == 960
    # 1 kHz for 20 ms: 20 periods, 40 sign changes (Opus is lossy; allow a little).
    assert 36 <= zero_crossings(frame) <= 44


async def test_video_size_and_level_arrive_and_a_disabled_track_sends_black(pair: Any) -> None:
    a, b, tracks = pair
    source = TestPatternTrack(176, 144, 30, level=180)
    a.addTrack(source)
    await connect(a, b)
    await until(lambda: tracks)
    picture = await recv(tracks[0])
    assert (picture.width, picture.height) == (176, 144)
    assert 160 < brightness(picture) < 200
    source.enabled = False  # W3C: a disabled video track sends black frames
    for _ in range(100):
        if brightness(await recv(tracks[0])) < 30:
            break
    else:
        raise AssertionError("no black frame after disabling the track")
    source.enabled = True
    for _ in range(100):
        if brightness(await recv(tracks[0])) > 160:
            break
    else:
        raise AssertionError("the pattern did not come back")


async def test_replace_track_with_another_size_and_with_none(pair: Any) -> None:
    a, b, tracks = pair
    sender = a.addTrack(TestPatternTrack(160, 120, 30))
    await connect(a, b)
    await until(lambda: tracks)
    assert (await recv(tracks[0])).width == 160
    await sender.replaceTrack(TestPatternTrack(320, 240, 30))
    for _ in range(100):
        if (await recv(tracks[0])).width == 320:
            break
    else:
        raise AssertionError("the new size never arrived")
    await sender.replaceTrack(None)  # stop sending, keep the transceiver
    await asyncio.sleep(0.2)
    stats = [r for r in (await a.getStats()).values() if r.type == "outbound-rtp"]
    sent = stats[0].packetsSent
    await asyncio.sleep(0.3)
    stats = [r for r in (await a.getStats()).values() if r.type == "outbound-rtp"]
    assert stats[0].packetsSent == sent


class Counter(MediaStreamTrack):
    """A user's own source: frames whose luma is the frame number."""

    def __init__(self) -> None:
        super().__init__("video")
        self.n = 0

    async def recv(self) -> VideoFrame:
        await asyncio.sleep(1 / 30)
        frame = VideoFrame(64, 48, "yuv420p")
        for plane, value in zip(frame.planes, (min(235, 16 + 4 * self.n), 128, 128), strict=True):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts = self.n * 3000
        frame.time_base = fractions.Fraction(1, 90000)
        self.n += 1
        return frame


async def test_a_subclassed_track_is_sent(pair: Any) -> None:
    a, b, tracks = pair
    a.addTrack(Counter())
    await connect(a, b)
    await until(lambda: tracks)
    first = brightness(await recv(tracks[0]))
    later = brightness(await recv(tracks[0]))
    assert (first, later) != (0, 0) and later > first  # rising, frame by frame


async def test_a_track_without_a_source_sends_nothing_and_breaks_nothing(pair: Any) -> None:
    a, b, _tracks = pair
    a.addTrack(MediaStreamTrack("video"))
    channel = a.createDataChannel("still-works")
    await connect(a, b)
    await until(lambda: channel.readyState == "open")
    outbound = [r for r in (await a.getStats()).values() if r.type == "outbound-rtp"]
    assert outbound and outbound[0].packetsSent == 0
    with pytest.raises(NotImplementedError):
        await MediaStreamTrack("audio").recv()


async def test_remove_track_stops_the_stream_after_renegotiation(pair: Any) -> None:
    a, b, tracks = pair
    sender = a.addTrack(ToneTrack())
    await connect(a, b)
    await until(lambda: tracks)
    await recv(tracks[0])
    ended: list[str] = []
    tracks[0].onmute = lambda e: ended.append("mute")
    a.removeTrack(sender)
    await negotiate(a, b)
    assert ended == ["mute"]  # W3C: the remote track is muted, not ended
    assert not any(r.type == "outbound-rtp" for r in (await a.getStats()).values())


async def test_remote_track_ends_on_close_and_recv_raises(pair: Any) -> None:
    a, b, tracks = pair
    a.addTrack(ToneTrack())
    await connect(a, b)
    await until(lambda: tracks)
    await recv(tracks[0])
    waiting = asyncio.ensure_future(tracks[0].recv())
    b.close()
    with pytest.raises(InvalidStateError):
        while True:
            await asyncio.wait_for(waiting, 5)
            waiting = asyncio.ensure_future(tracks[0].recv())


async def test_get_user_media_constraints() -> None:
    stream = await mediaDevices.getUserMedia(
        {"audio": True, "video": {"width": {"ideal": 320}, "height": 240, "frameRate": 15}}
    )
    audio, video = stream.getAudioTracks()[0], stream.getVideoTracks()[0]
    assert video.getSettings() == {"width": 320, "height": 240, "frameRate": 15.0}
    assert audio.getSettings()["sampleRate"] == 48000
    with pytest.raises(TypeError):
        await mediaDevices.getUserMedia({})
    with pytest.raises(TypeError):
        await mediaDevices.getUserMedia({"video": {"width": "wide"}})
    devices = await mediaDevices.enumerateDevices()
    assert {d["kind"] for d in devices} == {"audioinput", "videoinput"}
    frame = await video.recv()
    assert (frame.width, frame.height) == (320, 240)
    video.stop()
    with pytest.raises(InvalidStateError):
        await video.recv()


@pytest.mark.parametrize(("mime", "fmtp"), [("video/VP9", "profile-id=0"), ("video/AV1", "")])
async def test_vp9_and_av1_when_preferred(pair: Any, mime: str, fmtp: str) -> None:
    from rtcpeer import RTCRtpReceiver

    a, b, tracks = pair
    sender = a.addTrack(TestPatternTrack(320, 240, 30, level=90))
    transceiver = next(t for t in a.getTransceivers() if t.sender is sender)
    codecs = RTCRtpReceiver.getCapabilities("video")["codecs"]  # type: ignore[index]
    transceiver.setCodecPreferences(
        [c for c in codecs if c["mimeType"] == mime and fmtp in c.get("sdpFmtpLine", "")]
    )
    await connect(a, b)
    await until(lambda: tracks)
    pictures = [await recv(tracks[0]) for _ in range(5)]
    assert {(p.width, p.height) for p in pictures} == {(320, 240)}
    assert 70 < brightness(pictures[-1]) < 110
    stats = await b.getStats()
    inbound = next(r for r in stats.values() if r.type == "inbound-rtp")
    assert stats[inbound.codecId].mimeType == mime


@pytest.mark.parametrize("mode", [1, 0])
async def test_h264_when_preferred(pair: Any, mode: int) -> None:
    a, b, tracks = pair
    sender = a.addTrack(TestPatternTrack(320, 240, 30, level=90))
    transceiver = next(t for t in a.getTransceivers() if t.sender is sender)
    from rtcpeer import RTCRtpReceiver

    codecs = RTCRtpReceiver.getCapabilities("video")["codecs"]  # type: ignore[index]
    h264 = [
        c for c in codecs
        if c["mimeType"] == "video/H264" and f"packetization-mode={mode}" in c.get("sdpFmtpLine", "")
    ]  # fmt: skip
    transceiver.setCodecPreferences(h264)
    await connect(a, b)
    await until(lambda: tracks)
    picture = await recv(tracks[0])
    assert (picture.width, picture.height) == (320, 240)
    assert 70 < brightness(picture) < 110
    stats = await b.getStats()
    inbound = next(r for r in stats.values() if r.type == "inbound-rtp")
    assert stats[inbound.codecId].mimeType == "video/H264"
    assert f"packetization-mode={mode}" in stats[inbound.codecId].sdpFmtpLine


async def test_simulcast_sends_three_scaled_layers_with_rids(pair: Any) -> None:
    """sendEncodings with three rids: the answer accepts them, three SSRCs go out
    tagged with their rid (RFC 8852) at 1/1, 1/2 and 1/4 size; the receiver sees the
    three in inbound-rtp and decodes one into its track."""
    a, b, tracks = pair
    a.addTransceiver(
        TestPatternTrack(320, 240, 30),
        direction="sendonly",
        sendEncodings=[
            {"rid": "h"},
            {"rid": "m", "scaleResolutionDownBy": 2},
            {"rid": "l", "scaleResolutionDownBy": 4},
        ],
    )
    await connect(a, b)
    await until(lambda: tracks)
    picture = await recv(tracks[0])
    assert picture.width in (320, 160, 80)

    async def reports(pc: RTCPeerConnection, kind: str) -> dict[str, Any]:
        return {r.rid: r for r in (await pc.getStats()).values() if r.type == kind and "rid" in r}

    deadline = asyncio.get_running_loop().time() + 10
    while len(await reports(b, "inbound-rtp")) < 3:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    outbound = await reports(a, "outbound-rtp")
    assert {rid: (r.frameWidth, r.frameHeight) for rid, r in outbound.items()} == {
        "h": (320, 240), "m": (160, 120), "l": (80, 60),
    }  # fmt: skip
    assert len({r.ssrc for r in outbound.values()}) == 3
    assert outbound["h"].targetBitrate > outbound["m"].targetBitrate > outbound["l"].targetBitrate
    inbound = await reports(b, "inbound-rtp")
    assert all(r.packetsReceived > 0 for r in inbound.values())
    assert sum(1 for r in inbound.values() if r.framesDecoded > 0) == 1
    # Deactivating a layer stops it (no renegotiation).
    sender = a.getSenders()[0]
    parameters = sender.getParameters()
    parameters["encodings"][2]["active"] = False
    await sender.setParameters(parameters)
    await asyncio.sleep(0.15)  # a frame already being encoded may still go out
    before = (await reports(a, "outbound-rtp"))["l"].packetsSent
    await asyncio.sleep(0.3)
    after = await reports(a, "outbound-rtp")
    assert after["l"].packetsSent == before and not after["l"].active
    assert after["h"].packetsSent > outbound["h"].packetsSent


async def test_a_preferred_codec_we_cannot_encode_falls_back_to_one_we_can(pair: Any) -> None:
    """VP9 profile 2 negotiated first (the peer prefers it; we encode profile 0
    only): we send the first negotiated codec we can encode, as RFC 3264 allows, and
    the peer decodes it."""
    from rtcpeer import RTCRtpReceiver

    a, b, tracks = pair
    a.addTrack(TestPatternTrack(160, 120, 30))
    codecs = RTCRtpReceiver.getCapabilities("video")["codecs"]  # type: ignore[index]
    first = [c for c in codecs if "profile-id=2" in c.get("sdpFmtpLine", "")]  # VP9 10-bit
    b_transceiver = b.addTransceiver("video", direction="recvonly")
    b_transceiver.setCodecPreferences(first + [c for c in codecs if c not in first])
    await connect(b, a)  # b offers AV1 first; a answers in that order
    await until(lambda: tracks or b.getTransceivers()[0].receiver.track.muted is False)
    track = b.getTransceivers()[0].receiver.track
    picture = await recv(track)
    assert picture.width == 160
    stats = await b.getStats()
    inbound = next(r for r in stats.values() if r.type == "inbound-rtp")
    assert "profile-id=2" not in (stats[inbound.codecId].get("sdpFmtpLine") or "")
    negotiated = a.getTransceivers()[0]._core.negotiated
    assert negotiated is not None and "profile-id=2" in (negotiated.codecs[0].sdp_fmtp_line or "")


async def test_get_stats_with_a_selector(pair: Any) -> None:
    """W3C §8.5: a track's stats are its RTP streams and what they reference; the
    sender's and receiver's getStats() are the same selections."""
    from rtcpeer import InvalidAccessError

    a, b, tracks = pair
    audio, video = ToneTrack(), TestPatternTrack(160, 120, 30)
    audio_sender = a.addTrack(audio)
    a.addTrack(video)
    await connect(a, b)
    await until(lambda: len(tracks) == 2)
    await recv(tracks[0])
    selected = await a.getStats(audio)
    types = {s.type for s in selected.values()}
    assert {"outbound-rtp", "codec", "transport", "media-source"} <= types
    assert "candidate-pair" in types and "local-candidate" in types
    assert {s.kind for s in selected.values() if s.type == "outbound-rtp"} == {"audio"}
    assert "inbound-rtp" not in types and "data-channel" not in types
    assert set((await audio_sender.getStats()).keys()) == set(selected.keys())
    remote = next(t for t in tracks if t.kind == "video")
    await recv(remote)
    received = await b.getStats(remote)
    assert [s.kind for s in received.values() if s.type == "inbound-rtp"] == ["video"]
    receiver = next(r for r in b.getReceivers() if r.track is remote)
    assert set((await receiver.getStats()).keys()) == set(received.keys())
    with pytest.raises(InvalidAccessError):
        await a.getStats(MediaStreamTrack("audio"))  # carried by no sender
    with pytest.raises(TypeError):
        await a.getStats("audio")


async def test_hold_and_resume_continue_the_same_stream(pair: Any) -> None:
    """Direction inactive, then sendrecv again (a hold): the same SSRC resumes where
    it stopped, so the receiver keeps decoding and the counters keep counting."""
    a, b, tracks = pair
    sender = a.addTrack(TestPatternTrack(160, 120, 30))
    await connect(a, b)
    await until(lambda: tracks)
    await recv(tracks[0])
    transceiver = a.getTransceivers()[0]

    async def outbound() -> Any:
        return next(r for r in (await a.getStats()).values() if r.type == "outbound-rtp")

    before = await outbound()
    transceiver.direction = "inactive"
    await negotiate(a, b)
    assert sender._pipe.stream is None
    transceiver.direction = "sendrecv"
    await negotiate(a, b)
    await asyncio.sleep(0.3)
    after = await outbound()
    assert after.ssrc == before.ssrc and after.packetsSent > before.packetsSent
    for _ in range(5):
        await recv(tracks[0])
    inbound = next(r for r in (await b.getStats()).values() if r.type == "inbound-rtp")
    assert inbound.packetsLost <= 0 and inbound.framesDecoded >= 6


async def test_two_readers_of_one_track_both_progress(pair: Any) -> None:
    a, b, tracks = pair
    a.addTrack(ToneTrack())
    await connect(a, b)
    await until(lambda: tracks)
    first, second = await asyncio.wait_for(asyncio.gather(tracks[0].recv(), tracks[0].recv()), 5)
    assert first is not second


async def test_stopping_a_transceiver_says_bye(pair: Any) -> None:
    """RFC 3550 §6.6: a source that leaves sends BYE; the far end forgets the SSRC."""
    a, b, tracks = pair
    a.addTrack(ToneTrack())
    await connect(a, b)
    await until(lambda: tracks)
    await recv(tracks[0])
    ssrc = a.getSenders()[0]._pipe.stream.ssrc  # type: ignore[union-attr]
    assert ssrc in b._connection.rtp.streams
    a.getTransceivers()[0].stop()
    await until(lambda: ssrc not in b._connection.rtp.streams, timeout=5)


async def test_a_remote_track_read_twice_through_a_clone(pair: Any) -> None:
    """Forwarding and recording one remote track: each clone gets every frame."""
    a, b, tracks = pair
    a.addTrack(TestPatternTrack(64, 48, 30))
    await connect(a, b)
    await until(lambda: tracks)
    original = tracks[0]
    twin = original.clone()
    assert twin.id != original.id and twin.kind == "video"
    got_a = [await recv(original) for _ in range(5)]
    got_b = [await recv(twin) for _ in range(5)]
    assert len({f.pts for f in got_a}) == 5 and len({f.pts for f in got_b}) == 5
    b.close()
    with pytest.raises(InvalidStateError):
        while True:
            await asyncio.wait_for(twin.recv(), 5)  # the clone ends with its source


async def test_synchronization_sources_carry_the_audio_level(pair: Any) -> None:
    """RFC 6464: our audio carries its level; the receiver's
    getSynchronizationSources() reports it (W3C linear scale) with the SSRC and RTP
    timestamp; a direct peer has no contributing sources."""
    import time

    a, b, tracks = pair
    a.addTrack(ToneTrack(amplitude=0.3))
    await connect(a, b)
    await until(lambda: tracks)
    for _ in range(5):
        await recv(tracks[0])
    receiver = b.getReceivers()[0]
    [source] = receiver.getSynchronizationSources()
    assert source["source"] == a.getSenders()[0]._pipe.stream.ssrc  # type: ignore[union-attr]
    # A 0.3 sine: RMS 0.21, -13.5 dBov, so about 0.21 on the linear scale.
    assert 0.15 < source["audioLevel"] < 0.3
    assert abs(source["timestamp"] - time.time() * 1000) < 1000
    assert receiver.getContributingSources() == []
    # The RTP timestamp follows the stream: five more 20 ms frames, 5 x 960 ticks on.
    for _ in range(5):
        await recv(tracks[0])
    [later] = receiver.getSynchronizationSources()
    advanced = (later["rtpTimestamp"] - source["rtpTimestamp"]) % (1 << 32)
    assert advanced >= 5 * 960 and advanced % 960 == 0


async def test_audio_level_stats_at_both_ends(pair: Any) -> None:
    """W3C audioLevel/totalAudioEnergy: the tone's level at the source and after
    Opus at the far end."""
    a, b, tracks = pair
    a.addTrack(ToneTrack(amplitude=0.3))
    await connect(a, b)
    await until(lambda: tracks)
    for _ in range(25):
        await recv(tracks[0])
    source = next(r for r in (await a.getStats()).values() if r.type == "media-source")
    inbound = next(r for r in (await b.getStats()).values() if r.type == "inbound-rtp")
    for stats in (source, inbound):
        assert 0.18 < stats.audioLevel < 0.25  # RMS of a 0.3 sine: 0.212
        assert stats.totalAudioEnergy > 0
    assert 0.3 < inbound.totalSamplesDuration < 2.0


async def test_dtmf_sends_rfc_4733_events_and_fires_tonechange(pair: Any) -> None:
    """sender.dtmf.insertDTMF("1#"): tonechange "1", "#", then ""; the far end
    receives telephone-event packets on the audio SSRC, a marker on each event's
    first packet and the end bit on its last three."""
    import struct

    from rtcpeer import InvalidCharacterError

    a, b, tracks = pair
    sender = a.addTrack(ToneTrack())
    await connect(a, b)
    await until(lambda: tracks)
    await recv(tracks[0])
    dtmf = sender.dtmf
    assert dtmf is not None and dtmf.canInsertDTMF
    events: list[tuple[int, bool, bool]] = []  # (event, marker, end)
    session = b._connection.rtp
    original = session.handle_rtp

    def spy(now: float, packet: bytes) -> Any:
        header = original(now, packet)
        if header is not None and header.payload_type == 110:
            event, flags, _ = struct.unpack_from("!BBH", packet, header.payload_offset)
            events.append((event, header.marker, bool(flags & 0x80)))
        return header

    session.handle_rtp = spy  # type: ignore[method-assign]
    tones: list[str] = []
    dtmf.ontonechange = lambda e: tones.append(e.tone)
    with pytest.raises(InvalidCharacterError):
        dtmf.insertDTMF("12x")
    dtmf.insertDTMF("1#", duration=100, interToneGap=50)
    assert dtmf.toneBuffer == "1#"
    await until(lambda: tones[-1:] == [""], timeout=5)
    assert tones == ["1", "#", ""]
    assert [e for e, m, _ in events if m] == [1, 11]  # one marker per event
    assert [e for e, _, end in events if end] == [1, 1, 1, 11, 11, 11]
    video = a.addTransceiver("video").sender
    assert video.dtmf is None
