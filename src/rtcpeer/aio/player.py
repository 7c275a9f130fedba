"""Media from files and devices, and media into files, through PyAV (FFmpeg).

:class:`MediaPlayer` opens anything FFmpeg reads — a file, a URL, a camera or a
microphone (``MediaPlayer("/dev/video0", format="v4l2")``) — and offers its first
audio and first video stream as tracks (``player.audio``, ``player.video``) to hand
to ``addTrack``. Frames are demuxed and decoded in a worker thread; a file plays at
its own pace (by its timestamps), a device at the pace it captures. At the end of
the input the tracks end (``loop=True`` starts over instead).

:class:`MediaRecorder` writes tracks (a remote track from ``ontrack``, typically)
into a file whose container FFmpeg picks from the name (``.mp4``, ``.webm``,
``.mkv``, ``.wav``...): ``recorder.addTrack(track)``, ``await recorder.start()``,
``await recorder.stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, Final, TypeAlias

import av
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from rtcpeer.aio.media import MediaStreamTrack
from rtcpeer.errors import InvalidStateError

__all__ = ["MediaPlayer", "MediaRecorder"]

logger = logging.getLogger(__name__)

_QUEUE: Final = 30  # decoded frames held per track before the reader waits
#: How long a recorder waits for every track's first frame before writing.
_FIRST_FRAME_WAIT: Final = 5.0


Item: TypeAlias = "AudioFrame | VideoFrame | av.Packet[Any]"


class _PlayerTrack(MediaStreamTrack):
    """A track fed by a :class:`MediaPlayer`'s reader thread: decoded frames, or
    (``decode=False``) the input's encoded packets."""

    def __init__(self, player: MediaPlayer, kind: str, label: str) -> None:
        super().__init__(kind, label=label)
        self._player = player
        self._queue: deque[Item | None] = deque()
        self._ready_event = asyncio.Event()
        #: Frames queued or on their way from the reader thread (guarded by _space).
        self._count = 0
        self._space = threading.Condition()
        #: A reader exists: when not playing in real time, the reader waits for it
        #: rather than dropping frames.
        self._consumed = False

    async def recv(self) -> Item:  # type: ignore[override]
        if self.readyState == "ended":
            raise InvalidStateError("the track has ended")
        self._consumed = True
        self._player._start()
        while not self._queue:
            if self.readyState == "ended":
                raise InvalidStateError("the track has ended")
            self._ready_event.clear()
            await self._ready_event.wait()
        frame = self._queue.popleft()
        with self._space:
            self._count -= 1
            self._space.notify()
        if frame is None:
            self._end()
            raise InvalidStateError("the track has ended (end of input)")
        return frame

    def stop(self) -> None:
        super().stop()
        self._release()
        self._player._track_stopped()

    def _release(self) -> None:
        """Ended: nothing more is queued, readers and the reader thread wake."""
        self._queue.clear()
        self._ready_event.set()
        with self._space:
            self._count = 0
            self._space.notify_all()

    def _deliver(self, frame: Item | None, replace_oldest: bool) -> None:
        if self.readyState == "ended":
            return
        if replace_oldest and self._queue and self._queue[0] is not None:
            self._queue.popleft()  # a reader that falls behind loses the oldest
            self.frames_dropped += 1
        self._queue.append(frame)
        self._ready_event.set()


