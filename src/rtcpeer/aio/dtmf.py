"""``RTCDTMFSender`` (W3C webrtc-pc §7): telephone events on an audio sender.

``sender.dtmf.insertDTMF("123#", duration=100, interToneGap=70)`` plays the tones
as RFC 4733 telephone-event packets on the sender's audio stream (same SSRC, the
negotiated ``telephone-event`` payload type at the audio codec's clock rate): a
first packet with the marker bit, an update every 50 ms with the growing duration,
and the end packet three times (RFC 4733 §2.5.1.4). ``tonechange`` fires as each
tone starts, and with ``tone == ""`` when the buffer is done; a ``,`` is a 2 s pause.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final

from rtcpeer.aio.events import EventTarget
from rtcpeer.errors import InvalidCharacterError, InvalidStateError

if TYPE_CHECKING:
    from rtcpeer.aio.rtp import RTCRtpSender

__all__ = ["RTCDTMFSender", "RTCDTMFToneChangeEvent"]

#: RFC 4733 §3.2 event codes.
_EVENTS: Final = {**{str(d): d for d in range(10)}, "*": 10, "#": 11,
                  "A": 12, "B": 13, "C": 14, "D": 15}  # fmt: skip
_UPDATE: Final = 0.05
_VOLUME: Final = 10  # -10 dBm0
_PAUSE: Final = 2.0


@dataclass(frozen=True, slots=True)
class RTCDTMFToneChangeEvent:
    """W3C ``tonechange``: the tone that started (``""`` when the buffer is done)."""

    type: str
    tone: str
    target: Any = None


class RTCDTMFSender(EventTarget):
    """W3C ``RTCDTMFSender`` of an audio ``RTCRtpSender``."""

    _event_types: ClassVar[frozenset[str]] = frozenset({"tonechange"})

    def __init__(self, sender: RTCRtpSender) -> None:
        super().__init__()
        self._sender = sender
        self._buffer = ""
        self._duration = 100
        self._gap = 70
        self._task: asyncio.Task[None] | None = None

    @property
    def toneBuffer(self) -> str:
        return self._buffer

    def _payload_type(self) -> int | None:
        pipe = self._sender._pipe
        codec = pipe.codec
        negotiated = self._sender._transceiver._core.negotiated
        if codec is None or negotiated is None:
            return None
        for candidate in negotiated.codecs:
            if (
                candidate.mime_type.lower() == "audio/telephone-event"
                and candidate.clock_rate == codec.clock_rate
            ):
                return candidate.payload_type
        return None

    @property
    def canInsertDTMF(self) -> bool:
        """True when the transceiver sends and ``telephone-event`` was negotiated at
        the audio codec's clock rate."""
        core = self._sender._transceiver._core
        return (
            not core.stopping
            and core.current_direction in ("sendrecv", "sendonly")
            and self._payload_type() is not None
        )

    def insertDTMF(self, tones: str, duration: int = 100, interToneGap: int = 70) -> None:
        """Replace the tone buffer with ``tones`` (0-9, A-D, #, * and the pause
        ``,``) and play it: each tone ``duration`` ms (40..6000), ``interToneGap`` ms
        apart (30..6000)."""
        core = self._sender._transceiver._core
        if core.stopping:
            raise InvalidStateError("the transceiver is stopped")
        if core.current_direction not in ("sendrecv", "sendonly"):
            raise InvalidStateError("the transceiver does not send (currentDirection)")
        tones = tones.upper()
        bad = sorted({t for t in tones if t not in _EVENTS and t != ","})
        if bad:
            raise InvalidCharacterError(f"not DTMF tones: {''.join(bad)!r} (use 0-9 A-D # * ,)")
        self._buffer = tones
        self._duration = max(40, min(6000, int(duration)))
        self._gap = max(30, min(6000, int(interToneGap)))
        if tones and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._play())

    def _fire(self, tone: str) -> None:
        self.dispatchEvent(RTCDTMFToneChangeEvent("tonechange", tone, self))

    async def _play(self) -> None:
        while self._buffer:
            tone, self._buffer = self._buffer[0], self._buffer[1:]
            self._fire(tone)
            if tone == ",":
                await asyncio.sleep(_PAUSE)
                continue
            await self._send_tone(_EVENTS[tone], self._duration / 1000)
            await asyncio.sleep(self._gap / 1000)
        self._fire("")

    async def _send_tone(self, event: int, seconds: float) -> None:
        """One event: start (marker), updates every 50 ms, three end packets."""
        pipe = self._sender._pipe
        pc = self._sender._transceiver._pc
        payload_type = self._payload_type()
        stream = pipe.stream
        codec = pipe.codec
        if payload_type is None or stream is None or codec is None or pc._driver is None:
            await asyncio.sleep(seconds)  # nowhere to send it: the timing still holds
            return
        rate = codec.clock_rate
        start = pipe.audio_timestamp()
        loop = asyncio.get_running_loop()
        began = loop.time()
        marker = True
        while True:
            elapsed = min(loop.time() - began, seconds)
            end = elapsed >= seconds
            units = min(0xFFFF, int(elapsed * rate))
            flags = (0x80 if end else 0) | _VOLUME
            payload = struct.pack("!BBH", event, flags, units)
            for _ in range(3 if end else 1):
                pc._connection.send_event(
                    pc._driver.now(), stream.ssrc, payload, start, marker, payload_type
                )
                marker = False
            pc._driver.service()
            if end:
                return
            await asyncio.sleep(min(_UPDATE, seconds - elapsed))
