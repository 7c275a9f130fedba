"""Codec capabilities and matching (rtcpeer.sdp.codecs): H.264 profile-level-id
(RFC 6184 §8.1/§8.2.2), VP9/AV1 profiles, answer fmtp, W3C capability views."""

from __future__ import annotations

import pytest

from rtcpeer.sdp import Codec
from rtcpeer.sdp.codecs import (
    AUDIO_CODECS,
    HEADER_EXTENSIONS,
    VIDEO_CODECS,
    CodecSpec,
    RtpCodecCapability,
    answer_fmtp,
    codec_key,
    find_spec,
    get_capabilities,
    h264_level_of,
    h264_profile_of,
    match_codec,
)


def spec(name: str, fmtp: str | None = None) -> CodecSpec:
    found = [c for c in (*AUDIO_CODECS, *VIDEO_CODECS) if c.name == name and c.fmtp == fmtp]
    assert found, (name, fmtp)
    return found[0]


def h264(plid: str | None, mode: int | None = 1, asym: bool = True, pt: int = 100) -> Codec:
    params = []
    if asym:
        params.append("level-asymmetry-allowed=1")
    if mode is not None:
        params.append(f"packetization-mode={mode}")
    if plid is not None:
        params.append(f"profile-level-id={plid}")
    return Codec(pt, "H264", 90000, None, ";".join(params) or None)


H264_CB_1 = spec("H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f")
H264_B_1 = spec("H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f")
H264_B_0 = spec("H264", "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f")


@pytest.mark.parametrize(
    ("plid", "profile"),
    [
        ("42e01f", "constrained-baseline"),
        ("42c01f", "constrained-baseline"),
        ("4d801f", "constrained-baseline"),
        ("58c01f", "constrained-baseline"),
        ("42001f", "baseline"),
        ("42101f", "baseline"),
        ("58801f", "baseline"),
        ("4d001f", "main"),
        ("4d0032", "main"),
        ("58001f", "extended"),
        ("64001f", "high"),
        ("640c1f", "constrained-high"),
        ("640c34", "constrained-high"),
        ("6e001f", "high-10"),
        ("7a001f", "high-422"),
        ("f4001f", "predictive-high-444"),
        (None, "baseline"),  # RFC 6184 §8.1 default 42000a
        ("64101f", None),
        ("ff001f", None),
        ("42e0", None),
        ("42e01g", None),
        ("", None),
    ],
)
def test_h264_profiles(plid: str | None, profile: str | None) -> None:
    assert h264_profile_of(plid) == profile


@pytest.mark.parametrize(
    ("plid", "level"),
    [
        ("42e01f", 31.0),
        ("42e00a", 10.0),
        ("42e00b", 11.0),
        ("42f00b", 10.5),  # constraint_set3 at level_idc 11: level 1b
        ("4d100b", 10.5),
        ("640009", 10.5),
        ("640c34", 52.0),
        ("zz", None),
    ],
)
def test_h264_levels(plid: str, level: float | None) -> None:
    assert h264_level_of(plid) == level


def test_h264_match_needs_profile_and_packetization_mode() -> None:
    assert match_codec(h264("42e01f"), H264_CB_1)
    assert match_codec(h264("42c033"), H264_CB_1)  # same profile, other level
    assert match_codec(h264("4d801f"), H264_CB_1)  # Main-coded constrained baseline
    assert not match_codec(h264("42001f"), H264_CB_1)
    assert not match_codec(h264("42e01f", mode=0), H264_CB_1)
    assert not match_codec(h264("42e01f", mode=None), H264_CB_1)  # default mode 0
    assert match_codec(h264("42001f", mode=None), H264_B_0)
    assert match_codec(h264(None, mode=0), H264_B_0)  # default profile is Baseline
    assert not match_codec(h264("f4001f"), H264_CB_1)
    assert not match_codec(h264("bogus"), H264_CB_1)
    bad_mode = Codec(100, "H264", 90000, None, "packetization-mode=x;profile-level-id=42001f")
    assert not match_codec(bad_mode, H264_B_1)
    assert not match_codec(Codec(100, "H264", 8000, None, "profile-level-id=42e01f"), H264_CB_1)


