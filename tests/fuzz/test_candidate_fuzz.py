"""Fuzz the candidate grammar: Candidate.parse raises only CandidateParseError on any
text, and every valid candidate round-trips through serialize()."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcpeer.ice.candidate import Candidate, CandidateParseError

FUZZ = settings(max_examples=400, deadline=None)

ICE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_.!#$%&'*+^`{|}~"


def _parse_or_error(text: str) -> None:
    try:
        c = Candidate.parse(text)
    except CandidateParseError:
        return
    # Whatever parses writes back to something that parses to the same candidate.
    assert Candidate.parse(c.serialize()) == c
    assert Candidate.parse(c.to_sdp()) == c
    _ = (c.generation, c.ufrag, c.network_id, c.network_cost, c.is_mdns, c.ip)


@FUZZ
@given(st.text(max_size=200))
def test_parse_arbitrary_text(text: str) -> None:
    _parse_or_error(text)


WORDS = st.sampled_from(
    [
        "candidate:1",
        "a=candidate:2",
        "1",
        "0",
        "256",
        "257",
        "udp",
        "TCP",
        "typ",
        "host",
        "srflx",
        "relay",
        "raddr",
        "rport",
        "tcptype",
        "active",
        "generation",
        "ufrag",
        "network-id",
        "192.0.2.1",
        "::1",
        "fe80::1%eth0",
        "x.local",
        "65535",
        "65536",
        "4294967295",
        "4294967296",
        "-1",
        "",
        "\u0661",
        "a" * 40,
    ]
)


@FUZZ
@given(
    st.lists(st.one_of(WORDS, st.text(max_size=8)), max_size=16), st.sampled_from([" ", "  ", "\t"])
)
def test_parse_plausible_token_soup(words: list[str], sep: str) -> None:
    _parse_or_error(sep.join(words))


host = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda a: a.compressed),
    st.uuids().map(lambda u: f"{u}.local"),
)
port = st.integers(0, 65535)
token = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=10).filter(
    lambda t: t.lower() not in ("raddr", "rport", "tcptype", "typ")
)
candidates = st.builds(
    Candidate,
    foundation=st.text(alphabet=ICE_CHARS, min_size=1, max_size=32),
    component=st.integers(1, 256),
    transport=st.sampled_from(["udp", "tcp"]),
    priority=st.integers(0, 2**32 - 1),
    address=host,
    port=port,
    type=st.sampled_from(["host", "srflx", "prflx", "relay"]),
    related_address=st.one_of(st.none(), host),
    related_port=st.one_of(st.none(), port),
    tcp_type=st.one_of(st.none(), st.sampled_from(["active", "passive", "so"])),
    extensions=st.lists(st.tuples(token, token), max_size=5).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(candidates, st.sampled_from(["", "candidate:", "a=candidate:"]))
def test_round_trip(c: Candidate, prefix: str) -> None:
    text = c.serialize()
    assert text.startswith("candidate:")
    assert Candidate.parse(text) == c
    assert Candidate.parse(prefix + c.to_sdp()) == c
    assert Candidate.parse(prefix + c.to_sdp() + "\r\n") == c
