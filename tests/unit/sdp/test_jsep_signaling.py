"""JSEP signaling state machine: the W3C table (webrtc-pc §4.3.1) transition by
transition, rollback (W3C §4.4.1.5, RFC 8829 §5.7), pranswer, glare (perfect
negotiation's implicit rollback), close, and the "last created" (munging) rule."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import pytest

from rtcpeer.errors import (
    InvalidModificationError,
    InvalidStateError,
    RTCError,
)
from rtcpeer.sdp.jsep import SIGNALING_TRANSITIONS, JsepSession

FINGERPRINT = [("sha-256", ":".join(f"{i:02X}" for i in range(32)))]
STATES = (
    "stable",
    "have-local-offer",
    "have-remote-offer",
    "have-local-pranswer",
    "have-remote-pranswer",
    "closed",
)
TYPES = ("offer", "answer", "pranswer", "rollback")


def session(seed: int, **kwargs: object) -> JsepSession:
    return JsepSession(
        fingerprints=FINGERPRINT,
        ice_ufrag=f"uf{seed:02d}",
        ice_pwd=f"pw{seed:02d}" + "x" * 20,
        rng=random.Random(seed),
        **kwargs,  # type: ignore[arg-type]
    )


def peer_offer(seed: int = 90) -> str:
    peer = session(seed)
    peer.add_transceiver("audio")
    peer.want_data_channel()
    offer = peer.create_offer()
    peer.set_local_description("offer", offer)
    return offer


def answer_to(offer: str, seed: int = 91) -> str:
    peer = session(seed)
    peer.set_remote_description("offer", offer)
    return peer.create_answer()


class Scene:
    """A session driven into one signaling state, with a peer's matching SDP."""

    def __init__(self, state: str) -> None:
        self.s = session(1)
        self.s.add_transceiver("audio")
        self.s.want_data_channel()
        self.remote_offer = peer_offer()
        self.remote_answer = ""
        if state == "have-local-offer":
            self._local_offer()
        elif state == "have-remote-offer":
            self.s.set_remote_description("offer", self.remote_offer)
        elif state == "have-local-pranswer":
            self.s.set_remote_description("offer", self.remote_offer)
            self.s.set_local_description("pranswer", self.s.create_answer())
        elif state == "have-remote-pranswer":
            self._local_offer()
            self.s.set_remote_description("pranswer", self.remote_answer)
        elif state == "closed":
            self.s.close()
        assert self.s.signaling_state == state

    def _local_offer(self) -> None:
        offer = self.s.create_offer()
        self.s.set_local_description("offer", offer)
        self.remote_answer = answer_to(offer)

    def apply(self, side: str, sdp_type: str) -> object:
        s = self.s
        if side == "local":
            if sdp_type == "offer":
                sdp = s.create_offer() if s.signaling_state != "closed" else "x"
            elif sdp_type in ("answer", "pranswer") and s.signaling_state in (
                "have-remote-offer",
                "have-local-pranswer",
            ):
                sdp = s.create_answer()
            else:
                sdp = ""
            return s.set_local_description(sdp_type, sdp)
        if sdp_type == "offer":
            return s.set_remote_description("offer", self.remote_offer)
        if sdp_type == "rollback":
            return s.set_remote_description("rollback")
        return s.set_remote_description(sdp_type, self.remote_answer or answer_to(peer_offer(5)))


CASES = [(state, side, t) for state in STATES for side in ("local", "remote") for t in TYPES]


