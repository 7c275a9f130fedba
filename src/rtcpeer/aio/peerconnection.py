"""W3C ``RTCPeerConnection`` (webrtc-pc §4) for asyncio.

The object a browser programmer knows, with the same names and semantics: offers and
answers (explicit, implicit and rollback), trickle ICE, the three state machines,
data channels, ``getStats()``, ICE restart and ``close()``. It is a thin shell: JSEP
is :class:`~rtcpeer.sdp.jsep.JsepSession`, transports are
:class:`~rtcpeer.connection.Connection`, both sans-IO; this module runs them on the
event loop and turns their events into W3C events.

Media (tracks, transceivers carrying RTP) is not implemented yet: transceivers are
negotiated in SDP but no RTP flows.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import random
import secrets
import time
import uuid
from collections.abc import Awaitable, Coroutine, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from rtcpeer.aio.certificate import RTCCertificate
from rtcpeer.aio.configuration import (
    RTCConfiguration,
    RTCIceServer,
    check_update,
    parse_configuration,
)
from rtcpeer.aio.datachannel import DCEP_PRIORITIES, RTCDataChannel, RTCDataChannelEvent
from rtcpeer.aio.driver import ConnectionDriver
from rtcpeer.aio.events import EventTarget
from rtcpeer.aio.mdns import MdnsService
from rtcpeer.aio.media import MediaStream, MediaStreamTrack
from rtcpeer.aio.rtp import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver, RTCTrackEvent
from rtcpeer.aio.stats import RTCStatsReport, collect_stats, select_stats
from rtcpeer.connection import Connection, ConnectionEvent, SctpStateEvent
from rtcpeer.datagram import Address
from rtcpeer.dtls.certificate import Certificate
from rtcpeer.dtls.transport import DtlsErrorEvent, DtlsStateChangeEvent
from rtcpeer.errors import InvalidAccessError, InvalidStateError, OperationError
from rtcpeer.ice.agent import (
    IceAgent,
    IceCandidateErrorEvent,
    IceGatheringStateEvent,
    IceLocalCandidateEvent,
    IceSelectedPairEvent,
    IceStateEvent,
)
from rtcpeer.ice.candidate import Candidate, CandidateParseError
from rtcpeer.ice.turn import TurnServerConfig
from rtcpeer.ice.url import IceServerUrl
from rtcpeer.rtp.session import FrameReceived, KeyframeRequested, RtpStreamStarted, TargetBitrate
from rtcpeer.sctp.datachannel import (
    Channel,
    ChannelAnnounced,
    ChannelBufferedAmountLow,
    ChannelClosed,
    ChannelClosing,
    ChannelError,
    ChannelMessage,
    ChannelOpened,
)
from rtcpeer.sdp.codecs import (
    AUDIO_LEVEL_URI,
    MID_URI,
    REPAIRED_RID_URI,
    RID_URI,
    TRANSPORT_CC_URI,
)
from rtcpeer.sdp.jsep import Applied, JsepSession, Transceiver, TransportInfo

__all__ = [
    "RTCIceCandidate",
    "RTCPeerConnection",
    "RTCPeerConnectionIceErrorEvent",
    "RTCPeerConnectionIceEvent",
    "RTCSessionDescription",
]

logger = logging.getLogger("rtcpeer")

_ICE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_MAX_MDNS_LOOKUPS = 16  # .local names resolving at once


def _ice_string(length: int) -> str:
    return "".join(secrets.choice(_ICE_CHARS) for _ in range(length))


class _ReadOnlyDict(dict[str, Any]):
    """A dict that ``json.dumps`` writes as it is (JavaScript's ``toJSON()``), whose
    entries are the object's read-only attributes."""

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(f"{type(self).__name__} is read-only; make a new one instead")

    __setitem__ = __delitem__ = update = setdefault = pop = popitem = clear = _read_only  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in dict.items(self))
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> Any:
        return (type(self), (dict(self),))


class RTCSessionDescription(_ReadOnlyDict):
    """W3C ``RTCSessionDescription``: ``type`` and ``sdp``. It is also the dict
    ``{"type": ..., "sdp": ...}``, so ``json.dumps({"sdp": pc.localDescription})``
    works as ``JSON.stringify`` does, and such a dict is accepted wherever a
    description is. ``RTCSessionDescription("offer", sdp)`` or
    ``RTCSessionDescription({"type": "offer", "sdp": sdp})``."""

    __slots__ = ()

    def __init__(self, type: str | Mapping[str, Any] = "", sdp: str = "") -> None:
        if isinstance(type, Mapping):
            init = type
            type, sdp = str(init.get("type") or ""), str(init.get("sdp") or "")
        dict.__init__(self, type=type, sdp=sdp)

    @property
    def type(self) -> str:
        return str(dict.__getitem__(self, "type"))

    @property
    def sdp(self) -> str:
        return str(dict.__getitem__(self, "sdp"))

    def toJSON(self) -> dict[str, str]:
        return {"type": self.type, "sdp": self.sdp}


class RTCIceCandidate(_ReadOnlyDict):
    """W3C ``RTCIceCandidate``: ``candidate`` is the ``candidate:...`` string
    (``""`` is end-of-candidates), with the m-section it belongs to. It is also the
    dict its ``toJSON()`` returns (``json.dumps`` writes it as JavaScript's
    ``JSON.stringify`` would), and such a dict is accepted by ``addIceCandidate``.
    ``RTCIceCandidate(candidate=..., sdpMid=..., sdpMLineIndex=...)`` or
    ``RTCIceCandidate({"candidate": ..., ...})``."""

    __slots__ = ()

    def __init__(
        self,
        candidate: str | Mapping[str, Any] = "",
        sdpMid: str | None = None,
        sdpMLineIndex: int | None = None,
        usernameFragment: str | None = None,
    ) -> None:
        if isinstance(candidate, Mapping):
            init = candidate
            candidate = str(init.get("candidate") or "")
            sdpMid = init.get("sdpMid")
            sdpMLineIndex = init.get("sdpMLineIndex")
            usernameFragment = init.get("usernameFragment")
        dict.__init__(
            self,
            candidate=candidate,
            sdpMid=sdpMid,
            sdpMLineIndex=sdpMLineIndex,
            usernameFragment=usernameFragment,
        )

    @property
    def candidate(self) -> str:
        return str(dict.__getitem__(self, "candidate"))

    @property
    def sdpMid(self) -> str | None:
        value: str | None = dict.__getitem__(self, "sdpMid")
        return value

    @property
    def sdpMLineIndex(self) -> int | None:
        value: int | None = dict.__getitem__(self, "sdpMLineIndex")
        return value

    @property
    def usernameFragment(self) -> str | None:
        value: str | None = dict.__getitem__(self, "usernameFragment")
        return value

    def _parsed(self) -> Candidate | None:
        return Candidate.parse(self.candidate) if self.candidate else None

    @property
    def address(self) -> str | None:
        parsed = self._parsed()
        return parsed.address if parsed else None

    @property
    def port(self) -> int | None:
        parsed = self._parsed()
        return parsed.port if parsed else None

    @property
    def type(self) -> str | None:
        parsed = self._parsed()
        return parsed.type if parsed else None

    @property
    def protocol(self) -> str | None:
        parsed = self._parsed()
        return parsed.transport if parsed else None

    @property
    def priority(self) -> int | None:
        parsed = self._parsed()
        return parsed.priority if parsed else None

    @property
    def foundation(self) -> str | None:
        parsed = self._parsed()
        return parsed.foundation if parsed else None

    def toJSON(self) -> dict[str, Any]:
        return dict(self)


