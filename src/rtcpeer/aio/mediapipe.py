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

import array
import asyncio
import contextlib
import fractions
import logging
import os
from typing import TYPE_CHECKING, Any, Final

import av
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from rtcpeer.aio.media import MediaStreamTrack
from rtcpeer.media.codecs import (
    VIDEO_CLOCK,
    AudioDecoder,
    AudioEncoder,
    Decoder,
    Encoded,
    VideoDecoder,
    VideoEncoder,
    decoder_for,
    encodable,
    encoder_for,
    rms,
)
from rtcpeer.media.payload import payloader_for
from rtcpeer.rtp.jitterbuffer import EncodedFrame
from rtcpeer.rtp.sender import RtpSendStream
from rtcpeer.sdp.codecs import MID_URI, REPAIRED_RID_URI, RID_URI
from rtcpeer.sdp.jsep import NegotiatedCodec, RtpNegotiation

if TYPE_CHECKING:
    from rtcpeer.aio.peerconnection import RTCPeerConnection
    from rtcpeer.aio.rtp import RTCRtpReceiver, RTCRtpSender

__all__ = ["ReceivePipe", "SendPipe"]

logger = logging.getLogger(__name__)
# SVT-AV1 prints its banner, settings and teardown notes to stderr unless told not to.
os.environ.setdefault("SVT_LOG", "0")

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


class AudioEnergy:
    """W3C audio level stats: the last frame's level (linear RMS, 1.0 = 0 dBov) and
    the running sums ``totalAudioEnergy`` (level² × seconds) and
    ``totalSamplesDuration`` (seconds)."""

    __slots__ = ("level", "total_duration", "total_energy")

    def __init__(self) -> None:
        self.level: float | None = None
        self.total_energy = 0.0
        self.total_duration = 0.0

    def add(self, frame: AudioFrame) -> None:
        kind = {"s16": "h", "s16p": "h", "flt": "f", "fltp": "f"}.get(frame.format.name)
        if kind is None or not frame.sample_rate or not frame.samples:
            return
        count = frame.samples * (len(frame.layout.channels) if not frame.format.is_planar else 1)
        samples = array.array(kind, bytes(frame.planes[0]))[:count]
        if not samples:
            return
        duration = frame.samples / frame.sample_rate
        self.level = min(1.0, rms(samples, 32768.0 if kind == "h" else 1.0))
        self.total_energy += self.level * self.level * duration
        self.total_duration += duration


def _subtype(codec: NegotiatedCodec) -> str:
    return codec.mime_type.split("/", 1)[-1]


class _Layer:
    """One RTP stream of a sender: an encoding (``rid`` when simulcast), its
    stream, its encoder and its share of the bitrate."""

    __slots__ = ("encoder", "keyframe", "retargeted_at", "rid", "scale", "share", "stream")

    def __init__(
        self,
        stream: RtpSendStream,
        encoder: AudioEncoder | VideoEncoder | None,
        rid: str | None,
        scale: float,
    ) -> None:
        self.stream = stream
        self.encoder = encoder
        self.rid = rid
        self.scale = scale
        self.keyframe = True
        self.retargeted_at: float | None = None
        self.share = 1.0


