"""RTP payload formats: encoded frames to RTP payloads and back.

A :class:`Payloader` cuts one encoded frame into payloads no larger than a budget;
a :class:`Depayloader` says where a frame starts in the packet stream, whether it
is a key frame, and strips the payload header so the frames of a codec can be
re-assembled (:mod:`rtcpeer.rtp.jitterbuffer`).

- VP8: RFC 7741 (payload descriptor with a 15-bit PictureID, §4.2).
- Opus (RFC 7587 §4.2), G.711 (RFC 3551 §4.5.14) and G.722: one frame per packet,
  no payload header.
"""

from __future__ import annotations

from typing import Final, Protocol

__all__ = [
    "AudioPayloader",
    "Depayloader",
    "Payloader",
    "Vp8Depayloader",
    "Vp8Payloader",
    "depayloader_for",
    "payloader_for",
]

_VP8_X: Final = 0x80
_VP8_S: Final = 0x10
_VP8_I: Final = 0x80
_VP8_L: Final = 0x40
_VP8_T: Final = 0x20
_VP8_K: Final = 0x10
_VP8_M: Final = 0x80


class Payloader(Protocol):
    """Cuts an encoded frame into RTP payloads (the last one carries the marker)."""

    def payload(self, frame: bytes, budget: int) -> list[bytes]: ...


class Depayloader(Protocol):
    """Reads the payload header of a codec's RTP payloads."""

    #: Every packet is a whole frame (audio): no re-assembly needed.
    whole_frames: bool

    def is_frame_start(self, payload: bytes) -> bool: ...

    def is_keyframe(self, payload: bytes) -> bool:
        """Of the first payload of a frame."""
        ...

    def strip(self, payload: bytes) -> bytes:
        """The codec bytes of a payload (raises ``ValueError`` when malformed)."""
        ...


class AudioPayloader:
    """One encoded audio frame per packet, no payload header."""

    __slots__ = ()

    def payload(self, frame: bytes, budget: int) -> list[bytes]:
        return [frame]


class AudioDepayloader:
    __slots__ = ()
    whole_frames = True

    def is_frame_start(self, payload: bytes) -> bool:
        return True

    def is_keyframe(self, payload: bytes) -> bool:
        return True

    def strip(self, payload: bytes) -> bytes:
        return payload


class Vp8Payloader:
    """RFC 7741 §4.2: every packet has X=1, I=1 with a 15-bit PictureID (M=1) that
    counts frames; S=1 and PID=0 on a frame's first packet."""

    __slots__ = ("picture_id",)

    def __init__(self, picture_id: int = 0) -> None:
        self.picture_id = picture_id & 0x7FFF

    def payload(self, frame: bytes, budget: int) -> list[bytes]:
        pid = self.picture_id
        self.picture_id = (pid + 1) & 0x7FFF
        tail = bytes((_VP8_I, _VP8_M | pid >> 8, pid & 0xFF))
        first = bytes((_VP8_X | _VP8_S,)) + tail
        rest = bytes((_VP8_X,)) + tail
        size = max(1, budget - 4)
        # Equal-sized packets: the last one is not a runt.
        count = max(1, -(-len(frame) // size))
        size = -(-len(frame) // count) if frame else 0
        view = memoryview(frame)
        out = []
        for i in range(count):
            chunk = view[i * size : (i + 1) * size]
            out.append((first if i == 0 else rest) + chunk)
        return out


class Vp8Depayloader:
    """RFC 7741 §4.2 payload descriptor parsing."""

    __slots__ = ()
    whole_frames = False

    @staticmethod
    def _header_length(payload: bytes) -> int:
        if not payload:
            raise ValueError("empty VP8 payload")
        pos = 1
        if payload[0] & _VP8_X:
            if len(payload) < 2:
                raise ValueError("truncated VP8 extension byte")
            ext = payload[1]
            pos = 2
            if ext & _VP8_I:
                if len(payload) <= pos:
                    raise ValueError("truncated VP8 PictureID")
                pos += 2 if payload[pos] & _VP8_M else 1
            if ext & _VP8_L:
                pos += 1
            if ext & (_VP8_T | _VP8_K):
                pos += 1
        if pos > len(payload):
            raise ValueError("truncated VP8 payload descriptor")
        return pos

    def is_frame_start(self, payload: bytes) -> bool:
        # S=1 and partition index 0.
        return bool(payload) and payload[0] & _VP8_S != 0 and payload[0] & 0x0F == 0

    def is_keyframe(self, payload: bytes) -> bool:
        try:
            pos = self._header_length(payload)
        except ValueError:
            return False
        # RFC 7741 §4.3: the P bit of the VP8 payload header, 0 for a key frame.
        return pos < len(payload) and payload[pos] & 0x01 == 0

    def strip(self, payload: bytes) -> bytes:
        return payload[self._header_length(payload) :]


_AUDIO = frozenset({"opus", "pcmu", "pcma", "g722"})


def payloader_for(codec: str) -> Payloader | None:
    """The payloader of a codec name (``"VP8"``, ``"opus"``...); None if unsupported."""
    name = codec.lower()
    if name in _AUDIO:
        return AudioPayloader()
    if name == "vp8":
        return Vp8Payloader()
    return None


def depayloader_for(codec: str) -> Depayloader | None:
    name = codec.lower()
    if name in _AUDIO:
        return AudioDepayloader()
    if name == "vp8":
        return Vp8Depayloader()
    return None
