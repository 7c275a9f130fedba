"""RTP codec and header-extension capabilities, and the codec matching JSEP needs.

What rtcpeer can send and receive, as SDP would describe it (:class:`CodecSpec`:
name, clock rate, channels, our ``fmtp``, our ``rtcp-fb`` values and the payload
type we offer it with), the W3C views of the same data
(:func:`get_capabilities` for ``RTCRtpSender/Receiver.getCapabilities``), and the
rules that decide whether an offered payload type is "the same codec" as one of
ours (:func:`match_codec`) and which ``fmtp`` an answer carries
(:func:`answer_fmtp`):

- H.264 (RFC 6184 §8.1): same profile (decoded from ``profile-level-id``, so
  ``42e01f`` and ``4d801f``... are both Constrained Baseline) and the same
  ``packetization-mode``; the answer's level follows ``level-asymmetry-allowed``
  (§8.2.2).
- VP9 (RFC 9628 §6): same ``profile-id`` (default 0).
- AV1 (AV1 RTP spec §7.2): same ``profile`` (default 0).
- Opus (RFC 7587 §7): any parameters are acceptable; we answer with ours.
- RTX (RFC 4588 §8.6) is matched through its ``apt``; RED (RFC 2198) and ULPFEC
  (RFC 5109) by name.

Payload types follow Chromium's numbering so descriptions look familiar to peers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from rtcpeer.sdp.attributes import format_parameters, parse_parameters
from rtcpeer.sdp.description import Codec

__all__ = [
    "AUDIO_CODECS",
    "AUDIO_RED",
    "FEC_NAMES",
    "HEADER_EXTENSIONS",
    "VIDEO_CODECS",
    "VIDEO_FIRST_EXTENSION_IDS",
    "VIDEO_RED",
    "VIDEO_RTX",
    "VIDEO_ULPFEC",
    "CodecSpec",
    "H264Profile",
    "HeaderExtensionSpec",
    "MediaKind",
    "RtpCapabilities",
    "RtpCodecCapability",
    "RtpHeaderExtensionCapability",
    "answer_fmtp",
    "codec_key",
    "codecs_for",
    "get_capabilities",
    "h264_level_of",
    "h264_profile_of",
    "header_extensions_for",
    "match_codec",
]

MediaKind = Literal["audio", "video"]

# Codecs that repair or wrap another one: never a media codec on their own.
FEC_NAMES = frozenset({"rtx", "red", "ulpfec", "flexfec-03", "cn"})

_VIDEO_FEEDBACK = ("goog-remb", "transport-cc", "ccm fir", "nack", "nack pli")


@dataclass(frozen=True, slots=True)
class CodecSpec:
    """One codec rtcpeer supports, in SDP terms.

    ``fmtp`` is our parameter text (what we write in offers and, after
    :func:`answer_fmtp`, in answers); ``feedback`` our ``rtcp-fb`` values;
    ``payload_type`` the number we offer it with unless negotiation already bound
    another (JSEP keeps negotiated numbers, RFC 8829 §5.2.2). An ``rtx`` spec has
    no fmtp: one RTX payload type is offered per primary video codec.
    """

    kind: MediaKind
    name: str
    clock_rate: int
    channels: int | None = None
    fmtp: str | None = None
    feedback: tuple[str, ...] = ()
    payload_type: int = 96

    @property
    def mime_type(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def is_media(self) -> bool:
        """A codec that carries media itself (not RTX, RED, FEC or comfort noise)."""
        return self.name.lower() not in FEC_NAMES

    @property
    def parameters(self) -> dict[str, str | None]:
        return {} if self.fmtp is None else parse_parameters(self.fmtp)

    def capability(self) -> RtpCodecCapability:
        return RtpCodecCapability(self.mime_type, self.clock_rate, self.channels, self.fmtp)

    def codec(self, payload_type: int | None = None, fmtp: str | None = None) -> Codec:
        """The SDP :class:`Codec` for this spec (``fmtp`` overrides ours)."""
        return Codec(
            self.payload_type if payload_type is None else payload_type,
            self.name,
            self.clock_rate,
            self.channels,
            self.fmtp if fmtp is None else fmtp,
            self.feedback,
        )


def _h264(pt: int, profile_level_id: str, mode: int) -> CodecSpec:
    fmtp = (
        f"level-asymmetry-allowed=1;packetization-mode={mode};profile-level-id={profile_level_id}"
    )
    return CodecSpec("video", "H264", 90000, None, fmtp, _VIDEO_FEEDBACK, pt)


# Preference order: what an offer lists first is preferred (RFC 3264 §5.1).
AUDIO_CODECS: tuple[CodecSpec, ...] = (
    CodecSpec("audio", "opus", 48000, 2, "minptime=10;useinbandfec=1", ("transport-cc",), 111),
    CodecSpec("audio", "G722", 8000, None, None, (), 9),
    CodecSpec("audio", "PCMU", 8000, None, None, (), 0),
    CodecSpec("audio", "PCMA", 8000, None, None, (), 8),
    CodecSpec("audio", "telephone-event", 48000, None, None, (), 110),
    CodecSpec("audio", "telephone-event", 8000, None, None, (), 126),
)

VIDEO_CODECS: tuple[CodecSpec, ...] = (
    CodecSpec("video", "VP8", 90000, None, None, _VIDEO_FEEDBACK, 96),
    CodecSpec("video", "VP9", 90000, None, "profile-id=0", _VIDEO_FEEDBACK, 98),
    CodecSpec("video", "VP9", 90000, None, "profile-id=2", _VIDEO_FEEDBACK, 100),
    _h264(102, "42001f", 1),
    _h264(104, "42001f", 0),
    _h264(108, "42e01f", 1),
    _h264(114, "42e01f", 0),
    _h264(116, "4d001f", 1),
    _h264(39, "4d001f", 0),
    _h264(123, "640c1f", 1),
    _h264(125, "640c1f", 0),
    CodecSpec("video", "AV1", 90000, None, "level-idx=5;profile=0;tier=0", _VIDEO_FEEDBACK, 45),
)

# The generic RTX entry (W3C lists "video/rtx" once); one RTX payload type per
# primary codec is derived from it when offering.
VIDEO_RTX = CodecSpec("video", "rtx", 90000, None, None, (), 97)

# Optional redundancy codecs: not offered by default, add them to a session's codec
# list to offer/accept them.
AUDIO_RED = CodecSpec("audio", "red", 48000, 2, None, (), 63)
VIDEO_RED = CodecSpec("video", "red", 90000, None, None, (), 118)
VIDEO_ULPFEC = CodecSpec("video", "ulpfec", 90000, None, None, (), 120)

# The RTX payload types Chromium pairs with each primary (primary PT -> RTX PT).
_RTX_PAYLOAD_TYPES: dict[int, int] = {
    96: 97,
    98: 99,
    100: 101,
    102: 103,
    104: 107,
    108: 109,
    114: 115,
    116: 117,
    39: 40,
    123: 122,
    125: 124,
    45: 46,
    118: 119,
}


def rtx_payload_type_for(primary_payload_type: int) -> int | None:
    """Chromium's RTX number for a primary payload type, if it has one."""
    return _RTX_PAYLOAD_TYPES.get(primary_payload_type)


