"""Typed attribute values: parse, canonical text, validation."""

from __future__ import annotations

from typing import Any

import pytest

from rtcpeer.sdp import (
    Attribute,
    Extmap,
    Fingerprint,
    Fmtp,
    Group,
    Msid,
    MsidSemantic,
    Rid,
    Rtcp,
    RtcpFb,
    Rtpmap,
    Sctpmap,
    SdpParseError,
    Simulcast,
    SimulcastStream,
    Ssrc,
    SsrcGroup,
    format_parameters,
    parse_parameters,
)

# (class, value text, parsed value); str(parsed) must give the text back.
CANONICAL: list[tuple[Any, str, object]] = [
    (Rtpmap, "111 opus/48000/2", Rtpmap(111, "opus", 48000, 2)),
    (Rtpmap, "96 VP8/90000", Rtpmap(96, "VP8", 90000)),
    (Rtpmap, "0 PCMU/8000", Rtpmap(0, "PCMU", 8000)),
    (Fmtp, "111 minptime=10;useinbandfec=1", Fmtp(111, "minptime=10;useinbandfec=1")),
    (Fmtp, "101 0-15", Fmtp(101, "0-15")),
    (Fmtp, "96", Fmtp(96)),
    (RtcpFb, "96 nack pli", RtcpFb(96, "nack", "pli")),
    (RtcpFb, "96 transport-cc", RtcpFb(96, "transport-cc")),
    (RtcpFb, "* ccm tmmbr smaxpr=120", RtcpFb(None, "ccm", "tmmbr smaxpr=120")),
    (RtcpFb, "100 trr-int 100", RtcpFb(100, "trr-int", "100")),
    (
        Extmap,
        "1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        Extmap(1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
    ),
    (
        Extmap,
        "2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level",
        Extmap(2, "urn:ietf:params:rtp-hdrext:csrc-audio-level", "recvonly"),
    ),
    (Extmap, "4096/sendonly urn:x attr1 attr2", Extmap(4096, "urn:x", "sendonly", "attr1 attr2")),
    (Fingerprint, "sha-256 0A:ff:10", Fingerprint("sha-256", "0A:ff:10")),
    (Group, "BUNDLE 0 1 2", Group("BUNDLE", ("0", "1", "2"))),
    (Group, "BUNDLE", Group("BUNDLE")),
    (Group, "LS a1 v1", Group("LS", ("a1", "v1"))),
    (Msid, "stream track", Msid("stream", "track")),
    (Msid, "- track", Msid("-", "track")),
    (Msid, "{3c2e9f0a} {b8a4d6e2}", Msid("{3c2e9f0a}", "{b8a4d6e2}")),
    (Msid, "stream-only", Msid("stream-only")),
    (MsidSemantic, " WMS a b", MsidSemantic("WMS", ("a", "b"))),
    (MsidSemantic, " WMS", MsidSemantic("WMS")),
    (Ssrc, "1569145249 cname:uwbppWg/35S532Pb", Ssrc(1569145249, "cname", "uwbppWg/35S532Pb")),
    (Ssrc, "1 msid:stream track", Ssrc(1, "msid", "stream track")),
    (Ssrc, "4294967295 x-flag", Ssrc(4294967295, "x-flag")),
    (Ssrc, "7 label:a:b:c", Ssrc(7, "label", "a:b:c")),
    (SsrcGroup, "FID 1 2", SsrcGroup("FID", (1, 2))),
    (SsrcGroup, "SIM 1 2 3", SsrcGroup("SIM", (1, 2, 3))),
    (SsrcGroup, "FEC-FR 5 6", SsrcGroup("FEC-FR", (5, 6))),
    (Rid, "h send", Rid("h", "send")),
    (Rid, "1 recv pt=96,97", Rid("1", "recv", (96, 97))),
    (
        Rid,
        "hi-res send pt=96;max-width=1280;max-height=720;depend=lo",
        Rid(
            "hi-res",
            "send",
            (96,),
            (("max-width", "1280"), ("max-height", "720"), ("depend", "lo")),
        ),
    ),
    (
        Rid,
        "x_1 recv max-fps=30;x-flag",
        Rid("x_1", "recv", (), (("max-fps", "30"), ("x-flag", None))),
    ),
    (
        Simulcast,
        "send h;m;l",
        Simulcast(send=((SimulcastStream("h"),), (SimulcastStream("m"),), (SimulcastStream("l"),))),
    ),
    (
        Simulcast,
        "send 1,~4;2;3 recv c",
        Simulcast(
            send=(
                (SimulcastStream("1"), SimulcastStream("4", paused=True)),
                (SimulcastStream("2"),),
                (SimulcastStream("3"),),
            ),
            recv=((SimulcastStream("c"),),),
        ),
    ),
    (
        Simulcast,
        "recv ~a;b send c",
        Simulcast(
            send=((SimulcastStream("c"),),),
            recv=((SimulcastStream("a", paused=True),), (SimulcastStream("b"),)),
            recv_first=True,
        ),
    ),
    (Rtcp, "9 IN IP4 0.0.0.0", Rtcp(9, "IN", "IP4", "0.0.0.0")),
    (Rtcp, "53020", Rtcp(53020)),
    (Rtcp, "10101 IN IP6 2001:db8::1", Rtcp(10101, "IN", "IP6", "2001:db8::1")),
    (Sctpmap, "5000 webrtc-datachannel 1024", Sctpmap(5000, "webrtc-datachannel", 1024)),
    (Sctpmap, "5000 webrtc-datachannel", Sctpmap(5000, "webrtc-datachannel")),
]