# The oracle, written out by hand from W3C webrtc-pc §4.3.1 (signaling state diagram)
# and §4.4.1.5 (rollback is refused in stable and both pranswer states), independent
# of the implementation's table: (state, side, type) -> next state.
W3C_TABLE = {
    ("stable", "local", "offer"): "have-local-offer",
    ("stable", "remote", "offer"): "have-remote-offer",
    ("have-local-offer", "local", "offer"): "have-local-offer",
    ("have-local-offer", "remote", "answer"): "stable",
    ("have-local-offer", "remote", "pranswer"): "have-remote-pranswer",
    ("have-local-offer", "local", "rollback"): "stable",
    ("have-local-offer", "remote", "rollback"): "stable",
    # setRemoteDescription(offer) in have-local-offer: implicit rollback, then the
    # offer (W3C setRemoteDescription step 4, what perfect negotiation relies on).
    ("have-local-offer", "remote", "offer"): "have-remote-offer",
    ("have-remote-offer", "remote", "offer"): "have-remote-offer",
    ("have-remote-offer", "local", "answer"): "stable",
    ("have-remote-offer", "local", "pranswer"): "have-local-pranswer",
    ("have-remote-offer", "local", "rollback"): "stable",
    ("have-remote-offer", "remote", "rollback"): "stable",
    ("have-local-pranswer", "local", "pranswer"): "have-local-pranswer",
    ("have-local-pranswer", "local", "answer"): "stable",
    ("have-remote-pranswer", "remote", "pranswer"): "have-remote-pranswer",
    ("have-remote-pranswer", "remote", "answer"): "stable",
}


def expected(state: str, side: str, sdp_type: str) -> str | None:
    if state == "closed":
        return None
    return W3C_TABLE.get((state, side, sdp_type))


@pytest.mark.parametrize(("state", "side", "sdp_type"), CASES)
def test_w3c_signaling_table(state: str, side: str, sdp_type: str) -> None:
    scene = Scene(state)
    want = expected(state, side, sdp_type)
    if want is None:
        with pytest.raises(InvalidStateError) as info:
            scene.apply(side, sdp_type)
        message = str(info.value)
        assert state in message
        if state != "closed":
            assert sdp_type in message
            assert re.search(r"accepts (.+|nothing) there", message)
        assert scene.s.signaling_state == state
    else:
        applied = scene.apply(side, sdp_type)
        assert scene.s.signaling_state == want
        states = applied.signaling_states  # type: ignore[attr-defined]
        if want != state:
            assert states[-1] == want
        else:
            assert states == ()


def test_table_has_exactly_the_w3c_transitions() -> None:
    # The implementation's table is the oracle minus the implicit-rollback entry,
    # which set_remote_description handles outside the table.
    oracle = dict(W3C_TABLE)
    del oracle[("have-local-offer", "remote", "offer")]
    assert dict(SIGNALING_TRANSITIONS) == oracle


def test_illegal_message_names_state_and_allowed() -> None:
    s = session(1)
    with pytest.raises(InvalidStateError, match=r"'stable'.*accepts offer there"):
        s.set_local_description("answer", "")
    with pytest.raises(InvalidStateError, match="accepts offer there"):
        s.set_remote_description("answer", "v=0")


def test_create_answer_needs_a_remote_offer() -> None:
    s = session(1)
    with pytest.raises(InvalidStateError, match="have-remote-offer"):
        s.create_answer()


def test_implicit_type() -> None:
    assert Scene("stable").s.implicit_type() == "offer"
    assert Scene("have-local-offer").s.implicit_type() == "offer"
    assert Scene("have-remote-pranswer").s.implicit_type() == "offer"
    assert Scene("have-remote-offer").s.implicit_type() == "answer"
    assert Scene("have-local-pranswer").s.implicit_type() == "answer"


def test_bad_type_is_type_error() -> None:
    s = session(1)
    with pytest.raises(TypeError):
        s.set_local_description("bogus", "")
    with pytest.raises(TypeError):
        s.set_remote_description("bogus", "")


# -- pending/current descriptions -----------------------------------------------------


