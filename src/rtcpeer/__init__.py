"""rtcpeer: a WebRTC stack for Python.

The public API mirrors the W3C WebRTC specification (``RTCPeerConnection``,
``RTCDataChannel``...) with the same names and semantics. The protocol layers under
it (ICE, DTLS, SRTP, SCTP, RTP, SDP) are sans-IO: they take bytes and the current time
and hand back bytes, events and deadlines; see DESIGN.md.
"""

from __future__ import annotations

from rtcpeer.aio.certificate import RTCCertificate
from rtcpeer.aio.configuration import RTCConfiguration, RTCIceServer
from rtcpeer.aio.datachannel import MessageEvent, RTCDataChannel, RTCDataChannelEvent, RTCErrorEvent
from rtcpeer.aio.dtmf import RTCDTMFSender, RTCDTMFToneChangeEvent
from rtcpeer.aio.media import MediaStream, MediaStreamTrack, MediaStreamTrackEvent
from rtcpeer.aio.peerconnection import (
    RTCIceCandidate,
    RTCPeerConnection,
    RTCPeerConnectionIceErrorEvent,
    RTCPeerConnectionIceEvent,
    RTCSessionDescription,
)
from rtcpeer.aio.player import MediaPlayer, MediaRecorder
from rtcpeer.aio.rtp import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver, RTCTrackEvent
from rtcpeer.aio.sources import MediaDevices, TestPatternTrack, ToneTrack, mediaDevices
from rtcpeer.aio.stats import RTCStats, RTCStatsReport
from rtcpeer.errors import (
    DOMException,
    InvalidAccessError,
    InvalidCharacterError,
    InvalidModificationError,
    InvalidStateError,
    InvalidSyntaxError,
    NotFoundError,
    NotSupportedError,
    OperationError,
    RTCError,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "DOMException",
    "InvalidAccessError",
    "InvalidCharacterError",
    "InvalidModificationError",
    "InvalidStateError",
    "InvalidSyntaxError",
    "MediaDevices",
    "MediaPlayer",
    "MediaRecorder",
    "MediaStream",
    "MediaStreamTrack",
    "MediaStreamTrackEvent",
    "MessageEvent",
    "NotFoundError",
    "NotSupportedError",
    "OperationError",
    "RTCCertificate",
    "RTCConfiguration",
    "RTCDTMFSender",
    "RTCDTMFToneChangeEvent",
    "RTCDataChannel",
    "RTCDataChannelEvent",
    "RTCError",
    "RTCErrorEvent",
    "RTCIceCandidate",
    "RTCIceServer",
    "RTCPeerConnection",
    "RTCPeerConnectionIceErrorEvent",
    "RTCPeerConnectionIceEvent",
    "RTCRtpReceiver",
    "RTCRtpSender",
    "RTCRtpTransceiver",
    "RTCSessionDescription",
    "RTCStats",
    "RTCStatsReport",
    "RTCTrackEvent",
    "TestPatternTrack",
    "ToneTrack",
    "__version__",
    "mediaDevices",
]
