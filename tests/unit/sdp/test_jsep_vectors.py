"""JSEP against real descriptions (tests/vectors/sdp): answering every captured or
RFC offer, and applying Chromium's answers to offers of ours with the same layout."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from rtcpeer.sdp import SessionDescription, parse
from rtcpeer.sdp.jsep import Applied, JsepSession

VECTOR_DIR = Path(__file__).parents[2] / "vectors" / "sdp"
OFFERS = sorted(p.name for p in VECTOR_DIR.glob("*offer*.sdp"))
FINGERPRINT = [("sha-256", ":".join(f"{i:02X}" for i in range(32)))]


def load(name: str) -> str:
    return (VECTOR_DIR / name).read_bytes().decode("utf-8")


def session(seed: int = 1) -> JsepSession:
    return JsepSession(
        fingerprints=FINGERPRINT,
        ice_ufrag=f"uf{seed:02d}",
        ice_pwd=f"pw{seed:02d}" + "x" * 20,
        rng=random.Random(seed),
    )


def answer_vector(
    name: str, *, with_tracks: bool = False
) -> tuple[JsepSession, Applied, Applied, SessionDescription]:
    s = session()
    if with_tracks:
        s.add_transceiver("audio", stream_ids=["a"], added_by_add_track=True)
        s.add_transceiver("video", stream_ids=["a"], added_by_add_track=True)
    remote = s.set_remote_description("offer", load(name))
    answer = s.create_answer()
    local = s.set_local_description("answer", answer)
    return s, remote, local, parse(answer)


def test_every_offer_vector_is_covered() -> None:
    assert len(OFFERS) == 13


@pytest.mark.parametrize("name", OFFERS)
def test_answer_every_offer(name: str) -> None:
    offer = parse(load(name))
    s, _remote, local, answer = answer_vector(name)
    assert s.signaling_state == "stable"
    assert len(answer.media) == len(offer.media)
    accepted_groups = [g.mids for g in answer.bundle_groups]
    for ours, theirs in zip(answer.media, offer.media, strict=True):
        assert ours.kind == theirs.kind
        assert ours.mid == theirs.mid
        assert ours.proto == theirs.proto
        if ours.port == 0:
            continue
        assert ours.setup == "active"
        assert ours.ice_ufrag == "uf01"
        if ours.is_rtp:
            offered = set(theirs.payload_types)
            assert set(ours.payload_types) <= offered
            assert ours.rtcp_mux and not ours.rtcp_mux_only
            for codec in ours.codecs:
                original = theirs.codec(codec.payload_type)
                assert original is not None and original.name.lower() == codec.name.lower()
                if codec.name == "rtx":
                    apt = int(codec.parameters["apt"] or "")
                    assert apt in ours.payload_types
            offered_ext = {(e.id, e.uri) for e in theirs.extmaps}
            assert {(e.id, e.uri) for e in ours.extmaps} <= offered_ext
        else:
            assert ours.sctp_port == 5000 and ours.max_message_size == 262144
    assert accepted_groups == [
        tuple(m for m in g.mids if answer.media_by_mid(m).port != 0)  # type: ignore[union-attr]
        for g in offer.bundle_groups
    ]
    # All bundled: one transport, carrying the offer's credentials.
    assert len(local.transports) == 1
    t = local.transports[0]
    assert t.dtls_role == "client" and not t.ice_controlling
    tagged = offer.media_by_mid(t.id)
    assert tagged is not None
    assert t.remote_ufrag == offer.ice_credentials_of(tagged)[0]
    assert t.remote_fingerprints
    # Parsing our answer back is lossless.
    assert parse(answer.serialize()).serialize() == answer.serialize()


def test_answer_chromium_av_data() -> None:
    _s, remote, local, answer = answer_vector("chromium_av_data_offer.sdp", with_tracks=True)
    audio, video, data = answer.media
    assert audio.formats == ["111", "9", "0", "8", "110", "126"]  # red 63 and CN 13 dropped
    assert audio.codec(111).fmtp == "minptime=10;useinbandfec=1"  # type: ignore[union-attr]
    assert [fb.value for fb in audio.rtcp_fb(111)] == ["transport-cc"]
    assert video.formats[:2] == ["96", "97"]
    assert video.fmtp(97).parameters_text == "apt=96"  # type: ignore[union-attr]
    # red/ulpfec are not enabled by default, nor is their RTX.
    assert not {118, 119, 120} & set(video.payload_types)
    assert video.codec(102).fmtp == (  # type: ignore[union-attr]
        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"
    )
    assert [e.id for e in video.extmaps] == [2, 13, 3, 5, 4, 10, 11]
    assert [m.direction for m in (audio, video)] == ["sendrecv", "sendrecv"]
    assert data.sctp_port == 5000
    # What setting the offer reported.
    (t,) = remote.transports
    assert t.remote_ufrag == "FnIm" and t.remote_pwd == "8i60vxiCizris06KLEFanS1F"
    assert len(t.remote_candidates) == 8  # the tagged section's; the others are unused
    assert t.remote_candidates[0].candidate.startswith("candidate:2199803271 1 udp")
    assert {c.sdp_mid for c in t.remote_candidates} == {"0"}
    assert [e.stream_ids for e in remote.added_tracks] == [
        ("2ce071cf-d819-4605-b9cb-c16f5606a7b7",)
    ] * 2
    assert remote.added_tracks[0].track_id == "f1a28a77-a48f-4e4e-82f9-f1e521bdfc72"
    assert remote.sctp is not None and remote.sctp.remote_max_message_size == 262144
    a_rtp, v_rtp = local.rtp
    assert a_rtp.remote_ssrcs == (1569145249,) and a_rtp.remote_cname == "uwbppWg/35S532Pb"
    assert v_rtp.remote_rtx_ssrcs == ((2037578402, 1376765091),)
    assert v_rtp.codecs[0].payload_type == 96 and v_rtp.codecs[0].rtx_payload_type == 97


def test_answer_chromium_recvonly_drops_unsupported_profiles() -> None:
    _s, remote, _local, answer = answer_vector("chromium_recvonly_offer.sdp", with_tracks=True)
    video = answer.media[1]
    pts = video.payload_types
    for dropped in (35, 36, 37, 38, 41, 42, 43, 44, 47, 48, 49, 118, 119, 120):
        assert dropped not in pts
    assert pts[:6] == [96, 97, 98, 99, 100, 101]
    assert [m.direction for m in answer.media] == ["sendonly", "sendonly"]
    assert remote.added_tracks == ()


def test_answer_chromium_simulcast_receives_layers() -> None:
    _s, _remote, local, answer = answer_vector("chromium_simulcast_offer.sdp")
    video = answer.media[1]
    assert [str(r) for r in video.rids] == ["h recv", "m recv", "l recv"]
    assert str(video.simulcast) == "recv h;m;l"
    assert local.rtp[1].remote_rids == ("h", "m", "l")
    assert local.rtp[1].remote_ssrcs == ()


def test_answer_firefox_offer_keeps_firefox_numbers() -> None:
    s, remote, _local, answer = answer_vector("firefox_av_data_offer.sdp")
    audio, video, data = answer.media
    assert audio.formats == ["109", "9", "0", "8", "101"]
    assert video.formats[:2] == ["120", "124"]
    assert remote.added_tracks[0].stream_ids == ("{3c2e9f0a-8b1d-4e57-a6c3-0f9d2b7e4a11}",)
    assert remote.transports[0].remote_end_of_candidates
    assert data.max_message_size == 262144
    assert remote.sctp is not None and remote.sctp.remote_max_message_size == 1073741823
    # Later offers of ours keep Firefox's payload types.
    s.add_transceiver("audio")
    offer = parse(s.create_offer())
    assert offer.media[3].formats[0] == "109"


def test_answer_rfc8829_bundle_only_offer() -> None:
    _s, _remote, local, answer = answer_vector("rfc8829_offer_b1.sdp")
    assert [m.port for m in answer.media] == [9, 9]
    assert [t.mids for t in local.transports] == [("a1", "d1")]
    # Transport attributes only in the tagged section of the offer.
    assert local.transports[0].remote_ufrag == "ATEn"


# -- Chromium's answers applied to offers of ours --------------------------------------


def offerer(layout: str) -> JsepSession:
    s = session(3)
    if layout in ("av_data", "renegotiated"):
        s.add_transceiver("audio", stream_ids=["s"])
        s.add_transceiver("video", stream_ids=["s"])
        s.want_data_channel()
        if layout == "renegotiated":
            s.add_transceiver("video", direction="sendonly")
    elif layout == "data_only":
        s.want_data_channel()
    elif layout == "recvonly":
        s.add_transceiver("audio", direction="recvonly")
        s.add_transceiver("video", direction="recvonly")
    elif layout == "simulcast":
        s.add_transceiver("audio", stream_ids=["s"])
        s.add_transceiver("video", direction="sendonly", send_encodings=["h", "m", "l"])
    return s


ANSWERS = {
    "av_data": "chromium_av_data_answer.sdp",
    "renegotiated": "chromium_renegotiated_answer.sdp",
    "ice_restart": "chromium_ice_restart_answer.sdp",
    "data_only": "chromium_data_only_answer.sdp",
    "recvonly": "chromium_recvonly_answer.sdp",
    "simulcast": "chromium_simulcast_answer.sdp",
}


def apply_answer(layout: str) -> tuple[JsepSession, Applied]:
    s = offerer("renegotiated" if layout == "ice_restart" else layout)
    s.set_local_description("offer", s.create_offer())
    return s, s.set_remote_description("answer", load(ANSWERS[layout]))


@pytest.mark.parametrize("layout", sorted(ANSWERS))
def test_apply_chromium_answer(layout: str) -> None:
    answer = parse(load(ANSWERS[layout]))
    s, applied = apply_answer(layout)
    assert s.signaling_state == "stable"
    assert applied.signaling_states == ("stable",)
    (t,) = applied.transports
    assert t.mids == tuple(m.mid for m in answer.media)
    assert t.dtls_role == "server" and t.ice_controlling  # Chromium answered active
    assert t.remote_setup == "active"
    first = answer.media[0]
    assert (t.remote_ufrag, t.remote_pwd) == answer.ice_credentials_of(first)
    assert t.remote_fingerprints == tuple(first.fingerprints)
    assert len(t.remote_candidates) == len(set(first.candidates))
    for x in s.transceivers:
        assert x.current_direction is not None
    assert not s.negotiation_needed()


def test_apply_chromium_av_data_answer_details() -> None:
    s, applied = apply_answer("av_data")
    audio, video = applied.rtp
    # Chromium answered red (63) and CN (13) too; we did not offer them.
    assert [c.payload_type for c in audio.codecs] == [111, 9, 0, 8, 110, 126]
    assert video.codecs[0].payload_type == 96 and video.codecs[0].rtx_payload_type == 97
    assert 118 not in [c.payload_type for c in video.codecs]
    assert all(apt in {c.payload_type for c in video.codecs} for _, apt in video.rtx_apt)
    assert [x.current_direction for x in s.transceivers] == ["sendonly", "sendonly"]
    assert applied.added_tracks == ()  # Chromium answered recvonly
    assert applied.sctp is not None
    assert (applied.sctp.remote_port, applied.sctp.remote_max_message_size) == (5000, 262144)
    (t,) = applied.transports
    assert len(t.remote_candidates) == 4 and t.remote_ufrag == "qSPb"


def test_apply_chromium_recvonly_answer_fires_tracks() -> None:
    s, applied = apply_answer("recvonly")
    assert [x.current_direction for x in s.transceivers] == ["recvonly", "recvonly"]
    assert [e.stream_ids for e in applied.added_tracks] == [(), ()]
    assert [e.track_id for e in applied.added_tracks] == [
        "6e5197a2-9f2c-4f86-bfeb-c33e95bbb8bf",
        "11214cf1-6288-48de-a894-2fd5b7bdfc8a",
    ]
    assert applied.rtp[0].remote_ssrcs == (3186763225,)
    assert applied.rtp[1].remote_rtx_ssrcs == ((2475374977, 4068630569),)


def test_apply_chromium_simulcast_answer_without_simulcast() -> None:
    s, applied = apply_answer("simulcast")
    video = s.transceivers[1]
    assert applied.rtp[1].send_rids == ()
    assert len(video.send_encodings) == 1 and video.send_encodings[0].rid == "h"


def test_apply_chromium_renegotiated_answer_bundles_bundle_only_section() -> None:
    s, applied = apply_answer("renegotiated")
    sent = parse(s.current_local_description.sdp)  # type: ignore[union-attr]
    assert [m.bundle_only for m in sent.media] == [False, False, False, True]
    assert applied.transports[0].mids == ("0", "1", "2", "3")
    assert s.transceivers[2].current_direction == "sendonly"


def test_chromium_renegotiation_sequence() -> None:
    s, _remote, _local, _answer = answer_vector("chromium_av_data_offer.sdp")
    first = s.transceivers
    renegotiated = s.set_remote_description("offer", load("chromium_renegotiated_offer.sdp"))
    assert not renegotiated.remote_ice_restart
    (added,) = renegotiated.added_transceivers
    assert added.mid == "3" and added.kind == "video"
    assert [e.transceiver for e in renegotiated.added_tracks] == [added]
    assert renegotiated.added_tracks[0].stream_ids == ()
    answer = parse(s.create_answer())
    assert [m.mid for m in answer.media] == ["0", "1", "2", "3"]
    assert [m.setup for m in answer.media] == ["active"] * 4  # our DTLS role is kept
    assert answer.origin.session_version == 2
    local = s.set_local_description("answer", answer.serialize())
    assert s.transceivers[:2] == first
    assert [t.mids for t in local.transports] == [("0", "1", "2", "3")]
    assert not local.transports[0].ice_restart

    restart = s.set_remote_description("offer", load("chromium_ice_restart_offer.sdp"))
    assert restart.remote_ice_restart
    (t,) = restart.transports
    assert t.ice_restart and (t.remote_ufrag, t.remote_pwd) == ("K5Y2", "F4GFt+w0agsyeP01xBYDKzyO")
    assert restart.added_tracks == () and restart.added_transceivers == ()
    s.restart_ice("uf99", "pw99" + "y" * 20)
    answer2 = parse(s.create_answer())
    assert {m.ice_ufrag for m in answer2.media} == {"uf99"}
    done = s.set_local_description("answer", answer2.serialize())
    assert done.local_ice_restart and done.transports[0].ice_restart
    assert done.transports[0].dtls_role == "client" and not done.transports[0].ice_controlling
    assert not s.negotiation_needed()
