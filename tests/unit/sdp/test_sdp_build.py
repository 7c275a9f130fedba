"""Building and editing descriptions through the typed API (what JSEP will do)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from rtcpeer.sdp import (
    Attribute,
    Codec,
    Connection,
    Extmap,
    Fingerprint,
    Fmtp,
    Group,
    MediaDescription,
    Msid,
    MsidSemantic,
    Origin,
    Rid,
    Rtcp,
    RtcpFb,
    SdpParseError,
    SessionDescription,
    Simulcast,
    SimulcastStream,
    parse,
)

VECTOR_DIR = Path(__file__).parents[2] / "vectors" / "sdp"


def load(name: str) -> str:
    return (VECTOR_DIR / name).read_bytes().decode("utf-8")


def test_default_description() -> None:
    assert SessionDescription().serialize() == "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


def test_build_chromium_data_only_offer_from_scratch() -> None:
    expected = load("chromium_data_only_offer.sdp")
    original = parse(expected).media[0]

    d = SessionDescription(origin=Origin("-", "7489471833569698667", 2))
    d.msid_semantic = MsidSemantic("WMS")
    d.groups = [Group("BUNDLE", ("0",))]
    d.extmap_allow_mixed = True
    media = MediaDescription("application", original.port, "UDP/DTLS/SCTP", ["webrtc-datachannel"])
    media.connection = Connection("IN", "IP4", "127.0.0.1")
    media.max_message_size = 262144
    media.sctp_port = 5000
    media.mid = "0"
    media.setup = "actpass"
    media.fingerprints = [Fingerprint.parse(str(original.fingerprints[0]))]
    media.ice_options = ["trickle"]
    media.ice_pwd = original.ice_pwd
    media.ice_ufrag = original.ice_ufrag
    media.candidates = original.candidates
    d.media.append(media)
    assert d.serialize() == expected


Setter = Callable[[MediaDescription], object]


def setters_for(source: MediaDescription) -> list[Setter]:
    """One setter per kind of line in ``source``, copying it by the typed API."""
    setters: list[Setter] = []

    def add(fn: Setter) -> None:
        setters.append(fn)

    if source.rtcp is not None:
        add(lambda m: setattr(m, "rtcp", source.rtcp))
    if source.candidates:
        add(lambda m: setattr(m, "candidates", source.candidates))
    add(lambda m: setattr(m, "ice_ufrag", source.ice_ufrag))
    add(lambda m: setattr(m, "ice_pwd", source.ice_pwd))
    add(lambda m: setattr(m, "ice_options", source.ice_options))
    add(lambda m: setattr(m, "fingerprints", source.fingerprints))
    add(lambda m: setattr(m, "setup", source.setup))
    add(lambda m: setattr(m, "mid", source.mid))
    if source.extmaps:
        add(lambda m: setattr(m, "extmaps", source.extmaps))
    if source.direction is not None:
        add(lambda m: setattr(m, "direction", source.direction))
    if source.msids:
        add(lambda m: setattr(m, "msids", source.msids))
    for flag in ("rtcp_mux", "rtcp_rsize"):
        if getattr(source, flag):
            add(lambda m, flag=flag: setattr(m, flag, True))  # type: ignore[misc]
    xr = source.attribute("rtcp-xr")
    if xr is not None:
        add(lambda m: m.add_attribute(xr))
    if source.is_rtp:
        add(lambda m: m.set_codecs(source.codecs))
    if source.ssrc_groups:
        add(lambda m: setattr(m, "ssrc_groups", source.ssrc_groups))
    if source.ssrcs:
        add(lambda m: setattr(m, "ssrcs", source.ssrcs))
    if source.rids:
        add(lambda m: setattr(m, "rids", source.rids))
    if source.simulcast is not None:
        add(lambda m: setattr(m, "simulcast", source.simulcast))
    if source.sctp_port is not None:
        add(lambda m: setattr(m, "sctp_port", source.sctp_port))
    if source.max_message_size is not None:
        add(lambda m: setattr(m, "max_message_size", source.max_message_size))
    return setters


@pytest.mark.parametrize(
    "name",
    [
        "chromium_av_data_offer.sdp",
        "chromium_av_data_answer.sdp",
        "chromium_simulcast_offer.sdp",
        "chromium_renegotiated_offer.sdp",
        "chromium_recvonly_answer.sdp",
    ],
)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_typed_setters_in_any_order_rebuild_chromium_sections(name: str, seed: int) -> None:
    """Copying every line kind through the typed API, in a shuffled order, gives
    Chromium's text back: new lines are inserted where Chromium writes them."""
    original = parse(load(name))
    rng = random.Random(seed)
    for source in original.media:
        rebuilt = MediaDescription(
            source.kind, source.port, source.proto, ["0"] if source.is_rtp else source.formats
        )
        rebuilt.connections = list(source.connections)
        setters = setters_for(source)
        rng.shuffle(setters)
        for setter in setters:
            setter(rebuilt)
        assert rebuilt.lines() == source.lines()

    session = SessionDescription(origin=original.origin)
    session_setters: list[Callable[[], None]] = [
        lambda: setattr(session, "groups", original.groups),
        lambda: setattr(session, "extmap_allow_mixed", True),
        lambda: setattr(session, "msid_semantic", original.msid_semantic),
    ]
    rng.shuffle(session_setters)
    for set_session_line in session_setters:
        set_session_line()
    session.media = original.media
    assert session.serialize() == load(name)