def codecs_for(kind: str) -> tuple[CodecSpec, ...]:
    """The default codec list of a kind, RTX included for video (last)."""
    if kind == "audio":
        return AUDIO_CODECS
    if kind == "video":
        return (*VIDEO_CODECS, VIDEO_RTX)
    return ()


# -- header extensions ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeaderExtensionSpec:
    """An RTP header extension (RFC 8285) we negotiate, with the id we offer it at.

    One id per URI for the whole session: bundled m-sections must not map an id to
    two URIs (RFC 8843 §9.1).
    """

    uri: str
    id: int
    kinds: tuple[MediaKind, ...]


#: The header extensions the media path reads or writes, by URI.
AUDIO_LEVEL_URI: Final = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
TRANSPORT_CC_URI: Final = (
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
)
MID_URI: Final = "urn:ietf:params:rtp-hdrext:sdes:mid"
RID_URI: Final = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
REPAIRED_RID_URI: Final = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"

#: Extension ids Chromium (156) gives when the first RTP section of a session is
#: video with no audio beside it: its video list numbered from 1 (toffset 1,
#: abs-send-time 2, video-orientation 3, transport-cc 4, playout-delay 5,
#: video-content-type 6, video-timing 7, color-space 8, mid 9, rid 10, repaired-rid
#: 11). With audio it uses the fixed ids of :data:`HEADER_EXTENSIONS`. Offering the
#: same numbers matters in perfect negotiation: a Chromium that rolls back its own
#: offer keeps the ids it chose there and refuses an offer that reassigns one.
#: (tests/interop checks this table against the running Chromium.)
VIDEO_FIRST_EXTENSION_IDS: Final[dict[str, int]] = {
    "urn:ietf:params:rtp-hdrext:toffset": 1,
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time": 2,
    "urn:3gpp:video-orientation": 3,
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01": 4,
    "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay": 5,
    "http://www.webrtc.org/experiments/rtp-hdrext/video-content-type": 6,
    "http://www.webrtc.org/experiments/rtp-hdrext/video-timing": 7,
    "http://www.webrtc.org/experiments/rtp-hdrext/color-space": 8,
    "urn:ietf:params:rtp-hdrext:sdes:mid": 9,
    "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id": 10,
    "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id": 11,
}

