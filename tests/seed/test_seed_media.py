"""The seed chapter's media blocks in Python: Alice and Bob each add audio and video
(Bob after the offer, reusing the transceivers it created), ontrack once per track
with the stream, a screen share added mid-call by renegotiation, replaceTrack without
renegotiation. Negotiation and the track/stream objects are exercised end to end over
loopback (with a data channel proving the call is up); media frames themselves wait
for the RTP work."""

from __future__ import annotations

import asyncio
from typing import Any

from rtcpeer import MediaStream, MediaStreamTrack, RTCPeerConnection
from tests.seed.signaling import Signaling


def camera() -> MediaStream:
    """What getUserMedia({video: true, audio: true}) would give."""
    return MediaStream([MediaStreamTrack("audio", label="mic"), MediaStreamTrack("video")])


async def until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


class Call:
    """The seed's Alice/Bob code, with perfect negotiation for renegotiations."""

    def __init__(self) -> None:
        self.sig_a, self.sig_b = Signaling.pair()
        self.alice, self.bob = RTCPeerConnection(), RTCPeerConnection()
        self.tracks: dict[str, list[Any]] = {"alice": [], "bob": []}
        self.states: dict[str, list[str]] = {"alice": [], "bob": []}
        self.bob_stream = camera()
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
        chat = alice.createDataChannel("chat")
        opened = asyncio.get_running_loop().create_future()
        chat.onopen = lambda e: opened.set_result(None)
        # Alice: add media before creating the offer.
        stream = camera()
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
                assert event.track.readyState == "live" and event.track.muted
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
        screen = MediaStream([MediaStreamTrack("video", label="screen")])
        call.alice.addTrack(screen.getVideoTracks()[0], screen)
        await until(lambda: negotiation == ["needed"])
        offer = await call.alice.createOffer()
        await call.alice.setLocalDescription(offer)
        call.sig_a.send("offer", call.alice.localDescription)
        await until(lambda: len(call.tracks["bob"]) == 3)
        event = call.tracks["bob"][2]
        assert event.track.kind == "video" and event.streams[0].id == screen.id
        assert event.transceiver.mid == "3"  # after audio 0, video 1, data 2
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
        sender = next(s for s in call.alice.getSenders() if s.track and s.track.kind == "video")
        back_camera = MediaStream([MediaStreamTrack("video", label="environment")])
        new_track = back_camera.getVideoTracks()[0]
        await sender.replaceTrack(new_track)
        assert sender.track is new_track
        await asyncio.sleep(0.1)
        assert negotiation == [] and call.states["alice"] == states_before
        assert call.alice.signalingState == "stable"
    finally:
        await call.close()
