"""Frames between tracks and RTP: the send pipe of a sender, the receive pipe of a
receiver.

:class:`SendPipe` reads its sender's track (``await track.recv()``), encodes each
frame with the negotiated codec (video in a worker thread, so the event loop keeps
moving packets) and hands the encoded frames to the sans-IO connection, which
packetizes, protects and sends them. ``replaceTrack`` swaps the track under it
without a gap in sequence numbers or timestamps; a disabled track sends silence or
black, as W3C says; a key-frame request (PLI/FIR) makes the next frame a key frame.

:class:`ReceivePipe` decodes the encoded frames the connection re-assembled and
pushes them to the receiver's track, where ``await track.recv()`` reads them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
from typing import TYPE_CHECKING, Final

from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from rtcpeer.aio.media import MediaStreamTrack
from rtcpeer.media.codecs import (
    AudioDecoder,
    AudioEncoder,
    Decoder,
    Encoded,
    VideoDecoder,
    VideoEncoder,
    decoder_for,
    encoder_for,
)
from rtcpeer.media.payload import payloader_for
from rtcpeer.rtp.jitterbuffer import EncodedFrame
from rtcpeer.rtp.sender import RtpSendStream
from rtcpeer.sdp.jsep import NegotiatedCodec, RtpNegotiation

if TYPE_CHECKING:
    from rtcpeer.aio.peerconnection import RTCPeerConnection
    from rtcpeer.aio.rtp import RTCRtpReceiver, RTCRtpSender

__all__ = ["ReceivePipe", "SendPipe"]

logger = logging.getLogger(__name__)

_MID_URI: Final = "urn:ietf:params:rtp-hdrext:sdes:mid"
_VIDEO_CLOCK: Final = 90000
#: Video starts here and follows the congestion controller's target (TWCC), up to
#: ``maxBitrate`` or the ceiling.
_VIDEO_BITRATE: Final = 1_000_000
_VIDEO_CEILING: Final = 2_500_000
_VIDEO_FLOOR: Final = 50_000
#: The encoders cannot change rate while open (PyAV): a new rate re-opens them, which
#: costs a key frame, so small or frequent changes are not worth it.
_RETARGET_RATIO: Final = 0.2
_RETARGET_INTERVAL: Final = 1.0
_AUDIO_BITRATE: Final = 40_000  # Opus at 32 kbit/s and its RTP/SRTP overhead


def _subtype(codec: NegotiatedCodec) -> str:
    return codec.mime_type.split("/", 1)[-1]


class SendPipe:
    """Encodes a sender's track and sends it on the negotiated stream."""

    def __init__(self, pc: RTCPeerConnection, sender: RTCRtpSender) -> None:
        self._pc = pc
        self._sender = sender
        self.stream: RtpSendStream | None = None
        self.codec: NegotiatedCodec | None = None
        self._encoder: AudioEncoder | VideoEncoder | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._keyframe = True
        self._was_ready = False
        self._t0: float | None = None
        self._last_ts = -1
        self._last_audio_time: float | None = None
        # W3C media-source: what the track gave us.
        self.frames = 0
        self.width: int | None = None
        self.height: int | None = None
        self.total_samples_duration = 0.0
        self.unsupported: str | None = None
        self.kind = sender._transceiver._core.kind
        self.fixed_bitrate = _AUDIO_BITRATE if self.kind == "audio" else 0
        #: What congestion control gives this sender (bits per second).
        self.target_bitrate = _VIDEO_BITRATE
        self._retargeted_at: float | None = None

    # -- negotiation ----------------------------------------------------------------------------

    def update(self, negotiation: RtpNegotiation | None, sending: bool) -> None:
        """After a description was applied: send (with these parameters) or stop."""
        connection = self._pc._connection
        if not sending or negotiation is None or not negotiation.codecs:
            self.stop()
            return
        codec = negotiation.codecs[0]
        encodings = negotiation.send_encodings
        if not encodings:
            self.stop()
            return
        encoding = encodings[0]
        payloader = payloader_for(_subtype(codec), codec.sdp_fmtp_line)
        if payloader is None:
            if self.unsupported != codec.mime_type:
                logger.warning("cannot send %s yet: no media flows on this sender", codec.mime_type)
            self.unsupported = codec.mime_type
            self.stop()
            return
        self.unsupported = None
        mid_ext = next((n for n, uri in negotiation.header_extensions if uri == _MID_URI), None)
        current = self.stream
        if (
            current is None
            or current.ssrc != encoding.ssrc
            or current.payload_type != codec.payload_type
            or self.codec is None
            or self.codec.mime_type != codec.mime_type
        ):
            if current is not None:
                connection.remove_send_stream(current.ssrc)
            rtx = codec.rtx_payload_type if "nack" in codec.rtcp_feedback else None
            self.stream = RtpSendStream(
                ssrc=encoding.ssrc,
                payload_type=codec.payload_type,
                clock_rate=codec.clock_rate,
                payloader=payloader,
                rng=connection.rng,
                kind=negotiation.kind,
                mid=negotiation.mid,
                mid_extension=mid_ext,
                rtx_ssrc=encoding.rtx_ssrc if rtx is not None else None,
                rtx_payload_type=rtx,
            )
            connection.add_send_stream(self.stream)
            self.codec = codec
            self._encoder = encoder_for(_subtype(codec), negotiation.kind, codec.sdp_fmtp_line)
            if isinstance(self._encoder, VideoEncoder):
                self._encoder.bitrate = self._bitrate()
            self._keyframe = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def _bitrate(self) -> int:
        """The encoder's rate: the congestion target within ``maxBitrate``."""
        limit = self._sender._encodings[0].get("maxBitrate") if self._sender._encodings else None
        ceiling = min(_VIDEO_CEILING, limit) if isinstance(limit, int) else _VIDEO_CEILING
        return max(_VIDEO_FLOOR, min(self.target_bitrate, ceiling))

    def parameters_changed(self) -> None:
        """``setParameters``: a new ``maxBitrate`` applies from the next frame."""
        if isinstance(self._encoder, VideoEncoder) and self._encoder.bitrate != self._bitrate():
            self._encoder.bitrate = self._bitrate()
            self._encoder.reset()

    def set_target_bitrate(self, bitrate: int) -> None:
        """Congestion control's share for this sender; the encoder follows when the
        change is large enough (a cut of 30 % or more at once, else once a second)."""
        self.target_bitrate = bitrate
        encoder = self._encoder
        if not isinstance(encoder, VideoEncoder):
            return
        wanted = self._bitrate()
        current = encoder.bitrate
        if abs(wanted - current) <= _RETARGET_RATIO * current:
            return
        now = asyncio.get_running_loop().time()
        recent = self._retargeted_at is not None and now - self._retargeted_at < _RETARGET_INTERVAL
        if recent and wanted > 0.7 * current:
            return
        self._retargeted_at = now
        encoder.bitrate = wanted
        encoder.reset()

    def track_changed(self) -> None:
        """``replaceTrack``: read the new track from the next frame on."""
        self._changed.set()

    def request_keyframe(self) -> None:
        self._keyframe = True

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self.stream is not None:
            self._pc._connection.remove_send_stream(self.stream.ssrc)
            self.stream = None
        self.codec = None
        self._encoder = None

    # -- the loop --------------------------------------------------------------------------------

    async def _next_frame(self, track: MediaStreamTrack) -> AudioFrame | VideoFrame | None:
        """The track's next frame, or None when the track was replaced meanwhile."""
        self._changed.clear()
        receiving = asyncio.ensure_future(track.recv())
        changed = asyncio.ensure_future(self._changed.wait())
        try:
            await asyncio.wait((receiving, changed), return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()
        if not receiving.done():
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receiving
            return None
        return receiving.result()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            track = self._sender.track
            if track is None or track.readyState == "ended":
                self._changed.clear()
                await self._changed.wait()
                continue
            try:
                frame = await self._next_frame(track)
            except NotImplementedError:
                logger.warning("%r has no source (recv() not implemented): nothing sent", track)
                self._changed.clear()
                await self._changed.wait()
                continue
            except Exception as exc:
                # An ended or failing source stops sending until the track changes.
                if track.readyState != "ended":
                    logger.warning("the source of %r failed: %r; sending stops", track, exc)
                if self._sender.track is track:
                    self._changed.clear()
                    await self._changed.wait()
                continue
            if frame is None:
                continue
            self._account(frame)
            await self._send(loop, track, frame)

    def _account(self, frame: AudioFrame | VideoFrame) -> None:
        self.frames += 1
        if isinstance(frame, VideoFrame):
            self.width, self.height = frame.width, frame.height
        elif frame.sample_rate:
            self.total_samples_duration += frame.samples / frame.sample_rate

    async def _send(
        self,
        loop: asyncio.AbstractEventLoop,
        track: MediaStreamTrack,
        frame: AudioFrame | VideoFrame,
    ) -> None:
        connection = self._pc._connection
        stream = self.stream
        encoder = self._encoder
        if stream is None or encoder is None:
            return
        if not connection.media_ready:
            self._was_ready = False
            return
        if not self._was_ready:
            self._was_ready = True
            self._keyframe = True
        if not track.enabled:
            frame = _blank(frame)
        now = loop.time()
        if isinstance(encoder, VideoEncoder):
            if not isinstance(frame, VideoFrame):
                return
            if self._t0 is None:
                self._t0 = now
            ts = max(int((now - self._t0) * _VIDEO_CLOCK), self._last_ts + 1)
            self._last_ts = ts
            keyframe, self._keyframe = self._keyframe, False
            encoded = await loop.run_in_executor(None, encoder.encode, frame, ts, keyframe)
            if self.stream is not stream:
                return  # renegotiated or stopped meanwhile
        else:
            if not isinstance(frame, AudioFrame):
                return
            if self._last_audio_time is not None and now - self._last_audio_time > 0.2:
                # The source paused: the timestamps keep real time (RFC 3550 §5.1).
                encoder.skip(int((now - self._last_audio_time - 0.02) * encoder.clock_rate))
            self._last_audio_time = now
            encoded = encoder.encode(frame)
        self._emit(stream, encoded)

    def _emit(self, stream: RtpSendStream, encoded: list[Encoded]) -> None:
        connection = self._pc._connection
        driver = self._pc._driver
        if driver is None:
            return
        now = driver.now()
        for item in encoded:
            connection.send_frame(now, stream.ssrc, item.data, item.timestamp, item.keyframe)
        driver.service()


def _blank(frame: AudioFrame | VideoFrame) -> AudioFrame | VideoFrame:
    """Silence or black of the same shape (W3C: a disabled track sends these)."""
    if isinstance(frame, VideoFrame):
        black = VideoFrame(frame.width & ~1, frame.height & ~1, "yuv420p")
        for plane, value in zip(black.planes, (16, 128, 128), strict=True):
            plane.update(bytes([value]) * plane.buffer_size)
        black.pts = frame.pts
        black.time_base = frame.time_base
        return black
    silent = AudioFrame(format="s16", layout="mono", samples=frame.samples)
    silent.sample_rate = frame.sample_rate or 48000
    silent.planes[0].update(bytes(silent.planes[0].buffer_size))
    silent.pts = frame.pts
    silent.time_base = frame.time_base or fractions.Fraction(1, silent.sample_rate)
    return silent


class ReceivePipe:
    """Decodes a receiver's encoded frames into its track."""

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        self._receiver = receiver
        self._decoders: dict[int, Decoder | None] = {}
        # W3C inbound-rtp
        self.frames_decoded = 0
        self.key_frames_decoded = 0
        self.width: int | None = None
        self.height: int | None = None
        self.total_samples_received = 0
        self.decode_errors = 0

    def _decoder(self, payload_type: int) -> Decoder | None:
        if payload_type in self._decoders:
            return self._decoders[payload_type]
        negotiated = self._receiver._transceiver._core.negotiated
        decoder: Decoder | None = None
        if negotiated is not None:
            codec = next((c for c in negotiated.codecs if c.payload_type == payload_type), None)
            if codec is not None:
                decoder = decoder_for(_subtype(codec), negotiated.kind)
        self._decoders[payload_type] = decoder
        return decoder

    def handle_frame(self, payload_type: int, frame: EncodedFrame) -> None:
        decoder = self._decoder(payload_type)
        if decoder is None:
            return
        track = self._receiver.track
        if isinstance(decoder, VideoDecoder):
            errors = decoder.errors
            pictures = decoder.decode(frame.data, frame.timestamp, frame.keyframe)
            self.decode_errors += decoder.errors - errors
            if pictures:
                self.frames_decoded += len(pictures)
                if frame.keyframe:
                    self.key_frames_decoded += 1
                self.width, self.height = pictures[-1].width, pictures[-1].height
            for picture in pictures:
                track._push_frame(picture)
        else:
            assert isinstance(decoder, AudioDecoder)
            sounds = decoder.decode(frame.data, frame.timestamp)
            self.frames_decoded += len(sounds)
            self.total_samples_received += sum(f.samples for f in sounds)
            for sound in sounds:
                track._push_frame(sound)
