"""The parser: what it accepts, what it normalizes, and errors that name the line."""

from __future__ import annotations

import pytest

from rtcpeer.sdp import Bandwidth, Connection, SdpParseError, SessionDescription, Timing, parse

HEAD = ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0"]


def sdp(*lines: str, head: list[str] = HEAD) -> str:
    return "\r\n".join([*head, *lines]) + "\r\n"


# RFC 8866 §5 example, plus b=, r=, z=, k= and a multi-port m= line.
RFC8866_EXAMPLE = sdp(
    "m=audio 49170 RTP/AVP 0",
    "m=audio 49180 RTP/AVP 0",
    "m=video 51372 RTP/AVP 99",
    "c=IN IP6 2001:db8::2",
    "a=rtpmap:99 h263-1998/90000",
    head=[
        "v=0",
        "o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1",
        "s=Call to John Smith",
        "i=SDP Offer #1",
        "u=http://www.jdoe.example.com/home.html",
        "e=Jane Doe <jane@jdoe.example.com>",
        "p=+1 617 555-6011",
        "c=IN IP4 198.51.100.1",
        "t=0 0",
    ],
)


def test_rfc8866_example_round_trips() -> None:
    d = parse(RFC8866_EXAMPLE)
    assert d.serialize() == RFC8866_EXAMPLE
    assert d.origin.username == "jdoe" and d.origin.session_version == 3724394405
    assert d.session_name == "Call to John Smith"
    assert d.information == "SDP Offer #1"
    assert d.uri == "http://www.jdoe.example.com/home.html"
    assert d.emails == ["Jane Doe <jane@jdoe.example.com>"]
    assert d.phones == ["+1 617 555-6011"]
    assert d.connection == Connection("IN", "IP4", "198.51.100.1")
    assert [m.port for m in d.media] == [49170, 49180, 51372]
    assert d.media[2].connection == Connection("IN", "IP6", "2001:db8::2")
    assert d.media[0].codecs[0].name == "PCMU"  # static payload type, no rtpmap
    assert d.media[2].rtpmap(99) is not None


def test_every_fixed_line_type_round_trips() -> None:
    text = "\r\n".join(
        [
            "v=0",
            "o=- 1 2 IN IP4 127.0.0.1",
            "s= ",
            "i=session info",
            "u=https://example.org/",
            "e=a@example.org",
            "e=b@example.org",
            "p=+1 555 0100",
            "c=IN IP4 224.2.1.1/127/3",
            "b=CT:1000",
            "b=AS:500",
            "t=3034423619 3042462419",
            "r=604800 3600 0 90000",
            "r=7d 1h 0 25h",
            "t=0 0",
            "z=2882844526 -1h 2898848070 0",
            "k=prompt",
            "a=recvonly",
            "m=video 49170/2 RTP/AVP 31",
            "i=media info",
            "c=IN IP4 224.2.1.1/127",
            "c=IN IP4 224.2.1.2/127",
            "b=AS:300",
            "b=TIAS:256000",
            "k=prompt",
            "a=x-unknown",
            "a=x-empty:",
            "",
        ]
    )
    d = parse(text)
    assert d.serialize() == text
    assert d.session_name == " "  # RFC 8866 §5.3's recommended empty name keeps its space
    assert d.timing == [
        Timing(3034423619, 3042462419, ("604800 3600 0 90000", "7d 1h 0 25h")),
        Timing(0, 0),
    ]
    assert d.bandwidths == [Bandwidth("CT", 1000), Bandwidth("AS", 500)]
    assert d.time_zones == "2882844526 -1h 2898848070 0" and d.encryption_key == "prompt"
    media = d.media[0]
    assert media.port_count == 2 and media.m_line() == "m=video 49170/2 RTP/AVP 31"
    assert len(media.connections) == 2 and media.bandwidths[1] == Bandwidth("TIAS", 256000)
    assert media.value_of("x-unknown") is None and media.has_attribute("x-unknown")
    assert media.value_of("x-empty") == ""
    assert d.direction_of(media) == "recvonly"