def test_pending_and_current_through_an_exchange() -> None:
    a, b = session(1), session(2)
    a.add_transceiver("audio")
    offer = a.create_offer()
    a.set_local_description("offer", offer)
    assert a.pending_local_description is not None
    assert a.pending_local_description.sdp == offer
    assert a.current_local_description is None
    assert a.local_description == a.pending_local_description
    b.set_remote_description("offer", offer)
    assert b.pending_remote_description is not None
    assert b.remote_description == b.pending_remote_description
    answer = b.create_answer()
    b.set_local_description("pranswer", answer)
    assert b.pending_local_description is not None
    assert b.pending_local_description.type == "pranswer"
    assert b.current_local_description is None
    answer = b.create_answer()
    b.set_local_description("answer", answer)
    assert b.pending_local_description is None and b.pending_remote_description is None
    assert b.current_local_description is not None
    assert b.current_local_description.type == "answer"
    assert b.current_remote_description is not None
    assert b.current_remote_description.sdp == offer
    a.set_remote_description("pranswer", answer)
    assert a.pending_remote_description is not None
    assert a.pending_remote_description.type == "pranswer"
    assert a.current_remote_description is None
    a.set_remote_description("answer", answer)
    assert a.current_remote_description is not None
    assert a.current_remote_description.type == "answer"
    assert a.current_local_description is not None
    assert a.current_local_description.sdp == offer
    assert a.pending_local_description is None


# -- munging --------------------------------------------------------------------------


def test_munged_offer_is_invalid_modification() -> None:
    s = session(1)
    s.add_transceiver("audio")
    offer = s.create_offer()
    with pytest.raises(InvalidModificationError, match="munging"):
        s.set_local_description("offer", offer.replace("a=rtcp-rsize\r\n", ""))
    assert s.signaling_state == "stable"
    s.set_local_description("offer", offer)


def test_empty_sdp_means_last_created() -> None:
    s = session(1)
    s.add_transceiver("audio")
    offer = s.create_offer()
    s.set_local_description("offer", "")
    assert s.pending_local_description is not None
    assert s.pending_local_description.sdp == offer


def test_offer_without_create_is_invalid_modification() -> None:
    s = session(1)
    with pytest.raises(InvalidModificationError, match="create_offer"):
        s.set_local_description("offer", peer_offer())


def test_stale_offer_is_rejected() -> None:
    a, b = session(1), session(2)
    a.add_transceiver("audio")
    stale = a.create_offer()
    b.add_transceiver("audio")
    offer = b.create_offer()
    b.set_local_description("offer", offer)
    a.set_remote_description("offer", offer)
    a.set_local_description("answer", a.create_answer())
    with pytest.raises(InvalidModificationError, match="before the last negotiation"):
        a.set_local_description("offer", stale)


def test_munged_answer_is_invalid_modification() -> None:
    s = session(1)
    s.set_remote_description("offer", peer_offer())
    answer = s.create_answer()
    with pytest.raises(InvalidModificationError):
        s.set_local_description("answer", answer.replace("setup:active", "setup:passive"))


def test_syntax_error_is_rtc_error_with_line() -> None:
    s = session(1)
    bad = peer_offer().replace("a=mid:0", "a=rtpmap:x")
    with pytest.raises(RTCError) as info:
        s.set_remote_description("offer", bad)
    assert info.value.errorDetail == "sdp-syntax-error"
    line = info.value.sdpLineNumber
    assert line is not None
    assert bad.split("\r\n")[line - 1] == "a=rtpmap:x"
    assert s.signaling_state == "stable"


# -- rollback ------------------------------------------------------------------------


def test_rollback_local_offer_restores_mids() -> None:
    s = session(1)
    t = s.add_transceiver("audio")
    s.set_local_description("offer", s.create_offer())
    assert t.mid == "0"
    applied = s.set_local_description("rollback")
    assert applied.signaling_states == ("stable",)
    assert t.mid is None and t.mline_index is None
    assert s.pending_local_description is None
    assert s.transceivers == (t,)
    assert s.negotiation_needed()
    # The same offer can be made again.
    s.set_local_description("offer", s.create_offer())
    assert t.mid == "0"


