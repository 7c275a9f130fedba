"""Fuzz the SDP parser: any input either parses or raises SdpParseError naming a line.

Three sources: arbitrary text, SDP-shaped lines built from the WebRTC attribute
names, and the captured vectors mutated (lines dropped, duplicated, swapped, cut,
characters replaced). Whatever parses must serialize to text that parses back to an
equal model (serialize is a fixed point after one normalization).
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcpeer.sdp import SdpParseError, SessionDescription, parse
from rtcpeer.sdp.attributes import KNOWN_ATTRIBUTES

VECTORS = sorted((Path(__file__).parent.parent / "vectors" / "sdp").glob("*.sdp"))
TEXTS = [p.read_bytes().decode("utf-8") for p in VECTORS]

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(text: str | bytes) -> SessionDescription | None:
    """Parse; only SdpParseError may escape, with a line number inside the text."""
    try:
        description = parse(text)
    except SdpParseError as exc:
        assert exc.line_number is not None and exc.line_number >= 1
        assert exc.line is not None
        assert f"line {exc.line_number}" in str(exc)
        return None
    out = description.serialize()
    assert out.endswith("\r\n")
    again = parse(out)
    assert again == description
    assert again.serialize() == out
    return description


@FUZZ
@given(st.text(max_size=400))
def test_arbitrary_text(text: str) -> None:
    check(text)


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes(data: bytes) -> None:
    check(data)


_VALUE = st.text(
    alphabet=st.sampled_from(list("0123456789 abcdefxyzABC/:;=,~*-_.{}\t\r")), max_size=30
)
_ATTRIBUTE = st.builds(
    lambda name, sep, value: f"a={name}{sep}{value}",
    st.sampled_from([*sorted(KNOWN_ATTRIBUTES), "x-unknown", "rtcp-xr"]),
    st.sampled_from(["", ":", ": "]),
    _VALUE,
)
_FIXED = st.builds(
    lambda kind, value: f"{kind}={value}",
    st.sampled_from(list("vosiuepcbtrzkmaq")),
    _VALUE,
)
_MEDIA = st.builds(
    lambda kind, port, proto, fmts: f"m={kind} {port} {proto} {fmts}",
    st.sampled_from(["audio", "video", "application", "", "x y"]),
    st.sampled_from(["9", "0", "65535", "65536", "9/2", "-1", "x"]),
    st.sampled_from(["UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP", "RTP/AVP", "a//b", ""]),
    st.sampled_from(["111 0", "webrtc-datachannel", "128", "5000", "", "96  97"]),
)
_HEADER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


@FUZZ
@given(
    st.lists(st.one_of(_ATTRIBUTE, _FIXED, _MEDIA), max_size=25),
    st.sampled_from(["\r\n", "\n"]),
)
def test_sdp_shaped_lines(lines: list[str], end: str) -> None:
    check(_HEADER + end.join(lines) + end)


@st.composite
def mutated_vector(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(TEXTS)).split("\r\n")
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "dup", "swap", "char", "cut", "insert", "space"]))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "char" and lines[i]:
            k = draw(st.integers(0, len(lines[i]) - 1))
            c = draw(st.sampled_from([*" :;/=~,*x0\t\x00\r\n-", "\u00e9"]))
            lines[i] = lines[i][:k] + c + lines[i][k + 1 :]
        elif op == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif op == "insert":
            lines.insert(i, draw(st.one_of(_ATTRIBUTE, _FIXED, _MEDIA)))
        elif op == "space" and lines[i]:
            k = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:k] + " " + lines[i][k:]
    return "\r\n".join(lines)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_vector())
def test_mutated_real_descriptions(text: str) -> None:
    check(text)


@FUZZ
@given(st.sampled_from(TEXTS), st.data())
def test_truncated_vectors(text: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(text)))
    check(text[:cut])


def test_huge_numbers_and_lines_do_not_hang() -> None:
    # int() of a 5000-digit string raises ValueError in Python >= 3.11: must be ours.
    for text in (
        _HEADER + "m=audio " + "9" * 5000 + " RTP/AVP 0\r\n",
        _HEADER.replace("o=- 1 2", "o=- 1 " + "2" * 5000),
        _HEADER + "a=sctp-port:" + "1" * 5000 + "\r\n",
        _HEADER + "a=x-long:" + "y" * 200_000 + "\r\n",
        _HEADER + "a=fmtp:96 " + ";" * 100_000 + "\r\n",
    ):
        check(text)
