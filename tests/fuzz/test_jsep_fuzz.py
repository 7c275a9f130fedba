"""Fuzz JSEP with mutated remote descriptions: applying one either works (and the
session can answer and go on) or fails with the W3C errors, leaving the session in
its previous signaling state. Nothing else may escape."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcpeer.errors import InvalidAccessError, RTCError
from rtcpeer.sdp import parse
from rtcpeer.sdp.jsep import JsepSession

VECTOR_DIR = Path(__file__).parents[1] / "vectors" / "sdp"
OFFERS = [
    (VECTOR_DIR / name).read_bytes().decode("utf-8")
    for name in sorted(p.name for p in VECTOR_DIR.glob("*offer*.sdp"))
]
FINGERPRINT = [("sha-256", ":".join(f"{i:02X}" for i in range(32)))]
EXPECTED = (RTCError, InvalidAccessError)

TOKENS = [
    "a=mid:0",
    "a=mid:9",
    "a=bundle-only",
    "a=group:BUNDLE 0 1",
    "a=group:BUNDLE 1",
    "a=inactive",
    "a=sendonly",
    "a=setup:passive",
    "a=setup:active",
    "a=setup:actpass",
    "a=rtcp-mux",
    "a=ice-lite",
    "a=rtpmap:96 VP8/90000",
    "a=rtpmap:97 rtx/90000",
    "a=fmtp:97 apt=200",
    "a=fmtp:97 apt=x",
    "a=fmtp:96 profile-level-id=zz;packetization-mode=q",
    "a=rtpmap:111 opus/48000/2",
    "a=rtpmap:63 red/48000/2",
    "a=fmtp:63 111/999",
    "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=extmap:300 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=simulcast:send a;b",
    "a=rid:a send",
    "a=ssrc-group:FID 1 2",
    "a=ssrc:1 msid:- x",
    "a=msid:s t",
    "a=sctp-port:7000",
    "a=sctpmap:5000 webrtc-datachannel 1024",
    "a=max-message-size:0",
    "a=candidate:1 1 udp 1 1.2.3.4 5 typ host",
    "a=end-of-candidates",
    "m=audio 0 UDP/TLS/RTP/SAVPF 0",
    "m=video 9 UDP/TLS/RTP/SAVPF 96",
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
    "m=application 9 DTLS/SCTP 5000",
    "m=audio 9 RTP/AVP 0",
    "m=text 9 UDP/TLS/RTP/SAVPF 98",
    "a=ice-ufrag:abcd",
    "a=ice-pwd:abcdefghijklmnopqrstuvwx",
    "a=fingerprint:sha-256 AA:BB",
]


def session(seed: int) -> JsepSession:
    return JsepSession(
        fingerprints=FINGERPRINT,
        ice_ufrag=f"uf{seed:02d}",
        ice_pwd=f"pw{seed:02d}" + "x" * 20,
        rng=random.Random(seed),
    )


mutation = st.tuples(
    st.sampled_from(["delete", "duplicate", "swap", "insert", "replace"]),
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=10_000),
    st.sampled_from(TOKENS),
)


def mutate(text: str, mutations: list[tuple[str, int, int, str]]) -> str:
    lines = text.split("\r\n")[:-1]
    for kind, i, j, token in mutations:
        if not lines:
            break
        i %= len(lines)
        j %= len(lines)
        if kind == "delete" and i >= 4:
            del lines[i]
        elif kind == "duplicate":
            lines.insert(j, lines[i])
        elif kind == "swap" and min(i, j) >= 4:
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "insert" and i >= 4:
            lines.insert(i, token)
        elif kind == "replace" and i >= 4:
            lines[i] = token
    return "".join(line + "\r\n" for line in lines)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(range(len(OFFERS))),
    st.lists(mutation, min_size=1, max_size=6),
    st.booleans(),
)
def test_mutated_remote_offers(
    index: int, mutations: list[tuple[str, int, int, str]], tracks: bool
) -> None:
    text = mutate(OFFERS[index], mutations)
    s = session(1)
    if tracks:
        s.add_transceiver("audio", added_by_add_track=True)
        s.add_transceiver("video", send_encodings=["a", "b"], added_by_add_track=True)
        s.want_data_channel()
    try:
        s.set_remote_description("offer", text)
    except EXPECTED:
        assert s.signaling_state == "stable"
        return
    answer = s.create_answer()
    parsed = parse(answer)
    assert len(parsed.media) == len(parse(text).media)
    s.set_local_description("answer", answer)
    assert s.signaling_state == "stable"
    s.negotiation_needed()
    offer = s.create_offer()
    parse(offer)
    s.set_local_description("offer", offer)
    s.set_local_description("rollback")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation, min_size=1, max_size=5), st.integers(min_value=0, max_value=3))
def test_mutated_remote_answers(mutations: list[tuple[str, int, int, str]], layout: int) -> None:
    a, b = session(1), session(2)
    if layout & 1:
        a.add_transceiver("audio", stream_ids=["s"])
        a.add_transceiver("video", send_encodings=["h", "l"])
    if layout & 2 or not layout & 1:
        a.want_data_channel()
    offer = a.create_offer()
    a.set_local_description("offer", offer)
    b.add_transceiver("audio", added_by_add_track=True)
    b.set_remote_description("offer", offer)
    answer = mutate(b.create_answer(), mutations)
    try:
        a.set_remote_description("answer", answer)
    except EXPECTED:
        assert a.signaling_state == "have-local-offer"
        a.set_local_description("rollback")
        return
    assert a.signaling_state == "stable"
    a.negotiation_needed()
    again = a.create_offer()
    a.set_local_description("offer", again)
    parse(again)
