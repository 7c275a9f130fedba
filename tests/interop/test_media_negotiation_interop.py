"""Media negotiation with headless Chromium through the W3C API: tracks added on
either side arrive as ``track`` events on the other, with their streams and the
directions both agree on. The media itself is in ``test_media_interop.py``."""

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


async def test_chromium_media_is_received_counted_and_reported_back() -> None:
    """Chromium sends its fake camera and microphone: SRTP is unprotected here, each
    stream is counted in inbound-rtp (and its sender reports in remote-outbound-rtp),
    the remote tracks unmute, and our receiver reports reach Chromium, whose
    remote-inbound-rtp then has a round-trip time."""
    import asyncio

    browser = ChromiumBrowser()
    async with browser.running() as running:
        theirs: ChromiumPeer = await running.peer()
        ours = RtcpeerPeer()
        tracks: list[object] = []
        ours.pc.ontrack = tracks.append
        try:
            await theirs.add_media("audio-video")
            channel = await theirs.create_data_channel("up")
            await negotiate(theirs, ours)
            await channel.wait_open()
            unmuted: list[str] = []
            for event in tracks:
                track = event.track  # type: ignore[attr-defined]
                if not track.muted:
                    unmuted.append(track.kind)
                track.onunmute = lambda e, k=track.kind: unmuted.append(k)
            inbound: dict[str, dict[str, object]] = {}
            for _ in range(100):
                report = await ours.pc.getStats()
                inbound = {s["kind"]: dict(s) for s in report.values() if s.type == "inbound-rtp"}
                if set(inbound) == {"audio", "video"} and all(
                    s["packetsReceived"] > 20
                    for s in inbound.values()  # type: ignore[operator]
                ):
                    break
                await asyncio.sleep(0.1)
            assert set(inbound) == {"audio", "video"}
            assert sorted(unmuted) == ["audio", "video"]
            for kind, stats in inbound.items():
                assert stats["bytesReceived"] > 0, kind  # type: ignore[operator]
                assert stats["mid"] in ("0", "1")
                codec = report[stats["codecId"]]  # type: ignore[index]
                assert codec["mimeType"].lower().startswith(kind + "/")
            assert ours.pc._connection.srtp_dropped == 0
            # Chromium learns loss and RTT from our receiver reports.
            remote_inbound: list[dict[str, object]] = []
            for _ in range(100):
                theirs_stats = await theirs.stats()
                remote_inbound = [
                    s for s in theirs_stats if s["type"] == "remote-inbound-rtp"
                    and "roundTripTime" in s
                ]  # fmt: skip
                if len(remote_inbound) == 2:
                    break
                await asyncio.sleep(0.1)
            assert sorted(s["kind"] for s in remote_inbound) == ["audio", "video"]  # type: ignore[type-var]
        finally:
            await ours.close()
            await theirs.close()