@pytest.mark.parametrize(("cls", "text", "value"), CANONICAL, ids=lambda v: str(v)[:40])
def test_parse_and_canonical_text(cls: Any, text: str, value: object) -> None:
    assert cls.parse(text) == value
    assert str(value) == text


def test_simulcast_rfc8853_example_reads_streams_and_alternatives() -> None:
    # RFC 8853 §5.1 example shape: three send streams, the first with an alternative.
    sc = Simulcast.parse("send 1,2;3;4 recv c")
    assert sc.send_rids == ("1", "3", "4")
    assert [[a.rid for a in alts] for alts in sc.send] == [["1", "2"], ["3"], ["4"]]
    assert sc.recv_rids == ("c",)
    assert Simulcast.parse(" send a;b") == Simulcast.parse("send a;b")  # lenient leading space


def test_fmtp_parameters_mapping() -> None:
    fmtp = Fmtp.parse("102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f")
    assert fmtp.parameters == {
        "level-asymmetry-allowed": "1",
        "packetization-mode": "1",
        "profile-level-id": "42001f",
    }
    assert parse_parameters("a=1; b = 2 ;;c;") == {"a": "1", "b": "2", "c": None}
    assert parse_parameters("sprop-parameter-sets=Z0LAH9oBQBbsBEAAAAMAQAAADyPGDKg=,aM4xsg==") == {
        "sprop-parameter-sets": "Z0LAH9oBQBbsBEAAAAMAQAAADyPGDKg=,aM4xsg=="
    }
    assert format_parameters({"apt": 96, "x": None}) == "apt=96;x"
    assert Fmtp.from_parameters(97, {"apt": "96"}) == Fmtp(97, "apt=96")


def test_fingerprint_digest() -> None:
    digest = bytes(range(32))
    fp = Fingerprint.from_digest("sha-256", digest)
    assert fp.value.startswith("00:01:02:03") and fp.value.count(":") == 31
    assert fp.digest == digest
    assert Fingerprint.parse(str(fp)) == fp


def test_rtcp_fb_value_and_rid_restriction_map() -> None:
    assert RtcpFb.parse("96 ccm fir").value == "ccm fir"
    assert RtcpFb.parse("* nack").payload_type is None
    rid = Rid.parse("h send pt=96;max-width=1280;max-br=3000000")
    assert rid.restriction_map == {"max-width": "1280", "max-br": "3000000"}


