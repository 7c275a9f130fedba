"""Real and RFC descriptions: byte-exact round trips and typed reads.

Vectors (tests/vectors/sdp/, see README.md there): chromium_*.sdp captured from
headless Chromium by capture_chromium.py; firefox_*.sdp hand-written in Firefox's
style; rfc8829_*.sdp the RFC 8829 §7 examples (folded lines joined, the blank lines
the RFC adds for readability removed).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rtcpeer.sdp import (
    Extmap,
    Fingerprint,
    Group,
    Msid,
    MsidSemantic,
    Rid,
    Rtcp,
    RtcpFb,
    Rtpmap,
    SessionDescription,
    Simulcast,
    SimulcastStream,
    SsrcGroup,
    parse,
)

VECTOR_DIR = Path(__file__).parents[2] / "vectors" / "sdp"
VECTORS = sorted(VECTOR_DIR.glob("*.sdp"))


def load(name: str) -> str:
    return (VECTOR_DIR / name).read_bytes().decode("utf-8")


def desc(name: str) -> SessionDescription:
    return parse(load(name))


def test_the_vector_set_is_complete() -> None:
    names = {p.stem for p in VECTORS}
    for scenario in (
        "av_data",
        "simulcast",
        "renegotiated",
        "ice_restart",
        "data_only",
        "recvonly",
    ):
        assert f"chromium_{scenario}_offer" in names
        assert f"chromium_{scenario}_answer" in names
    assert {"firefox_av_data_offer", "firefox_simulcast_offer"} <= names
    for label in ("a1", "b1", "b2", "c1", "c2"):
        assert {f"rfc8829_offer_{label}", f"rfc8829_answer_{label}"} <= names


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector_round_trips_byte_for_byte(path: Path) -> None:
    text = path.read_bytes().decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    description = parse(text)
    assert description.serialize() == text
    # The model is a fixed point too.
    assert parse(description.serialize()) == description


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector_with_lf_and_trailing_blanks_normalizes_to_the_original(path: Path) -> None:
    text = path.read_bytes().decode("utf-8")
    lines = text.split("\r\n")[:-1]
    # LF only, spaces/tabs after every line but s=, no final line end.
    messy = "\n".join(line if line.startswith("s=") else line + " \t" for line in lines)
    assert parse(messy).serialize() == text
    assert parse(text.encode()).serialize() == text


# -- Chromium: audio + video + data --------------------------------------------------


def test_chromium_offer_session_level() -> None:
    d = desc("chromium_av_data_offer.sdp")
    assert d.origin.username == "-"
    assert d.origin.session_id == "7044126542831665328"
    assert d.origin.session_version == 2
    assert (d.origin.nettype, d.origin.addrtype, d.origin.address) == ("IN", "IP4", "127.0.0.1")
    assert d.session_name == "-"
    assert [(t.start, t.stop) for t in d.timing] == [(0, 0)]
    assert d.groups == [Group("BUNDLE", ("0", "1", "2"))]
    assert d.bundle_groups[0].mids == ("0", "1", "2")
    assert d.extmap_allow_mixed is True
    assert d.msid_semantic == MsidSemantic("WMS", ("2ce071cf-d819-4605-b9cb-c16f5606a7b7",))
    assert d.value_of("msid-semantic") == " WMS 2ce071cf-d819-4605-b9cb-c16f5606a7b7"
    assert d.direction is None and not d.ice_lite
    assert [(m.kind, m.mid) for m in d.media] == [
        ("audio", "0"),
        ("video", "1"),
        ("application", "2"),
    ]
    assert d.media_by_mid("1") is d.media[1]
    assert d.media_by_mid("9") is None


def test_chromium_offer_audio_section() -> None:
    audio = desc("chromium_av_data_offer.sdp").media[0]
    assert (audio.kind, audio.port, audio.proto) == ("audio", 37704, "UDP/TLS/RTP/SAVPF")
    assert audio.payload_types == [111, 63, 9, 0, 8, 13, 110, 126]
    assert audio.is_rtp and not audio.is_sctp
    assert str(audio.connection) == "IN IP4 127.0.0.1"
    assert audio.rtcp == Rtcp(9, "IN", "IP4", "0.0.0.0")
    assert audio.ice_ufrag == "FnIm"
    assert audio.ice_pwd == "8i60vxiCizris06KLEFanS1F"
    assert audio.ice_options == ("trickle",)
    [fingerprint] = audio.fingerprints
    assert fingerprint.algorithm == "sha-256"
    assert fingerprint.digest[:4] == bytes.fromhex("60A79615") and len(fingerprint.digest) == 32
    assert audio.setup == "actpass"
    assert audio.direction == "sendrecv"
    assert audio.rtcp_mux and audio.rtcp_rsize and not audio.rtcp_mux_only
    assert audio.value_of("rtcp-xr") == "rcvr-rtt=all"  # unknown to the model, kept
    assert audio.extmaps[0] == Extmap(1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level")
    assert [e.id for e in audio.extmaps] == [1, 2, 3, 4]
    assert audio.rtpmap(111) == Rtpmap(111, "opus", 48000, 2)
    assert audio.rtpmap(0) == Rtpmap(0, "PCMU", 8000)
    fmtp = audio.fmtp(111)
    assert fmtp is not None and fmtp.parameters == {"minptime": "10", "useinbandfec": "1"}
    red = audio.fmtp(63)
    assert red is not None and red.parameters == {"111/111": None}
    assert audio.rtcp_fb(111) == [RtcpFb(111, "transport-cc")]
    opus = audio.codecs[0]
    assert (opus.name, opus.clock_rate, opus.channels) == ("opus", 48000, 2)
    assert opus.fmtp == "minptime=10;useinbandfec=1" and opus.feedback == ("transport-cc",)
    assert [c.name for c in audio.codecs] == [
        "opus", "red", "G722", "PCMU", "PCMA", "CN", "telephone-event", "telephone-event",
    ]  # fmt: skip
    assert audio.msids == [
        Msid("2ce071cf-d819-4605-b9cb-c16f5606a7b7", "f1a28a77-a48f-4e4e-82f9-f1e521bdfc72")
    ]
    assert audio.ssrc_attributes(1569145249) == {
        "cname": "uwbppWg/35S532Pb",
        "msid": "2ce071cf-d819-4605-b9cb-c16f5606a7b7 f1a28a77-a48f-4e4e-82f9-f1e521bdfc72",
    }
    assert len(audio.candidates) == 8
    assert audio.candidates[0] == (
        "2199803271 1 udp 2122194687 127.0.0.1 37704 typ host generation 0 "
        "network-id 3 network-cost 50"
    )
    assert not audio.end_of_candidates


def test_chromium_offer_video_section() -> None:
    video = desc("chromium_av_data_offer.sdp").media[1]
    assert video.payload_types[:4] == [96, 97, 102, 103]
    assert video.rtpmap(96) == Rtpmap(96, "VP8", 90000)
    vp8 = video.codec(96)
    assert vp8 is not None and vp8.fmtp is None
    assert vp8.feedback == ("goog-remb", "transport-cc", "ccm fir", "nack", "nack pli")
    h264 = video.fmtp(102)
    assert h264 is not None
    assert h264.parameters == {
        "level-asymmetry-allowed": "1",
        "packetization-mode": "1",
        "profile-level-id": "42001f",
    }
    assert list(h264.parameters) == [
        "level-asymmetry-allowed",
        "packetization-mode",
        "profile-level-id",
    ]
    rtx = video.codec(97)
    assert rtx is not None and rtx.name == "rtx" and rtx.parameters == {"apt": "96"}
    vp9 = [c for c in video.codecs if c.name == "VP9"]
    assert [c.parameters for c in vp9] == [{"profile-id": "0"}, {"profile-id": "2"}]
    av1 = video.codec(45)
    assert av1 is not None and av1.parameters == {"level-idx": "5", "profile": "0", "tier": "0"}
    assert RtcpFb(96, "nack", "pli") in video.rtcp_fbs
    assert RtcpFb(96, "ccm", "fir").value == "ccm fir"
    assert video.ssrc_groups == [SsrcGroup("FID", (2037578402, 1376765091))]
    group = video.ssrc_groups[0]
    assert {s.ssrc for s in video.ssrcs} == set(group.ssrcs)
    assert video.extmaps[-1] == Extmap(11, "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id")


def test_chromium_offer_data_section() -> None:
    data = desc("chromium_av_data_offer.sdp").media[2]
    assert (data.kind, data.proto, data.formats) == (
        "application", "UDP/DTLS/SCTP", ["webrtc-datachannel"],
    )  # fmt: skip
    assert data.is_sctp and not data.is_rtp and data.payload_types == []
    assert data.sctp_port == 5000
    assert data.max_message_size == 262144
    assert data.sctpmap is None
    assert data.rtcp is None and data.direction is None
    assert data.codecs == []


def test_chromium_answer_takes_the_active_role() -> None:
    offer = desc("chromium_av_data_offer.sdp")
    answer = desc("chromium_av_data_answer.sdp")
    assert answer.bundle_groups == offer.bundle_groups
    assert answer.msid_semantic == MsidSemantic("WMS")
    assert [m.setup for m in answer.media] == ["active"] * 3
    assert [m.mid for m in answer.media] == ["0", "1", "2"]
    assert answer.media[0].direction == "recvonly"  # the answerer added no tracks
    assert answer.media[0].ice_ufrag != offer.media[0].ice_ufrag
    assert answer.media[2].max_message_size == 262144


def test_chromium_simulcast_offer_rids() -> None:
    video = desc("chromium_simulcast_offer.sdp").media[1]
    assert video.direction == "sendonly"
    assert video.rids == [Rid("h", "send"), Rid("m", "send"), Rid("l", "send")]
    simulcast = video.simulcast
    assert simulcast is not None
    assert simulcast.send_rids == ("h", "m", "l")
    assert simulcast.recv == ()
    assert video.ssrcs == [] and video.ssrc_groups == []
    uris = {e.uri for e in video.extmaps}
    assert "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id" in uris


def test_chromium_simulcast_answer_as_captured() -> None:
    # Chromium answers a simulcast offer without rid/simulcast lines: it does not
    # receive simulcast; the answer only accepts the m-section.
    video = desc("chromium_simulcast_answer.sdp").media[1]
    assert video.direction == "recvonly"
    assert video.rids == [] and video.simulcast is None


def test_chromium_renegotiation_and_ice_restart() -> None:
    first = desc("chromium_av_data_offer.sdp")
    renegotiated = desc("chromium_renegotiated_offer.sdp")
    restart = desc("chromium_ice_restart_offer.sdp")
    assert renegotiated.origin.session_id == first.origin.session_id == restart.origin.session_id
    versions = [d.origin.session_version for d in (first, renegotiated, restart)]
    assert versions == [2, 3, 4]
    assert renegotiated.bundle_groups[0].mids == ("0", "1", "2", "3")
    added = renegotiated.media_by_mid("3")
    assert added is not None and added.kind == "video" and added.direction == "sendonly"
    assert added.msids[0].stream_id == "-"
    assert renegotiated.media[0].ice_ufrag == first.media[0].ice_ufrag
    # An ICE restart changes every section's credentials, and only those (and the
    # candidates, ports and o= version).
    assert {m.ice_ufrag for m in restart.media} != {m.ice_ufrag for m in renegotiated.media}
    assert len({m.ice_ufrag for m in restart.media}) == 1
    assert restart.media[0].fingerprints == renegotiated.media[0].fingerprints


def test_chromium_data_only() -> None:
    offer = desc("chromium_data_only_offer.sdp")
    answer = desc("chromium_data_only_answer.sdp")
    for d, role in ((offer, "actpass"), (answer, "active")):
        [data] = d.media
        assert data.kind == "application" and data.is_sctp
        assert data.sctp_port == 5000 and data.max_message_size == 262144
        assert data.setup == role
        assert d.bundle_groups == [Group("BUNDLE", ("0",))]


def test_chromium_recvonly_offer_and_sendonly_answer() -> None:
    offer = desc("chromium_recvonly_offer.sdp")
    answer = desc("chromium_recvonly_answer.sdp")
    assert [m.direction for m in offer.media] == ["recvonly", "recvonly"]
    assert all(m.msids == [] and m.ssrcs == [] for m in offer.media)
    assert [m.direction for m in answer.media] == ["sendonly", "sendonly"]
    assert all(m.msids and m.msids[0].stream_id == "-" for m in answer.media)


# -- Firefox style -------------------------------------------------------------------


def test_firefox_offer() -> None:
    d = desc("firefox_av_data_offer.sdp")
    assert d.origin.username == "mozilla...THIS_IS_SDPARTA-128.0"
    assert d.direction == "sendrecv"  # Firefox writes a session-level direction
    assert d.fingerprints[0].algorithm == "sha-256"
    assert d.ice_options == ("trickle",)
    assert d.msid_semantic == MsidSemantic("WMS", ("*",))
    audio, video, data = d.media
    assert audio.fingerprints == []
    assert d.fingerprints_of(audio) == d.fingerprints
    assert d.direction_of(data) == "sendrecv"
    assert audio.extmaps[1] == Extmap(
        2, "urn:ietf:params:rtp-hdrext:csrc-audio-level", direction="recvonly"
    )
    assert audio.rtpmap(9) == Rtpmap(9, "G722", 8000, 1)
    assert audio.fmtp(109) is not None
    assert audio.codec(109) is not None
    opus = audio.codec(109)
    assert opus is not None and opus.parameters["stereo"] == "1"
    assert audio.end_of_candidates and len(audio.candidates) == 2
    assert video.codec(126) is not None
    h264 = video.codec(126)
    assert h264 is not None and h264.parameters["packetization-mode"] == "1"
    assert video.ssrc_groups == [SsrcGroup("FID", (1762295842, 3304159147))]
    assert data.max_message_size == 1073741823 and data.sctp_port == 5000


def test_firefox_simulcast_offer() -> None:
    video = desc("firefox_simulcast_offer.sdp").media[0]
    assert [r.id for r in video.rids] == ["a", "b", "c"]
    assert video.simulcast == Simulcast(
        send=((SimulcastStream("a"),), (SimulcastStream("b"),), (SimulcastStream("c"),))
    )
    assert len(video.ssrc_groups) == 3
    assert all(g.semantics == "FID" for g in video.ssrc_groups)


# -- RFC 8829 §7 ---------------------------------------------------------------------


def test_rfc8829_simple_example() -> None:
    offer = desc("rfc8829_offer_a1.sdp")
    assert offer.ice_options == ("trickle", "ice2")
    assert offer.groups == [Group("BUNDLE", ("a1", "v1")), Group("LS", ("a1", "v1"))]
    assert offer.bundle_groups == [Group("BUNDLE", ("a1", "v1"))]
    audio, video = offer.media
    assert audio.msids == [Msid("47017fee-b6c1-4162-929c-a25110252400")]
    assert (
        audio.fingerprints[0].value.startswith("19:E2:1C:3B")
        and len(audio.fingerprints[0].digest) == 32
    )
    assert audio.rtcp == Rtcp(10101, "IN", "IP4", "203.0.113.100")
    assert audio.end_of_candidates
    assert audio.value_of("maxptime") == "120"
    assert audio.value_of("tls-id") == "91bbf309c0990a6bec11e38ba2933cee"
    assert [c.name for c in audio.codecs] == [
        "opus",
        "PCMU",
        "PCMA",
        "telephone-event",
        "telephone-event",
    ]
    assert video.codec(101) is not None
    assert video.rtcp_fb(100) == [
        RtcpFb(100, "ccm", "fir"),
        RtcpFb(100, "nack"),
        RtcpFb(100, "nack", "pli"),
    ]


def test_rfc8829_detailed_example() -> None:
    offer = desc("rfc8829_offer_b1.sdp")
    data = offer.media[1]
    assert data.port == 0 and data.bundle_only
    assert offer.media[0].rtcp_mux_only
    answer = desc("rfc8829_answer_b1.sdp")
    assert not answer.media[1].bundle_only and answer.media[1].port == 9
    b2 = desc("rfc8829_offer_b2.sdp")
    v1 = b2.media_by_mid("v1")
    assert v1 is not None
    assert [r.id for r in v1.rids] == ["1", "2", "3"]
    assert v1.simulcast is not None and v1.simulcast.send_rids == ("1", "2", "3")
    assert b2.media[0].candidates[1].endswith("typ srflx raddr 203.0.113.200 rport 10200")
    answer_b2 = desc("rfc8829_answer_b2.sdp")
    assert answer_b2.media[2].direction == "recvonly"
    assert answer_b2.media[2].value_of("imageattr") == "100 recv [x=[48:1920],y=[48:1080],q=1.0]"


def test_rfc8829_warmup_example() -> None:
    offer = desc("rfc8829_offer_c1.sdp")
    assert offer.media[1].bundle_only and offer.media[1].port == 0
    answer = desc("rfc8829_answer_c1.sdp")
    assert [m.direction for m in answer.media] == ["sendonly", "sendonly"]
    assert answer.media[0].setup == "active"
    c2 = desc("rfc8829_offer_c2.sdp")
    assert c2.origin.session_version == answer.origin.session_version + 1
    assert [Fingerprint.parse(str(f)) for f in c2.media[0].fingerprints] == c2.media[0].fingerprints