@pytest.mark.parametrize("name", sorted(p.name for p in VECTOR_DIR.glob("chromium_*.sdp")))
def test_set_codecs_of_own_codecs_is_identity_for_chromium(name: str) -> None:
    text = load(name)
    d = parse(text)
    for media in d.media:
        if media.is_rtp:
            media.set_codecs(media.codecs)
    assert d.serialize() == text


def test_edit_in_place_keeps_everything_else() -> None:
    text = load("chromium_av_data_offer.sdp")
    d = parse(text)
    audio = d.media[0]
    audio.direction = "recvonly"
    audio.msids = []
    audio.ssrcs = []
    opus = audio.codec(111)
    assert opus is not None
    audio.set_codecs([opus])
    d.origin = Origin(d.origin.username, d.origin.session_id, d.origin.session_version + 1)

    lines = text.split("\r\n")
    expected: list[str] = []
    audio_end = lines.index(next(line for line in lines if line.startswith("m=video")))
    for index, line in enumerate(lines):
        if index < audio_end:
            if line.startswith(("a=msid:", "a=ssrc:")):
                continue
            if line.startswith(("a=rtpmap:", "a=fmtp:", "a=rtcp-fb:")) and ":111 " not in line:
                continue
            line = {
                "a=sendrecv": "a=recvonly",
                "m=audio 37704 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126": "m=audio 37704 UDP/TLS/RTP/SAVPF 111",
                "o=- 7044126542831665328 2 IN IP4 127.0.0.1": "o=- 7044126542831665328 3 IN IP4 127.0.0.1",
            }.get(line, line)
        expected.append(line)
    assert d.serialize() == "\r\n".join(expected)


def test_set_codecs_writes_chromium_blocks_and_keeps_wildcard_feedback() -> None:
    m = MediaDescription("video", 9, "UDP/TLS/RTP/SAVPF", ["96"])
    m.mid = "1"
    m.add_attribute(Attribute("rtcp-fb", "* nack"))
    m.rtcp_mux = True
    m.set_codecs(
        [
            Codec(96, "VP8", 90000, feedback=("nack", "nack pli")),
            Codec(97, "rtx", 90000, fmtp="apt=96"),
        ]
    )
    m.ssrcs = []
    assert m.lines() == [
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97",
        "a=mid:1",
        "a=rtcp-mux",
        "a=rtcp-fb:* nack",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 nack",
        "a=rtcp-fb:96 nack pli",
        "a=rtpmap:97 rtx/90000",
        "a=fmtp:97 apt=96",
    ]
    assert m.rtcp_fbs[0] == RtcpFb(None, "nack")
    m.set_codecs([Codec(98, "H264", 90000, fmtp="packetization-mode=1")])
    assert m.formats == ["98"]
    assert [a.line() for a in m.attributes][-3:] == [
        "a=rtcp-fb:* nack",
        "a=rtpmap:98 H264/90000",
        "a=fmtp:98 packetization-mode=1",
    ]


