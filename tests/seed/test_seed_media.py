"""The seed chapter's media blocks in Python: Alice and Bob each add audio and video
(Bob after the offer, reusing the transceivers it created), ontrack once per track
with the stream, a screen share added mid-call by renegotiation, replaceTrack without
renegotiation. Everything runs over loopback: negotiation, the track and stream
objects, and the media itself (each side decodes what the other's synthetic camera
and microphone send; the camera switch shows as a change of brightness)."""

from __future__ import annotations

import asyncio
from typing import Any

from av.video.frame import VideoFrame

from rtcpeer import MediaStream, RTCPeerConnection, mediaDevices
from tests.helpers import until
from tests.seed.signaling import Signaling

SMALL = {"width": 160, "height": 120}


async def camera(**video: Any) -> MediaStream:
    return await mediaDevices.getUserMedia({"video": {**SMALL, **video}, "audio": True})


def brightness(frame: VideoFrame) -> float:
    """Mean luma of a decoded picture (its Y plane, padding aside)."""
    plane = frame.planes[0]
    data = bytes(plane)
    rows = [
        data[r * plane.line_size : r * plane.line_size + frame.width] for r in range(frame.height)
    ]
    return sum(map(sum, rows)) / (frame.width * frame.height)


async def frames_of(track: Any, count: int) -> list[Any]:
    return [await asyncio.wait_for(track.recv(), 10) for _ in range(count)]


class Call:
    """The seed's Alice/Bob code, with perfect negotiation for renegotiations."""

    def __init__(self) -> None:
        self.sig_a, self.sig_b = Signaling.pair()
        self.alice, self.bob = RTCPeerConnection(), RTCPeerConnection()
        self.tracks: dict[str, list[Any]] = {"alice": [], "bob": []}
        self.states: dict[str, list[str]] = {"alice": [], "bob": []}
        for name, pc, sig in (("alice", self.alice, self.sig_a), ("bob", self.bob, self.sig_b)):
            self._wire(name, pc, sig)

    def _wire(self, name: str, pc: RTCPeerConnection, sig: Signaling) -> None:
        pc.ontrack = lambda e: self.tracks[name].append(e)
        pc.addEventListener(
            "signalingstatechange", lambda e: self.states[name].append(pc.signalingState)
        )
        pc.onicecandidate = lambda e: e.candidate and sig.send("ice", e.candidate)

        async def on_ice(candidate: Any) -> None:
            await pc.addIceCandidate(candidate)

        sig.on("ice", on_ice)

        async def on_answer(data: Any) -> None:
            await pc.setRemoteDescription(data)

        sig.on("answer", on_answer)

    async def start(self) -> None:
        alice, bob = self.alice, self.bob
        self.bob_stream = await camera()
        chat = alice.createDataChannel("chat")
        opened = asyncio.get_running_loop().create_future()
        chat.onopen = lambda e: opened.set_result(None)
        # Alice: add media before creating the offer.
        stream = await camera()
        for track in stream.getTracks():
            alice.addTrack(track, stream)
        self.alice_stream = stream

        async def bob_offer(data: Any) -> None:
            await bob.setRemoteDescription(data)
            if not any(sender.track for sender in bob.getSenders()):
                for track in self.bob_stream.getTracks():  # add media after the offer
                    bob.addTrack(track, self.bob_stream)
            answer = await bob.createAnswer()
            await bob.setLocalDescription(answer)
            self.sig_b.send("answer", bob.localDescription)

        self.sig_b.on("offer", bob_offer)
        offer = await alice.createOffer()
        await alice.setLocalDescription(offer)
        self.sig_a.send("offer", alice.localDescription)
        await asyncio.wait_for(opened, 15)
        self.chat = chat

    async def close(self) -> None:
        await self.alice.close()
        await self.bob.close()
        self.sig_a.close()
        self.sig_b.close()


