"""JSEP (RFC 8829) offer/answer as a pure state machine.

:class:`JsepSession` decides what local descriptions say and what changed when a
description is applied. It does no IO and calls no other layer: the asyncio
``RTCPeerConnection`` wraps it, and acts on the :class:`Applied` record each
``set_local_description``/``set_remote_description`` returns (start ICE on these
transports with these remote credentials and candidates, take this DTLS role,
fire these ``track`` events, open SCTP on this port...).

Design
    - **Transceivers** (:class:`Transceiver`) live in the session, in W3C order
      ("set of transceivers"). Each is associated with an m-line (``mid``,
      ``mline_index``) by a local or remote offer. Transceivers created by a remote
      offer are removed again if that offer is rolled back (W3C §4.4.1.5).
    - **M-lines**: the negotiated layout (``_mlines``, committed by an answer) and
      the layout of a pending offer (``_pending_mlines``). A rejected m-line whose
      transceiver is stopped is recycled by the next new transceiver, with a new
      mid (RFC 8829 §5.2.2).
    - **Signaling state**: one transition table (:data:`SIGNALING_TRANSITIONS`,
      the W3C/JSEP table) and one setter. Illegal calls raise
      :class:`~rtcpeer.errors.InvalidStateError` naming the state and what it allows.
    - **Rollback** restores a snapshot taken when the session left ``stable``.
    - **Credentials**: ICE ufrag/pwd and DTLS fingerprints are given (the ICE layer
      and the certificate own them); :meth:`JsepSession.restart_ice` switches to new
      credentials for the next offer or answer.
    - **Payload types and extension ids** are session-wide (bundled sections share
      one number space, RFC 8843 §9.1): we offer Chromium's numbers and adopt the
      numbers a remote offer binds, so later offers keep them (RFC 8829 §5.2.2).

How a wrapper drives it
    - ``createOffer`` → :meth:`JsepSession.create_offer` (``iceRestart`` or
      ``restartIce()``: get new credentials from the ICE layer, call
      :meth:`JsepSession.restart_ice`, then create the offer);
      ``createAnswer`` → :meth:`JsepSession.create_answer` (if the remote offer
      restarted ICE, ``Applied.remote_ice_restart``, call ``restart_ice`` first).
    - ``setLocalDescription()`` without arguments: :meth:`JsepSession.implicit_type`
      says which to create, then apply it.
    - ``set*Description`` → :class:`Applied`: start/restart ICE per
      ``transports`` (remote candidates, credentials, ``ice_controlling``), start
      DTLS with ``dtls_role`` once known, set up SCTP from ``sctp``, configure RTP
      from ``rtp``, fire ``track`` for ``added_tracks``, mute ``removed_tracks``,
      fire ``signalingstatechange`` per ``signaling_states``.
    - ``negotiationneeded``: ask :meth:`JsepSession.negotiation_needed` after every
      change and whenever the state returns to ``stable``.
    - ``addIceCandidate`` → :meth:`JsepSession.add_remote_candidate`; gathered
      candidates → :meth:`JsepSession.add_local_candidate` (``localDescription``
      shows them).

Deliberate choices (documented deviations or interpretations)
    - Every accepted/offered m-section carries ICE/DTLS attributes, as Chromium
      writes them; only ``bundle-only`` m-sections of an initial offer omit them
      (RFC 8843 §7.2). Descriptions that carry them only in the tagged m-section
      (RFC 8829 §7 examples) are accepted.
    - For local descriptions the signaling-state check runs before the "is this the
      last created offer/answer" check, so an illegal call is always an
      ``InvalidStateError``.
    - An answer writes ``a=setup:active`` (configurable) unless a DTLS role is
      already established on that transport, which is kept (RFC 8842 §5.3).
    - An answer's BUNDLE group tags the first accepted mid of the offered group.
    - Without codec preferences an answer lists codecs in the offer's order, with
      them in the preferences' order (RFC 8829 §5.3.1).
    - A remote offer in have-local-offer rolls our offer back first (W3C); if the
      offer then fails validation, the rollback stands (state ``stable``).
    - ``a=rtcp-mux-only`` is written in offers (RFC 8829 §5.2.1, rtcpMuxPolicy
      "require"); ``a=ssrc`` lines carry ``cname`` and ``msid`` when we send
      without simulcast; with simulcast only ``a=rid``/``a=simulcast`` name layers.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, cast

from rtcpeer.errors import (
    InvalidAccessError,
    InvalidModificationError,
    InvalidStateError,
    NotSupportedError,
    OperationError,
    RTCError,
)
from rtcpeer.sdp.attributes import (
    Attribute,
    Direction,
    Extmap,
    Fingerprint,
    Group,
    Msid,
    MsidSemantic,
    Rid,
    Rtcp,
    SetupRole,
    Simulcast,
    SimulcastStream,
    Ssrc,
    SsrcGroup,
)
from rtcpeer.sdp.codecs import (
    AUDIO_CODECS,
    VIDEO_CODECS,
    VIDEO_FIRST_EXTENSION_IDS,
    VIDEO_RTX,
    CodecSpec,
    MediaKind,
    RtpCodecCapability,
    answer_fmtp,
    find_spec,
    header_extensions_for,
    rtx_payload_type_for,
    spec_key,
)
from rtcpeer.sdp.description import (
    Codec,
    Connection,
    MediaDescription,
    Origin,
    SessionDescription,
    parse,
)
from rtcpeer.sdp.errors import SdpParseError

__all__ = [
    "SIGNALING_TRANSITIONS",
    "Applied",
    "BundlePolicy",
    "Description",
    "DirectionChange",
    "DtlsRole",
    "JsepSession",
    "NegotiatedCodec",
    "RemoteCandidate",
    "RtpNegotiation",
    "SctpInfo",
    "SdpType",
    "SendEncoding",
    "SignalingState",
    "StreamChange",
    "TrackEvent",
    "Transceiver",
    "TransceiverDirection",
    "TransportInfo",
    "answer_direction",
    "reverse_direction",
]

SignalingState = Literal[
    "stable",
    "have-local-offer",
    "have-remote-offer",
    "have-local-pranswer",
    "have-remote-pranswer",
    "closed",
]
SdpType = Literal["offer", "answer", "pranswer", "rollback"]
BundlePolicy = Literal["balanced", "max-compat", "max-bundle"]
TransceiverDirection = Literal["sendrecv", "sendonly", "recvonly", "inactive", "stopped"]
DtlsRole = Literal["client", "server"]
Side = Literal["local", "remote"]

_SDP_TYPES = ("offer", "answer", "pranswer", "rollback")
_DIRECTIONS: tuple[Direction, ...] = ("sendrecv", "sendonly", "recvonly", "inactive")

# W3C webrtc-pc §4.3.1 / RFC 8829 §3.2: (state, who applies, type) -> next state.
# Rollback is legal from both offer states (W3C §4.4.1.5 rejects it only in stable
# and the pranswer states). A remote offer in have-local-offer is an implicit
# rollback followed by the offer (W3C setRemoteDescription step 4; perfect
# negotiation), handled by set_remote_description, not by this table.
SIGNALING_TRANSITIONS: dict[tuple[SignalingState, Side, SdpType], SignalingState] = {
    ("stable", "local", "offer"): "have-local-offer",
    ("have-local-offer", "local", "offer"): "have-local-offer",
    ("have-local-offer", "remote", "answer"): "stable",
    ("have-local-offer", "remote", "pranswer"): "have-remote-pranswer",
    ("have-remote-pranswer", "remote", "pranswer"): "have-remote-pranswer",
    ("have-remote-pranswer", "remote", "answer"): "stable",
    ("stable", "remote", "offer"): "have-remote-offer",
    ("have-remote-offer", "remote", "offer"): "have-remote-offer",
    ("have-remote-offer", "local", "answer"): "stable",
    ("have-remote-offer", "local", "pranswer"): "have-local-pranswer",
    ("have-local-pranswer", "local", "pranswer"): "have-local-pranswer",
    ("have-local-pranswer", "local", "answer"): "stable",
    ("have-local-offer", "local", "rollback"): "stable",
    ("have-local-offer", "remote", "rollback"): "stable",
    ("have-remote-offer", "local", "rollback"): "stable",
    ("have-remote-offer", "remote", "rollback"): "stable",
}
_LEGAL_STATE_CHANGES = frozenset((old, new) for (old, _, _), new in SIGNALING_TRANSITIONS.items())

_RTP_PROTOS = frozenset(
    {"UDP/TLS/RTP/SAVPF", "TCP/DTLS/RTP/SAVPF", "UDP/TLS/RTP/SAVP", "RTP/SAVPF", "RTP/SAVP"}
)
_SCTP_PROTOS = frozenset({"UDP/DTLS/SCTP", "TCP/DTLS/SCTP", "DTLS/SCTP"})
_RTP_PROTO = "UDP/TLS/RTP/SAVPF"
_SCTP_PROTO = "UDP/DTLS/SCTP"
_DATA_FORMAT = "webrtc-datachannel"
_ICE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_CNAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NULL_ADDRESS = Connection("IN", "IP4", "0.0.0.0")
_DISCARD_RTCP = Rtcp(9, "IN", "IP4", "0.0.0.0")
_DEFAULT_SCTP_PORT = 5000
_DEFAULT_REMOTE_MAX_MESSAGE_SIZE = 65536  # RFC 8841 §6.1: absent means 64 KiB
_DYNAMIC_PTS = (*range(96, 128), *range(35, 64))


# -- directions -------------------------------------------------------------------------


def _has_send(direction: str | None) -> bool:
    return direction in ("sendrecv", "sendonly")


def _has_recv(direction: str | None) -> bool:
    return direction in ("sendrecv", "recvonly")


def _direction(send: bool, recv: bool) -> Direction:
    if send:
        return "sendrecv" if recv else "sendonly"
    return "recvonly" if recv else "inactive"


def reverse_direction(direction: Direction) -> Direction:
    """The direction seen from the other side (sendonly <-> recvonly)."""
    return _direction(_has_recv(direction), _has_send(direction))


def answer_direction(offered: Direction, wanted: TransceiverDirection) -> Direction:
    """RFC 8829 §5.3.1: the offered direction reversed, intersected with ours."""
    if wanted == "stopped":
        return "inactive"
    return _direction(
        _has_recv(offered) and _has_send(wanted), _has_send(offered) and _has_recv(wanted)
    )


# -- public records --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendEncoding:
    """One RTP stream a sender sends: its SSRC, its RTX SSRC (video) and, for
    simulcast, its ``rid`` (RFC 8851). ``active`` mirrors W3C ``encoding.active``."""

    ssrc: int
    rtx_ssrc: int | None = None
    rid: str | None = None
    active: bool = True


@dataclass(eq=False, slots=True, repr=False)
class Transceiver:
    """A transceiver as JSEP sees it (W3C ``RTCRtpTransceiver`` internal slots).

    ``direction`` is W3C ``[[Direction]]`` (``"stopped"`` once :meth:`JsepSession.stop_transceiver`
    ran); ``current_direction`` is ``[[CurrentDirection]]`` (``None`` until an answer
    was applied, ``"stopped"`` once stopped). ``stream_ids``/``track_id`` are what
    our ``a=msid`` says; ``send_encodings`` hold our SSRCs and rids. The remote side:
    ``remote_stream_ids``/``remote_track_id`` (its ``a=msid``) and ``negotiated``
    (codecs, extensions, SSRCs of the last applied answer). Mutate only through
    :class:`JsepSession` methods.
    """

    kind: MediaKind
    direction: TransceiverDirection = "sendrecv"
    mid: str | None = None
    current_direction: TransceiverDirection | None = None
    stopping: bool = False
    stopped: bool = False
    codec_preferences: tuple[RtpCodecCapability, ...] = ()
    header_extensions: tuple[str, ...] = ()
    stream_ids: tuple[str, ...] = ()
    track_id: str = ""
    send_encodings: tuple[SendEncoding, ...] = ()
    mline_index: int | None = None
    added_by_add_track: bool = False
    created_by_remote: bool = False
    fired_direction: Direction | None = None
    remote_stream_ids: tuple[str, ...] = ()
    remote_track_id: str | None = None
    negotiated: RtpNegotiation | None = None
    order: int = 0

    def __repr__(self) -> str:
        return (
            f"Transceiver({self.kind}, mid={self.mid!r}, direction={self.direction!r}, "
            f"current_direction={self.current_direction!r})"
        )

    @property
    def ssrc(self) -> int:
        """The SSRC of the first (or only) encoding."""
        return self.send_encodings[0].ssrc

    @property
    def rtx_ssrc(self) -> int | None:
        return self.send_encodings[0].rtx_ssrc

    @property
    def rids(self) -> tuple[str, ...]:
        return tuple(e.rid for e in self.send_encodings if e.rid is not None)


@dataclass(frozen=True, slots=True)
class Description:
    """An ``RTCSessionDescriptionInit``: ``type`` and ``sdp`` text."""

    type: SdpType
    sdp: str


@dataclass(frozen=True, slots=True)
class RemoteCandidate:
    """A remote ICE candidate found in a description or given to
    :meth:`JsepSession.add_remote_candidate`. ``candidate`` is the attribute text
    (``"candidate:..."``); empty means end-of-candidates."""

    candidate: str
    sdp_mid: str | None
    sdp_mline_index: int
    transport_id: str
    username_fragment: str | None = None


@dataclass(frozen=True, slots=True)
class TransportInfo:
    """One ICE/DTLS transport after a description was applied.

    ``id`` is the mid of the m-section that carries it (the BUNDLE-tagged one);
    ``mids`` everything that shares it. Remote fields are ``None``/empty until a
    remote description is known. ``dtls_role`` is ours, known once an answer or
    pranswer is applied (offer ``actpass`` + answer ``active`` ⇒ the answerer is
    the DTLS client, RFC 8842 §5). ``ice_controlling``: we made the offer that
    started (or restarted) ICE here, or the peer is ICE-lite (RFC 8445 §6.1.1).
    ``ice_restart``: the credentials of either side changed for this transport.
    """

    id: str
    mids: tuple[str, ...]
    local_ufrag: str
    local_pwd: str
    remote_ufrag: str | None
    remote_pwd: str | None
    remote_ice_lite: bool
    remote_ice_options: tuple[str, ...]
    remote_candidates: tuple[RemoteCandidate, ...]
    remote_end_of_candidates: bool
    remote_fingerprints: tuple[Fingerprint, ...]
    remote_setup: SetupRole | None
    dtls_role: DtlsRole | None
    ice_controlling: bool
    ice_restart: bool


@dataclass(frozen=True, slots=True)
class SctpInfo:
    """The data channel m-section (RFC 8841) once both sides are known."""

    mid: str
    transport_id: str
    local_port: int
    local_max_message_size: int
    remote_port: int | None
    remote_max_message_size: int | None


@dataclass(frozen=True, slots=True)
class NegotiatedCodec:
    """A payload type both sides agreed on (the answer's numbers, fmtp and rtcp-fb).
    ``rtx_payload_type`` is its RTX payload type (RFC 4588), if negotiated."""

    payload_type: int
    mime_type: str
    clock_rate: int
    channels: int | None
    sdp_fmtp_line: str | None
    rtcp_feedback: tuple[str, ...]
    rtx_payload_type: int | None = None


@dataclass(frozen=True, slots=True)
class RtpNegotiation:
    """What one transceiver's m-section negotiated (W3C ``RTCRtpParameters`` input).

    ``codecs`` are media/FEC codecs in the answer's preference order (the first is
    what we send); RTX shows as ``rtx_payload_type`` of its primary and in
    ``rtx_apt`` (RTX PT -> primary PT). ``send_rids`` are the simulcast rids the
    answer accepted (empty: send ``send_encodings[0]`` only). ``remote_*`` come
    from the remote description: its SSRCs (with RTX pairs from ``a=ssrc-group:FID``),
    cname, rids (simulcast it will send) and msid.
    """

    mid: str
    kind: MediaKind
    direction: Direction
    codecs: tuple[NegotiatedCodec, ...]
    rtx_apt: tuple[tuple[int, int], ...]
    header_extensions: tuple[tuple[int, str], ...]
    extmap_allow_mixed: bool
    rtcp_mux: bool
    rtcp_rsize: bool
    cname: str
    send_encodings: tuple[SendEncoding, ...]
    send_rids: tuple[str, ...]
    remote_ssrcs: tuple[int, ...]
    remote_rtx_ssrcs: tuple[tuple[int, int], ...]
    remote_cname: str | None
    remote_rids: tuple[str, ...]
    remote_stream_ids: tuple[str, ...]
    remote_track_id: str | None


@dataclass(frozen=True, slots=True)
class TrackEvent:
    """A remote track appeared (W3C "process the addition of a remote track": fire
    ``track``) or went away (removal: mute it, fire ``removetrack`` on its streams)."""

    transceiver: Transceiver
    stream_ids: tuple[str, ...]
    track_id: str | None


@dataclass(frozen=True, slots=True)
class StreamChange:
    """The remote msid stream ids of a receiving transceiver changed (W3C "set the
    associated remote streams")."""

    transceiver: Transceiver
    old: tuple[str, ...]
    new: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DirectionChange:
    """``current_direction`` of a transceiver changed."""

    transceiver: Transceiver
    old: TransceiverDirection | None
    new: TransceiverDirection | None


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying a description changed; the wrapper acts on it in order.

    ``signaling_states`` lists every state entered (fire ``signalingstatechange``
    for each; an implicit rollback enters ``stable`` first). ``transports`` and
    ``sctp`` describe the transports as they now stand (empty after a rollback),
    ``rtp`` the negotiation of every transceiver an answer/pranswer covered.
    """

    type: SdpType
    remote: bool
    signaling_states: tuple[SignalingState, ...] = ()
    implicit_rollback: bool = False
    transports: tuple[TransportInfo, ...] = ()
    sctp: SctpInfo | None = None
    data_rejected: bool = False
    rtp: tuple[RtpNegotiation, ...] = ()
    direction_changes: tuple[DirectionChange, ...] = ()
    added_tracks: tuple[TrackEvent, ...] = ()
    removed_tracks: tuple[TrackEvent, ...] = ()
    stream_changes: tuple[StreamChange, ...] = ()
    added_transceivers: tuple[Transceiver, ...] = ()
    stopped_transceivers: tuple[Transceiver, ...] = ()
    removed_transceivers: tuple[Transceiver, ...] = ()
    local_ice_restart: bool = False
    remote_ice_restart: bool = False
    remote_ice_lite: bool = False

    @property
    def signaling_state(self) -> SignalingState | None:
        """The state after this change (``None`` if it did not change)."""
        return self.signaling_states[-1] if self.signaling_states else None


# -- internal state --------------------------------------------------------------------


@dataclass(slots=True)
class _MLine:
    """One m-line slot: which transceiver or the data channel owns it."""

    mid: str
    kind: str
    proto: str
    transceiver: Transceiver | None = None
    data: bool = False
    rejected: bool = False
    formats: tuple[str, ...] = ()


@dataclass(slots=True)
class _Stored:
    """A description as applied: its type and parsed form (candidates added later
    go into ``sdp``)."""

    type: SdpType
    sdp: SessionDescription

    def text(self) -> str:
        return self.sdp.serialize()


@dataclass(slots=True)
class _Section:
    """One m-section of a description we generate."""

    mid: str
    kind: str
    proto: str
    transceiver: Transceiver | None = None
    data: bool = False
    rejected: bool = False
    bundle_only: bool = False
    direction: Direction = "inactive"
    codecs: tuple[Codec, ...] = ()
    formats: tuple[str, ...] = ()
    send_rids: tuple[str, ...] = ()


@dataclass(slots=True)
class _Plan:
    """A created offer or answer, kept until it is applied."""

    type: SdpType
    sdp: str
    sections: list[_Section]
    groups: list[tuple[str, ...]]
    credentials: tuple[str, str]
    setup: SetupRole
    generation: int
    version: int
    body: str


@dataclass(slots=True)
class _TransportState:
    ufrag: str | None = None
    pwd: str | None = None
    local_credentials: tuple[str, str] | None = None
    dtls_role: DtlsRole | None = None
    ice_controlling: bool = False


@dataclass(slots=True)
class _Snapshot:
    """What rollback restores: the session as it was in the last stable state."""

    transceivers: list[Transceiver]
    fields: dict[Transceiver, tuple[object, ...]]
    payload_types: dict[str, int]
    extension_ids: dict[str, int]
    used_mids: set[str]


_SNAPSHOT_FIELDS = (
    "mid",
    "mline_index",
    "fired_direction",
    "remote_stream_ids",
    "remote_track_id",
    "created_by_remote",
)


class _Numbers:
    """A session-wide key <-> number map (payload types, extension ids)."""

    def __init__(self, free: Sequence[int]) -> None:
        self.by_key: dict[str, int] = {}
        self._free = tuple(free)

    def copy(self) -> dict[str, int]:
        return dict(self.by_key)

    def restore(self, saved: dict[str, int]) -> None:
        self.by_key = dict(saved)

    def get(self, key: str, preferred: int) -> int:
        """The number for ``key``, binding ``preferred`` (or a free one) if new."""
        number = self.by_key.get(key)
        if number is not None:
            return number
        used = set(self.by_key.values())
        if preferred in used:
            preferred = next((n for n in self._free if n not in used), preferred)
        self.by_key[key] = preferred
        return preferred

    def bind(self, key: str, number: int) -> None:
        """Adopt ``number`` for ``key`` (a peer chose it); whatever held it moves."""
        if self.by_key.get(key) == number:
            return
        for other, value in list(self.by_key.items()):
            if value == number and other != key:
                del self.by_key[other]
        self.by_key[key] = number


def _check_ice_credentials(ufrag: object, pwd: object) -> tuple[str, str]:
    # RFC 8839 §5.4: ufrag 4..256 ice-chars, pwd 22..256 ice-chars.
    if not isinstance(ufrag, str) or not 4 <= len(ufrag) <= 256 or set(ufrag) - _ICE_CHARS:
        raise ValueError(f"ice_ufrag must be 4..256 ICE characters (RFC 8839 §5.4), got {ufrag!r}")
    if not isinstance(pwd, str) or not 22 <= len(pwd) <= 256 or set(pwd) - _ICE_CHARS:
        raise ValueError("ice_pwd must be 22..256 ICE characters (RFC 8839 §5.4)")
    return ufrag, pwd


def _is_data_section(media: MediaDescription) -> bool:
    return media.kind == "application" and media.proto in _SCTP_PROTOS


def _is_rejected(media: MediaDescription) -> bool:
    """Port 0 without ``a=bundle-only`` (RFC 8843 §6: bundle-only keeps it alive)."""
    return media.port == 0 and not media.bundle_only


def _media_codecs(media: MediaDescription) -> list[Codec]:
    """The section's codecs with wildcard ``rtcp-fb:*`` lines folded in."""
    wildcard = tuple(fb.value for fb in media.rtcp_fbs if fb.payload_type is None)
    codecs = media.codecs
    if not wildcard:
        return codecs
    return [replace(c, feedback=(*c.feedback, *wildcard)) for c in codecs]


def _remote_msid(media: MediaDescription) -> tuple[tuple[str, ...], str | None]:
    """Stream ids and track id from ``a=msid`` (or the legacy ``a=ssrc ... msid:``)."""
    msids = media.msids
    if not msids:
        for ssrc in media.ssrcs:
            if ssrc.attribute == "msid" and ssrc.value:
                stream, _, track_text = ssrc.value.partition(" ")
                msids = [Msid(stream, track_text or None)]
                break
    streams = tuple(m.stream_id for m in msids if m.stream_id != "-")
    track = next((m.track_id for m in msids if m.track_id), None)
    return streams, track


def _fid_pairs(media: MediaDescription) -> tuple[tuple[int, int], ...]:
    return tuple(
        (g.ssrcs[0], g.ssrcs[1])
        for g in media.ssrc_groups
        if g.semantics == "FID" and len(g.ssrcs) >= 2
    )


def _remote_ssrcs(media: MediaDescription) -> tuple[int, ...]:
    repair = {rtx for _, rtx in _fid_pairs(media)}
    seen: list[int] = []
    for s in media.ssrcs:
        if s.ssrc not in repair and s.ssrc not in seen:
            seen.append(s.ssrc)
    return tuple(seen)


def _remote_cname(media: MediaDescription) -> str | None:
    return next((s.value for s in media.ssrcs if s.attribute == "cname"), None)


def _check_msid_ids(stream_ids: Sequence[str], track_id: str | None) -> None:
    """Stream and track ids go into ``a=msid`` as single tokens (RFC 8830 §2)."""
    for value in (*stream_ids, *(() if track_id is None else (track_id,))):
        if (
            not isinstance(value, str)
            or not value
            or value == "-"
            or any(c <= " " or c == "\x7f" for c in value)
        ):
            raise TypeError(f"stream/track id {value!r} must be a non-empty string without spaces")


def _candidate_text(value: str) -> str:
    return value if value.startswith("candidate:") else f"candidate:{value}"


class JsepSession:
    """One peer's JSEP state (RFC 8829) with the W3C signaling rules (webrtc-pc §4.4).

    >>> import random
    >>> session = JsepSession(fingerprints=[("sha-256", "AB:" * 31 + "CD")],
    ...     ice_ufrag="abcd", ice_pwd="a" * 22, rng=random.Random(1))
    >>> _ = session.add_transceiver("audio")
    >>> offer = session.create_offer()
    >>> session.set_local_description("offer", offer).signaling_state
    'have-local-offer'
    """

    def __init__(
        self,
        *,
        fingerprints: Iterable[tuple[str, str]],
        ice_ufrag: str,
        ice_pwd: str,
        rng: random.Random,
        bundle_policy: BundlePolicy = "balanced",
        rtcp_mux_policy: str = "require",
        session_id: str | None = None,
        audio_codecs: Sequence[CodecSpec] = AUDIO_CODECS,
        video_codecs: Sequence[CodecSpec] = (*VIDEO_CODECS, VIDEO_RTX),
        sctp_port: int = _DEFAULT_SCTP_PORT,
        max_message_size: int = 262144,
        answer_setup: Literal["active", "passive"] = "active",
    ) -> None:
        if bundle_policy not in ("balanced", "max-compat", "max-bundle"):
            raise TypeError(
                f"bundle_policy must be balanced, max-compat or max-bundle, got {bundle_policy!r}"
            )
        if rtcp_mux_policy != "require":
            raise NotSupportedError(
                f"rtcp_mux_policy {rtcp_mux_policy!r} is not supported; WebRTC requires 'require'"
            )
        if answer_setup not in ("active", "passive"):
            raise ValueError(f"answer_setup must be 'active' or 'passive', got {answer_setup!r}")
        self._fingerprints = [Fingerprint(alg, value) for alg, value in fingerprints]
        if not self._fingerprints:
            raise ValueError("at least one DTLS fingerprint is needed (RFC 8122)")
        self._credentials = _check_ice_credentials(ice_ufrag, ice_pwd)
        self._restart_credentials: tuple[str, str] | None = None
        self._rng = rng
        self.bundle_policy: BundlePolicy = bundle_policy
        self.rtcp_mux_policy = rtcp_mux_policy
        self.session_id = session_id if session_id is not None else str(rng.getrandbits(62) + 1)
        Origin(session_id=self.session_id)  # validates
        self._codecs: dict[str, tuple[CodecSpec, ...]] = {
            "audio": tuple(c for c in audio_codecs if c.kind == "audio"),
            "video": tuple(c for c in video_codecs if c.kind == "video"),
        }
        self.sctp_port = sctp_port
        self.max_message_size = max_message_size
        self.answer_setup: Literal["active", "passive"] = answer_setup
        self.cname = "".join(rng.choice(_CNAME_CHARS) for _ in range(16))

        self._state: SignalingState = "stable"
        self._entered: list[SignalingState] = []
        self._transceivers: list[Transceiver] = []
        self._order = 0
        self._want_data = False
        self._data_order = 0
        self._mlines: list[_MLine] = []
        self._pending_mlines: list[_MLine] | None = None
        self._used_mids: set[str] = set()
        self._used_ssrcs: set[int] = set()
        self._payload_types = _Numbers(_DYNAMIC_PTS)
        self._extension_ids = _Numbers(range(1, 15))
        self._extension_table: dict[str, int] | None = None
        self._negotiated_groups: list[tuple[str, ...]] = []
        self._transports: dict[str, _TransportState] = {}
        self._transport_by_mid: dict[str, str] = {}
        self._negotiated_transport_by_mid: dict[str, str] = {}
        self._pending_local: _Stored | None = None
        self._current_local: _Stored | None = None
        self._pending_remote: _Stored | None = None
        self._current_remote: _Stored | None = None
        self._last_offer: _Plan | None = None
        self._last_answer: _Plan | None = None
        self._generation = 0
        self._snapshot: _Snapshot | None = None
        self._local_version: int | None = None
        self._local_body: str | None = None
        self._local_credentials: tuple[str, str] | None = None
        self._remote_ice_lite = False

    # -- read-only views ----------------------------------------------------------

    @property
    def signaling_state(self) -> SignalingState:
        return self._state

    @property
    def transceivers(self) -> tuple[Transceiver, ...]:
        """The W3C "set of transceivers", in creation order."""
        return tuple(self._transceivers)

    @property
    def pending_local_description(self) -> Description | None:
        return self._describe(self._pending_local)

    @property
    def current_local_description(self) -> Description | None:
        return self._describe(self._current_local)

    @property
    def pending_remote_description(self) -> Description | None:
        return self._describe(self._pending_remote)

    @property
    def current_remote_description(self) -> Description | None:
        return self._describe(self._current_remote)

    @property
    def local_description(self) -> Description | None:
        """W3C ``localDescription``: the pending one if any, else the current one."""
        return self._describe(self._pending_local or self._current_local)

    @property
    def remote_description(self) -> Description | None:
        return self._describe(self._pending_remote or self._current_remote)

    @property
    def remote_ice_lite(self) -> bool:
        """The remote description said ``a=ice-lite`` (RFC 8839 §5.3)."""
        return self._remote_ice_lite

    @property
    def local_ice_credentials(self) -> tuple[str, str]:
        """``(ufrag, pwd)`` the next description will carry."""
        return self._restart_credentials or self._credentials

    @staticmethod
    def _describe(stored: _Stored | None) -> Description | None:
        return None if stored is None else Description(stored.type, stored.text())

    def implicit_type(self) -> Literal["offer", "answer"]:
        """W3C setLocalDescription() without a description: "offer" in stable,
        have-local-offer and have-remote-pranswer, "answer" otherwise."""
        if self._state in ("stable", "have-local-offer", "have-remote-pranswer"):
            return "offer"
        return "answer"

    def codecs(self, kind: str) -> tuple[CodecSpec, ...]:
        """The codecs this session supports for ``kind``."""
        return self._codecs.get(kind, ())

    # -- transceivers ---------------------------------------------------------------

    def add_transceiver(
        self,
        kind: str,
        direction: TransceiverDirection = "sendrecv",
        stream_ids: Sequence[str] = (),
        track_id: str | None = None,
        send_encodings: Sequence[SendEncoding | str | None] | None = None,
        *,
        added_by_add_track: bool = False,
    ) -> Transceiver:
        """W3C ``addTransceiver`` (and the transceiver ``addTrack`` creates, with
        ``added_by_add_track=True`` so a remote offer can reuse it, RFC 8829 §5.10).

        ``send_encodings`` are rids (``"h"``), ``SendEncoding`` objects or ``None``
        for an encoding without rid; SSRCs are drawn from the session's random
        generator when not given. Raises ``TypeError`` for a bad kind, direction
        or rids (W3C addTransceiver steps).
        """
        self._check_open()
        if kind not in ("audio", "video"):
            raise TypeError(f"kind must be 'audio' or 'video', got {kind!r}")
        if direction not in _DIRECTIONS:
            raise TypeError(f"direction must be one of {_DIRECTIONS}, got {direction!r}")
        media_kind = cast(MediaKind, kind)
        _check_msid_ids(stream_ids, track_id)
        encodings = self._make_encodings(media_kind, send_encodings)
        self._order += 1
        transceiver = Transceiver(
            kind=media_kind,
            direction=direction,
            stream_ids=tuple(stream_ids),
            track_id=track_id if track_id is not None else self._new_id(),
            send_encodings=encodings,
            header_extensions=tuple(h.uri for h in header_extensions_for(kind)),
            added_by_add_track=added_by_add_track,
            order=self._order,
        )
        self._transceivers.append(transceiver)
        return transceiver

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _new_ssrc(self) -> int:
        while True:
            ssrc = self._rng.getrandbits(32)
            if ssrc and ssrc not in self._used_ssrcs:
                self._used_ssrcs.add(ssrc)
                return ssrc

    def _make_encodings(
        self, kind: MediaKind, given: Sequence[SendEncoding | str | None] | None
    ) -> tuple[SendEncoding, ...]:
        items: list[SendEncoding | str | None] = list(given) if given else [None]
        rids: list[str | None] = [e.rid if isinstance(e, SendEncoding) else e for e in items]
        named = [r for r in rids if r is not None]
        if named and len(named) != len(rids):
            raise TypeError("either every send encoding has a rid or none has (W3C addTransceiver)")
        if len(set(named)) != len(named):
            raise TypeError(f"send encoding rids must be unique, got {named}")
        for name in named:
            try:
                Rid(name, "send")
            except SdpParseError:
                raise TypeError(
                    f"rid {name!r} must be letters, digits, '-' or '_' (RFC 8851)"
                ) from None
        if len(items) > 1 and not named:
            raise TypeError("several send encodings need a rid each (RFC 8853 simulcast)")
        out: list[SendEncoding] = []
        for item, rid in zip(items, rids, strict=True):
            if isinstance(item, SendEncoding):
                self._used_ssrcs.add(item.ssrc)
                out.append(item)
                continue
            ssrc = self._new_ssrc()
            rtx = self._new_ssrc() if kind == "video" else None
            out.append(SendEncoding(ssrc, rtx, rid))
        return tuple(out)

    def stop_transceiver(self, transceiver: Transceiver) -> None:
        """W3C ``transceiver.stop()``: stop sending and receiving now; the m-section is
        rejected in the next offer or answer, then the transceiver is stopped."""
        self._check_open()
        self._check_mine(transceiver)
        if transceiver.stopping:
            return
        transceiver.stopping = True
        transceiver.direction = "stopped"

    def set_direction(self, transceiver: Transceiver, direction: Direction) -> None:
        """W3C ``transceiver.direction = ...``."""
        self._check_mine(transceiver)
        if direction not in _DIRECTIONS:
            raise TypeError(f"direction must be one of {_DIRECTIONS}, got {direction!r}")
        if transceiver.stopping:
            raise InvalidStateError("the transceiver is stopped; its direction cannot change")
        transceiver.direction = direction

    def set_stream_ids(self, transceiver: Transceiver, stream_ids: Sequence[str]) -> None:
        """W3C ``sender.setStreams(...)``: the msid stream ids of our next description."""
        self._check_open()
        self._check_mine(transceiver)
        if transceiver.stopping:
            raise InvalidStateError("the transceiver is stopped")
        _check_msid_ids(stream_ids, None)
        transceiver.stream_ids = tuple(dict.fromkeys(stream_ids))

    def attach_track(
        self, transceiver: Transceiver, track_id: str, stream_ids: Sequence[str] = ()
    ) -> None:
        """``addTrack`` reusing an existing transceiver (W3C addTrack step 7): the
        direction gains "send", the msid gets the track and streams, and a rollback
        of the remote offer that created it keeps the transceiver."""
        self._check_open()
        self._check_mine(transceiver)
        if transceiver.stopping:
            raise InvalidStateError("the transceiver is stopped")
        _check_msid_ids(stream_ids, track_id)
        transceiver.track_id = track_id
        transceiver.stream_ids = tuple(stream_ids)
        transceiver.added_by_add_track = True
        if transceiver.direction == "recvonly":
            transceiver.direction = "sendrecv"
        elif transceiver.direction == "inactive":
            transceiver.direction = "sendonly"

    def set_codec_preferences(
        self, transceiver: Transceiver, codecs: Sequence[RtpCodecCapability]
    ) -> None:
        """W3C ``setCodecPreferences``: an empty list restores the default; every
        entry must match a capability of the kind (``InvalidModificationError``
        otherwise, and when only RTX/RED/FEC codecs are left)."""
        self._check_mine(transceiver)
        unique: list[RtpCodecCapability] = []
        for codec in codecs:
            if not any(codec.matches(u) for u in unique):
                unique.append(codec)
        if not unique:
            transceiver.codec_preferences = ()
            return
        capabilities = [s.capability() for s in self._codecs[transceiver.kind]]
        for codec in unique:
            if not any(codec.matches(c) for c in capabilities):
                raise InvalidModificationError(
                    f"{codec.mime_type}/{codec.clock_rate} "
                    f"{codec.sdp_fmtp_line or ''} is not among "
                    f"getCapabilities({transceiver.kind!r}).codecs"
                )
        if all(c.name.lower() in ("rtx", "red", "ulpfec", "flexfec-03", "cn") for c in unique):
            raise InvalidModificationError(
                "codec preferences need at least one media codec, not only RTX/RED/FEC/CN"
            )
        transceiver.codec_preferences = tuple(unique)

    def want_data_channel(self) -> None:
        """A data channel exists: offers need an ``m=application`` section (RFC 8841)."""
        self._check_open()
        if not self._want_data:
            self._want_data = True
            self._order += 1
            self._data_order = self._order

    def restart_ice(self, ufrag: str, pwd: str) -> None:
        """Use new local ICE credentials in the next offer or answer (W3C
        ``restartIce()``: ``[[LocalIceCredentialsToReplace]]``). They must differ
        from the ones in use (RFC 8839 §4.4.1.1.1)."""
        self._check_open()
        creds = _check_ice_credentials(ufrag, pwd)
        if creds[0] == self._credentials[0] or creds[1] == self._credentials[1]:
            raise ValueError("an ICE restart needs a new ufrag and a new pwd (RFC 8839 §4.4.1.1.1)")
        self._restart_credentials = creds

    def close(self) -> None:
        """W3C ``close()``: the signaling state becomes ``closed``."""
        if self._state == "closed":
            return
        self._state = "closed"
        for t in self._transceivers:
            t.stopping = t.stopped = True
            t.direction = "stopped"
            t.current_direction = "stopped"

    def _check_open(self) -> None:
        if self._state == "closed":
            raise InvalidStateError("the connection is closed")

    def _check_mine(self, transceiver: Transceiver) -> None:
        if transceiver not in self._transceivers:
            raise InvalidAccessError("this transceiver does not belong to this session")

    # -- signaling state -----------------------------------------------------------

    def _set_state(self, new: SignalingState) -> None:
        """The one setter of the signaling state: checks the W3C table, records it."""
        old = self._state
        if old == new:
            return
        if (old, new) not in _LEGAL_STATE_CHANGES:
            raise AssertionError(f"signaling state {old} -> {new} is not in the W3C table")
        self._state = new
        self._entered.append(new)

    def _check_transition(self, side: Side, sdp_type: str) -> SignalingState:
        if sdp_type not in _SDP_TYPES:
            raise TypeError(f"description type must be one of {_SDP_TYPES}, got {sdp_type!r}")
        if self._state == "closed":
            raise InvalidStateError("the connection is closed")
        key = (self._state, side, cast(SdpType, sdp_type))
        new = SIGNALING_TRANSITIONS.get(key)
        if new is None:
            allowed = sorted(
                {t for (s, who, t) in SIGNALING_TRANSITIONS if s == self._state and who == side}
            )
            what = "setLocalDescription" if side == "local" else "setRemoteDescription"
            raise InvalidStateError(
                f"cannot apply a {side} {sdp_type} in signaling state {self._state!r}; "
                f"{what} accepts {', '.join(allowed) or 'nothing'} there"
            )
        return new

    # -- negotiation needed -------------------------------------------------------

    def negotiation_needed(self) -> bool:
        """W3C "check if negotiation is needed" (§4.7.3); ``False`` outside ``stable``
        (the wrapper checks again when the state returns to stable)."""
        if self._state != "stable":
            return False
        if self._restart_credentials is not None:
            return True
        local = self._current_local
        remote = self._current_remote
        if self._want_data and not self._data_negotiated():
            return True
        for t in self._transceivers:
            if t.stopping and not t.stopped:
                return True
            if t.stopped:
                if t.mid is not None and not self._rejected_in_current(t.mid):
                    return True
                continue
            if t.mid is None or local is None:
                return True
            media = local.sdp.media_by_mid(t.mid)
            if media is None:
                return True
            if _has_send(t.direction):
                msids = media.msids
                ours = [m.stream_id for m in msids if m.stream_id != "-"]
                if not msids or sorted(ours) != sorted(t.stream_ids):
                    return True
            if local.type == "offer":
                local_dir = local.sdp.direction_of(media)
                remote_media = None if remote is None else remote.sdp.media_by_mid(t.mid)
                remote_dir = (
                    None
                    if remote is None or remote_media is None
                    else reverse_direction(remote.sdp.direction_of(remote_media))
                )
                if t.direction not in (local_dir, remote_dir):
                    return True
            elif local.type == "answer" and remote is not None:
                offered = remote.sdp.media_by_mid(t.mid)
                if offered is not None:
                    expected = answer_direction(remote.sdp.direction_of(offered), t.direction)
                    if local.sdp.direction_of(media) != expected:
                        return True
        return False

    def _data_negotiated(self) -> bool:
        local = self._current_local
        if local is None:
            return False
        return any(_is_data_section(m) and not _is_rejected(m) for m in local.sdp.media)

    def _rejected_in_current(self, mid: str) -> bool:
        for stored in (self._current_local, self._current_remote):
            if stored is None:
                continue
            media = stored.sdp.media_by_mid(mid)
            if media is not None and _is_rejected(media):
                return True
        return False

    # -- offers -------------------------------------------------------------------

    def create_offer(self, ice_restart: bool = False) -> str:
        """RFC 8829 §5.2: an offer for the current transceivers and data channel.

        Calling it does not change the session; :meth:`set_local_description`
        with the returned text does. ``ice_restart`` needs new credentials given by
        :meth:`restart_ice` first (the ICE layer generates them).
        """
        self._check_open()
        if ice_restart and self._restart_credentials is None:
            raise InvalidStateError(
                "create_offer(ice_restart=True) needs new credentials: call "
                "restart_ice(ufrag, pwd) first"
            )
        credentials = self._restart_credentials or self._credentials
        sections = self._offer_sections()
        groups = self._offer_groups(sections)
        self._extension_table = None
        if not self._extension_ids.by_key:
            kinds = {
                s.transceiver.kind
                for s in sections
                if s.transceiver is not None and not s.rejected and not s.data
            }
            if kinds == {"video"}:
                # The first RTP section is video alone: number as Chromium does then.
                self._extension_table = VIDEO_FIRST_EXTENSION_IDS
        sd = self._session_skeleton(groups)
        for section in sections:
            if section.rejected:
                sd.media.append(self._rejected_media(section))
                continue
            with_transport = not section.bundle_only
            if section.data:
                sd.media.append(self._data_media(section, credentials, "actpass", with_transport))
            else:
                sd.media.append(
                    self._rtp_media(section, credentials, "actpass", with_transport, offer=True)
                )
        plan = self._finish(sd, "offer", sections, groups, credentials, "actpass")
        self._last_offer = plan
        return plan.sdp

    def _offer_sections(self) -> list[_Section]:
        base = self._pending_mlines if self._pending_mlines is not None else self._mlines
        sections: list[_Section] = []
        free: list[int] = []
        offered_transceivers: set[Transceiver] = set()
        has_data = False
        for index, line in enumerate(base):
            t = line.transceiver
            if line.data and not line.rejected:
                sections.append(_Section(line.mid, "application", line.proto, data=True))
                has_data = True
                continue
            if (
                not line.data
                and t is not None
                and t in self._transceivers
                and not t.stopped
                and not t.stopping
                and t.mid == line.mid
            ):
                sections.append(self._offer_rtp_section(line.mid, t, line.proto))
                offered_transceivers.add(t)
                continue
            section = _Section(
                line.mid,
                line.kind,
                line.proto,
                transceiver=None if line.data else t,
                data=line.data,
                rejected=True,
                formats=line.formats,
            )
            sections.append(section)
            if self._recyclable(index):
                free.append(index)
        new_items: list[tuple[int, Transceiver | None]] = [
            (t.order, t)
            for t in self._transceivers
            if t.mid is None and not t.stopping and not t.stopped and t not in offered_transceivers
        ]
        if self._want_data and not has_data:
            new_items.append((self._data_order, None))
        new_items.sort(key=lambda item: item[0])
        fresh = self._fresh_mids(len(new_items), {s.mid for s in sections})
        for (_, t), mid in zip(new_items, fresh, strict=True):
            if t is None:
                section = _Section(mid, "application", _SCTP_PROTO, data=True)
            else:
                section = self._offer_rtp_section(mid, t, _RTP_PROTO)
            if free:
                sections[free.pop(0)] = section
            else:
                sections.append(section)
        return sections

    def _recyclable(self, index: int) -> bool:
        """RFC 8829 §5.2.2: an m-line rejected in the negotiated state whose
        transceiver is stopped (or that never had one) can take a new one."""
        if index >= len(self._mlines):
            return False
        line = self._mlines[index]
        if not line.rejected:
            return False
        t = line.transceiver
        return t is None or t.stopped or t not in self._transceivers

    def _fresh_mids(self, count: int, taken: set[str]) -> list[str]:
        out: list[str] = []
        n = 0
        while len(out) < count:
            mid = str(n)
            if mid not in self._used_mids and mid not in taken:
                out.append(mid)
            n += 1
        return out

    def _offer_rtp_section(self, mid: str, t: Transceiver, proto: str) -> _Section:
        direction = cast(Direction, t.direction)
        rids = t.rids if len(t.send_encodings) > 1 and _has_send(direction) else ()
        return _Section(
            mid,
            t.kind,
            proto,
            transceiver=t,
            direction=direction,
            codecs=tuple(self._offer_codecs(t)),
            send_rids=rids,
        )

    def _preferred_specs(self, t: Transceiver) -> tuple[list[CodecSpec], bool]:
        """Our codecs for ``t`` in preference order, and whether RTX is wanted."""
        specs = self._codecs[t.kind]
        if not t.codec_preferences:
            return [s for s in specs if s.name.lower() != "rtx"], any(
                s.name.lower() == "rtx" for s in specs
            )
        ordered: list[CodecSpec] = []
        rtx = False
        for pref in t.codec_preferences:
            if pref.name.lower() == "rtx":
                rtx = True
                continue
            spec = next((s for s in specs if pref.matches(s.capability())), None)
            if spec is not None and spec not in ordered:
                ordered.append(spec)
        return ordered, rtx

    def _pt_for(self, spec: CodecSpec) -> int:
        return self._payload_types.get(spec_key(spec), spec.payload_type)

    def _offer_codecs(self, t: Transceiver) -> list[Codec]:
        specs, rtx = self._preferred_specs(t)
        codecs: list[Codec] = []
        for spec in specs:
            pt = self._pt_for(spec)
            fmtp = spec.fmtp
            if spec.name.lower() == "red" and t.kind == "audio" and fmtp is None and codecs:
                # RFC 2198 §5: RED carries the preferred codec, primary and redundant.
                fmtp = f"{codecs[0].payload_type}/{codecs[0].payload_type}"
            codecs.append(spec.codec(pt, fmtp))
            if rtx and t.kind == "video" and spec.name.lower() not in ("ulpfec", "flexfec-03"):
                key = f"rtx/90000;apt={spec_key(spec)}"
                preferred = rtx_payload_type_for(spec.payload_type) or 127
                rtx_pt = self._payload_types.get(key, preferred)
                codecs.append(Codec(rtx_pt, "rtx", 90000, None, f"apt={pt}"))
        return codecs

    def _is_initial(self) -> bool:
        return self._current_local is None and self._current_remote is None

    def _offer_groups(self, sections: list[_Section]) -> list[tuple[str, ...]]:
        """RFC 8829 §5.2.1/§5.2.2 and RFC 8843 §7.2: the BUNDLE group (tagged mid
        first), and which m-sections of an initial offer are ``bundle-only``."""
        live = [s for s in sections if not s.rejected]
        if not live:
            return []
        negotiated = self._negotiated_groups
        if self._is_initial():
            # Initial offer: everything in one group, bundle-only per policy.
            seen_kinds: set[str] = set()
            for position, s in enumerate(live):
                if self.bundle_policy == "max-bundle":
                    s.bundle_only = position > 0
                elif self.bundle_policy == "balanced":
                    s.bundle_only = s.kind in seen_kinds
                seen_kinds.add(s.kind)
            return [tuple(s.mid for s in live)]
        if not negotiated:
            return []
        group = negotiated[0]
        known = {line.mid for line in self._mlines}
        # Negotiated members stay; new m-sections join (RFC 8843 §7.5.1).
        members = [s.mid for s in live if s.mid in group or s.mid not in known]
        if not members:
            return []
        tagged = next((m for m in group if m in members), members[0])
        return [(tagged, *(m for m in members if m != tagged))]

    def _session_skeleton(self, groups: list[tuple[str, ...]]) -> SessionDescription:
        sd = SessionDescription(origin=Origin("-", self.session_id, 0, "IN", "IP4", "127.0.0.1"))
        sd.groups = [Group("BUNDLE", g) for g in groups]
        sd.extmap_allow_mixed = True
        streams = tuple(
            dict.fromkeys(
                s
                for t in self._transceivers
                if not t.stopping and _has_send(t.direction)
                for s in t.stream_ids
            )
        )
        sd.msid_semantic = MsidSemantic("WMS", streams)
        return sd

    def _transport_attributes(
        self, media: MediaDescription, credentials: tuple[str, str], setup: SetupRole
    ) -> None:
        media.ice_ufrag, media.ice_pwd = credentials
        media.ice_options = ("trickle",)
        media.fingerprints = self._fingerprints
        media.setup = setup

    def _rejected_media(self, section: _Section) -> MediaDescription:
        formats = list(section.formats[:1])
        if not formats:
            formats = [_DATA_FORMAT] if section.proto in _SCTP_PROTOS else ["0"]
        media = MediaDescription(section.kind, 0, section.proto, formats)
        media.connection = _NULL_ADDRESS
        media.mid = section.mid
        if "RTP" in section.proto.split("/"):
            media.direction = "inactive"
        return media

    def _data_media(
        self,
        section: _Section,
        credentials: tuple[str, str],
        setup: SetupRole,
        with_transport: bool,
        legacy_port: int | None = None,
    ) -> MediaDescription:
        if legacy_port is not None:
            media = MediaDescription("application", 9, section.proto, [str(self.sctp_port)])
        else:
            media = MediaDescription("application", 9, section.proto, [_DATA_FORMAT])
        if section.bundle_only:
            media.port = 0
        media.connection = _NULL_ADDRESS
        if with_transport:
            self._transport_attributes(media, credentials, setup)
        media.bundle_only = section.bundle_only
        media.mid = section.mid
        if legacy_port is not None:
            media.add_attribute(Attribute("sctpmap", f"{self.sctp_port} webrtc-datachannel 1024"))
        else:
            media.sctp_port = self.sctp_port
        media.max_message_size = self.max_message_size
        return media

    def _rtp_media(
        self,
        section: _Section,
        credentials: tuple[str, str],
        setup: SetupRole,
        with_transport: bool,
        *,
        offer: bool,
        extmaps: Sequence[Extmap] | None = None,
        rtcp_rsize: bool = True,
        recv_rids: Sequence[Rid] = (),
        recv_simulcast: Simulcast | None = None,
    ) -> MediaDescription:
        t = section.transceiver
        assert t is not None
        codecs = list(section.codecs)
        port = 0 if section.bundle_only else 9
        media = MediaDescription(t.kind, port, section.proto, [str(c.payload_type) for c in codecs])
        media.connection = _NULL_ADDRESS
        if with_transport:
            media.rtcp = _DISCARD_RTCP
            self._transport_attributes(media, credentials, setup)
        media.bundle_only = section.bundle_only
        media.mid = section.mid
        if extmaps is None:
            extmaps = [
                Extmap(self._extension_ids.get(uri, self._default_extension_id(uri)), uri)
                for uri in t.header_extensions
            ]
        media.extmaps = extmaps
        media.direction = section.direction
        sending = _has_send(section.direction)
        if sending:
            media.msids = [Msid(s, t.track_id) for s in t.stream_ids] or [Msid("-", t.track_id)]
        if with_transport:
            media.rtcp_mux = True
            if offer:
                media.rtcp_mux_only = True
        media.rtcp_rsize = rtcp_rsize
        media.set_codecs(codecs)
        has_rtx = any(c.name.lower() == "rtx" for c in codecs)
        if sending and not section.send_rids:
            encoding = t.send_encodings[0]
            msid_value = f"{t.stream_ids[0] if t.stream_ids else '-'} {t.track_id}"
            ssrcs = [encoding.ssrc]
            if has_rtx and encoding.rtx_ssrc is not None:
                ssrcs.append(encoding.rtx_ssrc)
                media.ssrc_groups = [SsrcGroup("FID", tuple(ssrcs))]
            lines: list[Ssrc] = []
            for ssrc in ssrcs:
                lines.append(Ssrc(ssrc, "cname", self.cname))
                lines.append(Ssrc(ssrc, "msid", msid_value))
            media.ssrcs = lines
        if section.send_rids:
            media.rids = [Rid(r, "send") for r in section.send_rids]
            media.simulcast = Simulcast(
                send=tuple((SimulcastStream(r),) for r in section.send_rids)
            )
        elif recv_rids:
            media.rids = list(recv_rids)
            media.simulcast = recv_simulcast
        return media

    def _default_extension_id(self, uri: str) -> int:
        table = self._extension_table
        if table is not None and uri in table:
            return table[uri]
        return next(
            (
                h.id
                for h in header_extensions_for("audio") + header_extensions_for("video")
                if h.uri == uri
            ),
            14,
        )

    def _finish(
        self,
        sd: SessionDescription,
        sdp_type: SdpType,
        sections: list[_Section],
        groups: list[tuple[str, ...]],
        credentials: tuple[str, str],
        setup: SetupRole,
    ) -> _Plan:
        """Number the description (RFC 8829 §5.2.2: the version only moves when the
        content changed since the last applied local description)."""
        body = sd.serialize()
        if self._local_version is None:
            version = 1
        elif body == self._local_body:
            version = self._local_version
        else:
            version = self._local_version + 1
        sd.origin = replace(sd.origin, session_version=version)
        return _Plan(
            sdp_type,
            sd.serialize(),
            sections,
            groups,
            credentials,
            setup,
            self._generation,
            version,
            body,
        )

    # -- answers ------------------------------------------------------------------

    def create_answer(self) -> str:
        """RFC 8829 §5.3: an answer to the pending remote offer."""
        self._check_open()
        if self._state not in ("have-remote-offer", "have-local-pranswer"):
            raise InvalidStateError(
                f"create_answer needs a remote offer (signaling state have-remote-offer "
                f"or have-local-pranswer), the state is {self._state!r}"
            )
        remote = self._pending_remote
        assert remote is not None and self._pending_mlines is not None
        offer = remote.sdp
        restarted = self._remote_restart_ids(offer)
        credentials = self._restart_credentials or self._credentials
        if restarted and self._restart_credentials is None:
            raise InvalidStateError(
                "the remote offer restarts ICE (new ufrag/pwd): call restart_ice(ufrag, pwd) "
                "with new local credentials before create_answer() (RFC 8445 §9)"
            )
        sections: list[_Section] = []
        for index, media in enumerate(offer.media):
            line = self._pending_mlines[index]
            sections.append(self._answer_section(offer, media, line))
        self._apply_max_bundle_without_group(offer, sections)
        groups = self._answer_groups(offer, sections)
        sd = self._session_skeleton(groups)
        sd.extmap_allow_mixed = offer.extmap_allow_mixed
        setup_by_transport = self._answer_setups(offer, sections, groups)
        for index, (section, media) in enumerate(zip(sections, offer.media, strict=True)):
            if section.rejected:
                sd.media.append(self._rejected_media(section))
                continue
            setup = setup_by_transport[index]
            if section.data:
                legacy = (
                    media.sctpmap.port
                    if media.sctpmap is not None and not media.sctp_port
                    else None
                )
                if media.proto == "DTLS/SCTP" and legacy is None:
                    legacy = self.sctp_port
                sd.media.append(
                    self._data_media(section, credentials, setup, True, legacy_port=legacy)
                )
                continue
            t = section.transceiver
            assert t is not None
            recv_rids: list[Rid] = []
            recv_simulcast: Simulcast | None = None
            offered_sim = media.simulcast
            if offered_sim is not None and offered_sim.send and _has_recv(section.direction):
                rid_ids = {r.id for r in media.rids if r.direction == "send"}
                streams = tuple(
                    alts for alts in offered_sim.send if all(a.rid in rid_ids for a in alts)
                )
                if streams:
                    recv_rids = [Rid(a.rid, "recv") for alts in streams for a in alts]
                    recv_simulcast = Simulcast(recv=streams)
            sd.media.append(
                self._rtp_media(
                    section,
                    credentials,
                    setup,
                    True,
                    offer=False,
                    extmaps=self._answer_extmaps(t, media),
                    rtcp_rsize=media.rtcp_rsize,
                    recv_rids=recv_rids,
                    recv_simulcast=recv_simulcast,
                )
            )
        plan = self._finish(sd, "answer", sections, groups, credentials, "active")
        self._last_answer = plan
        return plan.sdp

    def _answer_section(
        self, offer: SessionDescription, media: MediaDescription, line: _MLine
    ) -> _Section:
        mid = media.mid or line.mid
        if _is_rejected(media):
            return _Section(
                mid, media.kind, media.proto, rejected=True, formats=tuple(media.formats)
            )
        if line.data:
            return _Section(mid, "application", media.proto, data=True)
        t = line.transceiver
        rejected = _Section(
            mid, media.kind, media.proto, rejected=True, formats=tuple(media.formats)
        )
        if t is None or t.stopped or t.stopping:
            return rejected
        codecs = self._answer_codecs(t, media)
        if not any(c.name.lower() != "rtx" for c in codecs):
            return rejected
        direction = answer_direction(offer.direction_of(media), t.direction)
        return _Section(
            mid, t.kind, media.proto, transceiver=t, direction=direction, codecs=tuple(codecs)
        )

    def _answer_codecs(self, t: Transceiver, media: MediaDescription) -> list[Codec]:
        """RFC 8829 §5.3.1: the offered payload types we support, with the offer's
        numbers; in the offer's order, or in the codec preferences' order if set."""
        specs, rtx_wanted = self._preferred_specs(t)
        offered = _media_codecs(media)
        matched: list[tuple[Codec, CodecSpec]] = []
        for codec in offered:
            spec = find_spec(codec, specs)
            if spec is not None:
                matched.append((codec, spec))
        if t.codec_preferences:
            matched.sort(key=lambda pair: specs.index(pair[1]))
        # RED lists the payload types it carries: drop it if one of them is gone.
        kept_pts = {c.payload_type for c, _ in matched}
        result: list[tuple[Codec, CodecSpec]] = []
        for codec, spec in matched:
            if spec.name.lower() == "red" and codec.fmtp:
                carried = [p for p in codec.fmtp.split("/") if p.isdigit()]
                if not all(int(p) in kept_pts for p in carried):
                    continue
            result.append((codec, spec))
        out: list[Codec] = []
        rtx_by_apt: dict[int, Codec] = {}
        if rtx_wanted:
            for codec in offered:
                if codec.name.lower() == "rtx" and codec.clock_rate == 90000:
                    apt = codec.parameters.get("apt")
                    if apt is not None and apt.isdigit():
                        rtx_by_apt.setdefault(int(apt), codec)
        for codec, spec in result:
            feedback = tuple(fb for fb in codec.feedback if fb in spec.feedback)
            canonical = spec.name.lower() == "opus"  # "OPUS/48000" is answered "opus/48000/2"
            out.append(
                Codec(
                    codec.payload_type,
                    spec.name if canonical else codec.name,
                    codec.clock_rate,
                    spec.channels if canonical else codec.channels,
                    answer_fmtp(codec, spec),
                    tuple(dict.fromkeys(feedback)),
                )
            )
            rtx = rtx_by_apt.get(codec.payload_type)
            if rtx is not None:
                out.append(Codec(rtx.payload_type, "rtx", 90000, None, f"apt={codec.payload_type}"))
        return out

    def _answer_extmaps(self, t: Transceiver, media: MediaDescription) -> list[Extmap]:
        out: list[Extmap] = []
        for ext in media.extmaps:
            if ext.uri in t.header_extensions and ext.id <= 255:
                direction = None if ext.direction is None else reverse_direction(ext.direction)
                out.append(Extmap(ext.id, ext.uri, direction))
        return out

    def _apply_max_bundle_without_group(
        self, offer: SessionDescription, sections: list[_Section]
    ) -> None:
        # RFC 8829 §5.3.1 / W3C max-bundle: without a BUNDLE group in the offer,
        # only the first m-section can be accepted.
        if self.bundle_policy != "max-bundle" or offer.bundle_groups:
            return
        first = True
        for s in sections:
            if s.rejected:
                continue
            if first:
                first = False
                continue
            s.rejected = True
            s.formats = s.formats or tuple(str(c.payload_type) for c in s.codecs[:1])

    @staticmethod
    def _answer_groups(
        offer: SessionDescription, sections: list[_Section]
    ) -> list[tuple[str, ...]]:
        accepted = {s.mid for s in sections if not s.rejected}
        groups: list[tuple[str, ...]] = []
        for group in offer.bundle_groups:
            mids = tuple(m for m in group.mids if m in accepted)
            if mids:
                groups.append(mids)
        return groups

    def _answer_setups(
        self,
        offer: SessionDescription,
        sections: list[_Section],
        groups: list[tuple[str, ...]],
    ) -> dict[int, SetupRole]:
        """RFC 8842 §5.2/§5.3: our ``a=setup`` per accepted m-section."""
        out: dict[int, SetupRole] = {}
        for index, (section, media) in enumerate(zip(sections, offer.media, strict=True)):
            if section.rejected:
                continue
            transport_id = _transport_of(section.mid, groups)
            tagged = offer.media_by_mid(transport_id) or media
            remote_setup = tagged.setup or media.setup or offer.setup
            existing = self._transports.get(transport_id)
            setup: SetupRole
            if remote_setup == "active":
                setup = "passive"
            elif remote_setup == "passive":
                setup = "active"
            elif existing is not None and existing.dtls_role is not None:
                setup = "active" if existing.dtls_role == "client" else "passive"
            else:
                setup = self.answer_setup
            out[index] = setup
        return out

    def _remote_restart_ids(self, sd: SessionDescription) -> set[str]:
        """Transports whose remote credentials differ from the known ones."""
        restarted: set[str] = set()
        groups = [g.mids for g in sd.bundle_groups]
        for media in sd.media:
            if _is_rejected(media) or media.mid is None:
                continue
            transport_id = _transport_of(media.mid, groups)
            state = self._transports.get(transport_id)
            if state is None or state.ufrag is None:
                continue
            tagged = sd.media_by_mid(transport_id) or media
            ufrag, pwd = sd.ice_credentials_of(tagged)
            if (ufrag, pwd) != (state.ufrag, state.pwd):
                restarted.add(transport_id)
        return restarted

    # -- applying descriptions -------------------------------------------------------

    def set_local_description(self, sdp_type: str, sdp: str = "") -> Applied:
        """W3C ``setLocalDescription``: apply our offer/answer/pranswer, or roll back.

        ``sdp`` must be the text of the last :meth:`create_offer` (for an offer) or
        :meth:`create_answer` (for an answer or pranswer); ``""`` means that text.
        Anything else is ``InvalidModificationError`` (SDP munging is not supported).
        """
        new_state = self._check_transition("local", sdp_type)
        self._entered = []
        if sdp_type == "rollback":
            return self._rollback("local")
        plan = self._last_offer if sdp_type == "offer" else self._last_answer
        if plan is None:
            raise InvalidModificationError(
                f"no {('offer' if sdp_type == 'offer' else 'answer')} was created: call "
                f"create_{'offer' if sdp_type == 'offer' else 'answer'}() and pass its text"
            )
        if sdp and sdp != plan.sdp:
            raise InvalidModificationError(
                f"the {sdp_type} is not the last one created by "
                f"create_{'offer' if sdp_type == 'offer' else 'answer'}(); "
                "modifying SDP (munging) is not supported"
            )
        if plan.generation != self._generation:
            raise InvalidModificationError(
                f"this {sdp_type} was created before the last negotiation step; create a new one"
            )
        parsed = self._parse(plan.sdp)
        if sdp_type == "offer":
            return self._apply_local_offer(plan, parsed, new_state)
        return self._apply_local_answer(plan, parsed, cast(SdpType, sdp_type), new_state)

    def set_remote_description(self, sdp_type: str, sdp: str = "") -> Applied:
        """W3C ``setRemoteDescription``.

        Errors: ``InvalidStateError`` (wrong state), ``RTCError`` with
        ``error_detail="sdp-syntax-error"`` and ``sdp_line_number`` (unparsable),
        ``InvalidAccessError`` naming the problem (missing mid, ICE credentials,
        fingerprint, rtcp-mux; an answer that does not match our offer; a BUNDLE
        group naming an unknown mid...). A remote offer in have-local-offer first
        rolls our offer back (W3C perfect negotiation).
        """
        if sdp_type not in _SDP_TYPES:
            raise TypeError(f"description type must be one of {_SDP_TYPES}, got {sdp_type!r}")
        self._check_open()
        rolled: Applied | None = None
        self._entered = []
        if sdp_type == "offer" and self._state == "have-local-offer":
            # If the offer then fails, the rollback stands (W3C chains the two);
            # callers needing its events roll back explicitly first.
            rolled = self._rollback("local")
        new_state = self._check_transition("remote", sdp_type)
        if sdp_type == "rollback":
            return self._rollback("remote")
        parsed = self._parse(sdp)
        self._validate_remote(parsed, cast(SdpType, sdp_type))
        if sdp_type == "offer":
            applied = self._apply_remote_offer(parsed, new_state)
        else:
            applied = self._apply_remote_answer(parsed, cast(SdpType, sdp_type), new_state)
        if rolled is None:
            return applied
        return replace(
            applied,
            implicit_rollback=True,
            removed_tracks=(*rolled.removed_tracks, *applied.removed_tracks),
            removed_transceivers=(*rolled.removed_transceivers, *applied.removed_transceivers),
            stream_changes=(*rolled.stream_changes, *applied.stream_changes),
        )

    @staticmethod
    def _parse(sdp: str) -> SessionDescription:
        if not isinstance(sdp, str):
            raise TypeError(f"sdp must be a str, got {type(sdp).__name__}")
        try:
            return parse(sdp)
        except SdpParseError as exc:
            raise RTCError(
                f"the description is not valid SDP: {exc}",
                error_detail="sdp-syntax-error",
                sdp_line_number=exc.line_number,
            ) from None

    # -- validation ---------------------------------------------------------------

    def _validate_remote(self, sd: SessionDescription, sdp_type: SdpType) -> None:
        """RFC 8829 §5.8/§5.10 and W3C §4.4.1.5 checks; ``InvalidAccessError``."""
        if sdp_type != "offer":
            self._validate_answer(sd)
        mids: set[str] = set()
        for index, media in enumerate(sd.media):
            mid = media.mid
            if mid is None:
                if _is_rejected(media):
                    continue
                raise InvalidAccessError(
                    f"m-section {index} ({media.kind}) has no a=mid (RFC 8829 §5.8)"
                )
            if mid in mids:
                raise InvalidAccessError(f"mid {mid!r} is used by two m-sections")
            mids.add(mid)
        grouped: set[str] = set()
        for group in sd.bundle_groups:
            for mid in group.mids:
                if mid not in mids:
                    raise InvalidAccessError(
                        f"a=group:BUNDLE names mid {mid!r}, which no m-section has"
                    )
                if mid in grouped:
                    raise InvalidAccessError(f"mid {mid!r} is in two BUNDLE groups")
                grouped.add(mid)
        groups = [g.mids for g in sd.bundle_groups]
        for media in sd.media:
            if _is_rejected(media):
                continue
            assert media.mid is not None
            if media.bundle_only and media.mid not in grouped:
                raise InvalidAccessError(
                    f"m-section {media.mid!r} is bundle-only but in no BUNDLE group"
                )
            transport = sd.media_by_mid(_transport_of(media.mid, groups)) or media
            ufrag, pwd = sd.ice_credentials_of(transport)
            if not ufrag or not pwd:
                ufrag, pwd = sd.ice_credentials_of(media)
            if not ufrag or not pwd:
                raise InvalidAccessError(
                    f"m-section {media.mid!r} has no a=ice-ufrag/a=ice-pwd (RFC 8839 §5.4)"
                )
            if not (sd.fingerprints_of(transport) or sd.fingerprints_of(media)):
                raise InvalidAccessError(
                    f"m-section {media.mid!r} has no a=fingerprint (RFC 8122; DTLS is required)"
                )
            setup = transport.setup or media.setup or sd.setup
            if setup == "holdconn" or (sdp_type != "offer" and setup == "actpass"):
                raise InvalidAccessError(
                    f"a=setup:{setup} is not valid in an {sdp_type} (RFC 8842 §5)"
                )
            if media.is_rtp and not (transport.rtcp_mux or media.rtcp_mux):
                raise InvalidAccessError(
                    f"m-section {media.mid!r} lacks a=rtcp-mux, required by rtcpMuxPolicy 'require'"
                )
        if sdp_type == "offer":
            self._validate_remote_offer_layout(sd)

    def _validate_remote_offer_layout(self, sd: SessionDescription) -> None:
        negotiated = self._mlines
        if len(sd.media) < len(negotiated):
            raise InvalidAccessError(
                f"the offer has {len(sd.media)} m-sections, fewer than the "
                f"{len(negotiated)} negotiated ones (m-sections are never removed)"
            )
        for index, line in enumerate(negotiated):
            media = sd.media[index]
            if media.mid == line.mid:
                if media.kind != line.kind:
                    raise InvalidAccessError(
                        f"m-section {index} (mid {line.mid!r}) changed kind from "
                        f"{line.kind} to {media.kind}"
                    )
                continue
            if not line.rejected:
                raise InvalidAccessError(
                    f"m-section {index} changed mid from {line.mid!r} to {media.mid!r}, "
                    "but it was not rejected (only rejected m-sections are recycled)"
                )
        known = {line.mid: i for i, line in enumerate(negotiated)}
        for index, media in enumerate(sd.media):
            if media.mid in known and known[media.mid] != index:
                raise InvalidAccessError(f"mid {media.mid!r} moved to m-section {index}")

    def _validate_answer(self, sd: SessionDescription) -> None:
        offer = self._pending_local
        assert offer is not None
        offered = offer.sdp.media
        if len(sd.media) != len(offered):
            raise InvalidAccessError(
                f"the answer has {len(sd.media)} m-sections, the offer {len(offered)} "
                "(RFC 3264 §6: one per offered m-section, in order)"
            )
        offered_grouped = {m for g in offer.sdp.bundle_groups for m in g.mids}
        for index, (media, ours) in enumerate(zip(sd.media, offered, strict=True)):
            if media.kind != ours.kind:
                raise InvalidAccessError(
                    f"answer m-section {index} is {media.kind}, the offer's is {ours.kind}"
                )
            if media.mid is not None and ours.mid is not None and media.mid != ours.mid:
                raise InvalidAccessError(
                    f"answer m-section {index} has mid {media.mid!r}, the offer's is {ours.mid!r}"
                )
            if _is_rejected(ours) and not _is_rejected(media):
                raise InvalidAccessError(
                    f"answer accepts m-section {index}, which the offer rejected"
                )
            if not _is_rejected(media) and media.is_rtp and ours.is_rtp:
                our_pts = set(ours.payload_types)
                if not our_pts & set(media.payload_types):
                    raise InvalidAccessError(
                        f"answer m-section {ours.mid!r} has no payload type of the offer"
                    )
        for group in sd.bundle_groups:
            for mid in group.mids:
                if mid not in offered_grouped:
                    raise InvalidAccessError(
                        f"the answer bundles mid {mid!r}, which the offer did not bundle"
                    )

    # -- local offer -----------------------------------------------------------------

    def _take_snapshot(self) -> None:
        if self._state != "stable" or self._snapshot is not None:
            return
        self._snapshot = _Snapshot(
            list(self._transceivers),
            {t: tuple(getattr(t, f) for f in _SNAPSHOT_FIELDS) for t in self._transceivers},
            self._payload_types.copy(),
            self._extension_ids.copy(),
            set(self._used_mids),
        )

    def _apply_local_offer(
        self, plan: _Plan, parsed: SessionDescription, new_state: SignalingState
    ) -> Applied:
        self._take_snapshot()
        lines: list[_MLine] = []
        for index, section in enumerate(plan.sections):
            t = section.transceiver
            lines.append(
                _MLine(
                    section.mid,
                    section.kind,
                    section.proto,
                    transceiver=t,
                    data=section.data,
                    rejected=section.rejected,
                    formats=tuple(str(c.payload_type) for c in section.codecs[:1])
                    or section.formats,
                )
            )
            if t is not None:
                t.mid = section.mid
                t.mline_index = index
            self._used_mids.add(section.mid)
        # A transceiver recycled out of its slot no longer owns the old mid's line.
        self._pending_mlines = lines
        removed = self._drop_unassociated_stopping()
        local_restart = self._local_credentials is not None and (
            plan.credentials != self._local_credentials
        )
        self._use_credentials(plan)
        self._pending_local = _Stored("offer", parsed)
        self._set_state(new_state)
        transports = self._remember(self._offer_transports(plan))
        return Applied(
            "offer",
            remote=False,
            signaling_states=tuple(self._entered),
            transports=transports,
            sctp=self._sctp_info(plan.groups),
            removed_transceivers=removed,
            local_ice_restart=local_restart,
        )

    def _use_credentials(self, plan: _Plan) -> None:
        self._local_credentials = plan.credentials
        self._local_version = plan.version
        self._local_body = plan.body
        if self._restart_credentials is not None and plan.credentials == self._restart_credentials:
            self._credentials = self._restart_credentials
            self._restart_credentials = None

    def _drop_unassociated_stopping(self) -> tuple[Transceiver, ...]:
        removed: list[Transceiver] = []
        for t in list(self._transceivers):
            if t.stopping and t.mid is None:
                t.stopped = True
                t.current_direction = "stopped"
                self._transceivers.remove(t)
                removed.append(t)
        return tuple(removed)

    def _offer_transports(self, plan: _Plan) -> tuple[TransportInfo, ...]:
        """Transports an offer of ours needs before the answer: one per BUNDLE group
        and one per m-section outside it (bundle-only ones have none)."""
        groups = plan.groups
        initial = self._is_initial()
        ids: dict[str, list[str]] = {}
        for section in plan.sections:
            if section.rejected:
                continue
            if initial and not section.bundle_only:
                # Until the answer accepts BUNDLE, every m-section that is not
                # bundle-only needs its own transport (the point of balanced and
                # max-compat, RFC 8829 §4.1.1).
                transport_id = section.mid
            else:
                transport_id = _transport_of(section.mid, groups)
            ids.setdefault(transport_id, []).append(section.mid)
        out: list[TransportInfo] = []
        for transport_id, mids in ids.items():
            state = self._transports.get(transport_id)
            controlling = True if state is None else state.ice_controlling
            restart = state is not None and state.local_credentials not in (None, plan.credentials)
            if restart:
                controlling = True
            out.append(
                self._transport_info(
                    transport_id, tuple(mids), plan.credentials, None, controlling, restart
                )
            )
        return tuple(out)

    def _transport_info(
        self,
        transport_id: str,
        mids: tuple[str, ...],
        credentials: tuple[str, str],
        remote: SessionDescription | None,
        controlling: bool,
        restart: bool,
        dtls_role: DtlsRole | None = None,
    ) -> TransportInfo:
        remote_ufrag = remote_pwd = None
        fingerprints: tuple[Fingerprint, ...] = ()
        candidates: list[RemoteCandidate] = []
        end = False
        setup: SetupRole | None = None
        options: tuple[str, ...] = ()
        lite = False
        if remote is not None:
            lite = remote.ice_lite
            tagged = _remote_tagged(remote, transport_id, mids)
            if tagged is not None:
                remote_ufrag, remote_pwd = remote.ice_credentials_of(tagged)
                fingerprints = tuple(remote.fingerprints_of(tagged))
                setup = tagged.setup or remote.setup
                options = tagged.ice_options or remote.ice_options
            # Sections that say more than the tagged one (RFC 8829 §7 style puts the
            # transport only in the tagged one; Chromium repeats it everywhere).
            for media in remote.media:
                if media.mid not in mids or _is_rejected(media):
                    continue
                if remote_ufrag is None or remote_pwd is None:
                    remote_ufrag, remote_pwd = remote.ice_credentials_of(media)
                if not fingerprints:
                    fingerprints = tuple(remote.fingerprints_of(media))
                setup = setup or media.setup
                options = options or media.ice_options
            # A BUNDLE transport's candidates are the tagged m-section's (RFC 8843
            # §10.2); other sections' candidates were for transports never used.
            seen: set[str] = set()
            for index, media in enumerate(remote.media):
                if media is not tagged:
                    continue
                for value in media.candidates:
                    text = _candidate_text(value)
                    if text not in seen:
                        seen.add(text)
                        candidates.append(
                            RemoteCandidate(text, media.mid, index, transport_id, remote_ufrag)
                        )
                end = media.end_of_candidates
            if lite:
                controlling = True
        return TransportInfo(
            id=transport_id,
            mids=mids,
            local_ufrag=credentials[0],
            local_pwd=credentials[1],
            remote_ufrag=remote_ufrag,
            remote_pwd=remote_pwd,
            remote_ice_lite=lite,
            remote_ice_options=options,
            remote_candidates=tuple(candidates),
            remote_end_of_candidates=end,
            remote_fingerprints=fingerprints,
            remote_setup=setup,
            dtls_role=dtls_role,
            ice_controlling=controlling,
            ice_restart=restart,
        )

    # -- remote offer ---------------------------------------------------------------

    def _apply_remote_offer(self, sd: SessionDescription, new_state: SignalingState) -> Applied:
        self._take_snapshot()
        base = self._pending_mlines if self._pending_mlines is not None else self._mlines
        lines: list[_MLine] = []
        added: list[Transceiver] = []
        stopped: list[Transceiver] = []
        added_tracks: list[TrackEvent] = []
        removed_tracks: list[TrackEvent] = []
        stream_changes: list[StreamChange] = []
        data_taken = False
        for index, media in enumerate(sd.media):
            mid = media.mid if media.mid is not None else f"rejected-{index}"
            line = _MLine(mid, media.kind, media.proto, formats=tuple(media.formats[:1]))
            rejected = _is_rejected(media)
            line.rejected = rejected
            lines.append(line)
            self._used_mids.add(mid)
            if _is_data_section(media):
                if not data_taken:
                    line.data = True
                    data_taken = True
                continue
            if media.kind not in ("audio", "video") or media.proto not in _RTP_PROTOS:
                continue
            t = next((x for x in self._transceivers if x.mid == mid), None)
            if t is None and index < len(base) and base[index].mid == mid:
                t = base[index].transceiver
            if t is not None and t.stopped:
                line.transceiver = t
                continue
            if t is None and rejected:
                continue
            if t is None:
                t = self._find_or_create_for(media, sd)
                if t.created_by_remote:
                    added.append(t)
                t.mid = mid
            t.mline_index = index
            line.transceiver = t
            if rejected:
                # W3C §4.4.1.5: a rejected media description stops its transceiver.
                t.stopping = t.stopped = True
                t.direction = "stopped"
                t.current_direction = "stopped"
                stopped.append(t)
                continue
            if t.stopping:
                continue
            self._process_remote_tracks(t, sd, media, added_tracks, removed_tracks, stream_changes)
        self._pending_mlines = lines
        self._pending_remote = _Stored("offer", sd)
        self._remote_ice_lite = sd.ice_lite
        restarted = self._remote_restart_ids(sd)
        self._set_state(new_state)
        transports = self._remember(self._remote_offer_transports(sd, restarted))
        return Applied(
            "offer",
            remote=True,
            signaling_states=tuple(self._entered),
            transports=transports,
            sctp=self._sctp_info([g.mids for g in sd.bundle_groups]),
            added_tracks=tuple(added_tracks),
            removed_tracks=tuple(removed_tracks),
            stream_changes=tuple(stream_changes),
            added_transceivers=tuple(added),
            stopped_transceivers=tuple(stopped),
            remote_ice_restart=bool(restarted),
            remote_ice_lite=sd.ice_lite,
        )

    def _find_or_create_for(self, media: MediaDescription, sd: SessionDescription) -> Transceiver:
        """RFC 8829 §5.10 / W3C: reuse the first unassociated addTrack transceiver
        of the kind if the offer wants to receive, else create a recvonly one."""
        offered = sd.direction_of(media)
        if _has_recv(offered):
            for t in self._transceivers:
                if (
                    t.kind == media.kind
                    and t.mid is None
                    and t.added_by_add_track
                    and not t.stopping
                    and not t.stopped
                ):
                    return t
        self._order += 1
        kind = cast(MediaKind, media.kind)
        t = Transceiver(
            kind=kind,
            direction="recvonly",
            track_id=self._new_id(),
            send_encodings=self._make_encodings(kind, None),
            header_extensions=tuple(h.uri for h in header_extensions_for(kind)),
            created_by_remote=True,
            order=self._order,
        )
        self._transceivers.append(t)
        return t

    @staticmethod
    def _process_remote_tracks(
        t: Transceiver,
        sd: SessionDescription,
        media: MediaDescription,
        added: list[TrackEvent],
        removed: list[TrackEvent],
        changes: list[StreamChange],
    ) -> None:
        """W3C §4.4.1.5 for a remote description: fire ``track`` when the peer starts
        sending, record removal when it stops, update the associated streams."""
        direction = reverse_direction(sd.direction_of(media))
        streams, track = _remote_msid(media)
        if streams != t.remote_stream_ids:
            if _has_recv(t.fired_direction) or _has_recv(direction):
                changes.append(StreamChange(t, t.remote_stream_ids, streams))
            t.remote_stream_ids = streams
        if track is not None:
            t.remote_track_id = track
        if _has_recv(direction) and not _has_recv(t.fired_direction):
            added.append(TrackEvent(t, streams, t.remote_track_id))
        elif not _has_recv(direction) and _has_recv(t.fired_direction):
            removed.append(TrackEvent(t, t.remote_stream_ids, t.remote_track_id))
        t.fired_direction = direction

    def _remote_offer_transports(
        self, sd: SessionDescription, restarted: set[str]
    ) -> tuple[TransportInfo, ...]:
        groups = [g.mids for g in sd.bundle_groups]
        if self.bundle_policy == "max-bundle" and not groups:
            live = [m for m in sd.media if not _is_rejected(m) and m.mid is not None]
            groups = [(live[0].mid,)] if live else []  # type: ignore[list-item]
            allowed = set(groups[0]) if groups else set()
        else:
            allowed = None
        ids: dict[str, list[str]] = {}
        for media in sd.media:
            if _is_rejected(media) or media.mid is None:
                continue
            if allowed is not None and media.mid not in allowed:
                continue
            ids.setdefault(_transport_of(media.mid, groups), []).append(media.mid)
        credentials = self._restart_credentials or self._credentials
        out: list[TransportInfo] = []
        for transport_id, mids in ids.items():
            state = self._transports.get(transport_id)
            restart = transport_id in restarted
            controlling = False if state is None or restart else state.ice_controlling
            out.append(
                self._transport_info(
                    transport_id, tuple(mids), credentials, sd, controlling, restart
                )
            )
        return tuple(out)

    # -- local answer ----------------------------------------------------------------

    def _apply_local_answer(
        self,
        plan: _Plan,
        parsed: SessionDescription,
        sdp_type: SdpType,
        new_state: SignalingState,
    ) -> Applied:
        remote = self._pending_remote
        assert remote is not None and self._pending_mlines is not None
        final = sdp_type == "answer"
        local_restart = self._local_credentials is not None and (
            plan.credentials != self._local_credentials
        )
        remote_restarted = self._remote_restart_ids(remote.sdp)
        self._use_credentials(plan)
        changes: list[DirectionChange] = []
        stopped: list[Transceiver] = []
        removed_tracks: list[TrackEvent] = []
        rtp: list[RtpNegotiation] = []
        for index, section in enumerate(plan.sections):
            line = self._pending_mlines[index]
            line.rejected = section.rejected
            if section.data:
                line.data = True
            t = line.transceiver
            if t is None or section.data:
                continue
            if section.rejected:
                if final and not t.stopped:
                    self._stop(t, changes)
                    stopped.append(t)
                continue
            local_media = parsed.media[index]
            offer_media = remote.sdp.media[index]
            # W3C: a local answer that does not receive removes the remote track.
            if not _has_recv(section.direction) and _has_recv(t.fired_direction):
                removed_tracks.append(TrackEvent(t, t.remote_stream_ids, t.remote_track_id))
            t.fired_direction = section.direction
            negotiation = self._negotiation(
                t,
                section.mid,
                section.direction,
                local_media,
                offer_media,
                parsed,
                we_offered=False,
            )
            rtp.append(negotiation)
            t.negotiated = negotiation
            # W3C: an answer *or pranswer* sets [[CurrentDirection]].
            self._set_current_direction(t, section.direction, changes)
            if final:
                self._learn_numbers(offer_media, local_media)
        transports = self._commit_transports(
            plan.groups,
            remote.sdp,
            plan.credentials,
            remote_restarted,
            we_offered=False,
            answer=parsed,
        )
        removed: tuple[Transceiver, ...] = ()
        if final:
            self._current_local = _Stored("answer", parsed)
            self._current_remote = remote
            self._pending_local = None
            self._pending_remote = None
            self._commit_layout(plan.groups)
            removed = self._remove_stopped()
        else:
            self._pending_local = _Stored(sdp_type, parsed)
        self._set_state(new_state)
        return Applied(
            sdp_type,
            remote=False,
            signaling_states=tuple(self._entered),
            transports=transports,
            sctp=self._sctp_info(plan.groups),
            data_rejected=self._data_rejected(),
            rtp=tuple(rtp),
            direction_changes=tuple(changes),
            removed_tracks=tuple(removed_tracks),
            stopped_transceivers=tuple(stopped),
            removed_transceivers=removed,
            local_ice_restart=local_restart,
            remote_ice_restart=bool(remote_restarted),
            remote_ice_lite=remote.sdp.ice_lite,
        )

    def _stop(self, t: Transceiver, changes: list[DirectionChange]) -> None:
        t.stopping = t.stopped = True
        t.direction = "stopped"
        self._set_current_direction(t, "stopped", changes)

    @staticmethod
    def _set_current_direction(
        t: Transceiver, direction: TransceiverDirection, changes: list[DirectionChange]
    ) -> None:
        if t.current_direction != direction:
            changes.append(DirectionChange(t, t.current_direction, direction))
            t.current_direction = direction

    def _learn_numbers(self, offer_media: MediaDescription, answer_media: MediaDescription) -> None:
        """Adopt the payload types and extension ids the offerer bound (the answer
        uses the offer's numbers), so our later offers keep them (RFC 8829 §5.2.2)."""
        answered = {c.payload_type: c for c in answer_media.codecs}
        for codec in offer_media.codecs:
            mine = answered.get(codec.payload_type)
            if mine is None or codec.name.lower() == "rtx":
                continue
            spec = find_spec(codec, self._codecs.get(offer_media.kind, ()))
            if spec is None:
                continue
            self._payload_types.bind(spec_key(spec), codec.payload_type)
        for codec in answer_media.codecs:
            if codec.name.lower() != "rtx":
                continue
            apt = codec.parameters.get("apt")
            primary = answered.get(int(apt)) if apt and apt.isdigit() else None
            if primary is None:
                continue
            spec = find_spec(primary, self._codecs.get(answer_media.kind, ()))
            if spec is not None:
                self._payload_types.bind(f"rtx/90000;apt={spec_key(spec)}", codec.payload_type)
        for ext in answer_media.extmaps:
            if ext.id <= 14:
                self._extension_ids.bind(ext.uri, ext.id)

    def _commit_layout(self, groups: list[tuple[str, ...]]) -> None:
        assert self._pending_mlines is not None
        self._mlines = self._pending_mlines
        self._pending_mlines = None
        self._negotiated_groups = list(groups)
        self._negotiated_transport_by_mid = dict(self._transport_by_mid)
        self._snapshot = None
        self._generation += 1

    def _remove_stopped(self) -> tuple[Transceiver, ...]:
        """W3C: a stopped transceiver whose m-section is rejected in the current
        descriptions leaves the set of transceivers."""
        removed: list[Transceiver] = []
        for t in list(self._transceivers):
            if t.stopped and (t.mid is None or self._rejected_in_current(t.mid)):
                self._transceivers.remove(t)
                removed.append(t)
        return tuple(removed)

    def _data_rejected(self) -> bool:
        lines = self._pending_mlines if self._pending_mlines is not None else self._mlines
        data = next((line for line in lines if line.data), None)
        return data is not None and data.rejected

    def _sctp_info(self, groups: Sequence[Sequence[str]]) -> SctpInfo | None:
        lines = self._pending_mlines if self._pending_mlines is not None else self._mlines
        data = next((line for line in lines if line.data and not line.rejected), None)
        if data is None:
            return None
        remote = self._pending_remote or self._current_remote
        remote_port: int | None = None
        remote_size: int | None = None
        if remote is not None:
            media = remote.sdp.media_by_mid(data.mid)
            if media is not None and not _is_rejected(media):
                sctpmap = media.sctpmap
                remote_port = media.sctp_port or (sctpmap.port if sctpmap else _DEFAULT_SCTP_PORT)
                size = media.max_message_size
                remote_size = _DEFAULT_REMOTE_MAX_MESSAGE_SIZE if size is None else size
        return SctpInfo(
            data.mid,
            _transport_of(data.mid, groups),
            self.sctp_port,
            self.max_message_size,
            remote_port,
            remote_size,
        )

    def _negotiation(
        self,
        t: Transceiver,
        mid: str,
        direction: Direction,
        local_media: MediaDescription,
        remote_media: MediaDescription,
        answer_sd: SessionDescription,
        *,
        we_offered: bool,
    ) -> RtpNegotiation:
        """The negotiated RTP parameters: the answer's codecs, numbers and extension
        ids (it used the offer's numbers, RFC 3264 §6.1)."""
        answer_media = remote_media if we_offered else local_media
        codecs: list[NegotiatedCodec] = []
        rtx_apt: list[tuple[int, int]] = []
        answer_codecs = _media_codecs(answer_media)
        if we_offered:
            # Only what we offered counts, under the number we offered it with.
            offered = {c.payload_type: c.name.lower() for c in local_media.codecs}
            answer_codecs = [
                c for c in answer_codecs if offered.get(c.payload_type) == c.name.lower()
            ]
        for codec in answer_codecs:
            if codec.name.lower() == "rtx":
                apt = codec.parameters.get("apt")
                if apt is not None and apt.isdigit():
                    rtx_apt.append((codec.payload_type, int(apt)))
        primaries = {c.payload_type for c in answer_codecs if c.name.lower() != "rtx"}
        rtx_apt = [(pt, apt) for pt, apt in rtx_apt if apt in primaries]
        rtx_of = {apt: pt for pt, apt in rtx_apt}
        for codec in answer_codecs:
            if codec.name.lower() == "rtx":
                continue
            codecs.append(
                NegotiatedCodec(
                    codec.payload_type,
                    f"{t.kind}/{codec.name}",
                    codec.clock_rate,
                    codec.channels,
                    codec.fmtp,
                    codec.feedback,
                    rtx_of.get(codec.payload_type),
                )
            )
        send_rids: tuple[str, ...] = ()
        local_sim = local_media.simulcast
        if we_offered and _has_send(direction) and local_sim is not None and local_sim.send:
            # RFC 8853 §5.3: the answer's recv list is the simulcast accepted.
            answered = remote_media.simulcast
            offered_rids = set(local_sim.send_rids)
            if answered is not None:
                send_rids = tuple(r for r in answered.recv_rids if r in offered_rids)
        remote_sim = remote_media.simulcast
        remote_rids = remote_sim.send_rids if remote_sim is not None else ()
        if not _has_recv(direction):
            remote_rids = ()
        streams, track = _remote_msid(remote_media)
        return RtpNegotiation(
            mid=mid,
            kind=t.kind,
            direction=direction,
            codecs=tuple(codecs),
            rtx_apt=tuple(rtx_apt),
            header_extensions=tuple((e.id, e.uri) for e in answer_media.extmaps),
            extmap_allow_mixed=answer_sd.extmap_allow_mixed,
            rtcp_mux=True,
            rtcp_rsize=answer_media.rtcp_rsize,
            cname=self.cname,
            send_encodings=t.send_encodings,
            send_rids=send_rids,
            remote_ssrcs=_remote_ssrcs(remote_media),
            remote_rtx_ssrcs=_fid_pairs(remote_media),
            remote_cname=_remote_cname(remote_media),
            remote_rids=remote_rids,
            remote_stream_ids=streams,
            remote_track_id=track,
        )

    def _commit_transports(
        self,
        groups: list[tuple[str, ...]],
        remote: SessionDescription,
        credentials: tuple[str, str],
        remote_restarted: set[str],
        *,
        we_offered: bool,
        answer: SessionDescription,
    ) -> tuple[TransportInfo, ...]:
        """Record the transports an answer/pranswer settles and describe them."""
        ids: dict[str, list[str]] = {}
        for media in answer.media:
            if _is_rejected(media) or media.mid is None:
                continue
            ids.setdefault(_transport_of(media.mid, groups), []).append(media.mid)
        out: list[TransportInfo] = []
        new_states: dict[str, _TransportState] = {}
        for transport_id, mids in ids.items():
            old = self._transports.get(transport_id)
            answer_media = answer.media_by_mid(transport_id)
            if answer_media is None:
                answer_media = next(m for m in answer.media if m.mid == mids[0])
            setup = answer_media.setup or answer.setup or "active"
            if we_offered:
                role: DtlsRole = "server" if setup == "active" else "client"
            else:
                role = "client" if setup == "active" else "server"
            local_restart = old is not None and old.local_credentials not in (None, credentials)
            restart = local_restart or transport_id in remote_restarted
            controlling = we_offered if old is None or restart else old.ice_controlling
            info = self._transport_info(
                transport_id, tuple(mids), credentials, remote, controlling, restart, role
            )
            out.append(info)
            new_states[transport_id] = _TransportState(
                info.remote_ufrag, info.remote_pwd, credentials, role, info.ice_controlling
            )
        self._transports = new_states
        return self._remember(tuple(out))

    def _remember(self, transports: tuple[TransportInfo, ...]) -> tuple[TransportInfo, ...]:
        self._transport_by_mid = {mid: t.id for t in transports for mid in t.mids}
        return transports

    # -- remote answer ---------------------------------------------------------------

    def _apply_remote_answer(
        self, sd: SessionDescription, sdp_type: SdpType, new_state: SignalingState
    ) -> Applied:
        local = self._pending_local
        assert local is not None and self._pending_mlines is not None
        final = sdp_type == "answer"
        remote_restarted = self._remote_restart_ids(sd)
        changes: list[DirectionChange] = []
        stopped: list[Transceiver] = []
        added_tracks: list[TrackEvent] = []
        removed_tracks: list[TrackEvent] = []
        stream_changes: list[StreamChange] = []
        rtp: list[RtpNegotiation] = []
        for index, media in enumerate(sd.media):
            line = self._pending_mlines[index]
            rejected = _is_rejected(media)
            line.rejected = rejected or line.rejected
            t = line.transceiver
            if t is None or line.data:
                continue
            if rejected:
                if final and not t.stopped:
                    self._stop(t, changes)
                    stopped.append(t)
                continue
            local_media = local.sdp.media[index]
            self._process_remote_tracks(t, sd, media, added_tracks, removed_tracks, stream_changes)
            direction = reverse_direction(sd.direction_of(media))
            negotiation = self._negotiation(
                t, line.mid, direction, local_media, media, sd, we_offered=True
            )
            rtp.append(negotiation)
            t.negotiated = negotiation
            self._set_current_direction(t, direction, changes)  # answer or pranswer
            if final and len(t.send_encodings) > 1 and _has_send(direction):
                self._trim_encodings(t, negotiation.send_rids)
        groups = [g.mids for g in sd.bundle_groups]
        transports = self._commit_transports(
            groups,
            sd,
            self._local_credentials or self._credentials,
            remote_restarted,
            we_offered=True,
            answer=sd,
        )
        self._remote_ice_lite = sd.ice_lite
        removed: tuple[Transceiver, ...] = ()
        if final:
            self._current_local = local
            self._current_remote = _Stored("answer", sd)
            self._pending_local = None
            self._pending_remote = None
            self._commit_layout(groups)
            removed = self._remove_stopped()
        else:
            self._pending_remote = _Stored(sdp_type, sd)
        self._set_state(new_state)
        return Applied(
            sdp_type,
            remote=True,
            signaling_states=tuple(self._entered),
            transports=transports,
            sctp=self._sctp_info(groups),
            data_rejected=self._data_rejected(),
            rtp=tuple(rtp),
            direction_changes=tuple(changes),
            added_tracks=tuple(added_tracks),
            removed_tracks=tuple(removed_tracks),
            stream_changes=tuple(stream_changes),
            stopped_transceivers=tuple(stopped),
            removed_transceivers=removed,
            remote_ice_restart=bool(remote_restarted),
            remote_ice_lite=sd.ice_lite,
        )

    @staticmethod
    def _trim_encodings(t: Transceiver, accepted: tuple[str, ...]) -> None:
        """W3C: simulcast the answer did not accept leaves the first encoding only;
        a partial acceptance keeps the accepted rids."""
        if not accepted:
            t.send_encodings = t.send_encodings[:1]
            return
        kept = tuple(e for e in t.send_encodings if e.rid in accepted)
        t.send_encodings = kept or t.send_encodings[:1]

    # -- rollback -----------------------------------------------------------------

    def _rollback(self, side: Side) -> Applied:
        """RFC 8829 §5.7 and W3C §4.4.1.5 "rollback": back to the last stable state."""
        snapshot = self._snapshot
        removed_tracks: list[TrackEvent] = []
        removed: list[Transceiver] = []
        changes: list[StreamChange] = []
        for t in list(self._transceivers):
            if snapshot is not None and t in snapshot.fields:
                before = dict(zip(_SNAPSHOT_FIELDS, snapshot.fields[t], strict=True))
                fired = cast("Direction | None", before["fired_direction"])
                if _has_recv(t.fired_direction) and not _has_recv(fired):
                    removed_tracks.append(TrackEvent(t, t.remote_stream_ids, t.remote_track_id))
                old_streams = cast("tuple[str, ...]", before["remote_stream_ids"])
                if old_streams != t.remote_stream_ids and _has_recv(fired):
                    changes.append(StreamChange(t, t.remote_stream_ids, old_streams))
                for name, value in before.items():
                    if name == "direction" and t.stopping:
                        continue
                    setattr(t, name, value)
                continue
            if t.created_by_remote and not t.added_by_add_track:
                self._transceivers.remove(t)
                removed.append(t)
                if _has_recv(t.fired_direction):
                    removed_tracks.append(TrackEvent(t, t.remote_stream_ids, t.remote_track_id))
                continue
            t.mid = None
            t.mline_index = None
            t.created_by_remote = False
        if snapshot is not None:
            self._payload_types.restore(snapshot.payload_types)
            self._extension_ids.restore(snapshot.extension_ids)
            self._used_mids = set(snapshot.used_mids)
        self._snapshot = None
        self._pending_mlines = None
        self._pending_local = None
        self._pending_remote = None
        self._transport_by_mid = dict(self._negotiated_transport_by_mid)
        self._generation += 1
        self._remote_ice_lite = (
            self._current_remote.sdp.ice_lite if self._current_remote is not None else False
        )
        self._set_state("stable")
        return Applied(
            "rollback",
            remote=side == "remote",
            signaling_states=tuple(self._entered),
            removed_tracks=tuple(removed_tracks),
            stream_changes=tuple(changes),
            removed_transceivers=tuple(removed),
        )

    # -- candidates ---------------------------------------------------------------

    def _transport_id(self, mid: str) -> str:
        """The transport ``mid`` uses as of the last applied description."""
        return self._transport_by_mid.get(mid, mid)

    def add_local_candidate(self, candidate: str, sdp_mid: str) -> None:
        """Put a gathered candidate (``"candidate:..."``, or ``""`` for
        end-of-candidates) into the local description(s), in every m-section that
        shares ``sdp_mid``'s transport (W3C: ``localDescription`` shows them)."""
        self._check_open()
        for stored in (self._pending_local, self._current_local):
            if stored is None:
                continue
            transport_id = self._transport_id(sdp_mid)
            for media in stored.sdp.media:
                if media.mid is None or _is_rejected(media) or media.bundle_only:
                    continue
                if self._transport_id(media.mid) != transport_id:
                    continue
                if not candidate:
                    media.end_of_candidates = True
                    continue
                value = candidate.removeprefix("a=").removeprefix("candidate:")
                if value not in media.candidates:
                    media.add_attribute(Attribute("candidate", value))

    def add_remote_candidate(
        self,
        candidate: str,
        sdp_mid: str | None = None,
        sdp_mline_index: int | None = None,
        username_fragment: str | None = None,
    ) -> RemoteCandidate:
        """W3C ``addIceCandidate`` checks and bookkeeping: find the m-section, add the
        candidate to the remote description, and say which transport it is for.
        ``candidate == ""`` is end-of-candidates."""
        self._check_open()
        stored = self._pending_remote or self._current_remote
        if stored is None:
            raise InvalidStateError("addIceCandidate needs a remote description first")
        if sdp_mid is None and sdp_mline_index is None:
            raise TypeError("a candidate needs sdpMid or sdpMLineIndex")
        sd = stored.sdp
        index: int | None = None
        if sdp_mid == "" and sdp_mline_index is not None and sd.media_by_mid("") is None:
            # Some stacks send an empty mid beside a valid index; libwebrtc then goes by
            # the index, and so do we.
            sdp_mid = None
        if sdp_mid is not None:
            index = next((i for i, m in enumerate(sd.media) if m.mid == sdp_mid), None)
            if index is None:
                raise OperationError(f"no m-section has mid {sdp_mid!r}")
        else:
            assert sdp_mline_index is not None
            if not 0 <= sdp_mline_index < len(sd.media):
                raise OperationError(
                    f"sdpMLineIndex {sdp_mline_index} is out of range (0..{len(sd.media) - 1})"
                )
            index = sdp_mline_index
        media = sd.media[index]
        mid = media.mid
        transport_id = self._transport_id(mid) if mid is not None else str(index)
        tagged = sd.media_by_mid(transport_id) or media
        ufrag, _ = sd.ice_credentials_of(tagged)
        if username_fragment is not None and username_fragment != ufrag:
            known = {sd.ice_credentials_of(m)[0] for m in sd.media}
            if username_fragment not in known:
                raise OperationError(
                    f"usernameFragment {username_fragment!r} matches no remote ICE ufrag"
                )
        if not candidate:
            media.end_of_candidates = True
            return RemoteCandidate("", mid, index, transport_id, username_fragment or ufrag)
        value = candidate.removeprefix("a=").removeprefix("candidate:")
        try:
            attribute = Attribute("candidate", value)
        except SdpParseError as exc:
            raise OperationError(f"the candidate is malformed: {exc}") from None
        if value not in media.candidates:
            media.add_attribute(attribute)
        return RemoteCandidate(
            _candidate_text(value), mid, index, transport_id, username_fragment or ufrag
        )


def _remote_tagged(
    remote: SessionDescription, transport_id: str, mids: Sequence[str]
) -> MediaDescription | None:
    """The remote m-section that describes a transport: the first mid of the remote
    BUNDLE group holding these mids (its tagged section), else the transport's own."""
    for group in remote.bundle_groups:
        if transport_id in group.mids or any(m in group.mids for m in mids):
            for mid in group.mids:
                media = remote.media_by_mid(mid)
                if media is not None and not _is_rejected(media):
                    return media
    media = remote.media_by_mid(transport_id)
    if media is not None and not _is_rejected(media):
        return media
    return next((m for m in remote.media if m.mid in mids and not _is_rejected(m)), None)


def _transport_of(mid: str, groups: Sequence[Sequence[str]]) -> str:
    """The mid whose m-section carries ``mid``'s transport: the first mid of its
    BUNDLE group (the tagged one, RFC 8843 §7), else itself."""
    for group in groups:
        if mid in group:
            return group[0]
    return mid
