"""Media sources: tracks that produce frames, and ``mediaDevices.getUserMedia``.

A program without a camera still needs something to send, and tests need media
they can recognise at the far end. :class:`ToneTrack` is a sine tone,
:class:`TestPatternTrack` a moving luma ramp whose brightness (``level``) tells
two sources apart. Both produce frames in real time (a 20 ms audio frame every
20 ms; video at ``frameRate``), like Chromium's ``--use-fake-device-for-media-stream``.

``mediaDevices.getUserMedia({"audio": True, "video": {"width": 640}})`` gives a
:class:`~rtcpeer.aio.media.MediaStream` of such tracks, so the browser's
``getUserMedia`` code reads the same in Python (``facingMode: "environment"``
gives a brighter pattern than ``"user"``, so a camera switch is visible). Your own source is a subclass of
:class:`~rtcpeer.aio.media.MediaStreamTrack` whose ``async def recv()`` returns
``av.AudioFrame`` / ``av.VideoFrame`` objects (a file or a device opened with PyAV,
frames from numpy, ...).
"""

from __future__ import annotations

import array
import asyncio
import fractions
import math
from collections.abc import Mapping
from typing import Any, Final

from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from rtcpeer.aio.media import MediaStream, MediaStreamTrack
from rtcpeer.errors import InvalidStateError
from rtcpeer.media.codecs import VIDEO_CLOCK

__all__ = ["MediaDevices", "TestPatternTrack", "ToneTrack", "mediaDevices"]

_AUDIO_RATE: Final = 48000
_PTIME: Final = 0.02
#: The synthetic "cameras": the back one (``facingMode: "environment"``) is brighter,
#: so switching cameras shows at the far end.
_FACING_LEVELS: Final = {"user": 128, "environment": 200}


class _PacedTrack(MediaStreamTrack):
    """Frames at a steady real-time rate: the n-th is returned at start + n·period."""

    def __init__(self, kind: str, label: str, period: float) -> None:
        super().__init__(kind, label=label)
        self._period = period
        self._start: float | None = None
        self._count = 0

    async def _pace(self) -> int:
        if self.readyState == "ended":
            raise InvalidStateError("the track has ended")
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        due = self._start + self._count * self._period
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -1.0:
            # Far behind (the loop was blocked): resynchronise rather than burst.
            self._start = loop.time() - self._count * self._period
        index = self._count
        self._count += 1
        return index

    def getSettings(self) -> dict[str, Any]:
        return dict(self._settings())

    def _settings(self) -> Mapping[str, Any]:
        return {}


class ToneTrack(_PacedTrack):
    """An audio track: a sine tone (``frequency`` Hz, 48 kHz mono, 20 ms frames)."""

    def __init__(self, frequency: float = 440.0, *, amplitude: float = 0.3) -> None:
        super().__init__("audio", f"rtcpeer tone {frequency:g} Hz", _PTIME)
        self.frequency = frequency
        self.amplitude = amplitude
        self._samples = int(_AUDIO_RATE * _PTIME)

    async def recv(self) -> AudioFrame:
        index = await self._pace()
        n = self._samples
        start = index * n
        step = 2 * math.pi * self.frequency / _AUDIO_RATE
        scale = 32767 * self.amplitude
        pcm = array.array("h", (int(scale * math.sin(step * (start + i))) for i in range(n)))
        frame = AudioFrame(format="s16", layout="mono", samples=n)
        frame.sample_rate = _AUDIO_RATE
        frame.planes[0].update(pcm.tobytes())
        frame.pts = start
        frame.time_base = fractions.Fraction(1, _AUDIO_RATE)
        return frame

    def _settings(self) -> Mapping[str, Any]:
        return {"sampleRate": _AUDIO_RATE, "channelCount": 1, "sampleSize": 16}

    def clone(self) -> ToneTrack:
        """Another tone like this one (a synthetic source is cheap to duplicate)."""
        twin = ToneTrack(self.frequency, amplitude=self.amplitude)
        twin.enabled = self.enabled
        return twin