HEADER_EXTENSIONS: tuple[HeaderExtensionSpec, ...] = (
    HeaderExtensionSpec(AUDIO_LEVEL_URI, 1, ("audio",)),
    HeaderExtensionSpec(
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", 2, ("audio", "video")
    ),
    HeaderExtensionSpec(TRANSPORT_CC_URI, 3, ("audio", "video")),
    HeaderExtensionSpec(MID_URI, 4, ("audio", "video")),
    HeaderExtensionSpec(
        "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay", 5, ("video",)
    ),
    HeaderExtensionSpec(RID_URI, 10, ("video",)),
    HeaderExtensionSpec(REPAIRED_RID_URI, 11, ("video",)),
    HeaderExtensionSpec("urn:3gpp:video-orientation", 13, ("video",)),
)


def header_extensions_for(kind: str) -> tuple[HeaderExtensionSpec, ...]:
    return tuple(h for h in HEADER_EXTENSIONS if kind in h.kinds)


# -- W3C capability views ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RtpCodecCapability:
    """W3C ``RTCRtpCodec`` (mimeType, clockRate, channels, sdpFmtpLine)."""

    mime_type: str
    clock_rate: int
    channels: int | None = None
    sdp_fmtp_line: str | None = None

    @property
    def kind(self) -> str:
        return self.mime_type.partition("/")[0].lower()

    @property
    def name(self) -> str:
        return self.mime_type.partition("/")[2]

    def matches(self, other: RtpCodecCapability) -> bool:
        """W3C "codec dictionary match": same MIME type (case-insensitive), clock
        rate, channels and fmtp parameters (compared as parameter sets; ``apt`` of
        RTX is ignored because it names a payload type, not a capability)."""
        if self.mime_type.lower() != other.mime_type.lower():
            return False
        if self.clock_rate != other.clock_rate:
            return False
        if (self.channels or 1) != (other.channels or 1):
            return False
        mine = parse_parameters(self.sdp_fmtp_line or "")
        theirs = parse_parameters(other.sdp_fmtp_line or "")
        if self.name.lower() == "rtx":
            mine.pop("apt", None)
            theirs.pop("apt", None)
        return mine == theirs


@dataclass(frozen=True, slots=True)
class RtpHeaderExtensionCapability:
    """W3C ``RTCRtpHeaderExtensionCapability``."""

    uri: str


@dataclass(frozen=True, slots=True)
class RtpCapabilities:
    """W3C ``RTCRtpCapabilities``."""

    codecs: tuple[RtpCodecCapability, ...] = ()
    header_extensions: tuple[RtpHeaderExtensionCapability, ...] = field(default=())


def get_capabilities(
    kind: str, codecs: Sequence[CodecSpec] | None = None
) -> RtpCapabilities | None:
    """``RTCRtpSender.getCapabilities(kind)`` / ``RTCRtpReceiver.getCapabilities(kind)``:
    ``None`` for a kind other than ``"audio"``/``"video"`` (as W3C returns null)."""
    if kind not in ("audio", "video"):
        return None
    specs = codecs_for(kind) if codecs is None else [c for c in codecs if c.kind == kind]
    return RtpCapabilities(
        tuple(c.capability() for c in specs),
        tuple(RtpHeaderExtensionCapability(h.uri) for h in header_extensions_for(kind)),
    )