@dataclass(frozen=True, slots=True)
class RTCPeerConnectionIceEvent:
    """``icecandidate``: ``candidate`` is ``None`` once gathering is complete."""

    type: str
    candidate: RTCIceCandidate | None
    target: Any = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class RTCPeerConnectionIceErrorEvent:
    """``icecandidateerror``: a STUN/TURN server could not be used."""

    type: str
    address: str | None
    port: int | None
    url: str
    errorCode: int
    errorText: str
    target: Any = None


@dataclass(frozen=True, slots=True)
class _Event:
    type: str
    target: Any = None


class _Done:
    """What ``close()`` returns: nothing to wait for, but ``await pc.close()`` works."""

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield


def _description_from(value: Any) -> tuple[str, str]:
    if isinstance(value, RTCSessionDescription):
        return value.type, value.sdp
    if isinstance(value, Mapping):
        sdp_type = value.get("type")
        if not isinstance(sdp_type, str):
            raise TypeError("a description needs 'type' (offer, answer, pranswer or rollback)")
        sdp = value.get("sdp") or ""
        if not isinstance(sdp, str):
            raise TypeError("a description's 'sdp' is a string")
        return sdp_type, sdp
    if hasattr(value, "type") and hasattr(value, "sdp"):  # e.g. aiortc's description
        return str(value.type), str(value.sdp or "")
    raise TypeError(
        f"expected a {{'type', 'sdp'}} dict or RTCSessionDescription, got {type(value).__name__}"
    )


