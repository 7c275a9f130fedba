"""JSEP interop: headless Chromium offers what browsers offer (audio and video from the
fake devices, simulcast with three rids, recvonly transceivers, a track added in a
renegotiation, an ICE restart), rtcpeer answers, and Chromium must accept every
answer, agree on the negotiated directions, and keep the data channel working.

rtcpeer has no media tracks yet, so it answers media sections ``recvonly`` (the peer
sends) or ``inactive``; the answer's codecs, header extensions and simulcast must still
be a valid subset of the offer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from rtcpeer.sdp import SessionDescription, parse
from tests.interop.harness import ChromiumBrowser, ChromiumPeer, RtcpeerPeer, negotiate


@pytest_asyncio.fixture
async def peers() -> AsyncIterator[tuple[ChromiumPeer, RtcpeerPeer]]:
    browser = ChromiumBrowser()
    async with browser.running() as running:
        theirs = await running.peer()
        ours = RtcpeerPeer()
        try:
            yield theirs, ours
        finally:
            await ours.close()
            await theirs.close()


def check_answer_fits_offer(offer: SessionDescription, answer: SessionDescription) -> None:
    """RFC 8829 §5.3.1: one m-section per offered one, same kinds and mids in order,
    every codec and extension one the offer had, under the same payload type/id."""
    assert [m.kind for m in answer.media] == [m.kind for m in offer.media]
    assert [m.mid for m in answer.media] == [m.mid for m in offer.media]
    for offered, answered in zip(offer.media, answer.media, strict=True):
        if not offered.is_rtp or answered.port == 0:
            continue
        offered_codecs = {c.payload_type: c.mime_type.lower() for c in offered.codecs}
        for codec in answered.codecs:
            assert offered_codecs.get(codec.payload_type) == codec.mime_type.lower()
        offered_ext = {e.id: e.uri for e in offered.extmaps}
        for ext in answered.extmaps:
            assert offered_ext.get(ext.id) == ext.uri
        assert answered.rtcp_mux


async def offer_and_check(
    theirs: ChromiumPeer, ours: RtcpeerPeer, *, ice_restart: bool = False
) -> tuple[SessionDescription, SessionDescription]:
    relays = await negotiate(theirs, ours, ice_restart=ice_restart)
    del relays
    offer_text = await theirs.browser.call("localDescription", theirs.pc_id)
    states = await theirs.states()
    assert states["signalingState"] == "stable"  # Chromium accepted our answer
    local = ours.pc.localDescription
    assert local is not None and local.type == "answer"
    offer, answer = parse(offer_text["sdp"]), parse(local.sdp)
    check_answer_fits_offer(offer, answer)
    return offer, answer


async def chat(theirs: ChromiumPeer, ours: RtcpeerPeer, label: str) -> None:
    """A data channel opened from Chromium carries a message both ways."""
    channel = await theirs.create_data_channel(label)
    if ours.pc.sctp is None:
        await offer_and_check(theirs, ours)
    await channel.wait_open()
    remote = await ours.channel_from_event(label)
    await channel.send(f"ping {label}")
    assert await remote.messages(1) == [f"ping {label}"]
    await remote.send(f"pong {label}")
    assert await channel.messages(1) == [f"pong {label}"]


async def test_audio_video_and_data_answer_is_accepted(
    peers: tuple[ChromiumPeer, RtcpeerPeer],
) -> None:
    theirs, ours = peers
    await theirs.add_media("audio-video")
    await theirs.create_data_channel("first")
    offer, answer = await offer_and_check(theirs, ours)
    assert [m.kind for m in offer.media] == ["audio", "video", "application"]
    assert [m.direction for m in answer.media[:2]] == ["recvonly", "recvonly"]
    assert answer.bundle_groups and answer.bundle_groups[0].mids == ("0", "1", "2")
    # Opus and VP8 are in every browser's offer; our answer keeps them.
    assert any(c.name.lower() == "opus" for c in answer.media[0].codecs)
    assert any(c.name.lower() == "vp8" for c in answer.media[1].codecs)
    transceivers = await theirs.transceivers()
    assert [t["currentDirection"] for t in transceivers] == ["sendonly", "sendonly"]
    await chat(theirs, ours, "after-av")


async def test_simulcast_answer_is_accepted(peers: tuple[ChromiumPeer, RtcpeerPeer]) -> None:
    theirs, ours = peers
    await theirs.add_media("simulcast")
    await theirs.create_data_channel("first")
    offer, answer = await offer_and_check(theirs, ours)
    video_offer, video_answer = offer.media[0], answer.media[0]
    assert [r.id for r in video_offer.rids] == ["h", "m", "l"]
    assert video_answer.direction == "recvonly"
    # RFC 8853 §5.3: the answerer receives the layers it accepts, rids reversed.
    assert [(r.id, r.direction) for r in video_answer.rids] == [
        ("h", "recv"),
        ("m", "recv"),
        ("l", "recv"),
    ]
    assert video_answer.simulcast is not None
    transceivers = await theirs.transceivers()
    assert transceivers[0]["currentDirection"] == "sendonly"
    await chat(theirs, ours, "after-simulcast")


async def test_recvonly_offer_is_answered_inactive(
    peers: tuple[ChromiumPeer, RtcpeerPeer],
) -> None:
    theirs, ours = peers
    await theirs.add_media("recvonly")
    await theirs.create_data_channel("first")
    _offer, answer = await offer_and_check(theirs, ours)
    # We have nothing to send and they want only to receive.
    assert [m.direction for m in answer.media[:2]] == ["inactive", "inactive"]
    transceivers = await theirs.transceivers()
    assert [t["currentDirection"] for t in transceivers] == ["inactive", "inactive"]
    await chat(theirs, ours, "after-recvonly")


async def test_renegotiation_adding_a_track_is_accepted(
    peers: tuple[ChromiumPeer, RtcpeerPeer],
) -> None:
    theirs, ours = peers
    await theirs.add_media("audio-video")
    await chat(theirs, ours, "before")
    first_answer = ours.pc.localDescription
    assert first_answer is not None
    mids = await theirs.add_media("second-video")
    assert len(mids) == 3 and mids[2] is None
    offer, answer = await offer_and_check(theirs, ours)
    assert [m.kind for m in offer.media] == ["audio", "video", "application", "video"]
    assert answer.media[3].direction == "recvonly"
    assert answer.bundle_groups[0].mids == ("0", "1", "2", "3")
    # Same session, next version (RFC 8829 §5.3.2), same transport.
    before = parse(first_answer.sdp)
    assert answer.origin.session_id == before.origin.session_id
    assert answer.origin.session_version > before.origin.session_version
    assert answer.media[0].ice_ufrag == before.media[0].ice_ufrag
    await chat(theirs, ours, "after-renegotiation")


async def test_ice_restart_offer_with_media_is_accepted(
    peers: tuple[ChromiumPeer, RtcpeerPeer],
) -> None:
    theirs, ours = peers
    await theirs.add_media("audio-video")
    await chat(theirs, ours, "before")
    first = parse(ours.pc.localDescription.sdp)  # type: ignore[union-attr]
    first_offer = parse((await theirs.browser.call("localDescription", theirs.pc_id))["sdp"])
    offer, answer = await offer_and_check(theirs, ours, ice_restart=True)
    assert offer.media[0].ice_ufrag != first_offer.media[0].ice_ufrag
    # RFC 8839 §4.4.1.1.1: the answerer restarts too, with new credentials.
    assert answer.media[0].ice_ufrag != first.media[0].ice_ufrag
    assert answer.media[0].ice_pwd != first.media[0].ice_pwd
    await chat(theirs, ours, "after-restart")