def test_h264_answer_level() -> None:
    # Both allow asymmetry: the answer states our own receive level.
    assert answer_fmtp(h264("42e033"), H264_CB_1) == (
        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
    )
    # No asymmetry: the lower level of both, in the offered profile bytes.
    assert answer_fmtp(h264("42c00a", asym=False), H264_CB_1) == (
        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42c00a"
    )
    assert answer_fmtp(h264("42e033", asym=False), H264_CB_1) == (
        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
    )
    # Level 1b survives the round trip in its Baseline encoding.
    assert answer_fmtp(h264("42f00b", asym=False), H264_CB_1) == (
        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42f00b"
    )
    # Level 1.1 must not carry constraint_set3 in Baseline (it would mean 1b).
    assert answer_fmtp(h264("42f00c", asym=False), H264_CB_1) == (
        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e00c"
    )


def test_vp9_and_av1_profiles() -> None:
    vp9_0 = spec("VP9", "profile-id=0")
    vp9_2 = spec("VP9", "profile-id=2")
    assert match_codec(Codec(98, "VP9", 90000), vp9_0)  # default 0
    assert match_codec(Codec(98, "VP9", 90000, None, "profile-id=0"), vp9_0)
    assert not match_codec(Codec(98, "VP9", 90000, None, "profile-id=2"), vp9_0)
    assert match_codec(Codec(98, "VP9", 90000, None, "profile-id=2"), vp9_2)
    assert not match_codec(Codec(98, "VP9", 90000, None, "profile-id=1"), vp9_0)
    assert not match_codec(Codec(98, "VP9", 90000, None, "profile-id=x"), vp9_0)
    av1 = spec("AV1", "level-idx=5;profile=0;tier=0")
    assert match_codec(Codec(45, "AV1", 90000), av1)
    assert match_codec(Codec(45, "AV1", 90000, None, "level-idx=8;profile=0;tier=1"), av1)
    assert not match_codec(Codec(47, "AV1", 90000, None, "level-idx=5;profile=1;tier=0"), av1)
    assert answer_fmtp(Codec(45, "AV1", 90000, None, "profile=0"), av1) == av1.fmtp


def test_audio_matching() -> None:
    opus = spec("opus", "minptime=10;useinbandfec=1")
    assert match_codec(Codec(109, "opus", 48000, 2, "stereo=1;useinbandfec=1"), opus)
    assert answer_fmtp(Codec(109, "opus", 48000, 2, "stereo=1"), opus) == opus.fmtp
    assert not match_codec(Codec(109, "opus", 48000, 1), opus)
    assert not match_codec(Codec(109, "opus", 16000, 2), opus)
    assert match_codec(Codec(0, "pcmu", 8000), spec("PCMU"))
    assert match_codec(Codec(9, "G722", 8000, 1), spec("G722"))
    assert not match_codec(Codec(0, "PCMU", 8000, 2), spec("PCMU"))
    te = [c for c in AUDIO_CODECS if c.name == "telephone-event"]
    found = find_spec(Codec(101, "telephone-event", 8000, None, "0-15"), te)
    assert found is not None and found.clock_rate == 8000
    assert find_spec(Codec(13, "CN", 8000), AUDIO_CODECS) is None
    assert find_spec(Codec(97, "rtx", 90000, None, "apt=96"), VIDEO_CODECS) is None


def test_codec_key_ignores_level_only() -> None:
    a = codec_key("H264", 90000, None, "profile-level-id=42e01f;packetization-mode=1")
    b = codec_key("h264", 90000, None, "packetization-mode=1;profile-level-id=42c034")
    c = codec_key("H264", 90000, None, "profile-level-id=42e01f;packetization-mode=0")
    assert a == b != c
    assert codec_key("VP9", 90000, None, None) == codec_key("VP9", 90000, None, "profile-id=0")
    assert codec_key("opus", 48000, 2, "x=1") == codec_key("OPUS", 48000, 2, None)
    assert codec_key("PCMU", 8000, 1, None) == codec_key("PCMU", 8000, None, None)