def test_legacy_sctpmap_round_trips() -> None:
    text = sdp(
        "m=application 9 DTLS/SCTP 5000",
        "c=IN IP4 0.0.0.0",
        "a=mid:data",
        "a=sctpmap:5000 webrtc-datachannel 1024",
    )
    d = parse(text)
    assert d.serialize() == text
    media = d.media[0]
    assert media.is_sctp and media.formats == ["5000"]
    assert media.sctpmap is not None
    assert (media.sctpmap.port, media.sctpmap.app, media.sctpmap.streams) == (
        5000, "webrtc-datachannel", 1024,
    )  # fmt: skip
    assert media.sctp_port is None


def test_unusual_attribute_orders_and_spacing_are_kept() -> None:
    text = sdp(
        "a=msid-semantic:WMS *",
        "a=group:BUNDLE 1 0",
        "m=video 9 UDP/TLS/RTP/SAVPF 100 96",
        "a=rtpmap:96 VP8/90000",
        "a=fmtp:100 x-google-start-bitrate=800; x-google-max-bitrate=2000",
        "a=sendrecv",
        "a=rtpmap:100 H264/90000",
        "a=mid:1",
        "a=rtcp-fb:* nack",
        "a=simulcast: recv a;b",
        "a=rid:b recv",
        "a=rid:a recv",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "a=mid:0",
        "a=rtpmap:111 opus/48000/2",
    )
    d = parse(text)
    assert d.serialize() == text
    video = d.media[0]
    fmtp = video.fmtp(100)
    assert fmtp is not None
    assert fmtp.parameters == {"x-google-start-bitrate": "800", "x-google-max-bitrate": "2000"}
    assert fmtp.parameters_text == "x-google-start-bitrate=800; x-google-max-bitrate=2000"
    assert [c.payload_type for c in video.codecs] == [100, 96]
    assert video.simulcast is not None and video.simulcast.recv_rids == ("a", "b")
    assert d.bundle_groups[0].mids == ("1", "0")


def test_lf_only_missing_final_newline_and_trailing_blank_lines() -> None:
    expected = sdp("a=ice-lite")
    assert parse("v=0\no=- 1 2 IN IP4 127.0.0.1\ns=-\nt=0 0\na=ice-lite").serialize() == expected
    assert parse(expected + "\r\n\r\n  \n").serialize() == expected
    assert parse(expected.replace("\r\n", " \r\n")).serialize() == expected
    assert parse(expected.replace("\r\n", "\t\n")).serialize() == expected
    assert parse(expected.encode()).ice_lite
    assert parse(bytearray(expected.encode())).ice_lite


def test_non_text_input_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="must be a str"):
        parse(42)  # type: ignore[arg-type]


def test_classmethod_alias_and_str() -> None:
    text = sdp("a=ice-lite")
    d = SessionDescription.parse(text)
    assert str(d) == text