class RTCPeerConnection(EventTarget):
    """A WebRTC peer connection (W3C webrtc-pc §4.4).

    ``configuration`` is a dict shaped like the JavaScript one or an
    :class:`~rtcpeer.aio.configuration.RTCConfiguration`.
    """

    _event_types: ClassVar[frozenset[str]] = frozenset(
        {
            "negotiationneeded",
            "icecandidate",
            "icecandidateerror",
            "signalingstatechange",
            "iceconnectionstatechange",
            "icegatheringstatechange",
            "connectionstatechange",
            "track",
            "datachannel",
        }
    )

    def __init__(self, configuration: RTCConfiguration | Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self._configuration = parse_configuration(configuration)
        config = self._configuration
        self._rng = random.Random(secrets.randbits(64))
        wall = datetime.now(UTC)
        if config.certificates:
            certificate = config.certificates[0]
        else:
            certificate = Certificate.generate(not_before=wall)
        self._certificate: Certificate = certificate
        self._agent = IceAgent(controlling=True, rng=self._rng)
        self._connection = Connection(
            controlling=True,
            certificate=certificate,
            wall_time=wall,
            rng=self._rng,
            ice=self._agent,
        )
        self._jsep = JsepSession(
            fingerprints=certificate.get_fingerprints(),
            ice_ufrag=self._agent.local_ufrag,
            ice_pwd=self._agent.local_pwd,
            rng=self._rng,
            bundle_policy=config.bundlePolicy,  # type: ignore[arg-type]
        )
        self._driver: ConnectionDriver | None = None
        self._chain = asyncio.Lock()
        self._operations = 0
        self._closed = False
        self._ice_connection_state = "new"
        self._ice_gathering_state = "new"
        self._connection_state = "new"
        self._gathering_started = False
        self._transport: TransportInfo | None = None
        self._channels: dict[int, RTCDataChannel] = {}  # id(core Channel) -> wrapper
        self._negotiation_needed = False
        self._negotiation_event_queued = False
        self._restart_requested = False
        self._pending_restart: tuple[str, str] | None = None
        self._end_of_candidates_pending = False
        self._selected_pair_changed = 0
        self._remote_trickle: bool | None = None
        #: ICE events gathered for the candidate pool, held until setLocalDescription.
        self._held_ice_events: list[ConnectionEvent] | None = None
        self._turn_streams: list[tuple[TurnServerConfig, str]] = []
        self._background: set[asyncio.Task[None]] = set()
        self._mdns_resolving = 0
        self._mdns_end_of_candidates = False
        self._mdns_names: dict[str, str] = {}  # host IP -> our .local name
        self._mdns_cache: dict[str, str] = {}  # remote .local name -> address
        self._mdns_waiting: dict[str, list[Candidate]] = {}  # names being looked up
        self._transceivers: dict[int, RTCRtpTransceiver] = {}  # id(JSEP core) -> wrapper
        self._remote_streams: dict[str, MediaStream] = {}
        self._stream_owner: dict[int, RTCRtpTransceiver] = {}  # remote SSRC -> transceiver
        if config.iceCandidatePoolSize > 0:
            self._start_pool()

    def _start_pool(self) -> None:
        """W3C ``iceCandidatePoolSize``: gather before any description exists, so the
        first offer/answer finds server-reflexive and relayed candidates ready. The
        candidates (and gathering states) surface after ``setLocalDescription``, as
        in browsers. One pool serves the bundled transport, so any size > 0 is one.
        Without a running event loop there is nothing to gather with: the pool is
        skipped and gathering starts at ``setLocalDescription`` as usual."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self._held_ice_events = []
        self._spawn(self._start_gathering())

    # -- attributes ---------------------------------------------------------------------

    def _description(self, value: Any) -> RTCSessionDescription | None:
        if value is None:
            return None
        return RTCSessionDescription(value.type, value.sdp)

    @property
    def localDescription(self) -> RTCSessionDescription | None:
        return self._description(self._jsep.local_description)

    @property
    def remoteDescription(self) -> RTCSessionDescription | None:
        return self._description(self._jsep.remote_description)

    @property
    def currentLocalDescription(self) -> RTCSessionDescription | None:
        return self._description(self._jsep.current_local_description)

    @property
    def pendingLocalDescription(self) -> RTCSessionDescription | None:
        return self._description(self._jsep.pending_local_description)

    @property
    def currentRemoteDescription(self) -> RTCSessionDescription | None:
        return self._description(self._jsep.current_remote_description)

    @property
    def pendingRemoteDescription(self) -> RTCSessionDescription | None:
        return self._description(self._jsep.pending_remote_description)

    @property
    def signalingState(self) -> str:
        return "closed" if self._closed else self._jsep.signaling_state

    @property
    def iceGatheringState(self) -> str:
        return self._ice_gathering_state

    @property
    def iceConnectionState(self) -> str:
        return self._ice_connection_state

    @property
    def connectionState(self) -> str:
        return self._connection_state

    @property
    def canTrickleIceCandidates(self) -> bool | None:
        return self._remote_trickle

    @property
    def sctp(self) -> Any:
        """The SCTP transport's state as a small object (``state``, ``maxMessageSize``),
        ``None`` until a data channel section is negotiated."""
        if self._connection.sctp_state is None:
            return None
        return _SctpTransportView(self)

    @staticmethod
    async def generateCertificate(
        keygenAlgorithm: str | Mapping[str, Any],
    ) -> RTCCertificate:
        """A certificate for the ``certificates`` option (W3C §4.9.1); see
        :meth:`RTCCertificate.generateCertificate`."""
        return await RTCCertificate.generateCertificate(keygenAlgorithm)

    def getConfiguration(self) -> RTCConfiguration:
        return self._configuration

    def setConfiguration(self, configuration: Mapping[str, Any] | RTCConfiguration) -> None:
        self._check_not_closed()
        self._configuration = check_update(self._configuration, parse_configuration(configuration))

    # -- driver -------------------------------------------------------------------------

    def _ensure_driver(self) -> ConnectionDriver:
        if self._driver is None:
            self._driver = ConnectionDriver(self._connection, self._on_connection_event)
            # Sender reports carry wall-clock NTP time (RFC 3550 §6.4.1).
            self._connection.rtp.wallclock_offset = time.time() - self._driver.now()
        return self._driver

    def _driver_now(self) -> float:
        if self._driver is not None:
            return self._driver.now()
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return time.monotonic()

    def _kick(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: work happens once one runs
        self._ensure_driver().schedule()

    def _check_not_closed(self) -> None:
        if self._closed:
            raise InvalidStateError("the RTCPeerConnection is closed")

    # -- offer / answer -----------------------------------------------------------------

    async def createOffer(
        self, options: Mapping[str, Any] | None = None, *, iceRestart: bool = False
    ) -> RTCSessionDescription:
        """An offer for the current transceivers and data channels (W3C §4.4.1.6)."""
        self._check_not_closed()
        restart = iceRestart or bool((options or {}).get("iceRestart")) or self._restart_requested
        async with self._chain:
            self._check_not_closed()
            if restart and self._pending_restart is None:
                self._pending_restart = (_ice_string(8), _ice_string(24))
                self._jsep.restart_ice(*self._pending_restart)
            sdp = self._jsep.create_offer(ice_restart=restart)
            return RTCSessionDescription("offer", sdp)

    async def createAnswer(self, options: Mapping[str, Any] | None = None) -> RTCSessionDescription:
        self._check_not_closed()
        async with self._chain:
            self._check_not_closed()
            if self._jsep.signaling_state not in ("have-remote-offer", "have-local-pranswer"):
                raise InvalidStateError(
                    f"createAnswer() needs a remote offer; signalingState is {self.signalingState}"
                )
            return RTCSessionDescription("answer", self._jsep.create_answer())

    async def setLocalDescription(self, description: Any = None) -> None:
        """Apply our offer or answer; with no argument, create the right one (implicit)."""
        self._check_not_closed()
        self._ensure_driver()
        async with self._chain:
            self._check_not_closed()
            sdp_type: str
            if description is None:
                sdp_type, sdp = self._jsep.implicit_type(), ""
            else:
                sdp_type, sdp = _description_from(description)
            if sdp_type in ("offer", "answer", "pranswer") and not sdp:
                if sdp_type == "offer":
                    if self._restart_requested and self._pending_restart is None:
                        self._pending_restart = (_ice_string(8), _ice_string(24))
                        self._jsep.restart_ice(*self._pending_restart)
                    sdp = self._jsep.create_offer(ice_restart=self._pending_restart is not None)
                else:
                    sdp = self._jsep.create_answer()
            applied = self._jsep.set_local_description(sdp_type, sdp)
            await self._apply(applied)

    async def setRemoteDescription(self, description: Any) -> None:
        self._check_not_closed()
        self._ensure_driver()
        sdp_type, sdp = _description_from(description)
        async with self._chain:
            self._check_not_closed()
            applied = self._jsep.set_remote_description(sdp_type, sdp)
            if sdp_type != "rollback" and sdp:
                self._remote_trickle = any(
                    line.startswith("a=ice-options:") and "trickle" in line.split(":", 1)[1].split()
                    for line in sdp.splitlines()
                )
            await self._apply(applied)

    async def addIceCandidate(self, candidate: Any = None) -> None:
        """Add a remote candidate; ``None`` (or an empty candidate) is end-of-candidates."""
        self._check_not_closed()
        if isinstance(candidate, RTCIceCandidate):
            init = candidate.toJSON()
        elif candidate is None:
            init = {"candidate": ""}
        elif isinstance(candidate, Mapping):
            init = dict(candidate)
        elif hasattr(candidate, "candidate") or hasattr(candidate, "sdpMid"):
            init = {
                "candidate": getattr(candidate, "candidate", ""),
                "sdpMid": getattr(candidate, "sdpMid", None),
                "sdpMLineIndex": getattr(candidate, "sdpMLineIndex", None),
            }
        else:
            raise TypeError("addIceCandidate takes an RTCIceCandidate, a dict or None")
        async with self._chain:
            self._check_not_closed()
            if self._jsep.remote_description is None:
                raise InvalidStateError(
                    "addIceCandidate() before setRemoteDescription(): queue candidates until "
                    "the remote description is set"
                )
            text = init.get("candidate") or ""
            mid = init.get("sdpMid")
            index = init.get("sdpMLineIndex")
            if not text and mid is None and index is None:
                mid = self._transport.id if self._transport is not None else None
                index = 0 if mid is None else None
            remote = self._jsep.add_remote_candidate(text, mid, index, init.get("usernameFragment"))
            now = self._driver_now()
            if not text:
                self._add_remote_candidate(now, None)
            else:
                try:
                    parsed = Candidate.parse(remote.candidate)
                except CandidateParseError as exc:
                    raise OperationError(f"the candidate could not be parsed: {exc}") from None
                if self._transport is None or remote.transport_id == self._transport.id:
                    self._add_remote_candidate(now, parsed)
            self._connection.pump(now)
            self._ensure_driver().schedule()  # events fire as tasks, after this resolves

    def restartIce(self) -> None:
        """Ask for an ICE restart in the next offer; fires ``negotiationneeded``."""
        self._check_not_closed()
        self._restart_requested = True
        self._update_negotiation_needed()

    # -- applying what JSEP decided ---------------------------------------------------------

    async def _apply(self, applied: Applied) -> None:
        now = self._driver_now()
        for _state in applied.signaling_states:
            self.dispatchEvent(_Event("signalingstatechange", self))
        if applied.transports:
            info = applied.transports[0]
            self._transport = info
            if len(applied.transports) > 1 and applied.type in ("answer", "pranswer"):
                # (An initial offer lists a transport per m-section until the answer
                # accepts BUNDLE; our one ICE agent serves them all meanwhile.)
                logger.warning(
                    "the peer did not bundle: only the first transport (%s) is used", info.id
                )
            agent = self._agent
            if agent.state == "new" and not agent.pairs:
                agent.controlling = info.ice_controlling
            if applied.local_ice_restart and self._pending_restart is not None:
                agent.restart(now, *self._pending_restart)
                self._pending_restart = None
                self._restart_requested = False
            if not applied.remote:
                await self._start_gathering()  # no-op when the pool already started it
                if self._held_ice_events is not None:
                    # The pool's candidates surface now, after this call resolves.
                    held, self._held_ice_events = self._held_ice_events, None
                    self._ensure_driver().requeue(held)
            if info.remote_ufrag and info.remote_pwd:
                if (info.remote_ufrag, info.remote_pwd) != (agent.remote_ufrag, agent.remote_pwd):
                    agent.set_remote_credentials(
                        now, info.remote_ufrag, info.remote_pwd, lite=info.remote_ice_lite
                    )
                for remote in info.remote_candidates:
                    if not remote.candidate:
                        self._add_remote_candidate(now, None)
                        continue
                    try:
                        self._add_remote_candidate(now, Candidate.parse(remote.candidate))
                    except CandidateParseError:
                        logger.debug("ignoring an unparsable candidate in the SDP")
                if info.remote_end_of_candidates:
                    self._add_remote_candidate(now, None)
            if info.dtls_role is not None and info.remote_fingerprints:
                fingerprints = [(f.algorithm, f.value) for f in info.remote_fingerprints]
                self._connection.start_dtls(now, info.dtls_role, fingerprints)
        if applied.remote and applied.remote_ice_restart and self._pending_restart is None:
            # The peer restarted ICE: our answer needs new credentials too.
            self._pending_restart = (_ice_string(8), _ice_string(24))
            try:
                self._jsep.restart_ice(*self._pending_restart)
            except ValueError:
                self._pending_restart = None
        self._apply_media(applied)
        sctp = applied.sctp
        if (
            sctp is not None
            and sctp.remote_port is not None
            and self._transport is not None
            and self._connection.sctp is None
        ):
            self._connection.start_sctp(
                now, sctp.local_port, sctp.remote_port, sctp.remote_max_message_size
            )
        self._connection.pump(now)
        self._ensure_driver().schedule()  # events fire as tasks, after this resolves
        if self._jsep.signaling_state == "stable":
            self._update_negotiation_needed()

    # -- media plumbing ------------------------------------------------------------------------

    def _wrap_transceiver(
        self, core: Transceiver, track: MediaStreamTrack | None = None
    ) -> RTCRtpTransceiver:
        wrapper = self._transceivers.get(id(core))
        if wrapper is None:
            wrapper = self._transceivers[id(core)] = RTCRtpTransceiver(self, core, track)
        return wrapper

    def _remote_stream(self, stream_id: str) -> MediaStream:
        stream = self._remote_streams.get(stream_id)
        if stream is None:
            stream = self._remote_streams[stream_id] = MediaStream(id=stream_id)
        return stream

    def _apply_media(self, applied: Applied) -> None:
        """W3C "set the RTCSessionDescription" steps for transceivers and remote
        tracks: associate streams, fire ``track``, mute removed tracks, end stopped
        ones."""
        for core in applied.added_transceivers:
            self._wrap_transceiver(core)
        rtp = self._connection.rtp
        for negotiation in applied.rtp:
            # What the receive path needs to read the streams: clock rates, MID id,
            # payload formats, NACK, RTX.
            rtp.cname = negotiation.cname
            for codec in negotiation.codecs:
                rtp.clock_rates[codec.payload_type] = codec.clock_rate
                rtp.payload_formats[codec.payload_type] = codec.mime_type.split("/", 1)[-1]
                if "nack" in codec.rtcp_feedback:
                    rtp.nack_payload_types.add(codec.payload_type)
            for rtx, apt in negotiation.rtx_apt:
                rtp.rtx_payload_types[rtx] = apt
            for primary, repair in negotiation.remote_rtx_ssrcs:
                rtp.rtx_ssrcs[repair] = primary
            # Bundled, one id per URI: a section that lacks an extension (audio has
            # no rid) leaves what another section set.
            ids = {uri: n for n, uri in negotiation.header_extensions}
            if MID_URI in ids:
                rtp.set_mid_extension(ids[MID_URI])
            if TRANSPORT_CC_URI in ids:
                rtp.set_transport_cc_extension(ids[TRANSPORT_CC_URI])
            if AUDIO_LEVEL_URI in ids:
                rtp.set_audio_level_extension(ids[AUDIO_LEVEL_URI])
            if RID_URI in ids:
                rtp.set_rid_extensions(ids[RID_URI], ids.get(REPAIRED_RID_URI))
        for known in self._transceivers.values():
            if known._core.current_direction in ("sendrecv", "sendonly"):
                known._ever_sent = True
        for change in applied.stream_changes:
            self._wrap_transceiver(change.transceiver)._associate(
                self._remote_stream(i) for i in change.new
            )
        for removed in applied.removed_tracks:
            transceiver = self._wrap_transceiver(removed.transceiver)
            transceiver._associate(())
            transceiver.receiver.track._set_muted(True)
        events = []
        for added in applied.added_tracks:
            transceiver = self._wrap_transceiver(added.transceiver)
            streams = [self._remote_stream(i) for i in added.stream_ids]
            transceiver._associate(streams)
            events.append(
                RTCTrackEvent(
                    "track",
                    transceiver.receiver,
                    transceiver.receiver.track,
                    tuple(streams),
                    transceiver,
                    self,
                )
            )
        for core in (*applied.stopped_transceivers, *applied.removed_transceivers):
            wrapper = self._transceivers.get(id(core))
            if wrapper is not None:
                wrapper.receiver.track._end()
        for core in applied.removed_transceivers:
            self._transceivers.pop(id(core), None)
        if not self._closed:
            for known in self._transceivers.values():
                core = known._core
                sending = not core.stopping and core.current_direction in ("sendrecv", "sendonly")
                known.sender._pipe.update(core.negotiated, sending)
        for event in events:
            self.dispatchEvent(event)

    def addTrack(self, track: MediaStreamTrack, *streams: MediaStream) -> RTCRtpSender:
        """W3C ``addTrack``: send ``track`` (in ``streams``) on a transceiver of its
        kind, reusing one a remote offer created when possible."""
        self._check_not_closed()
        if not isinstance(track, MediaStreamTrack):
            raise TypeError("addTrack takes a MediaStreamTrack")
        for stream in streams:
            if not isinstance(stream, MediaStream):
                raise TypeError("addTrack's streams are MediaStream objects")
        senders = self.getSenders()
        if any(sender.track is track for sender in senders):
            raise InvalidAccessError(
                "this track is already sent on this connection; use replaceTrack or clone() it"
            )
        stream_ids = list(dict.fromkeys(s.id for s in streams))
        for transceiver in self.getTransceivers():
            core = transceiver._core
            if (
                core.kind == track.kind
                and not core.stopping
                and transceiver.sender.track is None
                and not transceiver._has_sent
                and core.current_direction not in ("sendrecv", "sendonly")
            ):
                # W3C addTrack step 7: reuse a transceiver whose sender never sent.
                self._jsep.attach_track(core, track.id, stream_ids)
                transceiver.sender._set_track(track)
                self._update_negotiation_needed()
                return transceiver.sender
        core = self._jsep.add_transceiver(
            track.kind, "sendrecv", stream_ids, track_id=track.id, added_by_add_track=True
        )
        transceiver = self._wrap_transceiver(core, track)
        self._update_negotiation_needed()
        return transceiver.sender

    def removeTrack(self, sender: RTCRtpSender) -> None:
        """W3C ``removeTrack``: stop sending on ``sender`` (renegotiation needed)."""
        self._check_not_closed()
        if not isinstance(sender, RTCRtpSender):
            raise TypeError("removeTrack takes an RTCRtpSender")
        transceiver = sender._transceiver
        if transceiver._pc is not self:
            raise InvalidAccessError("this sender belongs to another RTCPeerConnection")
        if transceiver._core.stopping or sender.track is None:
            return
        sender._set_track(None)
        direction = transceiver._core.direction
        if direction == "sendrecv":
            self._jsep.set_direction(transceiver._core, "recvonly")
        elif direction == "sendonly":
            self._jsep.set_direction(transceiver._core, "inactive")
        self._update_negotiation_needed()

    def addTransceiver(
        self,
        trackOrKind: MediaStreamTrack | str,
        init: Mapping[str, Any] | None = None,
        *,
        direction: str | None = None,
        streams: Sequence[MediaStream] | None = None,
        sendEncodings: Sequence[Mapping[str, Any]] | None = None,
    ) -> RTCRtpTransceiver:
        """W3C ``addTransceiver(trackOrKind, {direction, streams, sendEncodings})``;
        options as a dict or as keywords."""
        self._check_not_closed()
        options: dict[str, Any] = dict(init or {})
        for key, value in (
            ("direction", direction),
            ("streams", streams),
            ("sendEncodings", sendEncodings),
        ):
            if value is not None:
                options[key] = value
        unknown = set(options) - {"direction", "streams", "sendEncodings"}
        if unknown:
            raise TypeError(f"unknown addTransceiver options: {', '.join(sorted(unknown))}")
        if isinstance(trackOrKind, MediaStreamTrack):
            track: MediaStreamTrack | None = trackOrKind
            kind = trackOrKind.kind
        elif isinstance(trackOrKind, str):
            track, kind = None, trackOrKind
        else:
            raise TypeError("addTransceiver takes a MediaStreamTrack or 'audio'/'video'")
        wanted = options.get("direction", "sendrecv")
        stream_ids = list(dict.fromkeys(s.id for s in options.get("streams", ())))
        encodings = options.get("sendEncodings")
        rids: list[str | None] | None = None
        if encodings:
            rids = []
            for encoding in encodings:
                if not isinstance(encoding, Mapping):
                    raise TypeError("sendEncodings is a list of dicts such as {'rid': 'h'}")
                scale = encoding.get("scaleResolutionDownBy")
                if scale is not None and (kind != "video" or scale < 1.0):
                    raise ValueError("scaleResolutionDownBy is for video and at least 1.0")
                rids.append(encoding.get("rid"))
        core = self._jsep.add_transceiver(
            kind,
            wanted,
            stream_ids,
            track_id=track.id if track is not None else None,
            send_encodings=rids,
        )
        transceiver = self._wrap_transceiver(core, track)
        if encodings:
            transceiver.sender._encodings = [
                {"active": True, **{k: v for k, v in dict(e).items()}} for e in encodings
            ]
        self._update_negotiation_needed()
        return transceiver

    def getTransceivers(self) -> list[RTCRtpTransceiver]:
        return [self._wrap_transceiver(core) for core in self._jsep.transceivers]

    def getSenders(self) -> list[RTCRtpSender]:
        return [t.sender for t in self.getTransceivers() if not t._core.stopped]

    def getReceivers(self) -> list[RTCRtpReceiver]:
        return [t.receiver for t in self.getTransceivers() if not t._core.stopped]

    def _transceiver_for_stream(
        self, ssrc: int, mid: str | None, payload_type: int | None = None
    ) -> RTCRtpTransceiver | None:
        """The receiving transceiver of a remote SSRC (RFC 8843 §9.2): by its
        signalled a=ssrc, else by the MID header extension, else by a payload type
        that only one receiving m-section negotiated (as browsers do for peers that
        signal neither)."""
        for transceiver in self.getTransceivers():
            negotiated = transceiver._core.negotiated
            if negotiated is not None and ssrc in negotiated.remote_ssrcs:
                return transceiver
        if mid is not None:
            return next((t for t in self.getTransceivers() if t.mid == mid), None)
        if payload_type is None:
            return None
        claiming = []
        for transceiver in self.getTransceivers():
            negotiated = transceiver._core.negotiated
            if negotiated is None or negotiated.direction not in ("sendrecv", "recvonly"):
                continue
            if any(payload_type in (c.payload_type, c.rtx_payload_type) for c in negotiated.codecs):
                claiming.append(transceiver)
        return claiming[0] if len(claiming) == 1 else None

    def _allocate_bitrate(self, bitrate: int) -> None:
        """Share the congestion controller's target among our video senders (audio
        keeps its fixed rate)."""
        pipes = [t.sender._pipe for t in self._transceivers.values() if t.sender._pipe.stream]
        audio = sum(p.fixed_bitrate for p in pipes if p.kind == "audio")
        video = [p for p in pipes if p.kind == "video"]
        if video:
            share = max(0, bitrate - audio) // len(video)
            for pipe in video:
                pipe.set_target_bitrate(share)

    def _dtls_transport_view(self) -> _DtlsTransportView | None:
        return _DtlsTransportView(self) if self._transport is not None else None

    async def _start_gathering(self) -> None:
        """Host candidates now; server-reflexive and relayed ones once the servers'
        names resolve, in a task of their own, so neither a slow DNS lookup nor a
        dead server delays a host candidate or ``setLocalDescription``."""
        if self._gathering_started:
            return
        self._gathering_started = True
        driver = self._ensure_driver()
        agent = self._agent
        now = driver.now()
        # Under the relay policy the agent keeps host sockets for TURN only.
        agent.relay_only = self._configuration.iceTransportPolicy == "relay"
        agent.start_gathering(now)
        for ip in self._configuration.resolved_host_addresses():
            try:
                base = driver.bind(ip)
            except OSError as exc:
                logger.warning("cannot bind a socket on %s: %s", ip, exc)
                continue
            agent.add_host_candidate(now, base)
        if self._configuration.iceServers:
            agent.hold_gathering()  # complete only once the servers had their say
            self._spawn(self._gather_from_servers())
        agent.end_of_host_candidates(now)
        self._connection.pump(now)
        # Candidates fire after setLocalDescription resolves, as in the browser.
        driver.schedule()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.warning("background task of the peer connection failed: %r", exc)

    async def _gather_from_servers(self) -> None:
        stun, turn = await self._resolve_stun_servers()
        if self._closed:
            return
        driver = self._ensure_driver()
        agent = self._agent
        now = driver.now()
        agent.add_servers(now, stun, turn)
        for config, host in self._turn_streams:
            agent.expect_turn_stream(config)
            self._spawn(self._connect_turn(config, host))
        agent.release_gathering(now)
        self._connection.pump(now)
        driver.service()

    async def _resolve_stun_servers(
        self,
    ) -> tuple[list[tuple[Address, str]], list[TurnServerConfig]]:
        """Resolve every configured STUN and TURN server (all at once, so one slow
        name does not hold the others): the UDP ones, and TURN streams to open."""
        relay_only = self._configuration.iceTransportPolicy == "relay"
        wanted: list[tuple[RTCIceServer, IceServerUrl]] = []
        for server in self._configuration.iceServers:
            for url in server.parsed:
                if not url.is_turn and (url.transport != "udp" or url.secure):
                    # STUN over TCP/TLS gives no candidate a UDP-only agent could use;
                    # say so rather than ignore the server silently.
                    self._candidate_error(
                        str(url), 701, f"{url.scheme} over {url.transport} is not supported"
                    )
                    continue
                if not url.is_turn and relay_only:
                    continue  # no server-reflexive candidates under the relay policy
                wanted.append((server, url))
        resolved = await asyncio.gather(*(self._resolve(url) for _, url in wanted))
        stun: list[tuple[Address, str]] = []
        turn: list[TurnServerConfig] = []
        for (server, url), addresses in zip(wanted, resolved, strict=True):
            for address in addresses:
                if url.is_turn:
                    assert server.username is not None and server.credential is not None
                    protocol = "tls" if url.secure else url.transport
                    config = TurnServerConfig(
                        (address, url.port),
                        server.username,
                        server.credential,
                        str(url),
                        "tls" if protocol == "tls" else "tcp" if protocol == "tcp" else "udp",
                    )
                    if config.transport == "udp":
                        turn.append(config)
                    else:
                        self._turn_streams.append((config, url.host))
                else:
                    stun.append(((address, url.port), str(url)))
        return stun, turn

    def _add_remote_candidate(self, now: float, candidate: Candidate | None) -> None:
        """To the agent, resolving ``.local`` names first (mDNS, in a task);
        end-of-candidates waits for the names still being resolved."""
        if candidate is None:
            if self._mdns_resolving:
                self._mdns_end_of_candidates = True
            else:
                self._agent.add_remote_candidate(now, None)
            return
        if candidate.is_mdns and candidate.transport == "udp":
            name = candidate.address.lower()
            address = self._mdns_cache.get(name)
            if address is not None:  # known already (e.g. re-sent after an ICE restart)
                self._agent.add_remote_candidate(
                    now, dataclasses.replace(candidate, address=address)
                )
                return
            waiting = self._mdns_waiting.get(name)
            if waiting is not None:
                waiting.append(candidate)  # one lookup per name
                return
            if len(self._mdns_waiting) >= _MAX_MDNS_LOOKUPS:
                return  # a peer cannot make us flood the link with queries
            self._mdns_waiting[name] = [candidate]
            self._mdns_resolving += 1
            self._spawn(self._resolve_mdns(name))
            return
        self._agent.add_remote_candidate(now, candidate)

    async def _resolve_mdns(self, name: str) -> None:
        try:
            address = await MdnsService.for_loop().resolve(name)
        except OSError as exc:
            logger.debug("mDNS is unavailable: %s", exc)
            address = None
        finally:
            self._mdns_resolving -= 1
        candidates = self._mdns_waiting.pop(name, [])
        if self._closed:
            return
        driver = self._ensure_driver()
        now = driver.now()
        if address is None:
            logger.info("nobody answered for %s: candidate dropped", name)
        else:
            self._mdns_cache[name] = address
            for candidate in candidates:
                self._agent.add_remote_candidate(
                    now, dataclasses.replace(candidate, address=address)
                )
        if self._mdns_end_of_candidates and not self._mdns_resolving:
            self._mdns_end_of_candidates = False
            self._agent.add_remote_candidate(now, None)
        self._connection.pump(now)
        driver.service()

    async def _connect_turn(self, config: TurnServerConfig, host: str) -> None:
        """TURN over TCP/TLS: connect, then let the agent allocate on the stream."""
        driver = self._ensure_driver()
        try:
            local = await driver.open_stream(config.server, host, tls=config.transport == "tls")
        except (OSError, TimeoutError, ConnectionError) as exc:
            if not self._closed:
                self._agent.fail_turn_stream(driver.now(), config, f"{type(exc).__name__}: {exc}")
                self._connection.pump(driver.now())
                driver.service()
            return
        if self._closed:
            return
        self._agent.add_turn_stream(driver.now(), local, config)
        self._connection.pump(driver.now())
        driver.service()

    async def _resolve(self, url: IceServerUrl) -> list[str]:
        host = url.host
        try:
            ipaddress.ip_address(host)
            return [host]
        except ValueError:
            pass
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, url.port, type=2)
        except OSError as exc:
            self._candidate_error(str(url), 701, f"DNS: {exc}")
            return []
        return sorted({str(info[4][0]) for info in infos})

    def _candidate_error(self, url: str, code: int, text: str) -> None:
        self.dispatchEvent(
            RTCPeerConnectionIceErrorEvent("icecandidateerror", None, None, url, code, text, self)
        )

    # -- negotiationneeded ---------------------------------------------------------------------

    def _update_negotiation_needed(self) -> None:
        if self._closed:
            return
        if self._jsep.signaling_state != "stable":
            return
        needed = self._restart_requested or self._jsep.negotiation_needed()
        if not needed:
            self._negotiation_needed = False
            return
        if self._negotiation_needed:
            return
        self._negotiation_needed = True
        if self._negotiation_event_queued:
            return
        self._negotiation_event_queued = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._negotiation_event_queued = False
            self._negotiation_needed = False  # fired once a loop runs the next update
            return
        loop.call_soon(self._fire_negotiation_needed)

    def _fire_negotiation_needed(self) -> None:
        self._negotiation_event_queued = False
        if self._closed or not self._negotiation_needed:
            return
        if self._chain.locked() or self._jsep.signaling_state != "stable":
            # W3C: retried when the chain empties / state returns to stable.
            self._negotiation_needed = False
            return
        self.dispatchEvent(_Event("negotiationneeded", self))

    # -- data channels ---------------------------------------------------------------------------

    def createDataChannel(
        self,
        label: str,
        options: Mapping[str, Any] | None = None,
        *,
        ordered: bool | None = None,
        maxRetransmits: int | None = None,
        maxPacketLifeTime: int | None = None,
        protocol: str | None = None,
        negotiated: bool | None = None,
        id: int | None = None,
    ) -> RTCDataChannel:
        """A new data channel (W3C §6.1). Options as keywords or as a dict."""
        self._check_not_closed()
        merged: dict[str, Any] = dict(options or {})
        for key, value in (
            ("ordered", ordered),
            ("maxRetransmits", maxRetransmits),
            ("maxPacketLifeTime", maxPacketLifeTime),
            ("protocol", protocol),
            ("negotiated", negotiated),
            ("id", id),
        ):
            if value is not None:
                merged[key] = value
        unknown = set(merged) - {
            "ordered",
            "maxRetransmits",
            "maxPacketLifeTime",
            "protocol",
            "negotiated",
            "id",
            "priority",
        }
        if unknown:
            raise TypeError(f"unknown data channel options: {', '.join(sorted(unknown))}")
        priority = merged.get("priority", "low")
        if priority not in DCEP_PRIORITIES:
            raise TypeError(f"priority is one of {', '.join(DCEP_PRIORITIES)}, got {priority!r}")
        core = self._connection.channels.create(
            self._driver_now(),
            str(label),
            ordered=bool(merged.get("ordered", True)),
            max_retransmits=merged.get("maxRetransmits"),
            max_packet_lifetime=merged.get("maxPacketLifeTime"),
            protocol=str(merged.get("protocol", "")),
            negotiated=bool(merged.get("negotiated", False)),
            id=merged.get("id"),
            priority=DCEP_PRIORITIES[priority],
        )
        channel = self._wrap(core)
        self._jsep.want_data_channel()
        self._update_negotiation_needed()
        self._kick()
        return channel

    def _wrap(self, core: Channel) -> RTCDataChannel:
        wrapper = self._channels.get(id(core))
        if wrapper is None:
            wrapper = RTCDataChannel(self, core)
            self._channels[id(core)] = wrapper
        return wrapper

    # -- stats ---------------------------------------------------------------------------------

    async def getStats(self, selector: Any = None) -> RTCStatsReport:
        """W3C ``getStats(selector)``: an :class:`RTCStatsReport` (id -> stats) of
        everything, or, for a ``MediaStreamTrack`` that exactly one sender or
        receiver carries, of its RTP streams and what they reference (§8.5)."""
        self._check_not_closed()
        report = collect_stats(self, time.time() * 1000.0)
        if selector is None:
            return report
        if not isinstance(selector, MediaStreamTrack):
            raise TypeError("getStats takes a MediaStreamTrack or None")
        senders = [s for s in self.getSenders() if s.track is selector]
        receivers = [r for r in self.getReceivers() if r.track is selector]
        if len(senders) + len(receivers) != 1:
            raise InvalidAccessError(
                "getStats(track) needs a track that exactly one sender or receiver carries"
            )
        if senders:
            return self._sender_stats(senders[0], report)
        return self._receiver_stats(receivers[0], report)

    def _sender_stats(self, sender: RTCRtpSender, report: RTCStatsReport) -> RTCStatsReport:
        ssrcs = {layer.stream.ssrc for layer in sender._pipe.layers}
        roots = [sid for sid, s in report.items() if s.type == "outbound-rtp" and s.ssrc in ssrcs]
        return select_stats(report, roots)

    def _receiver_stats(self, receiver: RTCRtpReceiver, report: RTCStatsReport) -> RTCStatsReport:
        track_id = receiver.track.id
        roots = [
            sid
            for sid, s in report.items()
            if s.type == "inbound-rtp" and s.get("trackIdentifier") == track_id
        ]
        return select_stats(report, roots)

    # -- close ---------------------------------------------------------------------------------------

    def close(self) -> Awaitable[None]:
        """Close now (W3C §4.4.1.6 close): every state becomes ``closed`` at once and
        no more events fire; goodbyes (SCTP ABORT, DTLS close_notify) are sent.
        Returns an awaitable so ``await pc.close()`` also works."""
        if self._closed:
            return _Done()
        self._closed = True
        self._jsep.close()
        for wrapper in self._channels.values():
            wrapper._channel.state = "closed"
        if self._driver is not None:
            self._driver.close()
        else:
            self._connection.close(self._driver_now())
        self._ice_connection_state = "closed"
        self._connection_state = "closed"
        if self._mdns_names:
            with contextlib.suppress(RuntimeError):  # no running loop: nothing published
                service = MdnsService.for_loop()
                for name in self._mdns_names.values():
                    service.unpublish(name)
        for task in list(self._background):
            task.cancel()
        for transceiver in self._transceivers.values():
            transceiver.sender._pipe.stop()
            transceiver.receiver.track._end()  # W3C close: receivers' tracks end
        return _Done()

    # -- events from the connection -------------------------------------------------------------

    def _on_connection_event(self, event: ConnectionEvent) -> None:
        if self._closed:
            return
        if self._held_ice_events is not None and isinstance(
            event, (IceLocalCandidateEvent, IceGatheringStateEvent, IceCandidateErrorEvent)
        ):
            self._held_ice_events.append(event)
            return
        if isinstance(event, IceLocalCandidateEvent):
            self._on_local_candidate(event)
        elif isinstance(event, IceGatheringStateEvent):
            self._ice_gathering_state = event.state
            self.dispatchEvent(_Event("icegatheringstatechange", self))
            if event.state == "complete" and self._end_of_candidates_pending:
                self._end_of_candidates_pending = False
                self.dispatchEvent(RTCPeerConnectionIceEvent("icecandidate", None, self))
        elif isinstance(event, IceStateEvent):
            if event.state != self._ice_connection_state:
                self._ice_connection_state = event.state
                self.dispatchEvent(_Event("iceconnectionstatechange", self))
            self._update_connection_state()
        elif isinstance(event, IceSelectedPairEvent):
            self._selected_pair_changed += 1
        elif isinstance(event, IceCandidateErrorEvent):
            self.dispatchEvent(
                RTCPeerConnectionIceErrorEvent(
                    "icecandidateerror",
                    event.address,
                    event.port,
                    event.url,
                    event.error_code,
                    event.error_text,
                    self,
                )
            )
        elif isinstance(event, DtlsStateChangeEvent):
            self._update_connection_state()
        elif isinstance(event, DtlsErrorEvent):
            logger.warning("DTLS failed: %s", event.error)
        elif isinstance(event, ChannelAnnounced):
            channel = self._wrap(event.channel)
            channel._hold_messages()
            self.dispatchEvent(RTCDataChannelEvent("datachannel", channel, self))
        elif isinstance(event, ChannelOpened):
            self._wrap(event.channel)._fire("open")
        elif isinstance(event, ChannelMessage):
            self._wrap(event.channel)._fire_message(event.data)
        elif isinstance(event, ChannelBufferedAmountLow):
            self._wrap(event.channel)._fire("bufferedamountlow")
        elif isinstance(event, ChannelClosing):
            self._wrap(event.channel)._fire("closing")
        elif isinstance(event, ChannelError):
            self._wrap(event.channel)._fire_error(event.error)
        elif isinstance(event, ChannelClosed):
            wrapper = self._wrap(event.channel)
            wrapper._fire("close")
        elif isinstance(event, SctpStateEvent):
            pass
        elif isinstance(event, FrameReceived):
            owner = self._stream_owner.get(event.ssrc)
            if owner is not None:
                owner.receiver._pipe.handle_frame(event.ssrc, event.payload_type, event.frame)
        elif isinstance(event, RtpStreamStarted):
            transceiver = self._transceiver_for_stream(event.ssrc, event.mid, event.payload_type)
            if transceiver is None:
                logger.debug(
                    "RTP stream %08x (payload type %d) matches no m-section; counted in "
                    "getStats as rtcpeerUnroutedRtpStreams",
                    event.ssrc,
                    event.payload_type,
                )
            else:
                self._stream_owner[event.ssrc] = transceiver
                transceiver.receiver.track._set_muted(False)  # media arrives: unmute
        elif isinstance(event, TargetBitrate):
            self._allocate_bitrate(event.bitrate)
        elif isinstance(event, KeyframeRequested):
            for known in self._transceivers.values():
                known.sender._pipe.request_keyframe(event.ssrc)

    def _on_local_candidate(self, event: IceLocalCandidateEvent) -> None:
        info = self._transport
        mid = info.id if info is not None else "0"
        index = self._mline_index(mid)
        if event.candidate is None:
            self._jsep.add_local_candidate("", mid)
            self._end_of_candidates_pending = True
            return
        text = self._signaled(event.candidate).serialize()
        self._jsep.add_local_candidate(text, mid)
        self.dispatchEvent(
            RTCPeerConnectionIceEvent(
                "icecandidate",
                RTCIceCandidate(text, mid, index, event.ufrag),
                self,
            )
        )

    def _signaled(self, candidate: Candidate) -> Candidate:
        """The candidate as the peer sees it: with ``mdnsHostCandidates``, host
        addresses become ``<uuid>.local`` names (published over mDNS) and other
        candidates do not reveal them as related addresses."""
        if not self._configuration.mdnsHostCandidates:
            return candidate
        if candidate.type == "host":
            name = self._mdns_names.get(candidate.address)
            if name is None:
                name = self._mdns_names[candidate.address] = f"{uuid.uuid4()}.local"
                self._spawn(MdnsService.for_loop().publish(name, candidate.address))
            return dataclasses.replace(candidate, address=name)
        if candidate.related_address is not None:
            return dataclasses.replace(candidate, related_address="0.0.0.0", related_port=0)
        return candidate

    def _mline_index(self, mid: str) -> int:
        local = self._jsep.local_description
        if local is None:
            return 0
        index = 0
        for line in local.sdp.split("\n"):
            if line.startswith("m="):
                index += 1
            elif line.strip() == f"a=mid:{mid}":
                return index - 1
        return 0

    def _update_connection_state(self) -> None:
        if self._closed:
            return
        ice = self._ice_connection_state
        dtls = self._connection.dtls.state
        if ice == "failed" or dtls == "failed":
            state = "failed"
        elif ice == "disconnected":
            state = "disconnected"
        elif ice in ("new", "closed") and dtls in ("new", "closed"):
            state = "new"
        elif ice in ("new", "checking") or dtls in ("new", "connecting"):
            state = "connecting"
        else:
            state = "connected"
        if state != self._connection_state:
            self._connection_state = state
            self.dispatchEvent(_Event("connectionstatechange", self))

    def __repr__(self) -> str:
        return (
            f"<RTCPeerConnection signaling={self.signalingState} ice={self.iceConnectionState} "
            f"connection={self.connectionState}>"
        )


class _DtlsTransportView:
    """W3C ``RTCDtlsTransport`` (read-only view; one, bundled)."""

    def __init__(self, pc: RTCPeerConnection) -> None:
        self._pc = pc

    @property
    def state(self) -> str:
        return "closed" if self._pc._closed else self._pc._connection.dtls.state

    def getRemoteCertificates(self) -> list[bytes]:
        """The peer's certificate chain, DER (W3C gives ArrayBuffers)."""
        return self._pc._connection.dtls.remote_certificates()


class _SctpTransportView:
    """W3C ``RTCSctpTransport`` (read-only view)."""

    def __init__(self, pc: RTCPeerConnection) -> None:
        self._pc = pc

    @property
    def state(self) -> str:
        return self._pc._connection.sctp_state or "connecting"

    @property
    def maxMessageSize(self) -> int:
        return self._pc._connection.channels.remote_max_message_size

    @property
    def maxChannels(self) -> int | None:
        sctp = self._pc._connection.sctp
        return None if sctp is None else min(sctp.outbound_streams, sctp.inbound_streams)