def test_get_capabilities() -> None:
    audio = get_capabilities("audio")
    assert audio is not None
    assert audio.codecs[0] == RtpCodecCapability(
        "audio/opus", 48000, 2, "minptime=10;useinbandfec=1"
    )
    assert [c.mime_type for c in audio.codecs] == [
        "audio/opus",
        "audio/G722",
        "audio/PCMU",
        "audio/PCMA",
        "audio/telephone-event",
        "audio/telephone-event",
    ]
    assert [h.uri for h in audio.header_extensions] == [
        "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        "urn:ietf:params:rtp-hdrext:sdes:mid",
    ]
    video = get_capabilities("video")
    assert video is not None
    names = [c.mime_type for c in video.codecs]
    assert names.count("video/rtx") == 1 and names[0] == "video/VP8"
    assert {c.sdp_fmtp_line for c in video.codecs if c.mime_type == "video/VP9"} == {
        "profile-id=0",
        "profile-id=2",
    }
    assert len([n for n in names if n == "video/H264"]) == 8
    assert "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id" in {
        h.uri for h in video.header_extensions
    }
    assert get_capabilities("application") is None
    assert get_capabilities("text") is None


def test_header_extension_ids_are_unique() -> None:
    ids = [h.id for h in HEADER_EXTENSIONS]
    uris = [h.uri for h in HEADER_EXTENSIONS]
    assert len(set(ids)) == len(ids) and len(set(uris)) == len(uris)
    assert all(1 <= i <= 14 for i in ids)  # one-byte header ids (RFC 8285 §4.2)


def test_default_payload_types_are_unique() -> None:
    pts = [c.payload_type for c in (*AUDIO_CODECS, *VIDEO_CODECS)]
    assert len(set(pts)) == len(pts)


def test_capability_matching() -> None:
    cap = RtpCodecCapability("video/H264", 90000, None, "a=1;b=2")
    assert cap.matches(RtpCodecCapability("VIDEO/h264", 90000, None, "b=2;a=1"))
    assert not cap.matches(RtpCodecCapability("video/H264", 90000, None, "a=1"))
    assert not cap.matches(RtpCodecCapability("video/H264", 48000, None, "a=1;b=2"))
    mono = RtpCodecCapability("audio/PCMU", 8000)
    assert mono.matches(RtpCodecCapability("audio/PCMU", 8000, 1))
    assert not mono.matches(RtpCodecCapability("audio/PCMU", 8000, 2))
    rtx = RtpCodecCapability("video/rtx", 90000)
    assert rtx.matches(RtpCodecCapability("video/rtx", 90000, None, "apt=96"))
    assert cap.kind == "video" and cap.name == "H264"


def test_opus_without_channels_is_opus_and_answered_canonically() -> None:
    """Some stacks offer ``a=rtpmap:111 OPUS/48000`` (no /2, upper case): browsers
    take it as Opus; so do we, and the answer says ``opus/48000/2`` (RFC 7587 §7)."""
    import random

    from rtcpeer.sdp.jsep import JsepSession

    fingerprint = [("sha-256", ":".join(f"{i:02X}" for i in range(32)))]

    def session(seed: int) -> JsepSession:
        return JsepSession(
            fingerprints=fingerprint,
            ice_ufrag=f"uf{seed:02d}",
            ice_pwd=f"pw{seed:02d}" + "x" * 20,
            rng=random.Random(seed),
        )

    assert match_codec(Codec(111, "OPUS", 48000, None), spec("opus", "minptime=10;useinbandfec=1"))
    offerer, answerer = session(1), session(2)
    offerer.add_transceiver("audio", stream_ids=["s"])
    offer = offerer.create_offer()
    assert "a=rtpmap:111 opus/48000/2" in offer
    offer = offer.replace("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 OPUS/48000")
    answerer.set_remote_description("offer", offer)
    answer = answerer.create_answer()
    audio = answer[answer.index("m=audio") :]
    assert not audio.startswith("m=audio 0 ")
    assert "a=rtpmap:111 opus/48000/2" in audio
    assert "OPUS/48000" not in answer