# (description text, line number of the error, words the message contains)
ERRORS: list[tuple[str, int, str]] = [
    ("", 1, "empty"),
    ("\r\n\r\n", 1, "empty"),
    ("o=- 1 2 IN IP4 127.0.0.1\r\nv=0\r\ns=-\r\nt=0 0\r\n", 1, "start with v=0"),
    ("v=1\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", 1, "version 0"),
    ("v=0\r\ns=-\r\no=- 1 2 IN IP4 127.0.0.1\r\nt=0 0\r\n", 2, "o= (origin) line must follow"),
    ("v=0\r\no=- 1 2 IN IP4\r\ns=-\r\nt=0 0\r\n", 2, "o= needs 6"),
    ("v=0\r\no=- 1 x IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", 2, "session version must be a decimal"),
    ("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\nt=0 0\r\n", 3, "s= (session name) line must follow"),
    ("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n", 3, "needs v=, o=, s= and t="),
    (sdp(head=HEAD[:3]) + "a=ice-lite\r\n", 4, "missing t="),
    (sdp(head=HEAD[:3]) + "m=audio 9 RTP/AVP 0\r\n", 4, "missing t="),
    (sdp("c=IN IP4 1.2.3.4"), 5, "out of order"),
    (sdp("t=0 0", "v=0"), 6, "out of order"),
    (sdp("a=ice-lite", "b=AS:1"), 6, "out of order"),
    (sdp(head=[*HEAD[:3], "c=IN IP4 1.1.1.1", "c=IN IP4 2.2.2.2", "t=0 0"]), 5, "repeated"),
    (sdp(head=[*HEAD[:3], "r=1 2 3", "t=0 0"]), 4, "must follow a t="),
    (sdp("x=what"), 5, "unknown line type 'x'"),
    (sdp("A=ice-lite"), 5, "unknown line type 'A'"),
    (sdp("a=ice-lite", "", "a=ice-lite"), 6, "empty line"),
    (sdp("just text"), 5, "expected <type>=<value>"),
    (sdp("a=x\x00y"), 5, "CR or NUL"),
    (sdp("a=x\ry"), 5, "CR or NUL"),
    (sdp("m=audio 9 RTP/AVP 0", "b=AS"), 6, "b= must be"),
    (sdp("m=audio 9 RTP/AVP 0", "b=AS:fast"), 6, "bandwidth must be a decimal"),
    (sdp("m=audio 9 RTP/AVP"), 5, "m= needs 4..n"),
    (sdp("m=audio nine RTP/AVP 0"), 5, "m= port must be a decimal"),
    (sdp("m=audio 65536 RTP/AVP 0"), 5, "out of range"),
    (sdp("m=audio -9 RTP/AVP 0"), 5, "m= port must be a decimal"),
    (sdp("m=audio 9/0 RTP/AVP 0"), 5, "number of ports"),
    (sdp("m=audio 9 RTP/AVP opus"), 5, "payload type must be a decimal"),
    (sdp("m=audio 9 RTP/AVP 128"), 5, "out of range"),
    (sdp("m=audio  9 RTP/AVP 0"), 5, "single spaces"),
    (sdp("m=audio 9 RTP//AVP 0"), 5, "proto"),
    (sdp("m=audio 9 RTP/AVP 0", "v=0"), 6, "not allowed inside a media description"),
    (sdp("m=audio 9 RTP/AVP 0", "t=0 0"), 6, "not allowed inside a media description"),
    (sdp("m=audio 9 RTP/AVP 0", "a=mid:0", "c=IN IP4 1.2.3.4"), 7, "out of order"),
    (sdp("m=audio 9 RTP/AVP 0", "i=a", "i=b"), 7, "repeated"),
    (sdp("m=audio 9 RTP/AVP 0", "c=IN IP4"), 6, "c= needs 3"),
    (sdp("a=:value"), 5, "attribute name"),
    (sdp("a=two words"), 5, "attribute name"),
    (sdp("m=audio 9 RTP/AVP 0", "a=mid"), 6, "a=mid needs a value"),
    (sdp("m=audio 9 RTP/AVP 0", "a=mid: 0"), 6, "mid must be a non-empty string"),
    (sdp("m=audio 9 RTP/AVP 0", "a=rtpmap:0 PCMU"), 6, "rtpmap encoding"),
    (sdp("m=audio 9 RTP/AVP 0", "a=rtpmap:x PCMU/8000"), 6, "rtpmap payload type"),
    (sdp("m=audio 9 RTP/AVP 0", "a=rtpmap:0 PCMU/8000/0"), 6, "channel count"),
    (sdp("m=audio 9 RTP/AVP 0", "a=fmtp:x a=b"), 6, "fmtp format"),
    (sdp("m=audio 9 RTP/AVP 0", "a=rtcp-fb:0"), 6, "rtcp-fb needs"),
    (sdp("m=audio 9 RTP/AVP 0", "a=extmap:0 urn:x"), 6, "extmap id"),
    (sdp("m=audio 9 RTP/AVP 0", "a=extmap:1/both urn:x"), 6, "extmap direction"),
    (sdp("m=audio 9 RTP/AVP 0", "a=extmap:1"), 6, "extmap needs"),
    (sdp("a=fingerprint:sha-256 zz:00"), 5, "not colon-separated hex"),
    (sdp("a=fingerprint:sha-256"), 5, "fingerprint needs 2"),
    (sdp("a=setup:client"), 5, "setup must be one of"),
    (sdp("a=group:"), 5, "group is empty"),
    (sdp("a=group:BUN,DLE"), 5, "group semantics"),
    (sdp("m=audio 9 RTP/AVP 0", "a=msid:a b c"), 6, "msid needs 1..2"),
    (sdp("m=audio 9 RTP/AVP 0", "a=ssrc:1"), 6, "ssrc needs"),
    (sdp("m=audio 9 RTP/AVP 0", "a=ssrc:4294967296 cname:x"), 6, "out of range"),
    (sdp("m=audio 9 RTP/AVP 0", "a=ssrc-group:FID 1 x"), 6, "ssrc-group SSRC"),
    (sdp("m=audio 9 RTP/AVP 0", "a=rid:h sideways"), 6, "rid direction"),
    (sdp("m=audio 9 RTP/AVP 0", "a=rid:h! send"), 6, "rid id"),
    (sdp("m=audio 9 RTP/AVP 0", "a=rid:h send max-width=1;pt=96"), 6, "pt= must come first"),
    (sdp("m=audio 9 RTP/AVP 0", "a=simulcast:send"), 6, "simulcast needs 2..4"),
    (sdp("m=audio 9 RTP/AVP 0", "a=simulcast:both a;b"), 6, "simulcast direction"),
    (sdp("m=audio 9 RTP/AVP 0", "a=simulcast:send a;;b"), 6, "simulcast rid"),
    (sdp("m=audio 9 RTP/AVP 0", "a=simulcast:send a send b"), 6, "simulcast direction"),
    (sdp("m=audio 9 RTP/AVP 0", "a=rtcp:9 IN IP4"), 6, "rtcp takes a port"),
    (sdp("m=audio 9 RTP/AVP 0", "a=sctp-port:70000"), 6, "out of range"),
    (sdp("m=audio 9 RTP/AVP 0", "a=max-message-size:-1"), 6, "max-message-size must be"),
    (sdp("m=audio 9 RTP/AVP 0", "a=sctpmap:5000"), 6, "sctpmap needs 2..3"),
    (sdp("m=audio 9 RTP/AVP 0", "a=candidate: "), 6, "candidate value is empty"),
    (sdp("m=audio 9 RTP/AVP 0", "a=ice-options:trickle  ice2"), 6, "single spaces"),
]