async def test_audio_video_call_ontrack_once_per_track_with_the_stream() -> None:
    call = Call()
    try:
        await call.start()
        await until(lambda: len(call.tracks["alice"]) == 2 and len(call.tracks["bob"]) == 2)
        for name, sender_stream in (("bob", call.alice_stream), ("alice", call.bob_stream)):
            events = call.tracks[name]
            assert sorted(e.track.kind for e in events) == ["audio", "video"]
            assert {e.streams[0].id for e in events} == {sender_stream.id}
            remote_stream = events[0].streams[0]
            assert remote_stream is events[1].streams[0]  # one MediaStream object per id
            assert sorted(t.kind for t in remote_stream.getTracks()) == ["audio", "video"]
            for event in events:
                assert event.receiver.track is event.track
                assert event.transceiver.receiver is event.receiver
                assert event.track.readyState == "live"
        # Media flows both ways: each side decodes the other's camera and microphone.
        for name in ("alice", "bob"):
            by_kind = {e.track.kind: e.track for e in call.tracks[name]}
            pictures = await frames_of(by_kind["video"], 5)
            assert all((p.width, p.height) == (160, 120) for p in pictures)
            assert 100 < brightness(pictures[-1]) < 156  # the front camera's pattern
            sounds = await frames_of(by_kind["audio"], 5)
            assert all(s.sample_rate == 48000 and s.samples == 960 for s in sounds)
            assert any(bytes(s.planes[0]).strip(b"\x00") for s in sounds)  # not silence
            assert not by_kind["video"].muted  # unmuted by the first packet
        # Bob's addTrack reused the transceivers Alice's offer created: two m-lines, and
        # both directions send.
        for pc in (call.alice, call.bob):
            assert [t.currentDirection for t in pc.getTransceivers()] == ["sendrecv"] * 2
            assert len(pc.getSenders()) == 2 and all(s.track for s in pc.getSenders())
        assert call.states["alice"] == ["have-local-offer", "stable"]
        assert call.states["bob"] == ["have-remote-offer", "stable"]
    finally:
        await call.close()


async def test_screen_share_added_mid_call_by_renegotiation() -> None:
    call = Call()
    try:
        await call.start()
        await until(lambda: len(call.tracks["bob"]) == 2)
        negotiation: list[str] = []
        call.alice.onnegotiationneeded = lambda e: negotiation.append("needed")
        screen = await mediaDevices.getUserMedia({"video": {"width": 320, "height": 240}})
        call.alice.addTrack(screen.getVideoTracks()[0], screen)
        await until(lambda: negotiation == ["needed"])
        offer = await call.alice.createOffer()
        await call.alice.setLocalDescription(offer)
        call.sig_a.send("offer", call.alice.localDescription)
        await until(lambda: len(call.tracks["bob"]) == 3)
        event = call.tracks["bob"][2]
        assert event.track.kind == "video" and event.streams[0].id == screen.id
        assert event.transceiver.mid == "3"  # after audio 0, video 1, data 2
        shared = await frames_of(event.track, 3)
        assert {(p.width, p.height) for p in shared} == {(320, 240)}
        await until(lambda: call.alice.signalingState == "stable")
        assert call.states["alice"][-2:] == ["have-local-offer", "stable"]
        # The call kept running: the data channel still carries messages.
        got: list[Any] = []
        bob_channel = asyncio.get_running_loop().create_future()
        call.bob.ondatachannel = lambda e: bob_channel.set_result(e.channel)
        late = call.alice.createDataChannel("after-renegotiation")
        far = await asyncio.wait_for(bob_channel, 10)
        far.onmessage = lambda m: got.append(m.data)
        await until(lambda: late.readyState == "open")
        late.send("still connected")
        await until(lambda: got == ["still connected"])
    finally:
        await call.close()


