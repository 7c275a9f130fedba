"""``MediaStreamTrack`` and ``MediaStream`` (W3C Media Capture and Streams §4, §5).

These are the objects the peer connection API passes around: ``addTrack(track,
stream)``, ``event.track``/``event.streams`` in ``ontrack``, ``replaceTrack``. A
track has the W3C attributes and events (``kind``, ``id``, ``label``, ``enabled``,
``muted``, ``readyState``; ``mute``, ``unmute``, ``ended``) and, being Python, one
more method: ``await track.recv()`` gives its next frame (``av.AudioFrame`` or
``av.VideoFrame``). A remote track's frames are what the peer sent, decoded; a
local source (:mod:`rtcpeer.aio.sources`, or your own subclass overriding
``recv``) produces them. A remote track starts muted, as in browsers, and is
unmuted when media arrives.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Iterable
from typing import Any, ClassVar, Final, Literal

from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from rtcpeer.aio.events import Event, EventTarget
from rtcpeer.errors import InvalidStateError

__all__ = ["MediaStream", "MediaStreamTrack", "MediaStreamTrackEvent"]

TrackKind = Literal["audio", "video"]
ReadyState = Literal["live", "ended"]
Frame = AudioFrame | VideoFrame
#: Decoded frames a remote track keeps for a slow reader (then the oldest go).
_QUEUE: Final = {"audio": 50, "video": 10}


class MediaStreamTrack(EventTarget):
    """W3C ``MediaStreamTrack``: ``MediaStreamTrack("audio")`` or ``("video")``."""

    _event_types: ClassVar[frozenset[str]] = frozenset({"ended", "mute", "unmute"})

    def __init__(self, kind: str, *, id: str | None = None, label: str = "") -> None:
        super().__init__()
        if kind not in ("audio", "video"):
            raise TypeError(f"a track's kind is 'audio' or 'video', got {kind!r}")
        self._kind: TrackKind = "audio" if kind == "audio" else "video"
        self._id = id if id is not None else str(uuid.uuid4())
        self._label = label
        self.enabled = True
        self._muted = False
        self._ready: ReadyState = "live"
        self.contentHint = ""
        self._frames: deque[Frame] | None = None
        #: Readers waiting for a frame (several may read one track).
        self._waiters: list[asyncio.Future[None]] = []
        self.frames_dropped = 0
        #: Clones of a remote track: they share its frames.
        self._clones: list[MediaStreamTrack] = []

    @property
    def kind(self) -> str:
        return self._kind

    @property
    def id(self) -> str:
        return self._id

    @property
    def label(self) -> str:
        return self._label

    @property
    def muted(self) -> bool:
        """True while the source gives no media (a remote track until RTP arrives)."""
        return self._muted

    @property
    def readyState(self) -> str:
        return self._ready

    def stop(self) -> None:
        """End the track; W3C fires no ``ended`` event for a ``stop()`` of one's own."""
        self._ready = "ended"
        self._wake()

    async def recv(self) -> Frame:
        """The next frame of this track.

        A remote track (``event.track`` in ``ontrack``) returns decoded frames as
        they arrive (``pts`` is the RTP timestamp, ``time_base`` 1/clock rate). A
        source track produces its own. A plain ``MediaStreamTrack("video")`` has no
        source: subclass it and override ``recv`` to send your own frames. Raises
        ``InvalidStateError`` once the track has ended.
        """
        if self._frames is None:
            if self._ready == "ended":
                raise InvalidStateError("the track has ended")
            raise NotImplementedError(
                "this track has no source: subclass MediaStreamTrack and override recv(), "
                "or use rtcpeer.mediaDevices.getUserMedia()"
            )
        while not self._frames:
            if self._ready == "ended":
                raise InvalidStateError("the track has ended")
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        return self._frames.popleft()

    def clone(self) -> MediaStreamTrack:
        """A new track (new id) with the same kind, label, state and source (W3C).

        Each frame a track gives goes to one ``recv()``: to read a remote track
        twice (record it and also forward it, or send it on two connections), read
        a clone for each: a remote track's clones each get every frame."""
        twin = MediaStreamTrack(self._kind, label=self._label)
        twin.enabled = self.enabled
        twin._muted = self._muted
        twin._ready = self._ready
        if self._frames is not None:
            twin._make_remote()
            self._clones.append(twin)
        return twin

    def getSettings(self) -> dict[str, Any]:
        return {}

    def getConstraints(self) -> dict[str, Any]:
        return {}

    # -- driven by the peer connection ------------------------------------------------------

    def _make_remote(self) -> None:
        self._frames = deque()

    def _push_frame(self, frame: Frame) -> None:
        """A decoded remote frame; a reader that falls behind loses the oldest."""
        for clone in self._clones:
            clone._push_frame(frame)
        frames = self._frames
        if frames is None or self._ready == "ended":
            return
        if len(frames) >= _QUEUE[self._kind]:
            frames.popleft()
            self.frames_dropped += 1
        frames.append(frame)
        self._wake()

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _set_muted(self, muted: bool) -> None:
        for clone in self._clones:
            clone._set_muted(muted)
        if self._ready == "ended" or muted == self._muted:
            return
        self._muted = muted
        self.dispatchEvent(Event("mute" if muted else "unmute", self))

    def _end(self) -> None:
        """The source ended (a receiver's transceiver stopped, the connection closed)."""
        for clone in self._clones:
            clone._end()
        if self._ready == "ended":
            return
        self._ready = "ended"
        self._wake()
        self.dispatchEvent(Event("ended", self))

    def __repr__(self) -> str:
        state = f"{self._ready}{', muted' if self._muted else ''}"
        return f"<MediaStreamTrack {self._kind} {self._id} ({state})>"


