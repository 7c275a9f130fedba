"""SDP for WebRTC: the RFC 8866 model, parser and serializer, with typed access to
the attributes WebRTC uses (RFC 8829 JSEP builds on it).

>>> from rtcpeer.sdp import parse
>>> description = parse(offer_text)                     # doctest: +SKIP
>>> description.bundle_groups[0].mids                   # doctest: +SKIP
('0', '1', '2')
>>> description.media[0].rtpmap(111)                    # doctest: +SKIP
Rtpmap(payload_type=111, encoding_name='opus', clock_rate=48000, channels=2)
>>> description.serialize() == offer_text               # doctest: +SKIP
True

- :mod:`rtcpeer.sdp.description`: :class:`SessionDescription`, :class:`MediaDescription`,
  the fixed lines (:class:`Origin`, :class:`Connection`, :class:`Bandwidth`,
  :class:`Timing`), :class:`Codec` and :func:`parse`. What round-trips byte for byte
  and what is normalized is documented there.
- :mod:`rtcpeer.sdp.attributes`: :class:`Attribute` (one ``a=`` line, raw text kept)
  and the typed values (``Rtpmap``, ``Fmtp``, ``RtcpFb``, ``Extmap``, ``Fingerprint``,
  ``Group``, ``Msid``, ``MsidSemantic``, ``Ssrc``, ``SsrcGroup``, ``Rid``,
  ``Simulcast``, ``Rtcp``, ``Sctpmap``).
- :mod:`rtcpeer.sdp.errors`: :class:`SdpParseError`, the only error parsing raises,
  carrying ``line_number`` and ``line``.
- :mod:`rtcpeer.sdp.jsep`: :class:`JsepSession`, JSEP (RFC 8829) offer/answer and the
  W3C signaling rules as a pure state machine; :class:`Applied` says what changed.
- :mod:`rtcpeer.sdp.codecs`: codec/header-extension capabilities, H.264/VP9/AV1
  matching, :func:`get_capabilities` (W3C ``getCapabilities``).

ICE candidates stay raw strings here (``MediaDescription.candidates``); their grammar
is :mod:`rtcpeer.ice.candidate`.
"""

from rtcpeer.sdp.attributes import (
    DIRECTIONS,
    SETUP_ROLES,
    Attribute,
    Direction,
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
    SetupRole,
    Simulcast,
    SimulcastStream,
    Ssrc,
    SsrcGroup,
    format_parameters,
    parse_parameters,
)
from rtcpeer.sdp.codecs import (
    CodecSpec,
    RtpCapabilities,
    RtpCodecCapability,
    RtpHeaderExtensionCapability,
    get_capabilities,
)
from rtcpeer.sdp.description import (
    Bandwidth,
    Codec,
    Connection,
    MediaDescription,
    Origin,
    SessionDescription,
    Timing,
    parse,
)
from rtcpeer.sdp.errors import SdpParseError
from rtcpeer.sdp.jsep import (
    Applied,
    Description,
    JsepSession,
    SendEncoding,
    Transceiver,
    TransportInfo,
)

__all__ = [
    "DIRECTIONS",
    "SETUP_ROLES",
    "Applied",
    "Attribute",
    "Bandwidth",
    "Codec",
    "CodecSpec",
    "Connection",
    "Description",
    "Direction",
    "Extmap",
    "Fingerprint",
    "Fmtp",
    "Group",
    "JsepSession",
    "MediaDescription",
    "Msid",
    "MsidSemantic",
    "Origin",
    "Rid",
    "Rtcp",
    "RtcpFb",
    "RtpCapabilities",
    "RtpCodecCapability",
    "RtpHeaderExtensionCapability",
    "Rtpmap",
    "Sctpmap",
    "SdpParseError",
    "SendEncoding",
    "SessionDescription",
    "SetupRole",
    "Simulcast",
    "SimulcastStream",
    "Ssrc",
    "SsrcGroup",
    "Timing",
    "Transceiver",
    "TransportInfo",
    "format_parameters",
    "get_capabilities",
    "parse",
    "parse_parameters",
]