@pytest.mark.parametrize(("text", "line_number", "words"), ERRORS)
def test_malformed_descriptions_name_the_line(text: str, line_number: int, words: str) -> None:
    with pytest.raises(SdpParseError) as info:
        parse(text)
    error = info.value
    assert words in error.reason
    assert error.line_number == line_number
    lines = text.split("\n")
    if line_number <= len(lines) and lines[line_number - 1].strip(" \t\r"):
        assert error.line == lines[line_number - 1].rstrip(" \t\r")
    assert str(error).startswith(f"SDP line {line_number}: ")
    assert isinstance(error, ValueError)


def test_error_message_shows_the_line_and_cuts_long_ones() -> None:
    with pytest.raises(SdpParseError) as info:
        parse(sdp("m=audio 9 RTP/AVP 0", "a=rtpmap:0 PCMU"))
    assert str(info.value) == (
        "SDP line 6: rtpmap encoding must be name/clock[/channels], got 'PCMU': 'a=rtpmap:0 PCMU'"
    )
    with pytest.raises(SdpParseError) as info:
        parse(sdp("a=setup:" + "x" * 1000))
    assert len(str(info.value)) < 400
    assert info.value.line == "a=setup:" + "x" * 1000


def test_invalid_utf8_names_its_line() -> None:
    data = sdp("a=x-label:ok").encode() + b"a=x-label:\xff\xfe\r\n"
    with pytest.raises(SdpParseError) as info:
        parse(data)
    assert info.value.line_number == 6
    assert "UTF-8" in info.value.reason


def test_non_ascii_text_is_kept() -> None:
    text = sdp("a=x-label:caméra ☎", head=["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=Réunion", "t=0 0"])
    d = parse(text)
    assert d.session_name == "Réunion"
    assert d.serialize() == text
    assert d.serialize().encode("utf-8") == text.encode("utf-8")