class SendPipe:
    """Encodes a sender's track and sends it on the negotiated stream(s): one, or
    one per simulcast encoding (RFC 8853), each scaled by its
    ``scaleResolutionDownBy`` and tagged with its ``rid`` (RFC 8852)."""

    def __init__(self, pc: RTCPeerConnection, sender: RTCRtpSender) -> None:
        self._pc = pc
        self._sender = sender
        self.layers: list[_Layer] = []
        self.codec: NegotiatedCodec | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._was_ready = False
        self._t0: float | None = None
        self._last_ts = -1
        self._last_audio_time: float | None = None
        self._send_failed = False
        self._audio_samples = 0
        #: Streams this sender used, by SSRC: a stream that comes back (hold and
        #: resume, a codec change) continues its sequence numbers and timestamps.
        self._retired: dict[int, RtpSendStream] = {}
        # W3C media-source: what the track gave us.
        self.frames = 0
        self.width: int | None = None
        self.height: int | None = None
        self.total_samples_duration = 0.0
        self.energy = AudioEnergy()
        self.unsupported: str | None = None
        self.kind = sender._transceiver._core.kind
        self.fixed_bitrate = _AUDIO_BITRATE if self.kind == "audio" else 0
        #: What congestion control gives this sender (bits per second).
        self.target_bitrate = _VIDEO_BITRATE

    @property
    def stream(self) -> RtpSendStream | None:
        """The first (or only) stream."""
        return self.layers[0].stream if self.layers else None

    # -- negotiation ----------------------------------------------------------------------------

    def update(self, negotiation: RtpNegotiation | None, sending: bool) -> None:
        """After a description was applied: send (with these parameters) or stop."""
        if not sending or negotiation is None or not negotiation.codecs:
            self.stop()
            return
        # Any negotiated codec may be sent (RFC 3264 §5.1: the list is a preference
        # order): the first one we can encode.
        codec = next(
            (
                c for c in negotiation.codecs
                if payloader_for(_subtype(c), c.sdp_fmtp_line) is not None
                and encodable(_subtype(c), c.sdp_fmtp_line)
            ),
            negotiation.codecs[0],
        )  # fmt: skip
        encodings = list(negotiation.send_encodings)
        if negotiation.send_rids:
            # Simulcast accepted: the encodings whose rids the answer kept.
            encodings = [e for e in encodings if e.rid in negotiation.send_rids]
        else:
            encodings = encodings[:1]
        if not encodings:
            self.stop()
            return
        payloader = payloader_for(_subtype(codec), codec.sdp_fmtp_line)
        if payloader is None:
            if self.unsupported != codec.mime_type:
                logger.warning("cannot send %s yet: no media flows on this sender", codec.mime_type)
            self.unsupported = codec.mime_type
            self.stop()
            return
        self.unsupported = None
        simulcast = bool(negotiation.send_rids)
        wanted = [(e.ssrc, e.rid if simulcast else None) for e in encodings]
        current = [(layer.stream.ssrc, layer.rid) for layer in self.layers]
        if (
            wanted != current
            or self.codec is None
            or self.codec.payload_type != codec.payload_type
            or self.codec.mime_type != codec.mime_type
        ):
            self._build(negotiation, codec, payloader, encodings, simulcast)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def _build(
        self,
        negotiation: RtpNegotiation,
        codec: NegotiatedCodec,
        payloader: Any,
        encodings: list[Any],
        simulcast: bool,
    ) -> None:
        connection = self._pc._connection
        for layer in self.layers:
            connection.remove_send_stream(layer.stream.ssrc)
            self._retired[layer.stream.ssrc] = layer.stream
            if isinstance(layer.encoder, AudioEncoder):
                self._audio_samples = max(self._audio_samples, layer.encoder.samples)
        self.layers = []
        extensions = {uri: n for n, uri in negotiation.header_extensions}
        rtx = codec.rtx_payload_type if "nack" in codec.rtcp_feedback else None
        parameters = {e.get("rid"): e for e in self._sender._encodings}
        for index, encoding in enumerate(encodings):
            rid = encoding.rid if simulcast else None
            layer_payloader = (
                payloader if index == 0 else payloader_for(_subtype(codec), codec.sdp_fmtp_line)
            )
            assert layer_payloader is not None
            stream = RtpSendStream(
                ssrc=encoding.ssrc,
                payload_type=codec.payload_type,
                clock_rate=codec.clock_rate,
                payloader=layer_payloader,
                rng=connection.rng,
                kind=negotiation.kind,
                mid=negotiation.mid,
                mid_extension=extensions.get(MID_URI),
                rtx_ssrc=encoding.rtx_ssrc if rtx is not None else None,
                rtx_payload_type=rtx,
                rid=rid,
                rid_extension=extensions.get(RID_URI) if rid else None,
                repaired_rid_extension=extensions.get(REPAIRED_RID_URI) if rid else None,
            )
            before = self._retired.pop(encoding.ssrc, None)
            if before is not None:
                stream.continue_from(before)
            connection.add_send_stream(stream)
            encoder = encoder_for(_subtype(codec), negotiation.kind, codec.sdp_fmtp_line)
            if isinstance(encoder, AudioEncoder):
                encoder.skip(self._audio_samples)  # the timestamps go on
            scale = float((parameters.get(rid) or {}).get("scaleResolutionDownBy") or 1.0)
            self.layers.append(_Layer(stream, encoder, rid, max(1.0, scale)))
        # Bitrate in proportion to pixels (a quarter for each halving of the size).
        weights = [1.0 / (layer.scale * layer.scale) for layer in self.layers]
        for layer, weight in zip(self.layers, weights, strict=True):
            layer.share = weight / sum(weights)
            if isinstance(layer.encoder, VideoEncoder):
                layer.encoder.bitrate = self._bitrate(layer)
        self.codec = codec

    def _encoding(self, layer: _Layer) -> dict[str, Any]:
        for encoding in self._sender._encodings:
            if encoding.get("rid") == layer.rid or layer.rid is None:
                return encoding
        return {}

    def _bitrate(self, layer: _Layer) -> int:
        """A layer's rate: its share of the congestion target, within ``maxBitrate``."""
        limit = self._encoding(layer).get("maxBitrate")
        ceiling = min(_VIDEO_CEILING, limit) if isinstance(limit, int) else _VIDEO_CEILING
        return max(_VIDEO_FLOOR, min(int(self.target_bitrate * layer.share), ceiling))

    def parameters_changed(self) -> None:
        """``setParameters``: a new ``maxBitrate`` applies from the next frame."""
        for layer in self.layers:
            encoder = layer.encoder
            if isinstance(encoder, VideoEncoder) and encoder.bitrate != self._bitrate(layer):
                encoder.bitrate = self._bitrate(layer)
                encoder.reset()

    def set_target_bitrate(self, bitrate: int) -> None:
        """Congestion control's share for this sender; each encoder follows when the
        change is large enough (a cut of 30 % or more at once, else once a second)."""
        self.target_bitrate = bitrate
        now = asyncio.get_running_loop().time()
        for layer in self.layers:
            encoder = layer.encoder
            if not isinstance(encoder, VideoEncoder):
                continue
            wanted = self._bitrate(layer)
            current = encoder.bitrate
            if abs(wanted - current) <= _RETARGET_RATIO * current:
                continue
            last = layer.retargeted_at
            if last is not None and now - last < _RETARGET_INTERVAL and wanted > 0.7 * current:
                continue
            layer.retargeted_at = now
            encoder.bitrate = wanted
            encoder.reset()

    def _video_timestamp(self, now: float) -> int:
        """90 kHz from the first frame sent, by the clock (whatever the source's
        own timestamps), always increasing: one timeline across replaceTrack."""
        if self._t0 is None:
            self._t0 = now
        ts = max(int((now - self._t0) * VIDEO_CLOCK), self._last_ts + 1)
        self._last_ts = ts
        return ts

    def audio_timestamp(self) -> int:
        """Where the audio stream's RTP timestamps are now (from 0): a telephone
        event starts there."""
        position = self._audio_samples
        for layer in self.layers:
            if isinstance(layer.encoder, AudioEncoder):
                position = max(position, layer.encoder.samples)
        return position

    def track_changed(self) -> None:
        """``replaceTrack``: read the new track from the next frame on."""
        self._changed.set()

    def request_keyframe(self, ssrc: int | None = None) -> None:
        for layer in self.layers:
            if ssrc is None or layer.stream.ssrc == ssrc:
                layer.keyframe = True

    def stop(self, *, final: bool = False) -> None:
        """Stop sending; ``final`` (the transceiver stopped) says BYE for the streams."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        for layer in self.layers:
            self._pc._connection.remove_send_stream(layer.stream.ssrc, bye=final)
            self._retired[layer.stream.ssrc] = layer.stream
            if isinstance(layer.encoder, AudioEncoder):
                self._audio_samples = max(self._audio_samples, layer.encoder.samples)
        self.layers = []
        self.codec = None

    # -- the loop --------------------------------------------------------------------------------

    async def _next_frame(self, track: MediaStreamTrack) -> AudioFrame | VideoFrame | Any:
        """The track's next frame, or None when the track was replaced meanwhile."""
        self._changed.clear()
        receiving = asyncio.ensure_future(track.recv())
        changed = asyncio.ensure_future(self._changed.wait())
        try:
            await asyncio.wait((receiving, changed), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            receiving.cancel()  # the pipe stopped: do not leave a reader behind
            raise
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
            try:
                await self._send(loop, track, frame)
            except Exception as exc:  # one bad frame must not end the sender
                if not self._send_failed:
                    logger.warning("could not send a frame of %r: %r", track, exc)
                self._send_failed = True

    def _account(self, frame: AudioFrame | VideoFrame | av.Packet[Any]) -> None:
        self.frames += 1
        if isinstance(frame, av.Packet):
            return
        if isinstance(frame, VideoFrame):
            self.width, self.height = frame.width, frame.height
        elif frame.sample_rate:
            self.total_samples_duration += frame.samples / frame.sample_rate
            self.energy.add(frame)

    async def _send(
        self,
        loop: asyncio.AbstractEventLoop,
        track: MediaStreamTrack,
        frame: AudioFrame | VideoFrame | av.Packet[Any],
    ) -> None:
        layers = self.layers
        if not layers or not self._pc._connection.media_ready:
            self._was_ready = False
            return
        if not self._was_ready:
            self._was_ready = True
            self.request_keyframe()
        now = loop.time()
        if isinstance(frame, av.Packet):
            if track.enabled:  # (encoded input cannot be turned black: nothing goes)
                self._send_encoded(now, layers[0], frame)
            return
        if not track.enabled:
            frame = _blank(frame)
        if self.kind == "video":
            if not isinstance(frame, VideoFrame):
                return
            ts = self._video_timestamp(now)
            active = [
                layer for layer in layers
                if isinstance(layer.encoder, VideoEncoder)
                and self._encoding(layer).get("active", True) is not False
            ]  # fmt: skip
            requests = []
            for layer in active:
                keyframe, layer.keyframe = layer.keyframe, False
                requests.append((layer, keyframe))
            results = await loop.run_in_executor(None, _encode_layers, frame, ts, requests)
            if self.layers is not layers:
                return  # renegotiated or stopped meanwhile
            for (layer, _), encoded in zip(requests, results, strict=True):
                self._emit(layer.stream, encoded)
        else:
            layer = layers[0]
            encoder = layer.encoder
            if not isinstance(frame, AudioFrame) or not isinstance(encoder, AudioEncoder):
                return
            if self._last_audio_time is not None and now - self._last_audio_time > 0.2:
                # The source paused: the timestamps keep real time (RFC 3550 §5.1).
                encoder.skip(int((now - self._last_audio_time - 0.02) * encoder.clock_rate))
            self._last_audio_time = now
            self._emit(layer.stream, encoder.encode(frame))

    def _send_encoded(self, now: float, layer: _Layer, packet: av.Packet[Any]) -> None:
        """An already encoded packet (``MediaPlayer(decode=False)``): sent as it is
        when it is in the negotiated codec; a key frame cannot be asked of it."""
        codec = self.codec
        name = packet.stream.codec_context.name
        wanted = _subtype(codec).lower() if codec is not None else ""
        if name.lower() != wanted:
            if self.unsupported != name:
                logger.warning(
                    "the source gives %s but %s was negotiated: not sent (prefer %s with "
                    "setCodecPreferences, or decode the source)", name, wanted, name,
                )  # fmt: skip
            self.unsupported = name
            return
        if self.kind == "video":
            ts = self._video_timestamp(now)
        else:
            ts = self._audio_samples
            duration = packet.duration or 0
            rate = codec.clock_rate if codec is not None else 48000
            step = int(duration * packet.time_base * rate) if packet.time_base else 960
            self._audio_samples += step or 960
        self._emit(layer.stream, [Encoded(bytes(packet), ts, bool(packet.is_keyframe))])

    def _emit(self, stream: RtpSendStream, encoded: list[Encoded]) -> None:
        connection = self._pc._connection
        driver = self._pc._driver
        if driver is None:
            return
        now = driver.now()
        for item in encoded:
            connection.send_frame(
                now, stream.ssrc, item.data, item.timestamp, item.keyframe, item.audio_level
            )
        driver.service()


def _encode_layers(
    frame: VideoFrame, timestamp: int, requests: list[tuple[_Layer, bool]]
) -> list[list[Encoded]]:
    """Encode one captured frame for every layer (in a worker thread)."""
    out = []
    for layer, keyframe in requests:
        picture = frame
        if layer.scale > 1.0:
            width = max(2, int(frame.width / layer.scale)) & ~1
            height = max(2, int(frame.height / layer.scale)) & ~1
            picture = frame.reformat(width=width, height=height, format="yuv420p")
        assert isinstance(layer.encoder, VideoEncoder)
        out.append(layer.encoder.encode(picture, timestamp, keyframe))
    return out


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
        #: The remote SSRC being decoded.
        self.ssrc: int | None = None
        self.energy = AudioEnergy()
        self._last_frame_at = 0.0

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

    def handle_frame(self, ssrc: int, payload_type: int, frame: EncodedFrame) -> None:
        """An encoded frame of a remote stream of this receiver. With simulcast
        (several SSRCs on one m-line) one stream is decoded: the first to bring a
        key frame, until it has been silent for a second."""
        now = asyncio.get_running_loop().time()
        if ssrc != self.ssrc:
            if self.ssrc is not None and now - self._last_frame_at < 1.0:
                return
            if self.ssrc is not None and not frame.keyframe:
                return
            self.ssrc = ssrc
            self._decoders.clear()  # a new stream starts a new decoder
        self._last_frame_at = now
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
                self.energy.add(sound)
            for sound in sounds:
                track._push_frame(sound)
