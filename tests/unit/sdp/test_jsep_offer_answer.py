"""Offer/answer between two JsepSessions (RFC 8829 §5.2/§5.3): what descriptions
say, what applying them reports, renegotiation, m-line recycling, ICE restart,
bundle policies, codec preferences, negotiation-needed, validation, candidates."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from rtcpeer.errors import (
    InvalidAccessError,
    InvalidModificationError,
    InvalidStateError,
    NotSupportedError,
    OperationError,
)
from rtcpeer.sdp import Codec, Group, SessionDescription, parse
from rtcpeer.sdp.codecs import (
    AUDIO_CODECS,
    AUDIO_RED,
    VIDEO_CODECS,
    VIDEO_RED,
    VIDEO_RTX,
    VIDEO_ULPFEC,
    RtpCodecCapability,
    get_capabilities,
)
from rtcpeer.sdp.jsep import Applied, JsepSession, SendEncoding

FINGERPRINT = [("sha-256", ":".join(f"{i:02X}" for i in range(32)))]
OTHER_FINGERPRINT = [("sha-256", ":".join(f"{255 - i:02X}" for i in range(32)))]


def session(seed: int, **kwargs: object) -> JsepSession:
    return JsepSession(
        fingerprints=OTHER_FINGERPRINT if seed % 2 == 0 else FINGERPRINT,
        ice_ufrag=f"uf{seed:02d}",
        ice_pwd=f"pw{seed:02d}" + "x" * 20,
        rng=random.Random(seed),
        **kwargs,  # type: ignore[arg-type]
    )


def negotiate(
    offerer: JsepSession, answerer: JsepSession, **offer_args: bool
) -> tuple[Applied, Applied, Applied, Applied, str, str]:
    offer = offerer.create_offer(**offer_args)
    local_offer = offerer.set_local_description("offer", offer)
    remote_offer = answerer.set_remote_description("offer", offer)
    answer = answerer.create_answer()
    local_answer = answerer.set_local_description("answer", answer)
    remote_answer = offerer.set_remote_description("answer", answer)
    return local_offer, remote_offer, local_answer, remote_answer, offer, answer


def lines_of(sdp: str, prefix: str) -> list[str]:
    return [line for line in sdp.split("\r\n") if line.startswith(prefix)]


def video_caps(name: str, fmtp: str | None = None) -> RtpCodecCapability:
    return RtpCodecCapability(f"video/{name}", 90000, None, fmtp)


# -- audio + video + data ------------------------------------------------------------


def test_audio_video_data_offer_shape() -> None:
    a = session(1)
    a.add_transceiver("audio", stream_ids=["s"], track_id="ta")
    a.add_transceiver("video", stream_ids=["s"], track_id="tv")
    a.want_data_channel()
    offer = a.create_offer()
    sd = parse(offer)
    head = offer.split("\r\nm=")[0].split("\r\n")
    assert head == [
        "v=0",
        f"o=- {a.session_id} 1 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1 2",
        "a=extmap-allow-mixed",
        "a=msid-semantic: WMS s",
    ]
    assert [(m.kind, m.port, m.proto, m.mid) for m in sd.media] == [
        ("audio", 9, "UDP/TLS/RTP/SAVPF", "0"),
        ("video", 9, "UDP/TLS/RTP/SAVPF", "1"),
        ("application", 9, "UDP/DTLS/SCTP", "2"),
    ]
    for m in sd.media:
        assert m.ice_ufrag == "uf01" and m.ice_pwd == "pw01" + "x" * 20
        assert m.ice_options == ("trickle",)
        assert m.setup == "actpass"
        assert [str(f) for f in m.fingerprints] == [f"sha-256 {FINGERPRINT[0][1]}"]
    audio, video, data = sd.media
    assert audio.formats[:1] == ["111"] and audio.rtcp_mux and audio.rtcp_rsize
    assert audio.rtcp_mux_only
    assert audio.direction == "sendrecv"
    assert [str(m) for m in audio.msids] == ["s ta"]
    assert audio.codec(111) is not None
    assert audio.codec(111).fmtp == "minptime=10;useinbandfec=1"  # type: ignore[union-attr]
    assert next(e.uri.rsplit(":", 1)[-1] for e in audio.extmaps) == "ssrc-audio-level"
    assert {e.id for e in audio.extmaps} == {1, 2, 3, 4}
    assert video.formats[:2] == ["96", "97"]
    assert video.fmtp(97) is not None and video.fmtp(97).parameters_text == "apt=96"  # type: ignore[union-attr]
    assert [fb.value for fb in video.rtcp_fb(96)] == [
        "goog-remb",
        "transport-cc",
        "ccm fir",
        "nack",
        "nack pli",
    ]
    (fid,) = video.ssrc_groups
    assert fid.semantics == "FID"
    t = a.transceivers[1]
    assert fid.ssrcs == (t.ssrc, t.rtx_ssrc)
    assert video.ssrc_attributes(t.ssrc) == {"cname": a.cname, "msid": "s tv"}
    assert data.sctp_port == 5000 and data.max_message_size == 262144
    assert data.formats == ["webrtc-datachannel"]


def test_audio_video_data_exchange() -> None:
    a, b = session(1), session(2)
    ta = a.add_transceiver("audio", stream_ids=["s"])
    tv = a.add_transceiver("video", stream_ids=["s"])
    a.want_data_channel()
    ba = b.add_transceiver("audio", stream_ids=["r"], added_by_add_track=True)
    lo, ro, la, ra, _offer, answer = negotiate(a, b)

    assert lo.signaling_states == ("have-local-offer",)
    assert [t.mids for t in lo.transports] == [("0",), ("1",), ("2",)]  # balanced, pre-answer
    assert ro.signaling_states == ("have-remote-offer",)
    # b reused its addTrack transceiver for audio and created one for video.
    assert ba.mid == "0"
    (bv,) = ro.added_transceivers
    assert bv.kind == "video" and bv.mid == "1" and bv.direction == "recvonly"
    assert [(e.transceiver, e.stream_ids) for e in ro.added_tracks] == [(ba, ("s",)), (bv, ("s",))]
    assert ro.sctp is not None and ro.sctp.remote_port == 5000
    assert ro.sctp.remote_max_message_size == 262144

    sd = parse(answer)
    assert [g.mids for g in sd.bundle_groups] == [("0", "1", "2")]
    assert [m.setup for m in sd.media] == ["active"] * 3
    assert [m.direction for m in sd.media] == ["sendrecv", "recvonly", None]
    assert [str(m) for m in sd.media[0].msids] == [f"r {ba.track_id}"]

    assert la.signaling_states == ("stable",) and ra.signaling_states == ("stable",)
    (bt,) = la.transports
    assert bt.mids == ("0", "1", "2")
    assert bt.dtls_role == "client" and not bt.ice_controlling
    assert bt.remote_ufrag == "uf01"
    assert bt.local_ufrag == "uf02"
    (at,) = ra.transports
    assert at.dtls_role == "server" and at.ice_controlling
    assert at.remote_ufrag == "uf02" and at.remote_setup == "active"
    assert [str(f) for f in at.remote_fingerprints] == [f"sha-256 {OTHER_FINGERPRINT[0][1]}"]

    assert ta.current_direction == "sendrecv" and tv.current_direction == "sendonly"
    assert ba.current_direction == "sendrecv" and bv.current_direction == "recvonly"
    assert {(c.transceiver, c.new) for c in ra.direction_changes} == {
        (ta, "sendrecv"),
        (tv, "sendonly"),
    }
    assert [(e.transceiver, e.stream_ids) for e in ra.added_tracks] == [(ta, ("r",))]

    audio, video = ra.rtp
    assert audio.mid == "0" and audio.codecs[0].payload_type == 111
    assert audio.codecs[0].mime_type == "audio/opus"
    assert audio.remote_ssrcs == (ba.ssrc,) and audio.remote_cname == b.cname
    assert video.codecs[0].payload_type == 96 and video.codecs[0].rtx_payload_type == 97
    assert (97, 96) in video.rtx_apt
    assert dict(video.header_extensions)[4] == "urn:ietf:params:rtp-hdrext:sdes:mid"
    assert video.direction == "sendonly"
    b_video = la.rtp[1]
    assert b_video.remote_rtx_ssrcs == ((tv.ssrc, tv.rtx_ssrc),)
    assert ra.sctp is not None and ra.sctp.transport_id == "0"
    assert not a.negotiation_needed() and not b.negotiation_needed()


def test_data_only() -> None:
    a, b = session(1), session(2)
    a.want_data_channel()
    assert a.negotiation_needed()
    _lo, _ro, la, ra, offer, _answer = negotiate(a, b)
    assert [m.kind for m in parse(offer).media] == ["application"]
    assert "a=msid-semantic: WMS\r\n" in offer
    assert la.sctp is not None and la.sctp.mid == "0"
    assert ra.sctp is not None and ra.sctp.remote_port == 5000
    assert ra.transports[0].mids == ("0",)
    assert not a.negotiation_needed()
    # The answerer never asked for data; it keeps the section in its later offers.
    b.add_transceiver("audio")
    offer2 = b.create_offer()
    assert [m.kind for m in parse(offer2).media] == ["application", "audio"]


def test_recvonly_offer_and_sendonly_answer() -> None:
    a, b = session(1), session(2)
    a.add_transceiver("audio", direction="recvonly")
    a.add_transceiver("video", direction="recvonly")
    offer = a.create_offer()
    assert lines_of(offer, "a=msid:") == [] and lines_of(offer, "a=ssrc") == []
    assert "a=msid-semantic: WMS\r\n" in offer
    b.add_transceiver("audio", added_by_add_track=True)
    b.add_transceiver("video", added_by_add_track=True)
    a.set_local_description("offer", offer)
    ro = b.set_remote_description("offer", offer)
    assert ro.added_tracks == ()  # a does not send
    answer = b.create_answer()
    assert [m.direction for m in parse(answer).media] == ["sendonly", "sendonly"]
    b.set_local_description("answer", answer)
    ra = a.set_remote_description("answer", answer)
    assert [t.current_direction for t in a.transceivers] == ["recvonly", "recvonly"]
    assert [e.stream_ids for e in ra.added_tracks] == [(), ()]
    assert [e.track_id for e in ra.added_tracks] == [t.track_id for t in b.transceivers]


def test_recvonly_offer_without_tracks_answers_inactive() -> None:
    a, b = session(1), session(2)
    a.add_transceiver("audio", direction="recvonly")
    _, ro, _la, _, _, answer = negotiate(a, b)
    assert [m.direction for m in parse(answer).media] == ["inactive"]
    assert ro.added_transceivers[0].current_direction == "inactive"


# -- simulcast -----------------------------------------------------------------------


def test_simulcast_offer_and_answer() -> None:
    a, b = session(1), session(2)
    t = a.add_transceiver("video", direction="sendonly", send_encodings=["h", "m", "l"])
    assert t.rids == ("h", "m", "l")
    assert len({e.ssrc for e in t.send_encodings}) == 3
    _, _ro, la, ra, offer, answer = negotiate(a, b)
    assert lines_of(offer, "a=rid:") == ["a=rid:h send", "a=rid:m send", "a=rid:l send"]
    assert lines_of(offer, "a=simulcast:") == ["a=simulcast:send h;m;l"]
    assert lines_of(offer, "a=ssrc") == []  # rids, not SSRCs, name the layers
    assert lines_of(answer, "a=rid:") == ["a=rid:h recv", "a=rid:m recv", "a=rid:l recv"]
    assert lines_of(answer, "a=simulcast:") == ["a=simulcast:recv h;m;l"]
    assert la.rtp[0].remote_rids == ("h", "m", "l")
    assert ra.rtp[0].send_rids == ("h", "m", "l")
    assert len(t.send_encodings) == 3


def test_simulcast_rejected_keeps_first_encoding() -> None:
    a, b = session(1), session(2)
    t = a.add_transceiver("video", direction="sendonly", send_encodings=["h", "m", "l"])
    first = t.send_encodings[0]
    offer = a.create_offer()
    a.set_local_description("offer", offer)
    b.set_remote_description("offer", offer)
    answer = b.create_answer()
    b.set_local_description("answer", answer)
    stripped = "".join(
        line + "\r\n"
        for line in answer.split("\r\n")[:-1]
        if not line.startswith(("a=rid:", "a=simulcast:"))
    )
    ra = a.set_remote_description("answer", stripped)
    assert ra.rtp[0].send_rids == ()
    assert t.send_encodings == (first,)


def test_bad_send_encodings_are_type_errors() -> None:
    a = session(1)
    with pytest.raises(TypeError, match="unique"):
        a.add_transceiver("video", send_encodings=["h", "h"])
    with pytest.raises(TypeError, match="rid"):
        a.add_transceiver("video", send_encodings=["h", None])
    with pytest.raises(TypeError, match="RFC 8851"):
        a.add_transceiver("video", send_encodings=["a b", "c"])
    with pytest.raises(TypeError):
        a.add_transceiver("text")
    with pytest.raises(TypeError):
        a.add_transceiver("audio", direction="stopped")
    with pytest.raises(TypeError, match="without spaces"):
        a.add_transceiver("audio", stream_ids=["a b"])


# -- renegotiation ---------------------------------------------------------------------


def test_renegotiation_adds_a_transceiver() -> None:
    a, b = session(1), session(2)
    a.add_transceiver("audio", stream_ids=["s"])
    a.want_data_channel()
    _, _, _, _, offer1, _ = negotiate(a, b)
    assert not a.negotiation_needed()
    tv = a.add_transceiver("video", direction="sendonly")
    assert a.negotiation_needed()
    lo, ro, _la, ra, offer2, answer2 = negotiate(a, b)
    sd1, sd2 = parse(offer1), parse(offer2)
    assert sd2.origin.session_id == sd1.origin.session_id
    assert sd2.origin.session_version == sd1.origin.session_version + 1
    assert [m.mid for m in sd2.media] == ["0", "1", "2"]
    assert [g.mids for g in sd2.bundle_groups] == [("0", "1", "2")]
    assert not any(m.bundle_only for m in sd2.media)
    assert [t.mids for t in lo.transports] == [("0", "1", "2")]
    (bv,) = ro.added_transceivers
    assert bv.kind == "video" and [e.transceiver for e in ro.added_tracks] == [bv]
    assert [e.stream_ids for e in ro.added_tracks] == [()]
    assert tv.current_direction == "sendonly"
    assert [(c.transceiver, c.old, c.new) for c in ra.direction_changes] == [(tv, None, "sendonly")]
    assert parse(answer2).origin.session_version == 2
    assert not a.negotiation_needed() and not b.negotiation_needed()


def test_same_offer_twice_keeps_the_version() -> None:
    a, b = session(1), session(2)
    a.add_transceiver("audio")
    _, _, _, _, offer1, _ = negotiate(a, b)
    again = a.create_offer()
    assert parse(again).origin.session_version == parse(offer1).origin.session_version
    assert again == offer1


def test_direction_change_renegotiates() -> None:
    a, b = session(1), session(2)
    t = a.add_transceiver("audio")
    negotiate(a, b)
    a.set_direction(t, "recvonly")
    assert a.negotiation_needed()
    _, ro, _la, _ra, offer, _ = negotiate(a, b)
    assert parse(offer).media[0].direction == "recvonly"
    (bt,) = b.transceivers
    # b received from a; now a stops sending: the remote track goes away.
    assert [e.transceiver for e in ro.removed_tracks] == [bt]
    assert t.current_direction == "inactive"
    assert not a.negotiation_needed()


def test_set_stream_ids_renegotiates_and_reports_stream_change() -> None:
    a, b = session(1), session(2)
    t = a.add_transceiver("audio", stream_ids=["one"])
    negotiate(a, b)
    a.set_stream_ids(t, ["two"])
    assert a.negotiation_needed()
    _, ro, _, _, _, _ = negotiate(a, b)
    (change,) = ro.stream_changes
    assert (change.old, change.new) == (("one",), ("two",))
    assert not a.negotiation_needed()


def test_stop_and_m_line_reuse() -> None:
    a, b = session(1), session(2)
    ta = a.add_transceiver("audio")
    tv = a.add_transceiver("video")
    negotiate(a, b)
    b_audio = b.transceivers[0]
    a.stop_transceiver(ta)
    assert ta.direction == "stopped" and ta.stopping and not ta.stopped
    assert a.negotiation_needed()
    _lo, ro, la, ra, offer, answer = negotiate(a, b)
    rejected = parse(offer).media[0]
    assert (rejected.kind, rejected.port, rejected.mid) == ("audio", 0, "0")
    assert [g.mids for g in parse(offer).bundle_groups] == [("1",)]
    assert ro.stopped_transceivers == (b_audio,)
    assert parse(answer).media[0].port == 0
    assert ta.stopped and ta.current_direction == "stopped"
    assert ra.removed_transceivers == (ta,) and la.removed_transceivers == (b_audio,)
    assert a.transceivers == (tv,)
    assert not a.negotiation_needed()
    # A new transceiver recycles the rejected m-line, with a fresh mid.
    tn = a.add_transceiver("video", direction="sendonly")
    _lo2, ro2, _, _, offer2, _ = negotiate(a, b)
    sd = parse(offer2)
    assert [(m.kind, m.port, m.mid) for m in sd.media] == [("video", 9, "2"), ("video", 9, "1")]
    assert tn.mid == "2" and tn.mline_index == 0
    assert [g.mids for g in sd.bundle_groups] == [("1", "2")]
    assert ro2.added_transceivers[0].mid == "2"
    assert tn.current_direction == "sendonly"


def test_stopping_unnegotiated_transceiver_disappears() -> None:
    a = session(1)
    t = a.add_transceiver("audio")
    a.stop_transceiver(t)
    assert a.negotiation_needed()
    offer = a.create_offer()
    assert parse(offer).media == []
    applied = a.set_local_description("offer", offer)
    assert applied.removed_transceivers == (t,)
    assert a.transceivers == ()


def test_remote_rejection_stops_transceiver() -> None:
    a, b = session(1), session(2)
    a.add_transceiver("audio")
    negotiate(a, b)
    (bt,) = b.transceivers
    b.stop_transceiver(bt)
    _, ro, _, _ra, _, _ = negotiate(b, a)
    (at,) = ro.stopped_transceivers
    assert at.stopped and at.current_direction == "stopped"
    assert a.transceivers == () and b.transceivers == ()


def test_remote_offer_cannot_remove_or_move_m_lines() -> None:
    a, b = session(1), session(2)
    a.add_transceiver("audio")
    a.add_transceiver("video")
    negotiate(a, b)
    c = session(3)
    c.add_transceiver("audio")
    with pytest.raises(InvalidAccessError, match="fewer"):
        b.set_remote_description("offer", c.create_offer())
    sd = parse(a.create_offer())
    sd.media[1].mid = "7"
    sd.groups = []
    with pytest.raises(InvalidAccessError, match="changed mid"):
        b.set_remote_description("offer", sd.serialize())


# -- ICE restart ---------------------------------------------------------------------


def test_ice_restart_new_credentials() -> None:
    a, b = session(1), session(2)
    a.add_transceiver("audio")
    negotiate(a, b)
    with pytest.raises(InvalidStateError, match="restart_ice"):
        a.create_offer(ice_restart=True)
    with pytest.raises(ValueError, match="new ufrag"):
        a.restart_ice("uf01", "n" * 22)
    a.restart_ice("newA", "N" * 22)
    assert a.negotiation_needed()
    offer = a.create_offer(ice_restart=True)
    assert parse(offer).media[0].ice_ufrag == "newA"
    lo = a.set_local_description("offer", offer)
    assert lo.local_ice_restart and lo.transports[0].ice_restart
    ro = b.set_remote_description("offer", offer)
    assert ro.remote_ice_restart
    assert ro.transports[0].ice_restart and ro.transports[0].remote_ufrag == "newA"
    with pytest.raises(InvalidStateError, match="restarts ICE"):
        b.create_answer()
    b.restart_ice("newB", "M" * 22)
    answer = b.create_answer()
    assert parse(answer).media[0].ice_ufrag == "newB"
    la = b.set_local_description("answer", answer)
    assert la.local_ice_restart and la.transports[0].ice_restart
    assert la.transports[0].local_ufrag == "newB"
    ra = a.set_remote_description("answer", answer)
    (t,) = ra.transports
    assert t.ice_restart and t.remote_ufrag == "newB" and t.local_ufrag == "newA"
    assert t.ice_controlling and t.dtls_role == "server"  # the DTLS role is kept
    assert not a.negotiation_needed() and not b.negotiation_needed()
    # No restart next time: credentials are settled.
    _, ro2, _, ra2, _, _ = negotiate(a, b)
    assert not ro2.remote_ice_restart and not ra2.transports[0].ice_restart


def test_answerer_initiated_restart_switches_roles() -> None:
    a, b = session(1), session(2)
    a.add_transceiver("audio")
    negotiate(a, b)
    b.restart_ice("newB", "M" * 22)
    a.restart_ice("newA", "N" * 22)
    _, _, la, ra, _, _ = negotiate(b, a)
    # b offered the restart: b controls ICE now; DTLS roles are unchanged.
    assert ra.transports[0].ice_controlling and ra.transports[0].dtls_role == "client"
    assert not la.transports[0].ice_controlling and la.transports[0].dtls_role == "server"


# -- pranswer -----------------------------------------------------------------------


def test_pranswer_then_answer() -> None:
    a, b = session(1), session(2)
    ta = a.add_transceiver("audio", stream_ids=["s"])
    offer = a.create_offer()
    a.set_local_description("offer", offer)
    b.set_remote_description("offer", offer)
    pr = b.create_answer()
    lp = b.set_local_description("pranswer", pr)
    assert lp.signaling_states == ("have-local-pranswer",)
    assert lp.transports[0].dtls_role == "client"
    (bt,) = b.transceivers
    # W3C: a pranswer sets [[CurrentDirection]] as an answer does.
    assert bt.current_direction == "recvonly"
    rp = a.set_remote_description("pranswer", pr)
    assert rp.signaling_states == ("have-remote-pranswer",)
    assert rp.transports[0].dtls_role == "server"
    assert ta.current_direction == "sendonly"
    b.set_direction(bt, "sendrecv")
    final = b.create_answer()
    assert parse(final).media[0].direction == "sendrecv"
    b.set_local_description("answer", final)
    ra = a.set_remote_description("answer", final)
    assert ra.signaling_states == ("stable",)
    assert ta.current_direction == "sendrecv"
    assert [e.transceiver for e in ra.added_tracks] == [ta]


# -- bundle policies -------------------------------------------------------------------


def test_max_bundle_initial_offer_uses_bundle_only() -> None:
    a, b = session(1, bundle_policy="max-bundle"), session(2)
    a.add_transceiver("audio")
    a.add_transceiver("video")
    a.want_data_channel()
    lo, _ro, _la, ra, offer, answer = negotiate(a, b)
    sd = parse(offer)
    assert [(m.port, m.bundle_only) for m in sd.media] == [(9, False), (0, True), (0, True)]
    assert sd.media[1].ice_ufrag is None and sd.media[1].fingerprints == []
    assert not sd.media[1].rtcp_mux
    assert [t.mids for t in lo.transports] == [("0", "1", "2")]
    assert [m.port for m in parse(answer).media] == [9, 9, 9]
    assert [t.mids for t in ra.transports] == [("0", "1", "2")]
    assert [t.current_direction for t in a.transceivers] == ["sendonly", "sendonly"]
    # Subsequent offers do not use bundle-only again.
    assert not any(m.bundle_only for m in parse(a.create_offer()).media)


def test_balanced_bundles_only_repeated_kinds() -> None:
    a, b = session(1), session(2)
    for kind in ("audio", "video", "video", "audio"):
        a.add_transceiver(kind)
    lo, *_ = negotiate(a, b)
    sd = parse(a.current_local_description.sdp)  # type: ignore[union-attr]
    assert [m.bundle_only for m in sd.media] == [False, False, True, True]
    assert [t.mids for t in lo.transports] == [("0", "2", "3"), ("1",)]


def test_max_compat_never_bundle_only() -> None:
    a, b = session(1, bundle_policy="max-compat"), session(2)
    a.add_transceiver("audio")
    a.add_transceiver("audio")
    lo, *_ = negotiate(a, b)
    assert [t.mids for t in lo.transports] == [("0",), ("1",)]


def test_unbundled_answer_gives_separate_transports() -> None:
    a, b = session(1), session(2)
    a.add_transceiver("audio")
    a.add_transceiver("video")
    offer = a.create_offer()
    a.set_local_description("offer", offer)
    b.set_remote_description("offer", offer)
    answer = b.create_answer()
    unbundled = answer.replace("a=group:BUNDLE 0 1\r\n", "")
    ra = a.set_remote_description("answer", unbundled)
    assert [(t.id, t.mids) for t in ra.transports] == [("0", ("0",)), ("1", ("1",))]
    # No BUNDLE group next time either.
    assert parse(a.create_offer()).bundle_groups == []


def test_max_bundle_answerer_without_bundle_offer_keeps_first() -> None:
    a, b = session(1, bundle_policy="max-compat"), session(2, bundle_policy="max-bundle")
    a.add_transceiver("audio")
    a.add_transceiver("video")
    offer = a.create_offer()
    no_group = offer.replace("a=group:BUNDLE 0 1\r\n", "")
    b.set_remote_description("offer", no_group)
    answer = parse(b.create_answer())
    assert [m.port for m in answer.media] == [9, 0]


def test_rtcp_mux_policy_negotiate_is_not_supported() -> None:
    with pytest.raises(NotSupportedError):
        session(1, rtcp_mux_policy="negotiate")


# -- DTLS setup ------------------------------------------------------------------------


def test_answer_to_active_offer_is_passive() -> None:
    a, b = session(1), session(2)
    a.add_transceiver("audio")
    offer = a.create_offer().replace("a=setup:actpass", "a=setup:active")
    b.set_remote_description("offer", offer)
    answer = b.create_answer()
    assert lines_of(answer, "a=setup:") == ["a=setup:passive"]
    la = b.set_local_description("answer", answer)
    assert la.transports[0].dtls_role == "server"


def test_answer_setup_passive_option() -> None:
    a, b = session(1), session(2, answer_setup="passive")
    a.add_transceiver("audio")
    _, _, la, ra, _, answer = negotiate(a, b)
    assert lines_of(answer, "a=setup:") == ["a=setup:passive"]
    assert la.transports[0].dtls_role == "server" and ra.transports[0].dtls_role == "client"


def test_renegotiation_keeps_dtls_role_when_roles_swap() -> None:
    a, b = session(1), session(2)
    a.add_transceiver("audio")
    negotiate(a, b)  # a is DTLS server, b client
    _, _, la, ra, _, answer = negotiate(b, a)
    # a answers now, and keeps being the server: passive.
    assert lines_of(answer, "a=setup:") == ["a=setup:passive"]
    assert la.transports[0].dtls_role == "server"
    assert ra.transports[0].dtls_role == "client"


# -- codecs ---------------------------------------------------------------------------


def test_set_codec_preferences_shapes_the_offer() -> None:
    a = session(1)
    t = a.add_transceiver("video")
    a.set_codec_preferences(t, [video_caps("VP8")])
    assert parse(a.create_offer()).media[0].formats == ["96"]
    a.set_codec_preferences(
        t,
        [
            video_caps(
                "H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
            ),
            video_caps("rtx"),
            video_caps("VP8"),
        ],
    )
    media = parse(a.create_offer()).media[0]
    assert media.formats == ["108", "109", "96", "97"]
    assert media.fmtp(109).parameters_text == "apt=108"  # type: ignore[union-attr]
    a.set_codec_preferences(t, [])
    assert parse(a.create_offer()).media[0].formats[:2] == ["96", "97"]


def test_set_codec_preferences_rejects_unknown() -> None:
    a = session(1)
    t = a.add_transceiver("video")
    with pytest.raises(InvalidModificationError, match="getCapabilities"):
        a.set_codec_preferences(t, [video_caps("H265")])
    with pytest.raises(InvalidModificationError, match="getCapabilities"):
        a.set_codec_preferences(t, [RtpCodecCapability("audio/opus", 48000, 2)])
    with pytest.raises(InvalidModificationError, match="media codec"):
        a.set_codec_preferences(t, [video_caps("rtx")])
    assert t.codec_preferences == ()


def test_answer_uses_preferences_order() -> None:
    a, b = session(1), session(2)
    a.add_transceiver("video")
    t = b.add_transceiver("video", added_by_add_track=True)
    b.set_codec_preferences(
        t, [video_caps("VP9", "profile-id=0"), video_caps("VP8"), video_caps("rtx")]
    )
    *_, answer = negotiate(a, b)
    assert parse(answer).media[0].formats == ["98", "99", "96", "97"]


def test_answer_keeps_offered_payload_types_and_learns_them() -> None:
    a, b = session(1), session(2)
    t = a.add_transceiver("audio")
    opus = RtpCodecCapability("audio/opus", 48000, 2, "minptime=10;useinbandfec=1")
    a.set_codec_preferences(t, [opus])
    offer = a.create_offer().replace(" 111", " 109").replace(":111 ", ":109 ")
    a2 = parse(offer)
    assert a2.media[0].formats == ["109"]
    b.set_remote_description("offer", offer)
    answer = b.create_answer()
    assert parse(answer).media[0].formats == ["109"]
    b.set_local_description("answer", answer)
    # b's own offers keep opus at 109 (RFC 8829 §5.2.2).
    assert parse(b.create_offer()).media[0].formats[0] == "109"


def test_no_common_codec_rejects_the_section() -> None:
    a, b = session(1), session(2)
    t = a.add_transceiver("video")
    a.set_codec_preferences(t, [video_caps("AV1", "level-idx=5;profile=0;tier=0")])
    offer = a.create_offer()
    b2 = JsepSession(
        fingerprints=FINGERPRINT,
        ice_ufrag="uf02",
        ice_pwd="pw02" + "x" * 20,
        rng=random.Random(2),
        video_codecs=[c for c in b.codecs("video") if c.name != "AV1"],
    )
    b2.set_remote_description("offer", offer)
    answer = parse(b2.create_answer())
    assert answer.media[0].port == 0 and answer.bundle_groups == []


# -- negotiation-needed -----------------------------------------------------------------


def test_negotiation_needed_cases() -> None:
    a, b = session(1), session(2)
    assert not a.negotiation_needed()
    t = a.add_transceiver("audio")
    assert a.negotiation_needed()
    offer = a.create_offer()
    a.set_local_description("offer", offer)
    assert not a.negotiation_needed()  # never outside stable
    b.set_remote_description("offer", offer)
    answer = b.create_answer()
    b.set_local_description("answer", answer)
    a.set_remote_description("answer", answer)
    assert not a.negotiation_needed()
    a.set_direction(t, "sendrecv")  # unchanged
    assert not a.negotiation_needed()
    # b answered recvonly: "sendonly" matches the answer (reversed), so nothing
    # to negotiate (W3C §4.7.3 step 5.3.2); "recvonly" matches neither.
    a.set_direction(t, "sendonly")
    assert not a.negotiation_needed()
    a.set_direction(t, "recvonly")
    assert a.negotiation_needed()
    a.set_direction(t, "sendrecv")
    assert not a.negotiation_needed()
    a.want_data_channel()
    assert a.negotiation_needed()
    negotiate(a, b)
    assert not a.negotiation_needed()
    a.restart_ice("rstA", "R" * 22)
    assert a.negotiation_needed()
    b.restart_ice("rstB", "S" * 22)
    assert b.negotiation_needed()  # b's new credentials go into its next answer
    negotiate(a, b)
    assert not b.negotiation_needed()
    assert not a.negotiation_needed()
    # The answerer: its recvonly transceiver wants to send now.
    (bt,) = [x for x in b.transceivers if x.kind == "audio"]
    assert not b.negotiation_needed()
    b.set_direction(bt, "sendrecv")
    assert b.negotiation_needed()
    a.stop_transceiver(t)
    assert a.negotiation_needed()


def test_set_direction_on_stopped_transceiver() -> None:
    a = session(1)
    t = a.add_transceiver("audio")
    a.stop_transceiver(t)
    with pytest.raises(InvalidStateError):
        a.set_direction(t, "sendrecv")
    other = session(3).add_transceiver("audio")
    with pytest.raises(InvalidAccessError):
        a.stop_transceiver(other)


# -- validation -----------------------------------------------------------------------


def offer_sd() -> SessionDescription:
    a = session(1)
    a.add_transceiver("audio")
    a.add_transceiver("video")
    return parse(a.create_offer())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda sd: sd.media[1].remove_attributes("mid"), "no a=mid"),
        (lambda sd: [m.remove_attributes("ice-ufrag") for m in sd.media], "ice-ufrag"),
        (lambda sd: [m.remove_attributes("fingerprint") for m in sd.media], "fingerprint"),
        (
            lambda sd: [
                m.remove_attributes(n) for m in sd.media for n in ("rtcp-mux", "rtcp-mux-only")
            ],
            "rtcp-mux",
        ),
        (lambda sd: setattr(sd.media[1], "mid", "0"), "two m-sections"),
        (lambda sd: setattr(sd, "groups", [Group("BUNDLE", ("0", "9"))]), "no m-section has"),
        (
            lambda sd: (
                [m.remove_attributes("setup") for m in sd.media]
                and [setattr(m, "setup", "holdconn") for m in sd.media]
            ),
            "holdconn",
        ),
    ],
)
def test_invalid_remote_offers(mutate: object, message: str) -> None:
    sd = offer_sd()
    mutate(sd)  # type: ignore[operator]
    b = session(2)
    with pytest.raises(InvalidAccessError, match=message):
        b.set_remote_description("offer", sd.serialize())
    assert b.signaling_state == "stable" and b.transceivers == ()


def answer_setup() -> tuple[JsepSession, SessionDescription]:
    a, b = session(1), session(2)
    a.add_transceiver("audio")
    a.add_transceiver("video")
    offer = a.create_offer()
    a.set_local_description("offer", offer)
    b.set_remote_description("offer", offer)
    return a, parse(b.create_answer())


def test_answer_with_wrong_m_line_count() -> None:
    a, sd = answer_setup()
    del sd.media[1]
    with pytest.raises(InvalidAccessError, match="m-sections"):
        a.set_remote_description("answer", sd.serialize())
    assert a.signaling_state == "have-local-offer"


def test_answer_with_wrong_mid() -> None:
    a, sd = answer_setup()
    sd.media[0].mid, sd.media[1].mid = "1", "0"
    with pytest.raises(InvalidAccessError, match="mid"):
        a.set_remote_description("answer", sd.serialize())


def test_answer_with_wrong_kind() -> None:
    a, sd = answer_setup()
    sd.media[0].kind = "video"
    with pytest.raises(InvalidAccessError, match="is video"):
        a.set_remote_description("answer", sd.serialize())


def test_answer_with_actpass() -> None:
    a, sd = answer_setup()
    for m in sd.media:
        m.setup = "actpass"
    with pytest.raises(InvalidAccessError, match="actpass"):
        a.set_remote_description("answer", sd.serialize())


def test_answer_without_common_payload_type() -> None:
    a, sd = answer_setup()
    sd.media[0].set_codecs([Codec(120, "foo", 8000)])
    with pytest.raises(InvalidAccessError, match="payload type"):
        a.set_remote_description("answer", sd.serialize())


def test_answer_bundling_what_was_not_offered() -> None:
    a, b = session(1, bundle_policy="max-compat"), session(2)
    a.add_transceiver("audio")
    a.add_transceiver("video")
    offer = a.create_offer()
    a.set_local_description("offer", offer)
    b.set_remote_description("offer", offer)
    first = b.create_answer().replace("a=group:BUNDLE 0 1\r\n", "")
    a.set_remote_description("answer", first)  # the peer declined BUNDLE
    offer = a.create_offer()
    assert "a=group" not in offer
    a.set_local_description("offer", offer)
    b.set_remote_description("offer", offer)
    answer = b.create_answer()
    assert "a=group" not in answer
    bad = answer.replace("a=extmap-allow-mixed", "a=group:BUNDLE 0 1\r\na=extmap-allow-mixed", 1)
    with pytest.raises(InvalidAccessError, match="did not bundle"):
        a.set_remote_description("answer", bad)


def test_answer_accepting_rejected_section() -> None:
    a, b = session(1), session(2)
    t = a.add_transceiver("audio")
    a.add_transceiver("video")
    negotiate(a, b)
    a.stop_transceiver(t)
    offer = a.create_offer()
    a.set_local_description("offer", offer)
    b.set_remote_description("offer", offer)
    sd = parse(b.create_answer())
    sd.media[0] = parse(a.current_remote_description.sdp).media[0]  # type: ignore[union-attr]
    with pytest.raises(InvalidAccessError, match="rejected"):
        a.set_remote_description("answer", sd.serialize())


# -- candidates -----------------------------------------------------------------------

CANDIDATE = "candidate:1 1 udp 2122194687 127.0.0.1 40000 typ host"


def test_local_candidates_show_in_local_description() -> None:
    a, b = session(1), session(2)
    a.add_transceiver("audio")
    a.want_data_channel()
    offer = a.create_offer()
    a.set_local_description("offer", offer)
    a.add_local_candidate(CANDIDATE, "0")
    a.add_local_candidate("", "0")
    desc = a.local_description
    assert desc is not None
    sd = parse(desc.sdp)
    assert sd.media[0].candidates == [CANDIDATE.removeprefix("candidate:")]
    assert sd.media[0].end_of_candidates
    # Before the answer the data section has its own transport (balanced).
    assert sd.media[1].candidates == []
    # The created offer text is unchanged; it is still the one to apply.
    assert a.pending_local_description.sdp != offer  # type: ignore[union-attr]
    b.set_remote_description("offer", desc.sdp)
    answer = b.create_answer()
    b.set_local_description("answer", answer)
    a.set_remote_description("answer", answer)
    a.add_local_candidate("candidate:2 1 udp 1 10.0.0.1 5 typ host", "1")
    cur = parse(a.local_description.sdp)  # type: ignore[union-attr]
    # After the answer both sections share the bundle transport.
    assert [len(m.candidates) for m in cur.media] == [2, 1]


def test_remote_candidates_from_description_and_add() -> None:
    a, b = session(1), session(2)
    a.add_transceiver("audio")
    a.want_data_channel()
    offer = parse(a.create_offer())
    for m in offer.media:
        m.candidates = [CANDIDATE.removeprefix("candidate:")]
    offer.media[0].end_of_candidates = True
    with pytest.raises(InvalidStateError):
        b.add_remote_candidate(CANDIDATE, "0")
    ro = b.set_remote_description("offer", offer.serialize())
    (t,) = ro.transports
    assert [c.candidate for c in t.remote_candidates] == [CANDIDATE]  # deduplicated
    assert t.remote_candidates[0].sdp_mid == "0" and t.remote_end_of_candidates
    got = b.add_remote_candidate("candidate:9 1 udp 5 192.0.2.1 9 typ host", "1")
    assert (got.sdp_mid, got.sdp_mline_index, got.transport_id) == ("1", 1, "0")
    assert got.username_fragment == "uf01"
    by_index = b.add_remote_candidate("candidate:8 1 udp 5 192.0.2.1 8 typ host", None, 0)
    assert by_index.sdp_mid == "0"
    with pytest.raises(OperationError):
        b.add_remote_candidate(CANDIDATE, "7")
    with pytest.raises(OperationError):
        b.add_remote_candidate(CANDIDATE, None, 5)
    with pytest.raises(OperationError, match="usernameFragment"):
        b.add_remote_candidate(CANDIDATE, "0", username_fragment="nope")
    with pytest.raises(TypeError):
        b.add_remote_candidate(CANDIDATE)
    end = b.add_remote_candidate("", "0")
    assert end.candidate == ""
    remote = parse(b.remote_description.sdp)  # type: ignore[union-attr]
    assert len(remote.media[1].candidates) == 2


def test_remote_ice_lite_is_recorded() -> None:
    a, b = session(1), session(2)
    a.add_transceiver("audio")
    offer = a.create_offer()
    a.set_local_description("offer", offer)
    b.set_remote_description("offer", offer)
    sd = parse(b.create_answer())
    sd.ice_lite = True
    ra = a.set_remote_description("answer", sd.serialize())
    assert ra.remote_ice_lite and a.remote_ice_lite
    assert ra.transports[0].remote_ice_lite and ra.transports[0].ice_controlling


def test_bad_configuration() -> None:
    with pytest.raises(ValueError, match="ice_ufrag"):
        JsepSession(
            fingerprints=FINGERPRINT, ice_ufrag="ab", ice_pwd="x" * 22, rng=random.Random(1)
        )
    with pytest.raises(ValueError, match="ice_pwd"):
        JsepSession(fingerprints=FINGERPRINT, ice_ufrag="abcd", ice_pwd="x", rng=random.Random(1))
    with pytest.raises(ValueError, match="fingerprint"):
        JsepSession(fingerprints=[], ice_ufrag="abcd", ice_pwd="x" * 22, rng=random.Random(1))
    with pytest.raises(TypeError, match="bundle_policy"):
        session(1, bundle_policy="all")


def test_deterministic_with_the_same_seed() -> None:
    def run() -> str:
        a = session(7)
        a.add_transceiver("video", stream_ids=["x"])
        return a.create_offer()

    assert run() == run()


def test_answerer_stopping_rejects_in_its_answer() -> None:
    a, b = session(1), session(2)
    ta = a.add_transceiver("audio")
    tv = a.add_transceiver("video")
    negotiate(a, b)
    b_audio = b.transceivers[0]
    b.stop_transceiver(b_audio)
    assert b.negotiation_needed()
    _, _, la, ra, _, answer = negotiate(a, b)  # a offers; b's answer rejects audio
    assert parse(answer).media[0].port == 0
    assert [g.mids for g in parse(answer).bundle_groups] == [("1",)]
    assert la.stopped_transceivers == (b_audio,) and la.removed_transceivers == (b_audio,)
    assert ra.stopped_transceivers == (ta,) and ra.removed_transceivers == (ta,)
    assert a.transceivers == (tv,) and ta.current_direction == "stopped"
    assert [t.mids for t in ra.transports] == [("1",)]
    assert not a.negotiation_needed() and not b.negotiation_needed()


def test_red_and_ulpfec_when_enabled() -> None:

    a = JsepSession(
        fingerprints=FINGERPRINT,
        ice_ufrag="uf01",
        ice_pwd="pw01" + "x" * 20,
        rng=random.Random(1),
        audio_codecs=(*AUDIO_CODECS, AUDIO_RED),
        video_codecs=(*VIDEO_CODECS, VIDEO_RED, VIDEO_ULPFEC, VIDEO_RTX),
    )
    a.add_transceiver("audio")
    a.add_transceiver("video")
    audio, video = parse(a.create_offer()).media
    assert audio.formats[-1] == "63" and audio.fmtp(63).parameters_text == "111/111"  # type: ignore[union-attr]
    assert video.formats[-3:] == ["118", "119", "120"]
    assert video.fmtp(119).parameters_text == "apt=118"  # type: ignore[union-attr]
    # Answering Chromium: red, its RTX and ulpfec are accepted now.
    a2 = JsepSession(
        fingerprints=FINGERPRINT,
        ice_ufrag="uf01",
        ice_pwd="pw01" + "x" * 20,
        rng=random.Random(1),
        audio_codecs=(*AUDIO_CODECS, AUDIO_RED),
        video_codecs=(*VIDEO_CODECS, VIDEO_RED, VIDEO_ULPFEC, VIDEO_RTX),
    )

    vector = Path(__file__).parents[2] / "vectors" / "sdp" / "chromium_av_data_offer.sdp"
    a2.set_remote_description("offer", vector.read_bytes().decode())
    answer = parse(a2.create_answer())
    assert answer.media[0].formats == ["111", "63", "9", "0", "8", "110", "126"]
    assert answer.media[0].fmtp(63).parameters_text == "111/111"  # type: ignore[union-attr]
    assert answer.media[1].formats[-3:] == ["118", "119", "120"]


def test_red_dropped_when_its_primary_is_gone() -> None:

    b = JsepSession(
        fingerprints=FINGERPRINT,
        ice_ufrag="uf02",
        ice_pwd="pw02" + "x" * 20,
        rng=random.Random(2),
        audio_codecs=(AUDIO_RED, *[c for c in session(2).codecs("audio") if c.name == "PCMU"]),
    )
    a = session(1)
    a.add_transceiver("audio")
    offer = (
        a.create_offer()
        .replace(
            "a=rtpmap:9 G722/8000",
            "a=rtpmap:9 G722/8000\r\na=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111",
        )
        .replace("111 9 0", "111 63 9 0")
    )
    b.set_remote_description("offer", offer)
    assert parse(b.create_answer()).media[0].formats == ["0"]


def test_send_encodings_objects_keep_their_ssrcs() -> None:

    a = session(1)
    t = a.add_transceiver(
        "video", send_encodings=[SendEncoding(1111, 2222, "hi"), SendEncoding(3333, 4444, "lo")]
    )
    assert [e.ssrc for e in t.send_encodings] == [1111, 3333]
    single = a.add_transceiver("video", send_encodings=[SendEncoding(5555, 6666)])
    offer = a.create_offer()
    assert "a=ssrc-group:FID 5555 6666" in offer
    assert single.ssrc == 5555 and single.rtx_ssrc == 6666


def test_unbundled_remote_offer_gives_transport_per_section() -> None:
    a, b = session(1, bundle_policy="max-compat"), session(2)
    a.add_transceiver("audio")
    a.add_transceiver("video")
    offer = a.create_offer().replace("a=group:BUNDLE 0 1\r\n", "")
    ro = b.set_remote_description("offer", offer)
    assert [(t.id, t.mids) for t in ro.transports] == [("0", ("0",)), ("1", ("1",))]
    answer = b.create_answer()
    assert "a=group" not in answer
    la = b.set_local_description("answer", answer)
    assert [t.dtls_role for t in la.transports] == ["client", "client"]


def test_session_codecs_match_capabilities() -> None:

    a = session(1)
    for kind in ("audio", "video"):
        caps = get_capabilities(kind)
        assert caps is not None
        assert tuple(c.capability() for c in a.codecs(kind)) == caps.codecs