def test_set_codecs_rejects_misuse() -> None:
    m = MediaDescription("audio", 9, "UDP/TLS/RTP/SAVPF", ["0"])
    with pytest.raises(SdpParseError, match="at least one codec"):
        m.set_codecs([])
    with pytest.raises(SdpParseError, match="listed twice"):
        m.set_codecs([Codec(0, "PCMU", 8000), Codec(0, "PCMU", 8000)])
    data = MediaDescription("application", 9, "UDP/DTLS/SCTP", ["webrtc-datachannel"])
    with pytest.raises(SdpParseError, match="RTP m-section"):
        data.set_codecs([Codec(0, "PCMU", 8000)])


def test_build_simulcast_section_and_session() -> None:
    d = SessionDescription(origin=Origin("-", "42", 1, address="0.0.0.0"))
    d.ice_options = ("trickle", "ice2")
    d.groups = [Group("BUNDLE", ("v",))]
    v = MediaDescription("video", 9, "UDP/TLS/RTP/SAVPF", ["96"], connections=[Connection()])
    v.set_codecs([Codec(96, "VP8", 90000)])
    v.simulcast = Simulcast(
        recv=(
            (SimulcastStream("h"),),
            (SimulcastStream("m", paused=True), SimulcastStream("m2")),
        )
    )
    v.rids = [
        Rid("h", "recv", (96,), (("max-width", "1280"), ("max-height", "720"))),
        Rid("m", "recv"),
        Rid("m2", "recv"),
    ]
    v.direction = "recvonly"
    v.mid = "v"
    v.extmaps = [Extmap(4, "urn:ietf:params:rtp-hdrext:sdes:mid", direction="sendrecv")]
    v.rtcp = Rtcp(9, "IN", "IP4", "0.0.0.0")
    v.bundle_only = True
    v.end_of_candidates = True
    v.msids = [Msid("-", "t")]
    d.media.append(v)
    assert d.serialize() == (
        "v=0\r\n"
        "o=- 42 1 IN IP4 0.0.0.0\r\n"
        "s=-\r\n"
        "t=0 0\r\n"
        "a=ice-options:trickle ice2\r\n"
        "a=group:BUNDLE v\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
        "c=IN IP4 0.0.0.0\r\n"
        "a=rtcp:9 IN IP4 0.0.0.0\r\n"
        "a=end-of-candidates\r\n"
        "a=bundle-only\r\n"
        "a=mid:v\r\n"
        "a=extmap:4/sendrecv urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
        "a=recvonly\r\n"
        "a=msid:- t\r\n"
        "a=rtpmap:96 VP8/90000\r\n"
        "a=rid:h recv pt=96;max-width=1280;max-height=720\r\n"
        "a=rid:m recv\r\n"
        "a=rid:m2 recv\r\n"
        "a=simulcast:recv h;~m,m2\r\n"
    )
    again = parse(d.serialize())
    assert again == d
    assert again.media[0].simulcast == v.simulcast
    assert again.media[0].rids[0].restriction_map == {"max-width": "1280", "max-height": "720"}


def test_setters_replace_in_place_and_remove() -> None:
    m = MediaDescription("audio", 9, "RTP/AVP", ["0"])
    m.add_attribute(Attribute("x-first", "1"))
    m.mid = "a"
    m.direction = "sendonly"
    m.add_attribute(Attribute("x-last"))
    assert [a.line() for a in m.attributes] == ["a=mid:a", "a=sendonly", "a=x-first:1", "a=x-last"]
    # Replacing keeps the position; unknown lines never move.
    m.attributes.insert(0, m.attributes.pop(1))  # a=sendonly first, as some peers write
    m.direction = "inactive"
    m.mid = "b"
    assert [a.line() for a in m.attributes] == ["a=inactive", "a=mid:b", "a=x-first:1", "a=x-last"]
    m.direction = None
    m.mid = None
    assert [a.line() for a in m.attributes] == ["a=x-first:1", "a=x-last"]
    assert m.remove_attributes("x-first") == 1
    m.replace_attributes("x-last", [Attribute("x-new", "2"), Attribute("x-new", "3")])
    assert [a.value for a in m.attributes_named("x-new")] == ["2", "3"]
    with pytest.raises(SdpParseError, match="direction"):
        m.direction = "both"  # type: ignore[assignment]


