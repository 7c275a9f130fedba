"""RTP payload formats: encoded frames to RTP payloads and back.

A :class:`Payloader` cuts one encoded frame into payloads no larger than a budget;
a :class:`Depayloader` says where a frame starts in the packet stream, whether it
is a key frame, and strips the payload header so the frames of a codec can be
re-assembled (:mod:`rtcpeer.rtp.jitterbuffer`).

- VP8: RFC 7741 (payload descriptor with a 15-bit PictureID, §4.2).
- VP9: RFC 9628 in non-flexible mode, one spatial and one temporal layer: a 15-bit
  PictureID, layer indices with TL0PICIDX, and the scalability structure (resolution,
  one-frame group) on a key frame's first packet, which is what browsers expect.
- AV1: the AOMedia "RTP Payload Format for AV1" (v1.0, §4): an aggregation header
  (Z, Y, W, N) and LEB128-prefixed OBU elements, OBUs without their size field and
  without temporal delimiters; fragments continue across packets.
- H.264: RFC 6184 with packetization-mode 1 (single NAL units, STAP-A aggregation of
  small NAL units such as SPS/PPS, FU-A fragmentation of large ones; §5.6-5.8) or
  mode 0 (single NAL units only: the encoder must keep each slice within budget).
  Frames travel as Annex B byte streams (start codes) on either side.
- Opus (RFC 7587 §4.2), G.711 (RFC 3551 §4.5.14) and G.722: one frame per packet,
  no payload header.
"""

from __future__ import annotations

from typing import Final, Protocol

