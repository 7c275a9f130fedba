"""``RTCRtpSender``, ``RTCRtpReceiver``, ``RTCRtpTransceiver`` and ``RTCTrackEvent``
(W3C webrtc-pc §5).

Each transceiver wraps the JSEP session's :class:`~rtcpeer.sdp.jsep.Transceiver`
(mid, directions, msid, encodings, codec preferences, what was negotiated); these
classes give it the browser's API and keep the objects users hold (tracks, streams,
parameters). Offers and answers carry what these objects say, ``track`` events
fire as W3C describes, and media flows through :mod:`rtcpeer.aio.mediapipe`: a
sender encodes and sends its track, a receiver's track yields decoded frames.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rtcpeer.aio.dtmf import RTCDTMFSender
from rtcpeer.aio.media import MediaStream, MediaStreamTrack
from rtcpeer.aio.mediapipe import ReceivePipe, SendPipe
from rtcpeer.errors import InvalidModificationError, InvalidStateError
from rtcpeer.sdp.codecs import RtpCodecCapability, get_capabilities
from rtcpeer.sdp.jsep import RtpNegotiation, Transceiver

if TYPE_CHECKING:
    from rtcpeer.aio.peerconnection import RTCPeerConnection

__all__ = [
    "RTCRtpReceiver",
    "RTCRtpSender",
    "RTCRtpTransceiver",
    "RTCTrackEvent",
    "capabilities",
    "codec_capability",
    "negotiated_codecs",
]

_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
#: Encoding members a user may set (W3C RTCRtpEncodingParameters and extensions).
_ENCODING_KEYS = frozenset(
    {"rid", "active", "maxBitrate", "maxFramerate", "scaleResolutionDownBy", "priority",
     "networkPriority", "scalabilityMode"}
)  # fmt: skip


def capabilities(kind: str) -> dict[str, Any] | None:
    """W3C ``getCapabilities(kind)`` as a dict: ``{"codecs": [...],
    "headerExtensions": [...]}``; ``None`` for a kind other than audio/video."""
    caps = get_capabilities(kind)
    if caps is None:
        return None
    return {
        "codecs": [_codec_dict(c) for c in caps.codecs],
        "headerExtensions": [{"uri": h.uri} for h in caps.header_extensions],
    }


def _codec_dict(codec: RtpCodecCapability) -> dict[str, Any]:
    out: dict[str, Any] = {"mimeType": codec.mime_type, "clockRate": codec.clock_rate}
    if codec.channels is not None:
        out["channels"] = codec.channels
    if codec.sdp_fmtp_line:
        out["sdpFmtpLine"] = codec.sdp_fmtp_line
    return out


def negotiated_codecs(negotiated: RtpNegotiation) -> list[dict[str, Any]]:
    """W3C ``RTCRtpCodecParameters`` of what was negotiated, in answer order."""
    return [
        {
            "payloadType": c.payload_type,
            **_codec_dict(
                RtpCodecCapability(c.mime_type, c.clock_rate, c.channels, c.sdp_fmtp_line)
            ),
        }
        for c in negotiated.codecs
    ]


def _rtp_parameters(negotiated: RtpNegotiation | None) -> dict[str, Any]:
    """The negotiated part of W3C ``RTCRtpParameters`` (empty before an answer)."""
    if negotiated is None:
        return {"headerExtensions": [], "codecs": []}
    return {
        "headerExtensions": [
            {"uri": uri, "id": number, "encrypted": False}
            for number, uri in negotiated.header_extensions
        ],
        "codecs": negotiated_codecs(negotiated),
    }


def codec_capability(codec: Any) -> RtpCodecCapability:
    """An ``RTCRtpCodec`` dict (as ``getCapabilities`` gives) as the JSEP value."""
    if isinstance(codec, RtpCodecCapability):
        return codec
    if not isinstance(codec, Mapping) or "mimeType" not in codec or "clockRate" not in codec:
        raise TypeError("a codec is a dict with 'mimeType' and 'clockRate' (see getCapabilities)")
    return RtpCodecCapability(
        str(codec["mimeType"]),
        int(codec["clockRate"]),
        codec.get("channels"),
        codec.get("sdpFmtpLine"),
    )


@dataclass(frozen=True, slots=True)
class RTCTrackEvent:
    """W3C ``RTCTrackEvent``: a remote track arrived on ``transceiver``."""

    type: str
    receiver: RTCRtpReceiver
    track: MediaStreamTrack
    streams: tuple[MediaStream, ...]
    transceiver: RTCRtpTransceiver
    target: Any = None


class RTCRtpSender:
    """W3C ``RTCRtpSender``: what we send on a transceiver (its ``track``)."""

    def __init__(self, transceiver: RTCRtpTransceiver, track: MediaStreamTrack | None) -> None:
        self._transceiver = transceiver
        self._track = track
        self._pipe = SendPipe(transceiver._pc, self)
        self._dtmf: RTCDTMFSender | None = None
        self._transaction_id: str | None = None
        self._encodings: list[dict[str, Any]] = [
            {"active": e.active, **({"rid": e.rid} if e.rid is not None else {})}
            for e in transceiver._core.send_encodings
        ]

    @property
    def track(self) -> MediaStreamTrack | None:
        return self._track

    @property
    def dtmf(self) -> RTCDTMFSender | None:
        """W3C ``RTCRtpSender.dtmf``: telephone events, for an audio sender."""
        if self._transceiver._core.kind != "audio":
            return None
        if self._dtmf is None:
            self._dtmf = RTCDTMFSender(self)
        return self._dtmf

    @property
    def transport(self) -> Any:
        """The DTLS transport once negotiated (bundled: the connection's), else None."""
        return self._transceiver._pc._dtls_transport_view()

    @staticmethod
    def getCapabilities(kind: str) -> dict[str, Any] | None:
        return capabilities(kind)

    async def replaceTrack(self, track: MediaStreamTrack | None) -> None:
        """Send ``track`` instead, without renegotiation (W3C §5.2 replaceTrack)."""
        transceiver = self._transceiver
        pc = transceiver._pc
        pc._check_not_closed()
        if track is not None and not isinstance(track, MediaStreamTrack):
            raise TypeError("replaceTrack takes a MediaStreamTrack or None")
        if track is not None and track.kind != transceiver._core.kind:
            raise TypeError(
                f"a {track.kind} track cannot replace the track of a {transceiver._core.kind} "
                "transceiver"
            )
        if transceiver._core.stopping:
            raise InvalidStateError("the transceiver is stopped; replaceTrack needs a live one")
        self._set_track(track)

    def _set_track(self, track: MediaStreamTrack | None) -> None:
        self._track = track
        self._pipe.track_changed()

    def setStreams(self, *streams: MediaStream) -> None:
        """The streams the remote ``track`` event will carry (renegotiation needed)."""
        pc = self._transceiver._pc
        pc._check_not_closed()
        pc._jsep.set_stream_ids(self._transceiver._core, [s.id for s in streams])
        pc._update_negotiation_needed()

    def getParameters(self) -> dict[str, Any]:
        """W3C ``RTCRtpSendParameters``: a new ``transactionId`` each call, the
        encodings, and what was negotiated (codecs, header extensions, RTCP)."""
        self._transaction_id = secrets.token_hex(8)
        negotiated = self._transceiver._core.negotiated
        return {
            "transactionId": self._transaction_id,
            "encodings": [dict(e) for e in self._encodings],
            "rtcp": {
                "cname": negotiated.cname if negotiated is not None else "",
                "reducedSize": True,
            },
            **_rtp_parameters(negotiated),
        }

    async def setParameters(self, parameters: Mapping[str, Any]) -> None:
        """W3C ``setParameters``: only the encodings' settable members may change, and
        only with the ``transactionId`` of the last :meth:`getParameters`."""
        pc = self._transceiver._pc
        pc._check_not_closed()
        if self._transceiver._core.stopping:
            raise InvalidStateError("the transceiver is stopped")
        if self._transaction_id is None:
            raise InvalidStateError("call getParameters() first, then modify what it returned")
        if parameters.get("transactionId") != self._transaction_id:
            raise InvalidModificationError(
                "transactionId does not match the last getParameters(); get them again"
            )
        encodings = list(parameters.get("encodings") or ())
        if len(encodings) != len(self._encodings):
            raise InvalidModificationError("the number of encodings cannot change")
        for new, old in zip(encodings, self._encodings, strict=True):
            if new.get("rid") != old.get("rid"):
                raise InvalidModificationError("an encoding's rid cannot change")
            unknown = set(new) - _ENCODING_KEYS
            if unknown:
                raise InvalidModificationError(f"read-only or unknown members: {sorted(unknown)}")
            scale = new.get("scaleResolutionDownBy")
            if scale is not None and (self._transceiver._core.kind != "video" or scale < 1.0):
                raise ValueError(
                    "scaleResolutionDownBy is for video and at least 1.0 (W3C RangeError)"
                )
            bitrate = new.get("maxBitrate")
            if bitrate is not None and (not isinstance(bitrate, int) or bitrate <= 0):
                raise ValueError("maxBitrate is a positive number of bits per second")
        self._encodings = [dict(e) for e in encodings]
        self._transaction_id = None
        self._pipe.parameters_changed()

    async def getStats(self) -> Any:
        """W3C ``RTCRtpSender.getStats()``: this sender's streams and what they
        reference (even without a track)."""
        pc = self._transceiver._pc
        return pc._sender_stats(self, await pc.getStats())


class RTCRtpReceiver:
    """W3C ``RTCRtpReceiver``: what we receive on a transceiver (its ``track``)."""

    def __init__(self, transceiver: RTCRtpTransceiver) -> None:
        self._transceiver = transceiver
        self._track = MediaStreamTrack(
            transceiver._core.kind, label=f"remote {transceiver._core.kind}"
        )
        self._track._muted = True  # W3C: muted until media arrives
        self._track._make_remote()
        self._pipe = ReceivePipe(self)

    @property
    def track(self) -> MediaStreamTrack:
        return self._track

    @property
    def transport(self) -> Any:
        return self._transceiver._pc._dtls_transport_view()

    @staticmethod
    def getCapabilities(kind: str) -> dict[str, Any] | None:
        return capabilities(kind)

    def getParameters(self) -> dict[str, Any]:
        return {
            "rtcp": {"reducedSize": True},
            **_rtp_parameters(self._transceiver._core.negotiated),
        }

    def _wall_ms(self, arrival: float) -> float:
        pc = self._transceiver._pc
        return time.time() * 1000.0 - (pc._driver_now() - arrival) * 1000.0

    def getSynchronizationSources(self) -> list[dict[str, Any]]:
        """W3C ``RTCRtpSynchronizationSource`` for each SSRC this receiver got a
        packet from in the last 10 s: ``timestamp`` (ms, wall clock), ``source``,
        ``rtpTimestamp`` and, for audio with RFC 6464, ``audioLevel`` (0..1)."""
        pc = self._transceiver._pc
        now = pc._driver_now()
        out = []
        for ssrc, stream in pc._connection.rtp.streams.items():
            owner = pc._stream_owner.get(ssrc)
            if owner is not self._transceiver or now - stream.last_arrival > 10.0:
                continue
            source: dict[str, Any] = {
                "timestamp": self._wall_ms(stream.last_arrival),
                "source": ssrc,
                "rtpTimestamp": stream.last_timestamp_seen,
            }
            if stream.audio_level is not None:
                # RFC 6464 -dBov to the W3C linear scale (0 silence, 1 loudest).
                source["audioLevel"] = (
                    0.0 if stream.audio_level == 127 else (10 ** (-stream.audio_level / 20))
                )
            out.append(source)
        return sorted(out, key=lambda s: -s["timestamp"])

    def getContributingSources(self) -> list[dict[str, Any]]:
        """W3C ``RTCRtpContributingSource`` for each CSRC seen in the last 10 s (a
        mixer's sources; a direct peer has none)."""
        pc = self._transceiver._pc
        now = pc._driver_now()
        rtp = pc._connection.rtp
        return [
            {"timestamp": self._wall_ms(arrival), "source": csrc, "rtpTimestamp": ts}
            for csrc, (arrival, ts) in rtp.contributing.items()
            if now - arrival <= 10.0
        ]

    async def getStats(self) -> Any:
        """W3C ``RTCRtpReceiver.getStats()``: this receiver's streams and what they
        reference."""
        pc = self._transceiver._pc
        return pc._receiver_stats(self, await pc.getStats())


class RTCRtpTransceiver:
    """W3C ``RTCRtpTransceiver``: a sender and a receiver sharing one m-section."""

    def __init__(
        self, pc: RTCPeerConnection, core: Transceiver, track: MediaStreamTrack | None = None
    ) -> None:
        self._pc = pc
        self._core = core
        self._sender = RTCRtpSender(self, track)
        self._receiver = RTCRtpReceiver(self)
        #: The remote streams the receiver's track belongs to (W3C [[AssociatedRemoteMediaStreams]]).
        self._remote_streams: list[MediaStream] = []

        #: W3C addTrack: [[CurrentDirection]] has been sendrecv or sendonly at some point.
        self._ever_sent = False

    @property
    def _has_sent(self) -> bool:
        return self._ever_sent or self._core.current_direction in ("sendrecv", "sendonly")

    @property
    def mid(self) -> str | None:
        return self._core.mid

    @property
    def sender(self) -> RTCRtpSender:
        return self._sender

    @property
    def receiver(self) -> RTCRtpReceiver:
        return self._receiver

    @property
    def direction(self) -> str:
        return self._core.direction

    @direction.setter
    def direction(self, value: str) -> None:
        self._pc._check_not_closed()
        if value not in _DIRECTIONS:
            raise TypeError(f"direction is one of {', '.join(_DIRECTIONS)}, got {value!r}")
        if self._core.stopping:
            raise InvalidStateError("the transceiver is stopped; its direction cannot change")
        if value == self._core.direction:
            return
        self._pc._jsep.set_direction(self._core, value)  # type: ignore[arg-type]
        self._pc._update_negotiation_needed()

    @property
    def currentDirection(self) -> str | None:
        return self._core.current_direction

    def stop(self) -> None:
        """Stop sending and receiving now; the m-section is rejected in the next
        negotiation (W3C §5.4 stop)."""
        self._pc._check_not_closed()
        if self._core.stopping:
            return
        self._pc._jsep.stop_transceiver(self._core)
        self._sender._pipe.stop(final=True)
        self._receiver._track._end()
        self._pc._update_negotiation_needed()

    def setCodecPreferences(self, codecs: Sequence[Any]) -> None:
        """Order (and restrict) the codecs offered/answered; ``[]`` restores the
        default. Entries come from ``RTCRtpReceiver.getCapabilities(kind)``."""
        self._pc._jsep.set_codec_preferences(self._core, [codec_capability(c) for c in codecs])

    def _associate(self, streams: Iterable[MediaStream]) -> None:
        new = list(streams)
        track = self._receiver._track
        for stream in self._remote_streams:
            if stream not in new:
                stream._remove_remote(track)
        for stream in new:
            stream._add_remote(track)
        self._remote_streams = new

    def __repr__(self) -> str:
        return f"<RTCRtpTransceiver {self._core.kind} mid={self.mid} {self.direction}>"
