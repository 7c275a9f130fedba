"""Media negotiation with headless Chromium through the W3C API: tracks added on
either side arrive as ``track`` events on the other, with their streams and the
directions both agree on. (RTP itself waits for the media work: Chromium's packets
are counted and dropped on our side.)"""

from __future__ import annotations

from rtcpeer import MediaStream, MediaStreamTrack
from tests.interop.harness import ChromiumBrowser, ChromiumPeer, RtcpeerPeer, negotiate


async def test_rtcpeer_tracks_reach_chromium_ontrack() -> None:
    browser = ChromiumBrowser()
    async with browser.running() as running:
        theirs: ChromiumPeer = await running.peer()
        ours = RtcpeerPeer()
        try:
            stream = MediaStream([MediaStreamTrack("audio"), MediaStreamTrack("video")])
            for track in stream.getTracks():
                ours.pc.addTrack(track, stream)
            channel = await ours.create_data_channel("up")
            await negotiate(ours, theirs)
            await channel.wait_open()
            first = await theirs.log.wait("track", lambda e: e["kind"] == "audio")
            second = await theirs.log.wait("track", lambda e: e["kind"] == "video")
            assert (first["mid"], second["mid"]) == ("0", "1")
            transceivers = await theirs.transceivers()
            assert [t["currentDirection"] for t in transceivers] == ["recvonly", "recvonly"]
            assert [t.currentDirection for t in ours.pc.getTransceivers()] == ["sendonly"] * 2
        finally:
            await ours.close()
            await theirs.close()


async def test_chromium_tracks_reach_rtcpeer_ontrack_and_we_answer_with_ours() -> None:
    browser = ChromiumBrowser()
    async with browser.running() as running:
        theirs: ChromiumPeer = await running.peer()
        ours = RtcpeerPeer()
        events: list[object] = []
        ours.pc.ontrack = events.append
        try:
            await theirs.add_media("audio-video")
            channel = await theirs.create_data_channel("up")
            offer = await theirs.set_local_description(await theirs.create_offer())
            from tests.interop.harness import CandidateRelay, loopback_only

            to_ours, to_theirs = CandidateRelay(theirs, ours), CandidateRelay(ours, theirs)
            await ours.pc.setRemoteDescription(loopback_only(offer))
            to_ours.remote_set.set()
            # Like the seed's Bob: add media after the offer, then answer.
            stream = MediaStream([MediaStreamTrack("audio"), MediaStreamTrack("video")])
            for track in stream.getTracks():
                ours.pc.addTrack(track, stream)
            answer = await ours.set_local_description()
            await theirs.set_remote_description(loopback_only(answer))
            to_theirs.remote_set.set()
            await channel.wait_open()
            assert [e.track.kind for e in events] == ["audio", "video"]  # type: ignore[attr-defined]
            remote_streams = {e.streams[0].id for e in events}  # type: ignore[attr-defined]
            assert len(remote_streams) == 1  # Chromium's one camera+mic stream
            assert [t.currentDirection for t in ours.pc.getTransceivers()] == ["sendrecv"] * 2
            await theirs.log.wait("track", lambda e: e["kind"] == "video")
            transceivers = await theirs.transceivers()
            assert [t["currentDirection"] for t in transceivers] == ["sendrecv", "sendrecv"]
            to_ours.stop()
            to_theirs.stop()
        finally:
            await ours.close()
            await theirs.close()