INVALID: list[tuple[Any, str, str]] = [
    (Rtpmap, "128 x/90000", "out of range"),
    (Rtpmap, "96 x/-1", "clock rate"),
    (Rtpmap, "96 x/90000/2/3", "name/clock"),
    (Rtpmap, "96  x/90000", "single spaces"),
    (Rtpmap, "96 /90000", "encoding name"),
    (Rtpmap, "٩٦ x/90000", "decimal"),
    (Rtpmap, "+96 x/90000", "decimal"),
    (Fmtp, "x a=1", "fmtp format"),
    (RtcpFb, "96", "needs a payload type"),
    (RtcpFb, "96  nack", "rtcp-fb type"),
    (RtcpFb, "96 nack ", "padded"),
    (RtcpFb, "128 nack", "out of range"),
    (Extmap, "4352 urn:x", "out of range"),
    (Extmap, "1/recv urn:x", "extmap direction"),
    (Extmap, "1  urn:x", "needs an id and a URI"),
    (Fingerprint, "sha-256 0A:B", "hex octets"),
    (Fingerprint, "sha-256 0A::0B", "hex octets"),
    (Fingerprint, "sha 256 0A", "needs 2"),
    (Group, "BUNDLE  0", "single spaces"),
    (Msid, "", "empty"),
    (MsidSemantic, "   ", "empty"),
    (Ssrc, "x cname:y", "ssrc must be a decimal"),
    (Ssrc, "1 :y", "ssrc attribute"),
    (SsrcGroup, "FID 1 -2", "decimal"),
    (Rid, "h", "needs an id and a direction"),
    (Rid, "h send pt=", "decimal"),
    (Rid, "h send pt=96,x", "decimal"),
    (Rid, "h send ;", "restriction name"),
    (Rid, "h send max-width=", "bad value"),
    (Rid, "ü send", "rid id"),
    (Simulcast, "send", "2..4"),
    (Simulcast, "send a recv", "send <list>"),
    (Simulcast, "send a;~ ", "single spaces"),
    (Simulcast, "send a,", "simulcast rid"),
    (Simulcast, "recv a recv b", "send/recv once"),
    (Rtcp, "9 IN", "port alone"),
    (Rtcp, "x", "decimal"),
    (Sctpmap, "5000 app x", "decimal"),
]


@pytest.mark.parametrize(("cls", "text", "words"), INVALID, ids=lambda v: str(v)[:30])
def test_invalid_values_raise_sdp_parse_error(cls: Any, text: str, words: str) -> None:
    with pytest.raises(SdpParseError) as info:
        cls.parse(text)
    assert words in str(info.value)
    assert info.value.line_number is None and info.value.line is None


@pytest.mark.parametrize(
    "build",
    [
        lambda: Rtpmap(96, "VP8", 0, 0),
        lambda: Rtpmap(-1, "VP8", 90000),
        lambda: Rtpmap(96, "VP 8", 90000),
        lambda: Rtpmap(True, "VP8", 90000),
        lambda: Extmap(0, "urn:x"),
        lambda: Extmap(1, "urn:x", "both"),  # type: ignore[arg-type]
        lambda: Group("BUNDLE", ("a b",)),
        lambda: Msid("a b"),
        lambda: Ssrc(1, "cname", "x\r\ny"),
        lambda: SsrcGroup("FID", (2**32,)),
        lambda: Rid("h", "both"),  # type: ignore[arg-type]
        lambda: Rid("h", "send", restrictions=(("pt", "96"),)),
        lambda: Simulcast(),
        lambda: Simulcast(send=((),)),
        lambda: SimulcastStream("a;b"),
        lambda: Rtcp(9, "IN"),
        lambda: Sctpmap(70000, "webrtc-datachannel"),
        lambda: Fingerprint("sha-256", "xyz"),
        lambda: Fmtp(96, "a\nb"),
    ],
)
def test_constructors_reject_bad_fields(build: Any) -> None:
    with pytest.raises(SdpParseError):
        build()


def test_attribute_lines_and_typed_values() -> None:
    assert Attribute("rtcp-mux").line() == "a=rtcp-mux"
    assert Attribute("rtcp-mux").typed is True
    assert Attribute("x-empty", "").line() == "a=x-empty:"
    assert Attribute("x-unknown", "anything goes").typed is None
    assert Attribute("sctp-port", "5000").typed == 5000
    assert Attribute("ice-options", "trickle renomination").typed == ("trickle", "renomination")
    assert Attribute("mid", "0").typed == "0"
    assert Attribute("setup", "actpass").typed == "actpass"
    assert Attribute.of("ice-options", ("trickle", "ice2")).line() == "a=ice-options:trickle ice2"
    assert Attribute.of("max-message-size", 262144).line() == "a=max-message-size:262144"
    assert (
        Attribute.of("msid-semantic", MsidSemantic("WMS", ("*",))).line()
        == "a=msid-semantic: WMS *"
    )
    assert Attribute.of("rtpmap", Rtpmap(111, "opus", 48000, 2)).typed == Rtpmap(
        111, "opus", 48000, 2
    )
    # Equality is by name and raw text; the typed value follows from them.
    assert Attribute("msid-semantic", " WMS") != Attribute("msid-semantic", "WMS")
    assert str(Attribute("rid", "h send")) == "a=rid:h send"