# -- H.264 profile-level-id (RFC 6184 §8.1) ------------------------------------------

H264Profile = Literal[
    "constrained-baseline",
    "baseline",
    "main",
    "extended",
    "high",
    "constrained-high",
    "high-10",
    "high-422",
    "predictive-high-444",
]

# (profile_idc, mask over profile-iop, expected bits) -> profile. The iop bits are
# constraint_set0..5 (MSB first); RFC 6184 Table 5 and H.264 §A.2 define which
# combinations name which profile.
_H264_PROFILES: tuple[tuple[int, int, int, H264Profile], ...] = (
    (0x42, 0x4F, 0x40, "constrained-baseline"),
    (0x4D, 0x8F, 0x80, "constrained-baseline"),
    (0x58, 0xCF, 0xC0, "constrained-baseline"),
    (0x42, 0x4F, 0x00, "baseline"),
    (0x58, 0xCF, 0x80, "baseline"),
    (0x4D, 0xAF, 0x00, "main"),
    (0x58, 0xCF, 0x00, "extended"),
    (0x64, 0xFF, 0x00, "high"),
    (0x64, 0xFF, 0x0C, "constrained-high"),
    (0x6E, 0xFF, 0x00, "high-10"),
    (0x7A, 0xFF, 0x00, "high-422"),
    (0xF4, 0xFF, 0x00, "predictive-high-444"),
)

# RFC 6184 §8.1: without profile-level-id, Baseline level 1 is meant.
_H264_DEFAULT_PROFILE_LEVEL_ID = "42000a"
_HEX = frozenset("0123456789abcdefABCDEF")

# Level 1b sorts between 1 (10) and 1.1 (11); it is written as level_idc 11 with
# constraint_set3 in Baseline/Main/Extended, and as level_idc 9 elsewhere.
_LEVEL_1B = 10.5


def _plid_bytes(profile_level_id: str | None) -> tuple[int, int, int] | None:
    text = _H264_DEFAULT_PROFILE_LEVEL_ID if profile_level_id is None else profile_level_id
    if len(text) != 6 or not all(c in _HEX for c in text):
        return None
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def h264_profile_of(profile_level_id: str | None) -> H264Profile | None:
    """The profile a ``profile-level-id`` names (``None`` if malformed/unknown)."""
    parsed = _plid_bytes(profile_level_id)
    if parsed is None:
        return None
    idc, iop, _ = parsed
    for profile_idc, mask, bits, profile in _H264_PROFILES:
        if idc == profile_idc and iop & mask == bits:
            return profile
    return None


def h264_level_of(profile_level_id: str | None) -> float | None:
    """The level as a sortable number (``3.1`` → ``31``; 1b → ``10.5``)."""
    parsed = _plid_bytes(profile_level_id)
    if parsed is None:
        return None
    idc, iop, level = parsed
    if level == 11 and iop & 0x10 and idc in (0x42, 0x4D, 0x58):
        return _LEVEL_1B
    if level == 9:
        return _LEVEL_1B
    return float(level)


def _h264_with_level(profile_level_id: str, level: float) -> str:
    parsed = _plid_bytes(profile_level_id)
    assert parsed is not None
    idc, iop, _ = parsed
    if level == _LEVEL_1B:
        if idc in (0x42, 0x4D, 0x58):
            return f"{idc:02x}{iop | 0x10:02x}0b"
        return f"{idc:02x}{iop:02x}09"
    if idc in (0x42, 0x4D, 0x58):
        iop &= ~0x10  # constraint_set3 at level 1.1 would mean 1b
    return f"{idc:02x}{iop:02x}{int(level):02x}"


# -- matching ------------------------------------------------------------------------


def _same_channels(offered: Codec, ours: CodecSpec) -> bool:
    if ours.kind != "audio":
        return True
    if ours.name.lower() == "opus" and offered.channels is None:
        # RFC 7587 §7 requires "opus/48000/2", but some stacks write "OPUS/48000";
        # every browser takes it as Opus, and so do we (the answer says /2).
        return True
    return (offered.channels or 1) == (ours.channels or 1)


