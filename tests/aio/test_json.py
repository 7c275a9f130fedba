"""Descriptions and candidates travel as JSON the way browser code sends them:
``json.dumps`` writes them as their ``toJSON()`` (JavaScript's ``JSON.stringify``),
and the dicts that come back are accepted everywhere."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rtcpeer import RTCIceCandidate, RTCPeerConnection, RTCSessionDescription
from tests.helpers import until


async def test_descriptions_and_candidates_round_trip_through_json(pair: Any) -> None:
    a, b, _ = pair
    wire: list[str] = []
    a.onicecandidate = lambda e: wire.append(json.dumps({"candidate": e.candidate}))
    channel = a.createDataChannel("json")
    await a.setLocalDescription()
    message = json.dumps({"description": a.localDescription})
    description = json.loads(message)["description"]
    assert description == {"type": "offer", "sdp": a.localDescription.sdp}
    await b.setRemoteDescription(description)
    await b.setLocalDescription()
    await a.setRemoteDescription(json.loads(json.dumps(b.localDescription)))
    await until(lambda: bool(wire) and json.loads(wire[-1])["candidate"] is None)
    for text in wire:
        candidate = json.loads(text)["candidate"]
        if candidate is not None:
            assert set(candidate) == {"candidate", "sdpMid", "sdpMLineIndex", "usernameFragment"}
            await b.addIceCandidate(candidate)
    await until(lambda: channel.readyState == "open")


def test_they_are_read_only_dicts_with_their_w3c_attributes() -> None:
    description = RTCSessionDescription("offer", "v=0\r\n")
    assert (description.type, description.sdp) == ("offer", "v=0\r\n")
    assert description == {"type": "offer", "sdp": "v=0\r\n"}
    assert RTCSessionDescription({"type": "answer", "sdp": "x"}).type == "answer"
    assert description.toJSON() == dict(description)
    with pytest.raises(TypeError, match="read-only"):
        description["sdp"] = "changed"
    candidate = RTCIceCandidate(
        candidate="candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host",
        sdpMid="0",
        sdpMLineIndex=0,
    )
    assert candidate.address == "127.0.0.1" and candidate.port == 5000
    assert candidate.type == "host" and candidate.sdpMid == "0"
    assert json.loads(json.dumps(candidate)) == candidate.toJSON()
    assert RTCIceCandidate(dict(candidate)) == candidate
    with pytest.raises(TypeError, match="read-only"):
        candidate.update(sdpMid="1")


async def test_a_closed_connection_still_serialises_its_description() -> None:
    pc = RTCPeerConnection()
    await pc.setLocalDescription(await pc.createOffer())
    text = json.dumps(pc.localDescription)
    await pc.close()
    assert json.loads(text)["type"] == "offer"
