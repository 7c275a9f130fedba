"""The W3C media plumbing API at the negotiation level: transceivers, senders,
receivers, tracks and streams, and what offers/answers say about them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rtcpeer import (
    InvalidAccessError,
    InvalidModificationError,
    InvalidStateError,
    MediaStream,
    MediaStreamTrack,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
)
from rtcpeer.sdp import parse


async def exchange(a: RTCPeerConnection, b: RTCPeerConnection) -> None:
    await a.setLocalDescription()
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription()
    await a.setRemoteDescription(b.localDescription)


def media_lines(pc: RTCPeerConnection) -> list[Any]:
    assert pc.localDescription is not None
    return [m for m in parse(pc.localDescription.sdp).media if m.kind in ("audio", "video")]


@pytest.fixture
async def pair() -> Any:
    a, b = RTCPeerConnection(), RTCPeerConnection()
    yield a, b
    await a.close()
    await b.close()


async def test_add_track_fires_negotiationneeded_once_and_signals_msid(pair: Any) -> None:
    a, b = pair
    fired: list[str] = []
    a.onnegotiationneeded = lambda e: fired.append("nn")
    stream = MediaStream([MediaStreamTrack("audio"), MediaStreamTrack("video")])
    senders = [a.addTrack(t, stream) for t in stream.getTracks()]
    await asyncio.sleep(0)
    assert fired == ["nn"]
    assert [s.track for s in senders] == stream.getTracks()
    assert [t.sender for t in a.getTransceivers()] == senders
    await exchange(a, b)
    for media, track in zip(media_lines(a), stream.getTracks(), strict=True):
        assert media.direction == "sendrecv"
        assert [(m.stream_id, m.track_id) for m in media.msids] == [(stream.id, track.id)]
    # b has no tracks: it answers recvonly; currentDirection as W3C defines it.
    assert [t.currentDirection for t in a.getTransceivers()] == ["sendonly", "sendonly"]
    assert [t.currentDirection for t in b.getTransceivers()] == ["recvonly", "recvonly"]
    assert all(isinstance(r, RTCRtpReceiver) for r in b.getReceivers())
    assert [r.track.kind for r in b.getReceivers()] == ["audio", "video"]


async def test_add_track_errors(pair: Any) -> None:
    a, _ = pair
    track = MediaStreamTrack("audio")
    a.addTrack(track)
    with pytest.raises(InvalidAccessError):
        a.addTrack(track)
    with pytest.raises(TypeError):
        a.addTrack("audio")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        MediaStreamTrack("screen")
    await a.close()
    with pytest.raises(InvalidStateError):
        a.addTrack(MediaStreamTrack("video"))


async def test_remove_track_mutes_and_removes_it_remotely(pair: Any) -> None:
    a, b = pair
    stream = MediaStream([MediaStreamTrack("audio")])
    sender = a.addTrack(stream.getTracks()[0], stream)
    got: list[Any] = []
    b.ontrack = got.append
    await exchange(a, b)
    (event,) = got
    remote_stream = event.streams[0]
    removed: list[Any] = []
    remote_stream.onremovetrack = lambda e: removed.append(e.track)
    fired: list[str] = []
    a.onnegotiationneeded = lambda e: fired.append("nn")
    a.removeTrack(sender)
    assert sender.track is None
    assert a.getTransceivers()[0].direction == "recvonly"
    await asyncio.sleep(0)
    assert fired == ["nn"]
    await exchange(a, b)
    assert media_lines(a)[0].direction == "recvonly"
    assert removed == [event.track] and remote_stream.getTracks() == []
    assert event.track.muted
    other = RTCPeerConnection()
    try:
        with pytest.raises(InvalidAccessError):
            other.removeTrack(sender)
    finally:
        await other.close()


async def test_recvonly_transceiver_is_answered_inactive_without_track_event(pair: Any) -> None:
    a, b = pair
    transceiver = a.addTransceiver("video", {"direction": "recvonly"})
    assert transceiver.sender.track is None and transceiver.receiver.track.kind == "video"
    got: list[Any] = []
    b.ontrack = got.append
    a_tracks: list[Any] = []
    a.ontrack = a_tracks.append
    await exchange(a, b)
    assert media_lines(a)[0].direction == "recvonly"
    assert got == []  # a sends nothing: no track at b
    assert media_lines(b)[0].direction == "inactive"  # b has nothing to send either
    assert transceiver.currentDirection == "inactive"
    assert a_tracks == []
    # b now adds a video track: its addTrack reuses the transceiver a's offer made.
    b.addTrack(MediaStreamTrack("video"))
    assert len(b.getTransceivers()) == 1
    await exchange(b, a)
    assert [e.track.kind for e in a_tracks] == ["video"]
    assert transceiver.currentDirection == "recvonly"


async def test_replace_track_rules(pair: Any) -> None:
    a, b = pair
    sender = a.addTrack(MediaStreamTrack("video"))
    await exchange(a, b)
    fired: list[str] = []
    a.onnegotiationneeded = lambda e: fired.append("nn")
    replacement = MediaStreamTrack("video")
    await sender.replaceTrack(replacement)
    assert sender.track is replacement
    await sender.replaceTrack(None)
    assert sender.track is None
    with pytest.raises(TypeError, match="audio track"):
        await sender.replaceTrack(MediaStreamTrack("audio"))
    await asyncio.sleep(0.05)
    assert fired == []  # replaceTrack never renegotiates
    a.getTransceivers()[0].stop()
    with pytest.raises(InvalidStateError):
        await sender.replaceTrack(replacement)


async def test_simulcast_send_encodings_and_parameters(pair: Any) -> None:
    a, b = pair
    transceiver = a.addTransceiver(
        MediaStreamTrack("video"),
        direction="sendonly",
        sendEncodings=[{"rid": "h"}, {"rid": "m", "scaleResolutionDownBy": 2.0}],
    )
    await a.setLocalDescription()
    video = media_lines(a)[0]
    assert [r.id for r in video.rids] == ["h", "m"]
    assert video.simulcast is not None
    sender: RTCRtpSender = transceiver.sender
    with pytest.raises(InvalidStateError):
        await sender.setParameters({"transactionId": "x", "encodings": []})
    params = sender.getParameters()
    assert [e["rid"] for e in params["encodings"]] == ["h", "m"]
    params["encodings"][1]["active"] = False
    stale = dict(params, transactionId="not-it")
    with pytest.raises(InvalidModificationError):
        await sender.setParameters(stale)
    await sender.setParameters(params)
    assert sender.getParameters()["encodings"][1]["active"] is False
    params = sender.getParameters()
    params["encodings"][0]["rid"] = "x"
    with pytest.raises(InvalidModificationError, match="rid"):
        await sender.setParameters(params)
    params = sender.getParameters()
    params["encodings"].pop()
    with pytest.raises(InvalidModificationError):
        await sender.setParameters(params)
    with pytest.raises(ValueError):
        a.addTransceiver("audio", sendEncodings=[{"scaleResolutionDownBy": 2.0}])
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription()
    await a.setRemoteDescription(b.localDescription)
    negotiated = sender.getParameters()
    assert negotiated["codecs"] and negotiated["codecs"][0]["mimeType"].startswith("video/")
    assert any(h["uri"].endswith("sdes:mid") for h in negotiated["headerExtensions"])


async def test_codec_preferences_and_capabilities(pair: Any) -> None:
    a, b = pair
    caps = RTCRtpSender.getCapabilities("audio")
    assert caps is not None and any(c["mimeType"].lower() == "audio/opus" for c in caps["codecs"])
    assert RTCRtpReceiver.getCapabilities("application") is None
    transceiver = a.addTransceiver("audio")
    opus = [c for c in caps["codecs"] if c["mimeType"].lower() == "audio/opus"]
    transceiver.setCodecPreferences(opus)
    await exchange(a, b)
    (audio,) = media_lines(a)
    assert [c.name.lower() for c in audio.codecs] == ["opus"]
    with pytest.raises(InvalidModificationError):
        transceiver.setCodecPreferences([{"mimeType": "audio/nope", "clockRate": 8000}])
    transceiver.setCodecPreferences([])  # back to the default list


async def test_stopping_a_transceiver_rejects_its_m_line(pair: Any) -> None:
    a, b = pair
    a.addTrack(MediaStreamTrack("audio"))
    got: list[Any] = []
    b.ontrack = got.append
    await exchange(a, b)
    (event,) = got
    ended: list[str] = []
    event.track.onended = lambda e: ended.append("ended")
    transceiver = a.getTransceivers()[0]
    transceiver.stop()
    assert transceiver.direction == "stopped"
    with pytest.raises(InvalidStateError):
        transceiver.direction = "sendrecv"
    await exchange(a, b)
    assert parse(a.localDescription.sdp).media[0].port == 0  # type: ignore[union-attr]
    assert transceiver.currentDirection == "stopped"
    assert ended == ["ended"] and event.track.readyState == "ended"
    assert a.getTransceivers() == []  # W3C: stopped transceivers leave the set
    with pytest.raises(TypeError):
        a.addTransceiver("audio").direction = "sideways"


async def test_direction_change_renegotiates_when_w3c_says_so(pair: Any) -> None:
    a, b = pair
    transceiver = a.addTransceiver("audio")
    await exchange(a, b)  # offered sendrecv, answered recvonly
    fired: list[str] = []
    a.onnegotiationneeded = lambda e: fired.append("nn")
    # W3C "check if negotiation is needed": sendonly matches the answer (reversed), so
    # nothing to negotiate; inactive matches neither description.
    transceiver.direction = "sendonly"
    await asyncio.sleep(0)
    assert fired == []
    transceiver.direction = "inactive"
    await asyncio.sleep(0)
    assert fired == ["nn"]
    await exchange(a, b)
    assert media_lines(a)[0].direction == "inactive"
    assert b.getTransceivers()[0].currentDirection == "inactive"


async def test_add_track_reuses_an_unused_transceiver_of_its_kind(pair: Any) -> None:
    a, _ = pair
    transceiver = a.addTransceiver("audio", {"direction": "recvonly"})
    sender = a.addTrack(MediaStreamTrack("audio"))
    assert sender is transceiver.sender and len(a.getTransceivers()) == 1
    assert transceiver.direction == "sendrecv"  # recvonly gained send
    video = a.addTrack(MediaStreamTrack("video"))
    assert len(a.getTransceivers()) == 2 and video is not sender