class MediaPlayer:
    """Tracks read from a file, URL or capture device (``format``/``options`` are
    FFmpeg's: ``MediaPlayer("/dev/video0", format="v4l2", options={"video_size":
    "640x480"})``)."""

    def __init__(
        self,
        file: str,
        format: str | None = None,
        options: Mapping[str, str] | None = None,
        *,
        loop: bool = False,
        realtime: bool | None = None,
        decode: bool = True,
    ) -> None:
        self._container = av.open(file, format=format, options=dict(options or {}))
        #: ``decode=False``: the tracks give the input's encoded packets (``av.Packet``),
        #: sent as they are when the negotiated codec is theirs: no re-encoding, for a
        #: camera or file that already holds H.264 (constrained baseline, no
        #: B-frames), VP8 or Opus.
        self.decode = decode
        self._file = file
        self._format = format
        self._options = dict(options or {})
        self._loop_input = loop
        #: Pace by timestamps (files); a device delivers at its own pace.
        self._realtime = realtime if realtime is not None else format is None
        self._audio_stream = next((s for s in self._container.streams if s.type == "audio"), None)
        self._video_stream = next((s for s in self._container.streams if s.type == "video"), None)
        self.audio: MediaStreamTrack | None = (
            _PlayerTrack(self, "audio", f"{file} audio") if self._audio_stream else None
        )
        self.video: MediaStreamTrack | None = (
            _PlayerTrack(self, "video", f"{file} video") if self._video_stream else None
        )
        self._thread: threading.Thread | None = None
        self._quit = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _tracks(self) -> list[_PlayerTrack]:
        return [t for t in (self.audio, self.video) if isinstance(t, _PlayerTrack)]

    def _start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._read, name="rtcpeer-player", daemon=True)
        self._thread.start()

    def _track_stopped(self) -> None:
        if all(t.readyState == "ended" for t in self._tracks()):
            self.stop()

    def stop(self) -> None:
        """Stop reading; the tracks end (and the input is closed)."""
        self._quit.set()
        for track in self._tracks():
            if track.readyState != "ended":
                track._ready = "ended"
            track._release()
        if self._thread is None:
            with contextlib.suppress(Exception):
                self._container.close()  # never started: nothing else will close it

    def _post(self, track: _PlayerTrack | None, frame: Item | None) -> None:
        """Hand a frame to the loop; wait for room when someone reads the track and
        the input is not real time, else replace the oldest frame when it is full."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self._quit.set()  # nobody left to read: the thread ends
            return
        if track is None or track.readyState == "ended":
            return  # a stopped track takes nothing, and holds nothing up
        with track._space:
            while (
                frame is not None
                and track._count >= _QUEUE
                and track._consumed
                and not self._realtime
                and not self._quit.is_set()
                and track.readyState != "ended"
            ):
                track._space.wait(0.2)
            replace = track._count >= _QUEUE
            if not replace:
                track._count += 1
        try:
            loop.call_soon_threadsafe(track._deliver, frame, replace)
        except RuntimeError:  # the loop closed meanwhile
            self._quit.set()

    def _items(self, container: Any, streams: list[Any]) -> Any:
        """Decoded frames, or encoded packets (H.264 as Annex B, what RTP carries)."""
        if self.decode:
            for frame in container.decode(*streams):
                if isinstance(frame, AudioFrame | VideoFrame):
                    yield frame
            return
        filters = {}
        for stream in streams:
            extradata = stream.codec_context.extradata
            if stream.codec_context.name == "h264" and extradata and extradata[0] == 1:
                # avcC (mp4, mkv) to start codes, with SPS/PPS before key frames.
                filters[stream.index] = av.BitStreamFilterContext("h264_mp4toannexb", stream)
        for packet in container.demux(*streams):
            if packet.size == 0:
                continue
            bsf = filters.get(packet.stream.index)
            if bsf is None:
                yield packet
                continue
            for filtered in bsf.filter(packet):
                filtered.stream = packet.stream  # (filtered packets lose it)
                yield filtered

    def _read(self) -> None:
        """The reader thread: demux, decode, pace, hand frames to the tracks."""
        audio = self.audio if isinstance(self.audio, _PlayerTrack) else None
        video = self.video if isinstance(self.video, _PlayerTrack) else None
        streams = [s for s in (self._audio_stream, self._video_stream) if s is not None]
        container = self._container
        started = time.monotonic()
        offset = 0.0  # seconds of input already played (looping)
        try:
            while not self._quit.is_set():
                last = 0.0
                for frame in self._items(container, streams):
                    if self._quit.is_set():
                        return
                    if isinstance(frame, av.Packet):
                        track = audio if frame.stream.type == "audio" else video
                    else:
                        track = audio if isinstance(frame, AudioFrame) else video
                    if frame.pts is not None and frame.time_base is not None:
                        at = float(frame.pts * frame.time_base)
                        last = max(last, at)
                        if self._realtime:
                            delay = started + offset + at - time.monotonic()
                            if delay > 0 and self._quit.wait(delay):
                                return
                    self._post(track, frame)
                if not self._loop_input:
                    break
                offset += last + 0.033
                container.close()
                container = self._container = av.open(
                    self._file, format=self._format, options=self._options
                )
                streams = [
                    next(s for s in container.streams if s.type == kind)
                    for kind, present in (("audio", audio), ("video", video))
                    if present is not None
                ]
        except av.FFmpegError:
            pass  # a broken input ends like the end of the input
        finally:
            for track in (audio, video):
                self._post(track, None)
            with contextlib.suppress(Exception):
                container.close()


class MediaRecorder:
    """Writes tracks into a file (``MediaRecorder("call.mp4")``); the container and
    codecs follow the file name unless ``format`` says otherwise."""

    def __init__(
        self, file: str, format: str | None = None, options: Mapping[str, str] | None = None
    ) -> None:
        self._container = av.open(file, mode="w", format=format, options=dict(options or {}))
        self._tracks: list[MediaStreamTrack] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._streams: dict[str, Any] = {}
        self._started = False
        self._closed = False
        self._lock = asyncio.Lock()
        self._all_streams = asyncio.Event()
        self._muxing = False
        self._last_raw: int | None = None
        self._origin = 0
        self._last_pts = -1
        self.frames_written = 0
        self.errors = 0

    def addTrack(self, track: MediaStreamTrack) -> None:
        """Record ``track`` (one audio and one video track at most)."""
        if self._started:
            raise InvalidStateError("add tracks before start()")
        if any(t.kind == track.kind for t in self._tracks):
            raise InvalidStateError(f"this recorder already has a {track.kind} track")
        self._tracks.append(track)

    async def start(self) -> None:
        """Begin reading the tracks and writing what they give."""
        if self._started:
            return
        self._started = True
        for track in self._tracks:
            self._tasks.append(asyncio.get_running_loop().create_task(self._record(track)))

    def _stream_for(self, frame: AudioFrame | VideoFrame) -> Any:
        kind = "audio" if isinstance(frame, AudioFrame) else "video"
        known = self._streams.get(kind)
        if known is not None:
            return known
        name = self._container.format.name
        if isinstance(frame, VideoFrame):
            codec = "libvpx" if "webm" in name else "libx264"
            video = self._container.add_stream(codec, rate=30)
            assert isinstance(video, av.VideoStream)
            video.width, video.height = frame.width & ~1, frame.height & ~1
            video.pix_fmt = "yuv420p"
            video.time_base = video.codec_context.time_base = fractions.Fraction(1, 90000)
            stream: Any = video
        else:
            codec = "libopus" if ("webm" in name or "ogg" in name) else "aac"
            if "wav" in name:
                codec = "pcm_s16le"
            sound = self._container.add_stream(codec, rate=48000)
            assert isinstance(sound, av.AudioStream)
            sound.layout = "stereo"
            sound.time_base = sound.codec_context.time_base = fractions.Fraction(1, 48000)
            stream = sound
        self._streams[kind] = stream
        return stream

    def _video_pts(self, frame: VideoFrame) -> int:
        """The frame's time in 1/90000 from the first frame, from whatever time base
        it has; RTP timestamps (a remote track) are unwrapped; always increasing."""
        base = frame.time_base or fractions.Fraction(1, 90000)
        raw = frame.pts or 0
        if self._last_raw is None:
            self._origin = raw
        elif base == fractions.Fraction(1, 90000):
            # A remote track's pts is the 32-bit RTP timestamp: unwrap it.
            step = ((raw - self._last_raw + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
            raw = self._last_raw + step
        self._last_raw = raw
        pts = int((raw - self._origin) * base * 90000)
        pts = max(pts, self._last_pts + 1)
        self._last_pts = pts
        return pts

    async def _record(self, track: MediaStreamTrack) -> None:
        samples = 0
        first = True
        while True:
            try:
                item: Any = await track.recv()
            except (InvalidStateError, asyncio.CancelledError):
                return
            if not isinstance(item, AudioFrame | VideoFrame):
                continue  # encoded input (MediaPlayer(decode=False)) is not recorded
            frame = item
            if first:
                first = False
                # A container's streams are fixed once the first packet is written:
                # every track's stream is added (from its first frame) before that.
                async with self._lock:
                    if not self._muxing:
                        self._stream_for(frame)
                        if len(self._streams) == len(self._tracks):
                            self._all_streams.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._all_streams.wait(), _FIRST_FRAME_WAIT)
            async with self._lock:
                if self._closed:
                    return
                kind = "audio" if isinstance(frame, AudioFrame) else "video"
                if kind not in self._streams:
                    return  # its first frame came too late to have a stream
                self._muxing = True
                stream = self._streams[kind]
                if isinstance(frame, VideoFrame):
                    pts = self._video_pts(frame)
                    if (frame.width, frame.height) != (stream.width, stream.height):
                        frame = frame.reformat(width=stream.width, height=stream.height)
                    frame.pts = pts
                    frame.time_base = fractions.Fraction(1, 90000)
                else:
                    # Audio is written gapless, by sample count.
                    rate = frame.sample_rate or 48000
                    frame.pts = samples
                    frame.time_base = fractions.Fraction(1, rate)
                    samples += frame.samples
                try:
                    for packet in stream.encode(frame):
                        self._container.mux(packet)
                except (av.FFmpegError, ValueError) as exc:
                    self.errors += 1  # one bad frame is skipped, the file goes on
                    if self.errors == 1:
                        logger.warning("MediaRecorder could not write a frame: %r", exc)
                    continue
                self.frames_written += 1

    async def stop(self) -> None:
        """Stop recording, flush the encoders and close the file."""
        if self._closed:
            return
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        async with self._lock:
            self._closed = True
            try:
                for stream in self._streams.values():
                    with contextlib.suppress(av.FFmpegError, ValueError):
                        for packet in stream.encode(None):
                            self._container.mux(packet)
            finally:
                self._container.close()