__all__ = [
    "AudioPayloader",
    "Av1Depayloader",
    "Av1Payloader",
    "Depayloader",
    "H264Depayloader",
    "H264Payloader",
    "Payloader",
    "Vp8Depayloader",
    "Vp8Payloader",
    "Vp9Depayloader",
    "Vp9Payloader",
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

    def assemble(self, payloads: list[bytes]) -> bytes:
        """The encoded frame of a frame's payloads, in order (``ValueError`` when
        malformed)."""
        ...


class _Concatenated:
    """Formats whose frame is its payloads' codec bytes back to back."""

    __slots__ = ()

    def strip(self, payload: bytes) -> bytes:
        raise NotImplementedError

    def assemble(self, payloads: list[bytes]) -> bytes:
        return b"".join(self.strip(p) for p in payloads)


def _leb128(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_leb128(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position); raises ValueError when truncated or too long."""
    value = 0
    for i in range(8):
        if pos >= len(data):
            raise ValueError("truncated LEB128")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, pos
    raise ValueError("LEB128 longer than 8 bytes")


_OBU_SEQUENCE_HEADER: Final = 1
_OBU_TEMPORAL_DELIMITER: Final = 2
_OBU_TILE_LIST: Final = 8
_OBU_HAS_SIZE: Final = 0x02
_OBU_EXTENSION: Final = 0x04


def _split_obus(frame: bytes) -> list[bytes]:
    """The OBUs of a low-overhead bitstream temporal unit, each without its size
    field (AV1 RTP §5: what the payload carries)."""
    out = []
    pos = 0
    while pos < len(frame):
        header = frame[pos]
        header_size = 2 if header & _OBU_EXTENSION else 1
        if pos + header_size > len(frame):
            break
        head = bytes([header & ~_OBU_HAS_SIZE]) + frame[pos + 1 : pos + header_size]
        pos += header_size
        if header & _OBU_HAS_SIZE:
            size, pos = _read_leb128(frame, pos)
        else:
            size = len(frame) - pos
        body = frame[pos : pos + size]
        pos += size
        kind = (header >> 3) & 0x0F
        if kind not in (_OBU_TEMPORAL_DELIMITER, _OBU_TILE_LIST):
            out.append(head + body)
    return out


class Av1Payloader:
    """AV1 RTP §4: OBU elements with LEB128 lengths (W=0), fragmented across
    packets with Z/Y; N=1 on the first packet of a coded video sequence."""

    __slots__ = ()

    def payload(self, frame: bytes, budget: int) -> list[bytes]:
        obus = _split_obus(frame)
        new_sequence = any((o[0] >> 3) & 0x0F == _OBU_SEQUENCE_HEADER for o in obus)
        room = budget - 1
        pieces: list[tuple[bool, bool, bytes]] = []  # (Z, Y, elements)
        body = bytearray()
        z = False
        for obu in obus:
            offset = 0
            while offset < len(obu):
                space = room - len(body)
                if space < 3:  # full: Y when this OBU was cut here, and Z after it
                    y = offset > 0
                    pieces.append((z, y, bytes(body)))
                    body = bytearray()
                    z = y
                    continue
                take = min(len(obu) - offset, space - len(_leb128(space)))
                body += _leb128(take) + obu[offset : offset + take]
                offset += take
        pieces.append((z, False, bytes(body)))
        return [
            bytes(
                (
                    (0x80 if z else 0)
                    | (0x40 if y else 0)
                    | (0x08 if new_sequence and i == 0 else 0),
                )
            )
            + elements
            for i, (z, y, elements) in enumerate(pieces)
        ]


class Av1Depayloader:
    """AV1 RTP payloads back to a low-overhead bitstream temporal unit (a temporal
    delimiter, then each OBU with its size field)."""

    __slots__ = ()
    whole_frames = False

    def is_frame_start(self, payload: bytes) -> bool:
        return bool(payload) and payload[0] & 0x80 == 0  # Z=0: no fragment continues

    def is_keyframe(self, payload: bytes) -> bool:
        return bool(payload) and payload[0] & 0x08 != 0  # N: a new coded video sequence

    def strip(self, payload: bytes) -> bytes:
        """The OBU elements of one packet (raw, with their lengths)."""
        if not payload:
            raise ValueError("empty AV1 payload")
        return payload[1:]

    def assemble(self, payloads: list[bytes]) -> bytes:
        """Join the OBU elements of a frame's packets into a temporal unit."""
        obus: list[bytearray] = []
        for index, payload in enumerate(payloads):
            if not payload:
                raise ValueError("empty AV1 payload")
            header = payload[0]
            count = (header >> 4) & 0x3
            continues = bool(header & 0x80)
            pos = 1
            elements: list[bytes] = []
            while pos < len(payload):
                if count and len(elements) == count - 1:
                    size = len(payload) - pos  # W>0: the last element has no length
                else:
                    size, pos = _read_leb128(payload, pos)
                if pos + size > len(payload):
                    raise ValueError("AV1 OBU element runs past the payload")
                elements.append(payload[pos : pos + size])
                pos += size
            for i, element in enumerate(elements):
                if i == 0 and continues and index > 0 and obus:
                    obus[-1] += element
                else:
                    obus.append(bytearray(element))
        out = bytearray(b"\x12\x00")  # temporal delimiter
        for obu in obus:
            if not obu:
                continue
            header_size = 2 if obu[0] & _OBU_EXTENSION else 1
            out += bytes([obu[0] | _OBU_HAS_SIZE]) + obu[1:header_size]
            out += _leb128(len(obu) - header_size) + obu[header_size:]
        return bytes(out)


class AudioPayloader:
    """One encoded audio frame per packet, no payload header."""

    __slots__ = ()

    def payload(self, frame: bytes, budget: int) -> list[bytes]:
        return [frame]


class AudioDepayloader(_Concatenated):
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


class Vp8Depayloader(_Concatenated):
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


_VP9_I: Final = 0x80
_VP9_P: Final = 0x40
_VP9_L: Final = 0x20
_VP9_F: Final = 0x10
_VP9_B: Final = 0x08
_VP9_E: Final = 0x04
_VP9_V: Final = 0x02


class Vp9Payloader:
    """RFC 9628 §4.2, non-flexible mode. ``size`` (width, height) is announced in
    the scalability structure of key frames; the owner sets it per frame."""

    __slots__ = ("picture_id", "size", "tl0picidx")

    def __init__(self, picture_id: int = 0) -> None:
        self.picture_id = picture_id & 0x7FFF
        self.tl0picidx = 0
        self.size: tuple[int, int] | None = None

    def payload(self, frame: bytes, budget: int) -> list[bytes]:
        pid = self.picture_id
        self.picture_id = (pid + 1) & 0x7FFF
        tl0 = self.tl0picidx
        self.tl0picidx = (tl0 + 1) & 0xFF  # every frame is in temporal layer 0
        keyframe = _vp9_is_keyframe(frame)
        common = bytes((0x80 | pid >> 8, pid & 0xFF, 0x00, tl0))  # PID, L (all 0), TL0PICIDX
        ss = b""
        if keyframe:
            width, height = self.size or _vp9_size(frame) or (0, 0)
            # N_S=0, Y=1, G=1; one group: TID 0, U 0, R 1, P_DIFF 1.
            ss = bytes((0x18,)) + width.to_bytes(2) + height.to_bytes(2) + b"\x01\x04\x01"
        flags = _VP9_I | _VP9_L | (0 if keyframe else _VP9_P)
        first_overhead = 1 + len(common) + len(ss)
        size = max(1, budget - first_overhead)
        count = max(1, -(-len(frame) // size))
        size = -(-len(frame) // count) if frame else 0
        view = memoryview(frame)
        out = []
        for i in range(count):
            bits = flags | (_VP9_B if i == 0 else 0) | (_VP9_E if i == count - 1 else 0)
            header = bytes((bits | (_VP9_V if i == 0 and ss else 0),)) + common
            out.append(header + (ss if i == 0 else b"") + view[i * size : (i + 1) * size])
        return out


def _vp9_is_keyframe(frame: bytes) -> bool:
    """VP9 uncompressed header (VP9 bitstream §6.2): frame_marker, profile,
    show_existing_frame, frame_type (0 = key)."""
    if not frame:
        return False
    first = frame[0]
    if first >> 6 != 0b10:
        return False
    profile = ((first >> 5) & 1) | (((first >> 4) & 1) << 1)
    bit = 3 if profile < 3 else 2  # profile 3 has a reserved zero bit
    show_existing = (first >> bit) & 1
    if show_existing:
        return False
    return (first >> (bit - 1)) & 1 == 0


def _vp9_size(frame: bytes) -> tuple[int, int] | None:
    """Width and height from a profile-0 key frame's header (§6.2: sync code,
    color config, frame size)."""
    if len(frame) < 10 or not _vp9_is_keyframe(frame) or frame[1:4] != b"\x49\x83\x42":
        return None
    # After the 1st byte's 6 bits used (marker 2, profile 2, show_existing 1,
    # frame_type 1) come show_frame, error_resilient (2 bits), the 24-bit sync code,
    # then for profile 0 color_space (3) and color_range (1).
    bits = int.from_bytes(frame[:10])
    total = 80
    pos = 2 + 2 + 1 + 1 + 1 + 1 + 24 + 3 + 1
    width = ((bits >> (total - pos - 16)) & 0xFFFF) + 1
    height = ((bits >> (total - pos - 32)) & 0xFFFF) + 1
    return width, height


class Vp9Depayloader(_Concatenated):
    """RFC 9628 payload descriptor parsing (flexible and non-flexible modes)."""

    __slots__ = ()
    whole_frames = False

    @staticmethod
    def _header_length(payload: bytes) -> int:
        if not payload:
            raise ValueError("empty VP9 payload")
        flags = payload[0]
        pos = 1
        if flags & _VP9_I:
            if len(payload) <= pos:
                raise ValueError("truncated VP9 PictureID")
            pos += 2 if payload[pos] & 0x80 else 1
        if flags & _VP9_L:
            pos += 1 if flags & _VP9_F else 2  # TL0PICIDX in non-flexible mode
        if flags & _VP9_F and flags & _VP9_P:
            for _ in range(3):  # P_DIFF entries, N bit says another follows
                if pos >= len(payload):
                    raise ValueError("truncated VP9 P_DIFF")
                more = payload[pos] & 0x01
                pos += 1
                if not more:
                    break
        if flags & _VP9_V:
            if pos >= len(payload):
                raise ValueError("truncated VP9 scalability structure")
            ss = payload[pos]
            pos += 1
            layers = (ss >> 5) + 1
            if ss & 0x10:
                pos += 4 * layers
            if ss & 0x08:
                if pos >= len(payload):
                    raise ValueError("truncated VP9 N_G")
                groups = payload[pos]
                pos += 1
                for _ in range(groups):
                    if pos >= len(payload):
                        raise ValueError("truncated VP9 picture group")
                    refs = (payload[pos] >> 2) & 0x3
                    pos += 1 + refs
        if pos > len(payload):
            raise ValueError("truncated VP9 payload descriptor")
        return pos

    def is_frame_start(self, payload: bytes) -> bool:
        return bool(payload) and payload[0] & _VP9_B != 0

    def is_keyframe(self, payload: bytes) -> bool:
        # Not inter-predicted and the start of a frame (of spatial layer 0).
        return bool(payload) and payload[0] & (_VP9_P | _VP9_B) == _VP9_B

    def strip(self, payload: bytes) -> bytes:
        return payload[self._header_length(payload) :]


_NAL_STAP_A: Final = 24
_NAL_FU_A: Final = 28
_NAL_IDR: Final = 5
_NAL_SPS: Final = 7
_START_CODE: Final = b"\x00\x00\x00\x01"


def split_annexb(stream: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream (3- or 4-byte start codes)."""
    units = []
    pos = stream.find(b"\x00\x00\x01")
    if pos < 0:
        return [stream] if stream else []
    pos += 3
    while True:
        nxt = stream.find(b"\x00\x00\x01", pos)
        if nxt < 0:
            unit = stream[pos:]
            if unit:
                units.append(unit)
            return units
        end = nxt - 1 if nxt > pos and stream[nxt - 1] == 0 else nxt
        if end > pos:
            units.append(stream[pos:end])
        pos = nxt + 3


class H264Payloader:
    """RFC 6184 §5.6-5.8: NAL units of an access unit as single-NAL, STAP-A and
    FU-A packets (``mode`` 1), or single-NAL packets only (``mode`` 0)."""

    __slots__ = ("mode",)

    def __init__(self, mode: int = 1) -> None:
        self.mode = mode

    def payload(self, frame: bytes, budget: int) -> list[bytes]:
        out: list[bytes] = []
        units = split_annexb(frame)
        if self.mode == 0:
            return units
        pending: list[bytes] = []  # small units waiting to be aggregated
        pending_size = 1

        def flush() -> None:
            nonlocal pending_size
            if len(pending) == 1:
                out.append(pending[0])
            elif pending:
                nri = max(u[0] & 0x60 for u in pending)
                body = b"".join(len(u).to_bytes(2) + u for u in pending)
                out.append(bytes([nri | _NAL_STAP_A]) + body)
            pending.clear()
            pending_size = 1

        for unit in units:
            if len(unit) > budget:
                flush()
                header = unit[0]
                indicator = (header & 0xE0) | _NAL_FU_A
                kind = header & 0x1F
                data = memoryview(unit)[1:]
                size = budget - 2
                count = -(-len(data) // size)
                size = -(-len(data) // count)
                for i in range(count):
                    fu = kind | (0x80 if i == 0 else 0) | (0x40 if i == count - 1 else 0)
                    out.append(bytes((indicator, fu)) + data[i * size : (i + 1) * size])
                continue
            if pending_size + 2 + len(unit) > budget:
                flush()
            pending.append(unit)
            pending_size += 2 + len(unit)
        flush()
        return out


class H264Depayloader(_Concatenated):
    """RFC 6184 payloads back to an Annex B byte stream."""

    __slots__ = ()
    whole_frames = False

    def is_frame_start(self, payload: bytes) -> bool:
        if not payload:
            return False
        kind = payload[0] & 0x1F
        if kind == _NAL_FU_A:
            return len(payload) > 1 and payload[1] & 0x80 != 0
        return 0 < kind <= _NAL_STAP_A

    def is_keyframe(self, payload: bytes) -> bool:
        if not payload:
            return False
        kind = payload[0] & 0x1F
        if kind == _NAL_FU_A:
            return len(payload) > 1 and payload[1] & 0x1F in (_NAL_IDR, _NAL_SPS)
        if kind == _NAL_STAP_A:
            pos = 1
            while pos + 3 <= len(payload):
                size = int.from_bytes(payload[pos : pos + 2])
                if payload[pos + 2] & 0x1F in (_NAL_IDR, _NAL_SPS):
                    return True
                pos += 2 + size
            return False
        return kind in (_NAL_IDR, _NAL_SPS)

    def strip(self, payload: bytes) -> bytes:
        if not payload:
            raise ValueError("empty H.264 payload")
        kind = payload[0] & 0x1F
        if kind == _NAL_FU_A:
            if len(payload) < 2:
                raise ValueError("truncated FU-A")
            if payload[1] & 0x80:
                header = (payload[0] & 0xE0) | (payload[1] & 0x1F)
                return _START_CODE + bytes([header]) + payload[2:]
            return payload[2:]
        if kind == _NAL_STAP_A:
            parts = []
            pos = 1
            while pos < len(payload):
                if pos + 2 > len(payload):
                    raise ValueError("truncated STAP-A size")
                size = int.from_bytes(payload[pos : pos + 2])
                pos += 2
                if size == 0 or pos + size > len(payload):
                    raise ValueError("STAP-A unit runs past the payload")
                parts.append(_START_CODE + payload[pos : pos + size])
                pos += size
            return b"".join(parts)
        if kind == 0 or kind > _NAL_STAP_A:
            raise ValueError(f"unsupported H.264 NAL unit type {kind}")
        return _START_CODE + payload


_AUDIO = frozenset({"opus", "pcmu", "pcma", "g722"})


def payloader_for(codec: str, fmtp: str | None = None) -> Payloader | None:
    """The payloader of a codec name (``"VP8"``, ``"opus"``...); None if unsupported.
    H.264's ``packetization-mode`` comes from ``fmtp``."""
    name = codec.lower()
    if name in _AUDIO:
        return AudioPayloader()
    if name == "vp8":
        return Vp8Payloader()
    if name == "vp9":
        return Vp9Payloader()
    if name == "av1":
        return Av1Payloader()
    if name == "h264":
        return H264Payloader(h264_packetization_mode(fmtp))
    return None


def h264_packetization_mode(fmtp: str | None) -> int:
    for part in (fmtp or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == "packetization-mode" and value.strip() == "1":
            return 1
    return 0


def depayloader_for(codec: str) -> Depayloader | None:
    name = codec.lower()
    if name in _AUDIO:
        return AudioDepayloader()
    if name == "vp8":
        return Vp8Depayloader()
    if name == "vp9":
        return Vp9Depayloader()
    if name == "av1":
        return Av1Depayloader()
    if name == "h264":
        return H264Depayloader()
    return None