class TestPatternTrack(_PacedTrack):
    """A video track: a horizontal luma ramp moving right, centred on ``level``
    (0..255), so the far end can tell sources apart by mean brightness."""

    __test__ = False  # not a pytest class

    def __init__(
        self, width: int = 640, height: int = 480, frameRate: float = 30.0, *, level: int = 128
    ) -> None:
        if width < 2 or height < 2 or frameRate <= 0:
            raise ValueError("width and height are at least 2, frameRate is positive")
        super().__init__("video", f"rtcpeer test pattern {width}x{height}", 1.0 / frameRate)
        self.width = width & ~1
        self.height = height & ~1
        self.frameRate = frameRate
        self.level = max(0, min(255, level))
        ramp = bytes(
            max(0, min(255, self.level - 32 + (64 * x) // self.width)) for x in range(self.width)
        )
        self._row = ramp * 2  # slicing a doubled row rotates it cheaply
        self._chroma = bytes([128]) * ((self.width // 2) * (self.height // 2))

    async def recv(self) -> VideoFrame:
        index = await self._pace()
        width, height = self.width, self.height
        shift = (index * 4) % width
        row = self._row[width - shift : 2 * width - shift]
        frame = VideoFrame(width, height, "yuv420p")
        luma, cb, cr = frame.planes
        _fill(luma, row, height)
        _fill(cb, self._chroma[: width // 2], height // 2)
        _fill(cr, self._chroma[: width // 2], height // 2)
        frame.pts = int(index * VIDEO_CLOCK / self.frameRate)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame

    def _settings(self) -> Mapping[str, Any]:
        return {"width": self.width, "height": self.height, "frameRate": self.frameRate}

    def clone(self) -> TestPatternTrack:
        """Another pattern like this one."""
        twin = TestPatternTrack(self.width, self.height, self.frameRate, level=self.level)
        twin.enabled = self.enabled
        return twin


def _fill(plane: Any, row: bytes, rows: int) -> None:
    """Write ``row`` into every line of a plane (lines may be padded)."""
    stride = plane.line_size
    if stride == len(row):
        plane.update(row * rows)
    else:
        plane.update((row + bytes(stride - len(row))) * rows)


def _number(value: Any, default: float) -> float:
    """A W3C constraint value: a number or ``{"ideal"|"exact"|"max"|"min": n}``."""
    if value is None:
        return default
    if isinstance(value, Mapping):
        for key in ("exact", "ideal", "max", "min"):
            if key in value:
                return float(value[key])
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a constraint is a number or a dict like {{'ideal': 640}}, got {value!r}")
    return float(value)


class MediaDevices:
    """W3C ``MediaDevices`` with synthetic devices: a tone and a test pattern."""

    async def getUserMedia(self, constraints: Mapping[str, Any] | None = None) -> MediaStream:
        """A stream with an audio and/or a video track, per ``constraints``
        (``{"audio": True, "video": {"width": 640, "height": 480, "frameRate": 30}}``).
        W3C: asking for neither is a ``TypeError``."""
        constraints = constraints or {}
        audio = constraints.get("audio", False)
        video = constraints.get("video", False)
        if not audio and not video:
            raise TypeError("getUserMedia needs audio or video (or both) in its constraints")
        tracks: list[MediaStreamTrack] = []
        if audio:
            tracks.append(ToneTrack())
        if video:
            options = video if isinstance(video, Mapping) else {}
            facing = options.get("facingMode")
            if isinstance(facing, Mapping):
                facing = facing.get("exact", facing.get("ideal"))
            tracks.append(
                TestPatternTrack(
                    int(_number(options.get("width"), 640)),
                    int(_number(options.get("height"), 480)),
                    _number(options.get("frameRate"), 30.0),
                    level=_FACING_LEVELS.get(str(facing), 128),
                )
            )
        return MediaStream(tracks)

    async def enumerateDevices(self) -> list[dict[str, str]]:
        return [
            {"deviceId": "tone", "kind": "audioinput", "label": "rtcpeer tone", "groupId": ""},
            {"deviceId": "pattern", "kind": "videoinput", "label": "rtcpeer test pattern",
             "groupId": ""},
        ]  # fmt: skip


mediaDevices: Final = MediaDevices()