class MediaStreamTrackEvent:
    """``addtrack`` / ``removetrack`` on a stream: ``event.track``."""

    __slots__ = ("target", "track", "type")

    def __init__(self, type: str, track: MediaStreamTrack, target: MediaStream) -> None:
        self.type = type
        self.track = track
        self.target = target


class MediaStream(EventTarget):
    """W3C ``MediaStream``: a set of tracks under one id (``a=msid`` stream id)."""

    _event_types: ClassVar[frozenset[str]] = frozenset({"addtrack", "removetrack"})

    def __init__(
        self, tracks: Iterable[MediaStreamTrack] | None = None, *, id: str | None = None
    ) -> None:
        super().__init__()
        self._id = id if id is not None else str(uuid.uuid4())
        self._tracks: dict[str, MediaStreamTrack] = {}
        for track in tracks or ():
            if not isinstance(track, MediaStreamTrack):
                raise TypeError("a MediaStream holds MediaStreamTrack objects")
            self._tracks.setdefault(track.id, track)

    @property
    def id(self) -> str:
        return self._id

    @property
    def active(self) -> bool:
        return any(t.readyState == "live" for t in self._tracks.values())

    def getTracks(self) -> list[MediaStreamTrack]:
        return list(self._tracks.values())

    def getAudioTracks(self) -> list[MediaStreamTrack]:
        return [t for t in self._tracks.values() if t.kind == "audio"]

    def getVideoTracks(self) -> list[MediaStreamTrack]:
        return [t for t in self._tracks.values() if t.kind == "video"]

    def getTrackById(self, track_id: str) -> MediaStreamTrack | None:
        return self._tracks.get(track_id)

    def addTrack(self, track: MediaStreamTrack) -> None:
        """Add a track (no event: W3C fires ``addtrack`` only for changes the user
        agent makes, such as remote tracks arriving)."""
        self._tracks.setdefault(track.id, track)

    def removeTrack(self, track: MediaStreamTrack) -> None:
        self._tracks.pop(track.id, None)

    def clone(self) -> MediaStream:
        return MediaStream(t.clone() for t in self._tracks.values())

    # -- driven by the peer connection ------------------------------------------------------

    def _add_remote(self, track: MediaStreamTrack) -> None:
        if track.id not in self._tracks:
            self._tracks[track.id] = track
            self.dispatchEvent(MediaStreamTrackEvent("addtrack", track, self))

    def _remove_remote(self, track: MediaStreamTrack) -> None:
        if self._tracks.pop(track.id, None) is not None:
            self.dispatchEvent(MediaStreamTrackEvent("removetrack", track, self))

    def __repr__(self) -> str:
        return f"<MediaStream {self._id} tracks={len(self._tracks)}>"