def test_session_level_fallbacks() -> None:
    d = parse(load("firefox_av_data_offer.sdp"))
    audio = d.media[0]
    assert d.ice_credentials_of(audio) == ("6e0a91c4", "2f6cc5a1b03e94d87f1a6e05c9b3d248")
    audio.ice_ufrag = None
    audio.ice_pwd = None
    d.ice_ufrag = "sess"
    d.ice_pwd = "sessionpassword0123456"
    assert d.ice_credentials_of(audio) == ("sess", "sessionpassword0123456")
    assert d.attributes[0].line() == "a=sendrecv"
    # Session-level ICE lines go before the group (Firefox/RFC 8829 order).
    assert [a.name for a in d.attributes] == [
        "sendrecv", "fingerprint", "ice-ufrag", "ice-pwd", "group", "ice-options", "msid-semantic",
    ]  # fmt: skip
    d.direction = None
    audio.direction = None
    assert d.direction_of(audio) == "sendrecv"
    d.ice_lite = True
    assert d.attributes[-1].line() == "a=ice-lite"


def test_constructors_validate() -> None:
    with pytest.raises(SdpParseError, match="port"):
        MediaDescription("audio", 70000, "RTP/AVP", ["0"])
    with pytest.raises(SdpParseError, match="payload type"):
        MediaDescription("audio", 9, "RTP/AVP", ["128"])
    with pytest.raises(SdpParseError, match="at least one format"):
        MediaDescription("audio", 9, "RTP/AVP", [])
    with pytest.raises(SdpParseError, match="proto"):
        MediaDescription("audio", 9, "RTP//AVP", ["0"])
    with pytest.raises(SdpParseError, match="version"):
        SessionDescription(version=1)
    with pytest.raises(SdpParseError, match="t= line"):
        SessionDescription(timing=[])
    with pytest.raises(SdpParseError, match="session version"):
        Origin(session_version=-1)
    with pytest.raises(SdpParseError, match="rtpmap payload type"):
        Codec(200, "x", 8000)
    with pytest.raises(SdpParseError, match="rtcp-fb"):
        Codec(96, "x", 8000, feedback=("",))
    with pytest.raises(SdpParseError, match="attribute name"):
        Attribute("bad name")
    with pytest.raises(SdpParseError, match="CR, LF or NUL"):
        Attribute("x", "two\r\nlines")
    with pytest.raises(SdpParseError, match="needs a value"):
        Attribute("mid")
    with pytest.raises(SdpParseError, match="setup"):
        MediaDescription("audio", 9, "RTP/AVP", ["0"]).setup = "client"  # type: ignore[assignment]
    # And SdpParseError is a ValueError, as builder misuse should be.
    assert issubclass(SdpParseError, ValueError)
    assert (
        str(Fmtp.from_parameters(111, {"minptime": 10, "useinbandfec": 1}))
        == "111 minptime=10;useinbandfec=1"
    )


def test_serialize_rechecks_mutable_m_line_fields() -> None:
    d = SessionDescription()
    media = MediaDescription("audio", 9, "UDP/TLS/RTP/SAVPF", ["111"])
    d.media.append(media)
    media.port = 70000
    with pytest.raises(SdpParseError, match="m= port"):
        d.serialize()
    media.port = 0
    media.formats = ["opus"]
    with pytest.raises(SdpParseError, match="payload type"):
        d.serialize()
    media.formats = ["111"]
    assert d.serialize().endswith("m=audio 0 UDP/TLS/RTP/SAVPF 111\r\n")