def _int_param(params: Mapping[str, str | None], name: str, default: int) -> int | None:
    value = params.get(name)
    if value is None:
        return default if name not in params else None
    value = value.strip()
    if not value.isascii() or not value.isdigit():
        return None
    return int(value)


def match_codec(offered: Codec, ours: CodecSpec) -> bool:
    """Whether an offered payload type is the codec ``ours`` (RFC 8829 §5.3.1 "codec
    is supported"): name (case-insensitive), clock rate, channels, and the format
    parameters that change the bitstream (see the module docstring). RTX is not
    matched here (its ``apt`` decides, see JSEP)."""
    if offered.name.lower() != ours.name.lower() or offered.clock_rate != ours.clock_rate:
        return False
    if not _same_channels(offered, ours):
        return False
    name = ours.name.lower()
    theirs = offered.parameters
    mine = ours.parameters
    if name == "h264":
        if h264_profile_of(theirs.get("profile-level-id")) is None:
            return False
        if h264_profile_of(theirs.get("profile-level-id")) != h264_profile_of(
            mine.get("profile-level-id")
        ):
            return False
        mode = _int_param(theirs, "packetization-mode", 0)
        return mode is not None and mode == _int_param(mine, "packetization-mode", 0)
    if name == "vp9":
        profile = _int_param(theirs, "profile-id", 0)
        return profile is not None and profile == _int_param(mine, "profile-id", 0)
    if name == "av1":
        profile = _int_param(theirs, "profile", 0)
        return profile is not None and profile == _int_param(mine, "profile", 0)
    return True


def answer_fmtp(offered: Codec, ours: CodecSpec) -> str | None:
    """The ``fmtp`` text an answer writes for ``offered`` matched to ``ours``.

    H.264: our parameters with the offered profile and the level RFC 6184 §8.2.2
    allows: our receive level when both sides allow level asymmetry, otherwise
    the lower of both. RED keeps the offered redundancy list (it names payload
    types). Everything else: our own parameters.
    """
    name = ours.name.lower()
    if name == "red" and offered.fmtp is not None:
        return offered.fmtp
    if name != "h264":
        return ours.fmtp
    theirs = offered.parameters
    mine = ours.parameters
    offered_plid = theirs.get("profile-level-id") or _H264_DEFAULT_PROFILE_LEVEL_ID
    our_plid = mine.get("profile-level-id") or _H264_DEFAULT_PROFILE_LEVEL_ID
    our_level = h264_level_of(our_plid)
    offered_level = h264_level_of(offered_plid)
    assert our_level is not None and offered_level is not None
    asymmetric = theirs.get("level-asymmetry-allowed") == "1" and (
        mine.get("level-asymmetry-allowed") == "1"
    )
    level = our_level if asymmetric else min(our_level, offered_level)
    out: dict[str, str | int | None] = dict(mine)
    out["profile-level-id"] = _h264_with_level(offered_plid, level)
    return format_parameters(out)


def codec_key(name: str, clock_rate: int, channels: int | None, fmtp: str | None) -> str:
    """A string naming "this codec" for payload-type bookkeeping: equal keys are the
    same codec by :func:`match_codec` (the H.264 level is left out on purpose)."""
    lname = name.lower()
    params = {} if fmtp is None else parse_parameters(fmtp)
    base = f"{lname}/{clock_rate}" + (f"/{channels}" if channels and channels != 1 else "")
    if lname == "h264":
        profile = h264_profile_of(params.get("profile-level-id"))
        return f"{base};{profile};pm={params.get('packetization-mode') or '0'}"
    if lname == "vp9":
        return f"{base};profile-id={params.get('profile-id') or '0'}"
    if lname == "av1":
        return f"{base};profile={params.get('profile') or '0'}"
    return base


def spec_key(spec: CodecSpec) -> str:
    return codec_key(spec.name, spec.clock_rate, spec.channels, spec.fmtp)


def find_spec(offered: Codec, specs: Iterable[CodecSpec]) -> CodecSpec | None:
    """The first of ``specs`` that ``offered`` matches (RTX never matches here)."""
    if offered.name.lower() == "rtx":
        return None
    return next((s for s in specs if match_codec(offered, s)), None)