def test_rollback_remote_offer_removes_created_transceivers() -> None:
    s = session(1)
    mine = s.add_transceiver("video")
    applied = s.set_remote_description("offer", peer_offer())
    created = applied.added_transceivers
    assert len(created) == 1 and created[0].kind == "audio"
    assert created[0] in s.transceivers
    # The peer sends (sendrecv) without a stream: W3C still fires "track".
    assert [e.stream_ids for e in applied.added_tracks] == [()]
    back = s.set_remote_description("rollback")
    assert back.signaling_states == ("stable",)
    assert back.removed_transceivers == created
    assert s.transceivers == (mine,)
    assert s.pending_remote_description is None


def test_rollback_removes_fired_tracks() -> None:
    peer = session(90)
    peer.add_transceiver("audio", stream_ids=["stream"])
    offer = peer.create_offer()
    s = session(1)
    applied = s.set_remote_description("offer", offer)
    assert len(applied.added_tracks) == 1
    event = applied.added_tracks[0]
    assert event.stream_ids == ("stream",)
    back = s.set_local_description("rollback")
    assert [e.transceiver for e in back.removed_tracks] == [event.transceiver]
    assert s.transceivers == ()


def test_rollback_keeps_transceiver_with_attached_track() -> None:
    s = session(1)
    applied = s.set_remote_description("offer", peer_offer())
    t = applied.added_transceivers[0]
    s.attach_track(t, "track-1", ["st"])
    assert t.direction == "sendrecv"
    s.set_remote_description("rollback")
    assert s.transceivers == (t,)
    assert t.mid is None


def test_rollback_reuses_add_track_transceiver_association() -> None:
    s = session(1)
    t = s.add_transceiver("audio", added_by_add_track=True)
    applied = s.set_remote_description("offer", peer_offer())
    assert applied.added_transceivers == ()
    assert t.mid == "0"
    s.set_remote_description("rollback")
    assert t.mid is None
    assert s.transceivers == (t,)


def test_glare_polite_peer_rolls_back_and_answers() -> None:
    polite, impolite = session(1), session(2)
    p_t = polite.add_transceiver("audio", stream_ids=["p"])
    impolite.add_transceiver("video", stream_ids=["i"])
    polite.set_local_description("offer", polite.create_offer())
    offer = impolite.create_offer()
    impolite.set_local_description("offer", offer)
    assert p_t.mid == "0"
    applied = polite.set_remote_description("offer", offer)
    assert applied.implicit_rollback
    assert applied.signaling_states == ("stable", "have-remote-offer")
    assert polite.signaling_state == "have-remote-offer"
    answer = polite.create_answer()
    polite.set_local_description("answer", answer)
    impolite.set_remote_description("answer", answer)
    assert polite.signaling_state == impolite.signaling_state == "stable"
    # The polite side's own transceiver was rolled back, so it still needs an offer.
    assert p_t.mid is None
    assert polite.negotiation_needed()
    offer2 = polite.create_offer()
    polite.set_local_description("offer", offer2)
    impolite.set_remote_description("offer", offer2)
    answer2 = impolite.create_answer()
    impolite.set_local_description("answer", answer2)
    polite.set_remote_description("answer", answer2)
    assert p_t.mid == "1"
    assert p_t.current_direction == "sendonly"
    assert not polite.negotiation_needed()


def test_remote_offer_in_pranswer_states_is_invalid_state() -> None:
    scene = Scene("have-local-pranswer")
    with pytest.raises(InvalidStateError):
        scene.s.set_remote_description("offer", scene.remote_offer)


# -- close ----------------------------------------------------------------------------


def test_closed_rejects_everything() -> None:
    s = session(1)
    t = s.add_transceiver("audio")
    s.close()
    assert s.signaling_state == "closed"
    calls: list[Callable[[], object]] = [
        s.create_offer,
        s.create_answer,
        lambda: s.add_transceiver("audio"),
        lambda: s.set_local_description("offer", ""),
        lambda: s.set_remote_description("offer", peer_offer()),
        lambda: s.stop_transceiver(t),
        s.want_data_channel,
    ]
    for call in calls:
        with pytest.raises(InvalidStateError, match="closed"):
            call()
    assert t.stopped and t.current_direction == "stopped"
    assert not s.negotiation_needed()