async def test_replace_track_switches_camera_without_renegotiation() -> None:
    call = Call()
    try:
        await call.start()
        await until(lambda: len(call.tracks["bob"]) == 2)
        await asyncio.sleep(0.05)
        negotiation: list[str] = []
        call.alice.onnegotiationneeded = lambda e: negotiation.append("needed")
        states_before = list(call.states["alice"])
        remote = next(e.track for e in call.tracks["bob"] if e.track.kind == "video")
        assert 100 < brightness((await frames_of(remote, 3))[-1]) < 156
        sender = next(s for s in call.alice.getSenders() if s.track and s.track.kind == "video")
        ssrc = sender._pipe.stream.ssrc  # type: ignore[union-attr]
        back_camera = await mediaDevices.getUserMedia(
            {"video": {**SMALL, "facingMode": "environment"}}
        )
        new_track = back_camera.getVideoTracks()[0]
        await sender.replaceTrack(new_track)
        assert sender.track is new_track
        # Bob now sees the back camera: brighter, on the same stream.
        deadline = asyncio.get_running_loop().time() + 10
        while brightness(await asyncio.wait_for(remote.recv(), 10)) < 180:
            assert asyncio.get_running_loop().time() < deadline
        assert negotiation == [] and call.states["alice"] == states_before
        assert call.alice.signalingState == "stable"
        assert sender._pipe.stream is not None and sender._pipe.stream.ssrc == ssrc
        inbound = [
            r for r in (await call.bob.getStats()).values()
            if r.type == "inbound-rtp" and r.kind == "video"
        ]  # fmt: skip
        assert inbound[0].packetsLost == 0  # no gap in sequence numbers at the switch
    finally:
        await call.close()


async def test_stats_loop_and_bitrate_on_a_media_call() -> None:
    """The seed's stats loop reading a media call: inbound-rtp video at Bob
    (packetsReceived, packetsLost, jitter), the succeeded candidate pair, and Alice's
    outgoing video bitrate from two samples; RTT from Bob's reception reports."""
    call = Call()
    try:
        await call.start()
        await until(lambda: len(call.tracks["bob"]) == 2)

        async def reports(pc: RTCPeerConnection, kind: str) -> list[Any]:
            return [r for r in (await pc.getStats()).values() if r.type == kind]

        async def remote_rtt() -> bool:
            remote = await reports(call.alice, "remote-inbound-rtp")
            return len(remote) == 2 and all("roundTripTime" in r for r in remote)

        deadline = asyncio.get_running_loop().time() + 10
        while not await remote_rtt():
            assert asyncio.get_running_loop().time() < deadline, "no RTT from reports"
            await asyncio.sleep(0.1)
        video = next(r for r in await reports(call.bob, "inbound-rtp") if r.kind == "video")
        assert video.packetsReceived > 10 and video.packetsLost == 0
        assert 0 <= video.jitter < 0.05
        assert video.framesDecoded > 10 and video.frameWidth == 160
        pair = next(r for r in await reports(call.bob, "candidate-pair") if r.state == "succeeded")
        assert pair.bytesSent > 0 and pair.bytesReceived > 0
        for remote in await reports(call.alice, "remote-inbound-rtp"):
            assert 0 <= remote.roundTripTime < 0.1 and remote.packetsLost == 0

        # Bitrate from two samples, as the seed's estimateBandwidth does.
        async def video_out() -> Any:
            return next(r for r in await reports(call.alice, "outbound-rtp") if r.kind == "video")

        before = await video_out()
        await asyncio.sleep(1.0)
        after = await video_out()
        kbps = (
            (after.bytesSent - before.bytesSent)
            * 8
            / ((after.timestamp - before.timestamp) / 1000)
            / 1000
        )
        assert kbps > 5  # a compressible test pattern, but real bits per second
        assert after.framesEncoded - before.framesEncoded >= 20  # ~30 fps
        sources = {r.kind: r for r in await reports(call.alice, "media-source")}
        assert sources["video"].width == 160 and sources["audio"].totalSamplesDuration > 1
    finally:
        await call.close()
