"""The ICE agent (RFC 8445) with trickle (RFC 8838) and consent freshness (RFC 7675),
sans-IO.

The shell owns the sockets: it binds one UDP socket per local address and tells the
agent with :meth:`IceAgent.add_host_candidate`; every datagram the agent wants sent is
a :class:`~rtcpeer.datagram.Datagram` whose ``src`` names the socket (the candidate's
base) and ``dst`` the peer. Every datagram a socket receives goes to
:meth:`IceAgent.handle_datagram`: STUN is the agent's own, anything else is handed
back as application data (DTLS, SRTP) after being counted on its candidate pair.

What the agent does:

- Gathering: a host candidate the moment the shell reports a socket, then
  server-reflexive candidates from **every** configured STUN server and relayed ones
  from **every** TURN server (:class:`~rtcpeer.ice.turn.TurnClient`, one allocation
  per server and socket), in parallel; a dead server only delays ``complete``, never
  a candidate. Each candidate is an event as soon as it is known; ``None`` ends
  gathering. ``relay_only`` (W3C ``iceTransportPolicy: "relay"``) announces and pairs
  relayed candidates only.
- Relaying: datagrams of pairs whose local candidate is relayed are wrapped for the
  TURN server on the way out (:meth:`poll_transmit`) and unwrapped on the way in; the
  agent asks for the permissions its pairs need and binds a channel to the selected
  pair's peer.
- Checks: pairs formed as remote candidates trickle in (any time, also before the
  remote credentials), frozen/waiting per foundation (§6.1.2.6), one check per ``Ta``
  with triggered checks first (§6.1.4.2), role conflicts resolved by tie-breaker
  (487, §7.3.1.1), peer-reflexive candidates on both sides (§7.2.5.3.1, §7.3.1.3),
  regular nomination when controlling, accepting nomination (regular or aggressive)
  when controlled, ICE-lite peers.
- Liveness: consent checks on the selected pair (RFC 7675, randomised interval);
  ``disconnected`` after ``disconnected_timeout`` without a response (default 4 s, so
  a silent peer is noticed within 5 s), ``failed`` at consent expiry (30 s), after
  which nothing more is sent. A response while disconnected brings it back.
- ICE restart (§9): new local credentials, candidates re-announced; traffic keeps
  using the old selected pair until the new checks select one.

States are the W3C ``RTCIceTransportState`` and ``RTCIceGathererState`` values, each
changed through one table-checked setter that queues an event.
"""

from __future__ import annotations

import dataclasses
import random
import secrets
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from rtcpeer.datagram import Address, Datagram
from rtcpeer.errors import InvalidStateError
from rtcpeer.ice.candidate import (
    Candidate,
    candidate_foundation,
    candidate_priority,
    local_preference,
    pair_priority,
)
from rtcpeer.ice.stun import (
    AttrType,
    AttrValue,
    StunClass,
    StunMessage,
    StunMethod,
    StunParseError,
    is_stun,
    new_transaction_id,
    short_term_key,
)
from rtcpeer.ice.transaction import TransactionResponse, TransactionTable, TransactionTimedOut
from rtcpeer.ice.turn import TurnAllocated, TurnClient, TurnFailed, TurnServerConfig

__all__ = [
    "CandidatePair",
    "GatheringState",
    "IceAgent",
    "IceCandidateErrorEvent",
    "IceEvent",
    "IceGatheringStateEvent",
    "IceLocalCandidateEvent",
    "IceSelectedPairEvent",
    "IceState",
    "IceStateEvent",
    "LocalCandidate",
    "PairState",
    "RemoteCandidate",
]

IceState = Literal["new", "checking", "connected", "completed", "disconnected", "failed", "closed"]
GatheringState = Literal["new", "gathering", "complete"]
PairState = Literal["frozen", "waiting", "in-progress", "succeeded", "failed"]

# W3C RTCIceTransportState transitions. failed/disconnected recover via restart or
# consent; any state may close.
_ICE_TRANSITIONS: Final[dict[IceState, frozenset[IceState]]] = {
    "new": frozenset({"checking", "failed", "closed"}),
    "checking": frozenset({"connected", "completed", "failed", "disconnected", "new", "closed"}),
    "connected": frozenset({"completed", "disconnected", "failed", "checking", "closed"}),
    "completed": frozenset({"connected", "disconnected", "failed", "checking", "closed"}),
    "disconnected": frozenset({"connected", "completed", "checking", "failed", "closed"}),
    "failed": frozenset({"checking", "connected", "completed", "closed"}),
    "closed": frozenset(),
}
_GATHERING_TRANSITIONS: Final[dict[GatheringState, frozenset[GatheringState]]] = {
    "new": frozenset({"gathering", "complete"}),
    "gathering": frozenset({"complete"}),
    "complete": frozenset({"gathering"}),
}

_ICE_CHARS: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_SOFTWARE: Final = "rtcpeer"
_MAX_PAIRS: Final = 100  # RFC 8445 §6.1.2.5 check list limit
_MAX_REMOTE_CANDIDATES: Final = 250
#: Datagrams of application data held while no pair can carry them (a DTLS flight or
#: an SCTP INIT made before ICE has a valid pair); sent as soon as one can.
_MAX_HELD: Final = 32
#: Error responses to unauthenticated requests: at most this many a second (burst).
_ERROR_RATE: Final = 5.0
_ERROR_BURST: Final = 10.0
#: Peer-reflexive pairs learned after completion, checked at once (more: ignored).
_MAX_LATE_PAIRS: Final = 4


def _random_ice_string(length: int) -> str:
    return "".join(secrets.choice(_ICE_CHARS) for _ in range(length))


def _family(address: str) -> int:
    return 6 if ":" in address else 4


# -- events --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IceLocalCandidateEvent:
    """A local candidate to signal (``candidate is None``: gathering is complete,
    W3C's ``icecandidate`` with a null candidate)."""

    candidate: Candidate | None
    ufrag: str


@dataclass(frozen=True, slots=True)
class IceGatheringStateEvent:
    state: GatheringState


@dataclass(frozen=True, slots=True)
class IceStateEvent:
    state: IceState


@dataclass(frozen=True, slots=True)
class IceSelectedPairEvent:
    """The pair that carries traffic changed (W3C ``selectedcandidatepairchange``)."""

    local: Candidate
    remote: Candidate


@dataclass(frozen=True, slots=True)
class IceCandidateErrorEvent:
    """A STUN/TURN server could not be used (W3C ``icecandidateerror``)."""

    address: str
    port: int
    url: str
    error_code: int
    error_text: str


IceEvent = (
    IceLocalCandidateEvent
    | IceGatheringStateEvent
    | IceStateEvent
    | IceSelectedPairEvent
    | IceCandidateErrorEvent
)


# -- candidates and pairs ---------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class LocalCandidate:
    """A local candidate and the socket address (``base``) it sends from."""

    candidate: Candidate
    base: Address
    #: The STUN/TURN server a srflx/relay candidate came from (W3C stats ``url``).
    url: str | None = None
    #: How we reach the TURN server of a relay candidate (W3C ``relayProtocol``).
    relay_protocol: str | None = None

    @property
    def address(self) -> Address:
        return (self.candidate.address, self.candidate.port)


@dataclass(slots=True, eq=False)
class RemoteCandidate:
    candidate: Candidate

    @property
    def address(self) -> Address:
        return (self.candidate.address, self.candidate.port)


@dataclass(slots=True, eq=False)
class CandidatePair:
    """A local/remote pair on the check list, with the W3C candidate-pair statistics."""

    local: LocalCandidate
    remote: RemoteCandidate
    priority: int
    state: PairState = "frozen"
    nominated: bool = False
    #: Controlled side: the peer sent USE-CANDIDATE before our check succeeded.
    nominate_on_success: bool = False
    #: Local address the peer saw (XOR-MAPPED-ADDRESS), when it differs: prflx.
    mapped: Address | None = None
    requests_sent: int = 0
    requests_received: int = 0
    responses_sent: int = 0
    responses_received: int = 0
    consent_requests_sent: int = 0
    packets_sent: int = 0
    packets_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    current_round_trip_time: float | None = None
    total_round_trip_time: float = 0.0
    round_trip_samples: int = 0
    last_packet_sent: float | None = None
    last_packet_received: float | None = None
    last_response: float | None = None
    generation: int = 0
    #: A peer-reflexive pair learned from a check after ICE completed (a replay, or
    #: the peer moving): it does not reopen checking, and goes if it fails.
    learned_late: bool = False
    key: tuple[Address, Address] = field(init=False)

    def __post_init__(self) -> None:
        self.key = (self.local.base, self.remote.address)

    @property
    def foundation(self) -> tuple[str, str]:
        return (self.local.candidate.foundation, self.remote.candidate.foundation)


@dataclass(frozen=True, slots=True)
class _Check:
    """Context of a connectivity-check transaction."""

    pair: CandidatePair
    nominating: bool
    consent: bool
    generation: int


@dataclass(frozen=True, slots=True)
class _Gather:
    """Context of a server-reflexive gathering transaction."""

    base: Address
    server: Address
    url: str


_Context = _Check | _Gather


class IceAgent:
    """A full ICE agent for one component (rtcp-mux, bundle), sans-IO.

    ``controlling``: the offerer is controlling (RFC 8445 §6.1.1); a role conflict
    may flip it. ``stun_servers``: resolved ``(ip, port)`` addresses with the URL they
    came from, for server-reflexive gathering. ``rng`` is for pacing jitter and
    tie-breakers in tests; credentials always come from :mod:`secrets`.
    """

    def __init__(
        self,
        *,
        controlling: bool,
        rng: random.Random | None = None,
        ufrag: str | None = None,
        pwd: str | None = None,
        stun_servers: Iterable[tuple[Address, str]] = (),
        turn_servers: Iterable[TurnServerConfig] = (),
        relay_only: bool = False,
        ta: float = 0.02,
        check_rto: float = 0.25,
        check_max_rto: float = 1.6,
        nomination_delay: float = 0.1,
        consent_interval: float = 1.0,
        disconnected_timeout: float = 4.0,
        failed_timeout: float = 30.0,
        checking_timeout: float = 30.0,
        tie_breaker: int | None = None,
    ) -> None:
        self.rng = rng if rng is not None else random.Random(secrets.randbits(64))
        self.controlling = controlling
        self.tie_breaker = tie_breaker if tie_breaker is not None else self.rng.getrandbits(64)
        self.local_ufrag = ufrag if ufrag is not None else _random_ice_string(8)
        self.local_pwd = pwd if pwd is not None else _random_ice_string(24)
        self.remote_ufrag: str | None = None
        self.remote_pwd: str | None = None
        self.remote_lite = False
        self.stun_servers = tuple(stun_servers)
        self.turn_servers = tuple(turn_servers)
        self.relay_only = relay_only
        self.ta = ta
        self.nomination_delay = nomination_delay
        self.consent_interval = consent_interval
        self.disconnected_timeout = disconnected_timeout
        self.failed_timeout = failed_timeout
        self.checking_timeout = checking_timeout

        self.state: IceState = "new"
        self.gathering_state: GatheringState = "new"
        self.local_candidates: list[LocalCandidate] = []
        self.remote_candidates: list[RemoteCandidate] = []
        self.pairs: list[CandidatePair] = []
        self.selected: CandidatePair | None = None
        self.remote_end_of_candidates = False
        self.generation = 0

        self._bases: list[Address] = []
        self._host_done = False
        self._pair_by_key: dict[tuple[Address, Address], CandidatePair] = {}
        self._triggered: deque[CandidatePair] = deque()
        self._transactions: TransactionTable[_Context] = TransactionTable(
            rto=check_rto, max_rto=check_max_rto, rc=7, rm=8
        )
        self._gathers_pending = 0
        self._transmits: deque[Datagram] = deque()
        self._events: deque[IceEvent] = deque()
        self._next_check: float | None = None
        self._nominate_at: float | None = None
        self._nominating: CandidatePair | None = None
        self._next_consent: float | None = None
        self._checking_since: float | None = None
        self._previous_credentials: tuple[str, str] | None = None
        self._restarting = False
        # Early checks that arrived before the remote credentials were known.
        self._early: list[CandidatePair] = []
        self._interface_count = 0
        self._turn: list[TurnClient] = []
        #: (base, server) -> client, for datagrams the TURN servers send us.
        self._turn_routes: dict[tuple[Address, Address], TurnClient] = {}
        #: relayed address -> client, for datagrams our relayed candidates send.
        self._relays: dict[Address, TurnClient] = {}
        self._turn_pending: set[TurnClient] = set()
        self._streams_expected = 0
        #: Local addresses of TURN TCP/TLS streams whose allocation failed: the shell
        #: closes them (poll_stream_to_close).
        self._streams_to_close: deque[Address] = deque()
        #: Relayed payloads beyond the first that one stream read carried (TCP).
        self.relayed_backlog: list[bytes] = []
        self._now = 0.0
        self._closed = False
        self._consent_revoked = False
        #: Counters of inputs the agent dropped (for stats and debugging).
        self.dropped_malformed = 0
        self.dropped_unauthenticated = 0
        self.dropped_unknown_transaction = 0
        self.ignored_remote_candidates = 0
        #: Application datagrams that could not be sent: no pair before the hold
        #: overflowed, or after consent was lost or the agent closed.
        self.dropped_unsendable = 0
        #: Application data from an address no valid or peer-checked pair has.
        self.dropped_unknown_source = 0
        # Application data made before any pair is valid, sent once one is (§12.1).
        self._held: list[bytes] = []
        # Where the peer's application data came from before a pair was selected.
        self._data_route: tuple[Address, Address] | None = None
        self._last_probe = float("-inf")
        self._error_tokens = _ERROR_BURST
        self._error_at = 0.0

    # -- public: gathering --------------------------------------------------------------

    @property
    def local_credentials(self) -> tuple[str, str]:
        return (self.local_ufrag, self.local_pwd)

    def start_gathering(self, now: float) -> None:
        """Gathering begins (W3C: ``setLocalDescription``). Host candidates follow
        with :meth:`add_host_candidate`, then :meth:`end_of_host_candidates`."""
        self._check_open()
        if self.gathering_state != "gathering":
            self._set_gathering("gathering")

    def add_host_candidate(self, now: float, base: Address) -> Candidate:
        """The shell bound a socket at ``base``: announce its host candidate now and
        start server-reflexive gathering through it."""
        self._check_open()
        if self.gathering_state != "gathering":
            self._set_gathering("gathering")
        if base in self._bases:
            raise ValueError(f"{base} is already a local candidate base")
        self._bases.append(base)
        self._now = now
        interface_preference = max(0, 255 - self._interface_count)
        self._interface_count += 1
        local = self._make_host(base, interface_preference)
        if not self.relay_only:
            self._add_local(now, local)
        self._gather_from(now, base, self.stun_servers, self.turn_servers)
        return local.candidate

    def add_servers(
        self,
        now: float,
        stun_servers: Iterable[tuple[Address, str]] = (),
        turn_servers: Iterable[TurnServerConfig] = (),
    ) -> None:
        """More STUN/TURN servers (e.g. once their names resolved): gather from them
        through every socket reported so far, and through later ones too."""
        self._check_open()
        stun, turn = tuple(stun_servers), tuple(turn_servers)
        self.stun_servers += stun
        self.turn_servers += turn
        self._now = now
        for base in self._bases:
            self._gather_from(now, base, stun, turn)
        self._maybe_gathering_complete()

    def hold_gathering(self) -> None:
        """Keep gathering from completing until :meth:`release_gathering` (the shell
        is still resolving server names)."""
        self._gathers_pending += 1

    def release_gathering(self, now: float) -> None:
        self._gathers_pending -= 1
        self._maybe_gathering_complete()

    def _gather_from(
        self,
        now: float,
        base: Address,
        stun_servers: tuple[tuple[Address, str], ...],
        turn_servers: tuple[TurnServerConfig, ...],
    ) -> None:
        if not self.relay_only:
            for server, url in stun_servers:
                if _family(server[0]) != _family(base[0]):
                    continue
                request = StunMessage(
                    StunMethod.BINDING, StunClass.REQUEST, new_transaction_id(self.rng)
                )
                self._gathers_pending += 1
                self._transactions.start(
                    now, request.serialize(fingerprint=True), _Gather(base, server, url), rto=0.5
                )
                self._flush_transactions()
        for config in turn_servers:
            if _family(config.server[0]) == _family(base[0]) and config.transport == "udp":
                self._start_turn(now, base, config)

    def _start_turn(self, now: float, base: Address, config: TurnServerConfig) -> None:
        """Allocate on ``config``'s server from ``base`` (a UDP socket, or the local
        address of the shell's TCP/TLS stream)."""
        client = TurnClient(
            server=config.server,
            base=base,
            username=config.username,
            password=config.password,
            url=config.url,
            transport="udp" if config.transport == "udp" else "tcp",
            rng=self.rng,
        )
        client.relay_protocol = config.transport
        self._turn.append(client)
        self._turn_pending.add(client)
        self._turn_routes[(base, config.server)] = client
        self._gathers_pending += 1
        client.start(now)
        self._drain_turn(now, client)

    def end_of_host_candidates(self, now: float) -> None:
        """Every local socket has been reported; gathering completes once every STUN
        server has answered or timed out."""
        self._host_done = True
        self._maybe_gathering_complete()

    # -- TURN over TCP/TLS: the shell owns the connection ---------------------------------

    def expect_turn_stream(self, config: TurnServerConfig) -> None:
        """The shell is connecting to a TURN server over TCP or TLS (``config``):
        gathering is not complete until :meth:`add_turn_stream` or
        :meth:`fail_turn_stream` says how it went."""
        self._check_open()
        if self.gathering_state != "gathering":
            self._set_gathering("gathering")
        self._streams_expected += 1
        self._gathers_pending += 1

    def add_turn_stream(self, now: float, local: Address, config: TurnServerConfig) -> None:
        """The stream to ``config.server`` is up; ``local`` is its local address. The
        shell sends what :meth:`poll_transmit` returns from ``local`` on that stream and
        feeds what it reads as datagrams from ``config.server`` to ``local``."""
        self._check_open()
        self._streams_expected -= 1
        self._gathers_pending -= 1  # the client counts itself from here
        self._now = now
        self._start_turn(now, local, config)

    def fail_turn_stream(self, now: float, config: TurnServerConfig, reason: str) -> None:
        """The stream to a TURN server could not be opened (W3C ``icecandidateerror``
        with code 701)."""
        self._streams_expected -= 1
        self._gathers_pending -= 1
        self._events.append(IceCandidateErrorEvent("", 0, config.url, 701, reason))
        self._maybe_gathering_complete()

    def turn_stream_closed(self, now: float, local: Address) -> None:
        """The stream from ``local`` closed: its allocation is gone."""
        for client in self._turn:
            if client.base == local and client.state not in ("failed", "released"):
                client.lost("the TURN server closed the connection")
                self._drain_turn(now, client)

    def _make_host(self, base: Address, interface_preference: int) -> LocalCandidate:
        ip, port = base
        priority = candidate_priority("host", local_preference(ip, interface_preference))
        candidate = Candidate(
            candidate_foundation("host", ip, "udp"),
            1,
            "udp",
            priority,
            ip,
            port,
            "host",
            extensions=self._candidate_extensions(),
        )
        return LocalCandidate(candidate, base)

    def _candidate_extensions(self) -> tuple[tuple[str, str], ...]:
        return (("generation", str(self.generation)), ("ufrag", self.local_ufrag))

    def _add_local(self, now: float, local: LocalCandidate) -> None:
        self.local_candidates.append(local)
        self._events.append(IceLocalCandidateEvent(local.candidate, self.local_ufrag))
        if local.candidate.type in ("host", "relay") and self.remote_candidates:
            # Remote candidates known before this one (an offer with all its candidates,
            # or trickled before we gathered) are paired and checked now.
            for remote in self.remote_candidates:
                self._add_pair(now, local, remote)
            self._schedule_checks(now)
            self._update_state(now)

    def _maybe_gathering_complete(self) -> None:
        if self._host_done and self._gathers_pending == 0 and self.gathering_state == "gathering":
            self._events.append(IceLocalCandidateEvent(None, self.local_ufrag))
            self._set_gathering("complete")
            self._update_state(None)

    # -- public: remote side ---------------------------------------------------------------

    def set_remote_credentials(
        self, now: float, ufrag: str, pwd: str, *, lite: bool = False
    ) -> None:
        """The remote description's ``a=ice-ufrag``/``a=ice-pwd``. New values after
        earlier ones mean the peer restarted ICE: remote candidates and pairs are
        flushed (the selected pair keeps carrying traffic until a new one is chosen)."""
        self._check_open()
        if not ufrag or not pwd:
            raise ValueError("remote ICE credentials need both ufrag and pwd")
        if self.remote_ufrag is not None and (ufrag, pwd) != (self.remote_ufrag, self.remote_pwd):
            self._flush_remote(now)
        self.remote_ufrag, self.remote_pwd = ufrag, pwd
        self.remote_lite = lite
        if lite and not self.controlling:
            # RFC 8445 §6.1.1: facing a lite agent, the full agent controls.
            self._set_role(True)
        early, self._early = self._early, []
        for pair in early:
            if pair in self.pairs and pair.state in ("waiting", "frozen"):
                pair.state = "waiting"
                self._triggered.append(pair)
        self._schedule_checks(now)

    def add_remote_candidate(self, now: float, candidate: Candidate | None) -> None:
        """A trickled (or SDP) remote candidate; ``None`` is end-of-candidates."""
        self._check_open()
        if candidate is None:
            self.remote_end_of_candidates = True
            self._update_state(now)
            return
        if candidate.component != 1 or candidate.transport != "udp" or candidate.is_mdns:
            # RTP/RTCP are muxed; TCP and mDNS candidates are not handled yet.
            self.ignored_remote_candidates += 1
            return
        address = (candidate.address, candidate.port)
        for existing in self.remote_candidates:
            if existing.address == address:
                if existing.candidate.type == "prflx":
                    # Learnt from a check first; now signalled: keep the real type.
                    existing.candidate = candidate
                return
        if len(self.remote_candidates) >= _MAX_REMOTE_CANDIDATES:
            self.ignored_remote_candidates += 1
            return
        remote = RemoteCandidate(candidate)
        self.remote_candidates.append(remote)
        for local in self.local_candidates:
            if local.candidate.type in ("host", "relay"):
                self._add_pair(now, local, remote)
        self._schedule_checks(now)
        self._update_state(now)

    # -- public: restart, close -----------------------------------------------------------

    def restart(self, now: float, ufrag: str | None = None, pwd: str | None = None) -> None:
        """Local ICE restart (§9): new credentials, candidates announced again under
        them. The selected pair keeps carrying traffic until checks select a new one."""
        self._check_open()
        self._previous_credentials = (self.local_ufrag, self.local_pwd)
        self.local_ufrag = ufrag if ufrag is not None else _random_ice_string(8)
        self.local_pwd = pwd if pwd is not None else _random_ice_string(24)
        self.generation += 1
        self._restarting = True
        self._consent_revoked = False
        self._now = now
        self._abandon_dead_pair(now)
        old_locals = self.local_candidates
        self.local_candidates = []
        self._set_gathering("gathering")
        for local in old_locals:
            if local.candidate.type in ("host", "relay"):
                # Same candidate, announced under the new credentials (allocations stay).
                fresh = dataclasses.replace(
                    local.candidate, extensions=self._candidate_extensions()
                )
                self._add_local(
                    now, LocalCandidate(fresh, local.base, local.url, local.relay_protocol)
                )
        self._reallocate(now)
        for base in self._bases:
            self._gather_from(now, base, self.stun_servers, ())
        self._maybe_gathering_complete()

    def _reallocate(self, now: float) -> None:
        """On restart, replace the UDP allocations that failed with fresh ones."""
        for client in [c for c in self._turn if c.state == "failed" and c.transport == "udp"]:
            self._turn.remove(client)
            self._turn_routes = {k: v for k, v in self._turn_routes.items() if v is not client}
            self._relays = {k: v for k, v in self._relays.items() if v is not client}
            config = next(
                (t for t in self.turn_servers if t.url == client.url and t.transport == "udp"),
                None,
            )
            if config is not None and client.base in self._bases:
                self._gather_from(now, client.base, (), (config,))

    def _abandon_dead_pair(self, now: float) -> None:
        """A restart after ``failed``: the old pair lost consent, so it carries
        nothing meanwhile; the state is ``checking`` until new checks select a pair."""
        if self.state != "failed" or self.selected is None:
            return
        self._pair_by_key.pop(self.selected.key, None)
        self.selected = None
        self._next_consent = None
        self._checking_since = now
        self._set_state("checking")

    def _flush_remote(self, now: float) -> None:
        for pair in self.pairs:
            if pair is not self.selected:
                self._pair_by_key.pop(pair.key, None)
        self.pairs = []
        self.remote_candidates = []
        self._triggered.clear()
        self._early.clear()
        self.remote_end_of_candidates = False
        self._nominating = None
        self._nominate_at = None
        self._restarting = True
        self._checking_since = now
        self._abandon_dead_pair(now)
        if self.selected is not None:
            # Traffic (and the state the user sees) stays on the old pair meanwhile.
            self._pair_by_key[self.selected.key] = self.selected
        else:
            self._set_state("checking")

    def revoke_consent(self, now: float) -> None:
        """The peer closed authenticatedly (e.g. DTLS close_notify): consent is revoked
        at once (RFC 7675 §5.2). Nothing more is sent; the state passes through
        ``disconnected`` to ``failed``."""
        if self._closed or self.state in ("failed", "new"):
            return
        self._consent_revoked = True
        self._next_consent = None
        if self.state != "disconnected":
            self._set_state("disconnected")
        self._set_state("failed")

    def release(self, now: float) -> None:
        """Delete the TURN allocations (Refresh with LIFETIME 0); the datagrams are
        queued for :meth:`poll_transmit`. Call before :meth:`close` when closing."""
        self._now = now
        for client in self._turn:
            client.release(now)
            self._drain_turn(now, client)
        self._turn_pending.clear()

    def close(self) -> None:
        """Stop everything; nothing more is sent."""
        if self._closed:
            return
        self._closed = True
        self._turn.clear()
        self._turn_routes.clear()
        self._relays.clear()
        self._transactions.cancel_all()
        self._transmits.clear()
        self.dropped_unsendable += len(self._held)
        self._held = []
        self._next_check = self._nominate_at = self._next_consent = None
        self._set_state("closed")

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidStateError("the ICE agent is closed")

    # -- public: data path ------------------------------------------------------------------

    def send(self, data: bytes) -> bool:
        """Queue application data on the selected pair.

        Before a pair is selected, RFC 8445 §12.1 lets data go on any valid pair: the
        one the peer's own data came in on, else the best valid one. Beyond the RFC,
        the pair whose check is in progress also carries it when the peer's own
        (authenticated-path) data came in on it: the peer already talks to us there,
        and its DTLS flight would otherwise wait a round trip. With none of those the
        datagram is held (a few) and sent the moment a pair can carry it.
        False (nothing queued, counted in :attr:`dropped_unsendable`) once consent is
        lost (RFC 7675 §5.1: stop sending) or the hold is full."""
        pair = self.selected
        if pair is None or self.state in ("failed", "closed"):
            if self.state in ("failed", "closed"):  # (closing the agent sets "closed")
                self.dropped_unsendable += 1
                return False
            pair = self._early_pair()
            if pair is None:
                if len(self._held) >= _MAX_HELD:
                    self.dropped_unsendable += 1
                    return False
                self._held.append(data)
                return True
        pair.packets_sent += 1
        pair.bytes_sent += len(data)
        local, remote = pair.key
        self._transmits.append(Datagram(local, remote, data))
        return True

    @property
    def can_send(self) -> bool:
        """A pair is selected or valid: :meth:`send` transmits now instead of holding."""
        if self._closed or self.state in ("failed", "closed"):
            return False
        return self.selected is not None or self._early_pair() is not None

    def _early_pair(self) -> CandidatePair | None:
        """Before selection: the pair application data goes on (see :meth:`send`)."""
        if self._restarting:
            return None  # pairs of the old generation may be dead: wait for selection
        route = self._data_route
        came_in = self._pair_by_key.get(route) if route is not None else None
        if came_in is not None and came_in.state == "succeeded":
            return came_in
        best = next((p for p in self.pairs if p.state == "succeeded"), None)
        if best is not None:
            return best
        if came_in is not None and came_in.state == "in-progress":
            return came_in
        return None

    def _flush_held(self) -> None:
        """Send what :meth:`send` held, now that a pair can carry it."""
        if not self._held:
            return
        held, self._held = self._held, []
        for data in held:
            if not self.send(data):
                break

    @property
    def selected_route(self) -> tuple[Address, Address] | None:
        """``(local base, remote address)`` of the selected pair, for a shell that
        sends application data without going through :meth:`send`."""
        pair = self.selected
        if pair is None or self.state in ("failed", "closed"):
            return None
        return pair.key

    def handle_datagram(self, now: float, datagram: Datagram) -> bytes | None:
        """Feed one received datagram. STUN is consumed (``None``); anything else is
        returned as application data, counted on its pair. What a TURN server relays
        is unwrapped first and handled as received on the relayed candidate."""
        self._now = now
        if self._turn_routes:
            client = self._turn_routes.get((datagram.dst, datagram.src))
            if client is not None and not self._is_own_response(datagram.data):
                self._now = now
                relayed = client.handle_receive(now, datagram.data)
                self._drain_turn(now, client)
                address = client.relayed
                result = None
                if address is not None and not self._closed:
                    for peer, payload in relayed:
                        data = self.handle_datagram(now, Datagram(peer, address, payload))
                        if data is None:
                            continue
                        if result is None:
                            result = data  # over UDP, one relayed datagram at most
                        else:
                            self.relayed_backlog.append(data)  # a stream read held more
                return result
        data = datagram.data
        if data and data[0] < 4 and is_stun(data):
            if not self._closed:
                self._handle_stun(now, datagram)
            return None
        pair = self.selected
        if pair is None or pair.key != (datagram.dst, datagram.src):
            pair = self._pair_by_key.get((datagram.dst, datagram.src))
            if pair is None or not (
                pair.state == "succeeded" or pair.requests_received or pair is self.selected
            ):
                # Application data only from where ICE has seen the peer: a valid
                # pair, or one the peer sent an authenticated check on. Anything
                # else (a stranger's DTLS or SRTP lookalikes) goes no further.
                self.dropped_unknown_source += 1
                return None
            if self.selected is None:
                self._data_route = pair.key
                if self._held and pair.state in ("succeeded", "in-progress"):
                    self._flush_held()
        pair.packets_received += 1
        pair.bytes_received += len(data)
        pair.last_packet_received = now
        return data

    def poll_transmit(self) -> Datagram | None:
        transmits = self._transmits
        if not self._relays:
            return transmits.popleft() if transmits else None
        while transmits:
            datagram = transmits.popleft()
            client = self._relays.get(datagram.src)
            if client is None:
                return datagram
            # Sent from a relayed candidate: through the TURN server.
            client.send(self._now, datagram.dst, datagram.data)
            wrapped = [
                Datagram(client.base, client.server, d) for d in iter(client.poll_transmit, None)
            ]
            self._turn_events(self._now, client)
            if wrapped:
                transmits.extendleft(reversed(wrapped[1:]))
                return wrapped[0]
        return None

    def _is_own_response(self, data: bytes) -> bool:
        """A STUN response to one of the agent's own transactions (a server that is
        both our STUN and TURN server answers Binding requests on the same 5-tuple)."""
        return len(data) >= 20 and data[0] == 1 and data[8:20] in self._transactions

    def _drain_turn(self, now: float, client: TurnClient) -> None:
        if self._turn_routes.get((client.base, client.server)) is not client:
            # 300 Try Alternate moved the client: route by where it is now.
            self._turn_routes = {k: v for k, v in self._turn_routes.items() if v is not client}
            self._turn_routes[(client.base, client.server)] = client
        transmits = self._transmits
        while (data := client.poll_transmit()) is not None:
            transmits.append(Datagram(client.base, client.server, data))
        self._turn_events(now, client)

    def _turn_events(self, now: float, client: TurnClient) -> None:
        while (event := client.poll_event()) is not None:
            if isinstance(event, TurnAllocated):
                self._on_allocated(now, client, event)
            elif isinstance(event, TurnFailed):
                self._on_turn_failed(client, event)

    def _on_allocated(self, now: float, client: TurnClient, event: TurnAllocated) -> None:
        if client in self._turn_pending:
            self._turn_pending.discard(client)
            self._gathers_pending -= 1
        if self._closed:
            return
        relayed = event.relayed
        self._relays[relayed] = client
        index = self._bases.index(client.base) if client.base in self._bases else 0
        # Relays reached over UDP before TCP before TLS (as browsers rank them).
        rank = {"udp": 255, "tcp": 127, "tls": 63}.get(client.relay_protocol, 63)
        pref = local_preference(relayed[0], max(0, rank - index))
        related = event.mapped if event.mapped is not None else client.base
        candidate = Candidate(
            candidate_foundation("relay", client.base[0], "udp", client.server[0]),
            1,
            "udp",
            candidate_priority("relay", pref),
            relayed[0],
            relayed[1],
            "relay",
            related_address=related[0],
            related_port=related[1],
            extensions=self._candidate_extensions(),
        )
        self._add_local(
            now,
            LocalCandidate(candidate, relayed, client.url, relay_protocol=client.relay_protocol),
        )
        self._schedule_checks(now)
        self._maybe_gathering_complete()

    def poll_stream_to_close(self) -> Address | None:
        """The local address of a TURN TCP/TLS stream nothing uses any more (its
        allocation failed or was lost): the shell closes that connection."""
        return self._streams_to_close.popleft() if self._streams_to_close else None

    def _on_turn_failed(self, client: TurnClient, event: TurnFailed) -> None:
        if client.transport == "tcp":
            self._streams_to_close.append(client.base)
        if client in self._turn_pending:
            self._turn_pending.discard(client)
            self._gathers_pending -= 1
            self._events.append(
                IceCandidateErrorEvent(
                    client.base[0], client.base[1], client.url, event.code, event.reason
                )
            )
            self._maybe_gathering_complete()
            return
        # A lost allocation: its relayed candidate is gone, with its pairs (consent
        # notices if it carried the selected one). A restart allocates again.
        relayed = next((a for a, c in self._relays.items() if c is client), None)
        if relayed is None:
            return
        # (The address stays routed to the failed client, which drops what is sent
        # from it, until a restart replaces the allocation.)
        self.local_candidates = [c for c in self.local_candidates if c.base != relayed]
        for pair in [p for p in self.pairs if p.local.base == relayed]:
            self.pairs.remove(pair)
            if pair is not self.selected:
                self._pair_by_key.pop(pair.key, None)

    def poll_event(self) -> IceEvent | None:
        return self._events.popleft() if self._events else None

    def poll_timeout(self) -> float | None:
        best = self._transactions.poll_timeout()
        for deadline in (self._next_check, self._nominate_at, self._next_consent):
            if deadline is not None and (best is None or deadline < best):
                best = deadline
        pair = self.selected
        if pair is not None and pair.last_response is not None:
            # Wake up to notice silence (disconnected) and consent expiry (failed).
            if self.state in ("connected", "completed", "checking"):
                deadline = pair.last_response + self.disconnected_timeout
            elif self.state == "disconnected":
                deadline = pair.last_response + self.failed_timeout
            else:
                deadline = None
            if deadline is not None and (best is None or deadline < best):
                best = deadline
        elif self._checking_since is not None and self.state == "checking":
            deadline = self._checking_since + self.checking_timeout
            if best is None or deadline < best:
                best = deadline
        if self._turn and not self._closed:
            for client in self._turn:
                deadline = client.poll_timeout()
                if deadline is not None and (best is None or deadline < best):
                    best = deadline
        return best

    def handle_timeout(self, now: float) -> None:
        if self._closed:
            return
        self._now = now
        for client in self._turn:
            deadline = client.poll_timeout()
            if deadline is not None and now >= deadline:
                client.handle_timeout(now)
                self._drain_turn(now, client)
        self._transactions.handle_timeout(now)
        self._flush_transactions()
        if self._next_check is not None and now >= self._next_check:
            self._next_check = None
            self._send_next_check(now)
        if self._nominate_at is not None and now >= self._nominate_at:
            self._nominate_at = None
            self._nominate(now)
        if self._next_consent is not None and now >= self._next_consent:
            self._next_consent = None
            self._send_consent(now)
        self._update_state(now)

    # -- pairs and checks -----------------------------------------------------------------

    def _pair_priority(self, local: Candidate, remote: Candidate) -> int:
        if self.controlling:
            return pair_priority(local.priority, remote.priority)
        return pair_priority(remote.priority, local.priority)

    def _add_pair(
        self, now: float | None, local: LocalCandidate, remote: RemoteCandidate
    ) -> CandidatePair | None:
        if _family(local.base[0]) != _family(remote.address[0]):
            return None
        key = (local.base, remote.address)
        existing = self._pair_by_key.get(key)
        if existing is not None and existing in self.pairs:
            return existing
        if len(self.pairs) >= _MAX_PAIRS:
            return None
        pair = CandidatePair(
            local,
            remote,
            self._pair_priority(local.candidate, remote.candidate),
            generation=self.generation,
        )
        client = self._relays.get(local.base) if self._relays else None
        if client is not None:
            # RFC 8445 §5.1.1.2 / RFC 8656 §9: relayed checks need a permission.
            client.permit(self._now if now is None else now, remote.address[0])
            self._drain_turn(self._now if now is None else now, client)
        # §6.1.2.6: the first pair of a foundation starts Waiting, the rest Frozen.
        if not any(p.foundation == pair.foundation and p.state != "failed" for p in self.pairs):
            pair.state = "waiting"
        if existing is not None and existing is self.selected:
            # The selected pair survives a remote restart; the new generation reuses it.
            pair = existing
            pair.remote = remote
            pair.state = "waiting"
        self.pairs.append(pair)
        self.pairs.sort(key=lambda p: p.priority, reverse=True)
        self._pair_by_key[key] = pair
        if self._checking_since is None and now is not None:
            self._checking_since = now
        return pair

    def _schedule_checks(self, now: float) -> None:
        if self._next_check is None and self.remote_pwd is not None and self.pairs:
            self._next_check = now
        if self.state == "new" and self.pairs and self.remote_pwd is not None:
            self._set_state("checking")
            if self._checking_since is None:
                self._checking_since = now

    def _send_next_check(self, now: float) -> None:
        if self.remote_pwd is None:
            return
        pair: CandidatePair | None = None
        while self._triggered:
            candidate = self._triggered.popleft()
            if candidate in self.pairs and candidate.state in ("waiting", "frozen", "failed"):
                pair = candidate
                break
        if pair is None:
            for candidate in self.pairs:
                if candidate.state == "waiting":
                    pair = candidate
                    break
        if pair is None:
            for candidate in self.pairs:
                if candidate.state == "frozen":
                    pair = candidate
                    break
        if pair is None:
            return  # nothing to do until something new arrives
        self._start_check(now, pair, nominating=False)
        # Ta pacing with a little jitter so two agents don't lock step.
        self._next_check = now + self.ta * (0.9 + 0.2 * self.rng.random())

    def _start_check(
        self,
        now: float,
        pair: CandidatePair,
        *,
        nominating: bool,
        consent: bool = False,
        probe_timeout: float | None = None,
    ) -> None:
        assert self.remote_ufrag is not None and self.remote_pwd is not None
        if not consent:
            pair.state = "in-progress"
        # PRIORITY: what a peer-reflexive candidate of ours would have (§7.1.1).
        prflx_priority = candidate_priority("prflx", pair.local.candidate.priority >> 8 & 0xFFFF)
        request = StunMessage(StunMethod.BINDING, StunClass.REQUEST, new_transaction_id(self.rng))
        request.add(AttrType.USERNAME, f"{self.remote_ufrag}:{self.local_ufrag}")
        request.add(AttrType.PRIORITY, prflx_priority)
        if self.controlling:
            request.add(AttrType.ICE_CONTROLLING, self.tie_breaker)
            if nominating:
                request.add(AttrType.USE_CANDIDATE)
        else:
            request.add(AttrType.ICE_CONTROLLED, self.tie_breaker)
        data = request.serialize(short_term_key(self.remote_pwd), fingerprint=True)
        context = _Check(pair, nominating, consent, self.generation)
        if probe_timeout is not None:
            pair.consent_requests_sent += 1
            self._transactions.start(now, data, context, rto=probe_timeout, rc=1)
        elif consent:
            pair.consent_requests_sent += 1
            self._transactions.start(now, data, context, rto=self.consent_interval)
        else:
            pair.requests_sent += 1
            self._transactions.start(now, data, context)
        pair.last_packet_sent = now
        self._flush_transactions()
        if self._held and self.selected is None and pair.key == self._data_route:
            self._flush_held()  # the peer talks to us on this pair: answer it there

    def _flush_transactions(self) -> None:
        table = self._transactions
        while (transmit := table.poll_transmit()) is not None:
            context = transmit.context
            if isinstance(context, _Gather):
                self._transmits.append(Datagram(context.base, context.server, transmit.data))
            else:
                self._transmits.append(
                    Datagram(context.pair.local.base, context.pair.remote.address, transmit.data)
                )
        while (event := table.poll_event()) is not None:
            if isinstance(event, TransactionTimedOut):
                self._on_timeout(event.context)

    def _on_timeout(self, context: _Context) -> None:
        if isinstance(context, _Gather):
            self._gathers_pending -= 1
            self._events.append(
                IceCandidateErrorEvent(
                    context.base[0],
                    context.base[1],
                    context.url,
                    701,
                    "STUN server did not answer",
                )
            )
            self._maybe_gathering_complete()
            return
        pair = context.pair
        if context.consent:
            return  # consent is judged by the time since the last response
        if context.generation == self.generation and pair.state == "in-progress":
            pair.state = "failed"
            if pair.learned_late and pair is not self.selected:
                self._prune(pair)
        if self._nominating is pair:
            self._nominating = None
            self._nominate_at = float("-inf")  # try the next best pair at once

    # -- STUN input --------------------------------------------------------------------------

    def _handle_stun(self, now: float, datagram: Datagram) -> None:
        try:
            message = StunMessage.parse(datagram.data)
        except StunParseError:
            self.dropped_malformed += 1
            return
        if message.method != StunMethod.BINDING:
            self.dropped_malformed += 1
            return
        if message.msg_class == StunClass.REQUEST:
            self._handle_request(now, datagram, message)
        elif message.msg_class in (StunClass.SUCCESS, StunClass.ERROR):
            self._handle_response(now, datagram, message)
        # Binding indications are keepalives: nothing to do.

    def _handle_request(self, now: float, datagram: Datagram, request: StunMessage) -> None:
        # §7.3: authenticate with our password; USERNAME is "ours:theirs".
        if datagram.dst not in self._bases and datagram.dst not in self._relays:
            self.dropped_unauthenticated += 1
            return
        username = request.username or ""
        ours, _, _theirs = username.partition(":")
        password = None
        if ours == self.local_ufrag:
            password = self.local_pwd
        elif self._previous_credentials is not None and ours == self._previous_credentials[0]:
            password = self._previous_credentials[1]
        if not request.has_fingerprint or not request.check_fingerprint():
            self.dropped_malformed += 1
            return
        if password is None:
            # Not for us (or a stranger guessing): no answer at all, so nobody can
            # make us reflect packets at a third party by naming it as the source.
            self.dropped_unauthenticated += 1
            return
        if not request.check_integrity(short_term_key(password)):
            # RFC 8489 §9.1.3: 401 without integrity (we cannot sign for a stranger),
            # at most _ERROR_RATE a second: never a flood towards a forged source.
            self.dropped_unauthenticated += 1
            if self._error_allowed(now):
                self._send_error(datagram, request, 401, None)
            return
        key = short_term_key(password)
        unknown = request.unknown_required()
        if unknown:
            # RFC 8489 §6.3.1.1: refuse what we cannot comprehend, and say what it was.
            self.dropped_malformed += 1
            self._send_error(
                datagram, request, 420, password, [(AttrType.UNKNOWN_ATTRIBUTES, tuple(unknown))]
            )
            return
        # §7.3.1.1 role conflicts.
        theirs_controlling = request.ice_controlling
        theirs_controlled = request.ice_controlled
        if self.controlling and theirs_controlling is not None:
            if self.tie_breaker >= theirs_controlling:
                self._send_error(datagram, request, 487, password)
                return
            self._set_role(False)
        elif not self.controlling and theirs_controlled is not None:
            if self.tie_breaker >= theirs_controlled:
                self._set_role(True)
            else:
                self._send_error(datagram, request, 487, password)
                return
        response = request.success_response([(AttrType.XOR_MAPPED_ADDRESS, datagram.src)])
        self._transmits.append(
            Datagram(datagram.dst, datagram.src, response.serialize(key, fingerprint=True))
        )
        if password != self.local_pwd:
            return  # a check for the previous generation: answered, nothing more
        pair = self._pair_for_request(now, datagram, request)
        if pair is None:
            return
        pair.requests_received += 1
        pair.responses_sent += 1
        pair.last_packet_received = now
        use_candidate = request.use_candidate and not self.controlling
        # §7.3.1.4 triggered checks.
        if pair.state == "succeeded":
            if use_candidate:
                self._nominate_pair(now, pair)
        else:
            if use_candidate:
                pair.nominate_on_success = True
            if pair.state != "in-progress":
                pair.state = "waiting"
                if self.remote_pwd is None:
                    self._early.append(pair)
                else:
                    self._triggered.append(pair)
                    self._schedule_checks(now)
        self._update_state(now)

    def _error_allowed(self, now: float) -> bool:
        """Token bucket for error responses to unauthenticated requests."""
        tokens = min(_ERROR_BURST, self._error_tokens + (now - self._error_at) * _ERROR_RATE)
        self._error_at = now
        if tokens < 1.0:
            self._error_tokens = tokens
            return False
        self._error_tokens = tokens - 1.0
        return True

    def _pair_for_request(
        self, now: float, datagram: Datagram, request: StunMessage
    ) -> CandidatePair | None:
        pair = self._pair_by_key.get((datagram.dst, datagram.src))
        if pair is not None and (pair in self.pairs or pair is self.selected):
            return pair
        # §7.3.1.3: an unknown source is a peer-reflexive remote candidate.
        remote = next((r for r in self.remote_candidates if r.address == datagram.src), None)
        late = self.state == "completed" and remote is None
        if late and sum(p.learned_late for p in self.pairs) >= _MAX_LATE_PAIRS:
            return None  # answered, but not worth a check: a replay flood, likely
        if remote is None:
            priority = request.priority or candidate_priority("prflx")
            ip, port = datagram.src
            remote = RemoteCandidate(
                Candidate(
                    candidate_foundation("prflx", ip, "udp", f"{self.rng.getrandbits(32)}"),
                    1,
                    "udp",
                    priority,
                    ip,
                    port,
                    "prflx",
                )
            )
            self.remote_candidates.append(remote)
        local = next(
            (
                c
                for c in self.local_candidates
                if c.base == datagram.dst and c.candidate.type in ("host", "relay")
            ),
            None,
        )
        if local is None:
            return None
        pair = self._add_pair(now, local, remote)
        if pair is not None and late:
            pair.learned_late = True
        return pair

    def _send_error(
        self,
        datagram: Datagram,
        request: StunMessage,
        code: int,
        password: str | None,
        attributes: list[tuple[int, AttrValue]] | None = None,
    ) -> None:
        error = request.error_response(code, attributes=attributes or ())
        key = short_term_key(password) if password is not None else None
        self._transmits.append(
            Datagram(datagram.dst, datagram.src, error.serialize(key, fingerprint=True))
        )

    def _handle_response(self, now: float, datagram: Datagram, response: StunMessage) -> None:
        transaction = self._transactions.get(response.transaction_id)
        if transaction is None:
            self.dropped_unknown_transaction += 1
            return
        context = transaction.context
        if isinstance(context, _Gather):
            if datagram.src != context.server or datagram.dst != context.base:
                self.dropped_unknown_transaction += 1
                return
            self._transactions.handle_response(now, response)
            self._drain_responses()
            self._on_gather_response(now, context, response)
            return
        pair = context.pair
        assert self.remote_pwd is not None
        if not response.check_integrity(short_term_key(self.remote_pwd)):
            # Unsigned responses (even errors) could be forged: drop, let it time out.
            self.dropped_unauthenticated += 1
            return
        self._transactions.handle_response(now, response)
        rtt = self._drain_responses()
        # §7.2.5.2.1: the response must come from where the request went.
        if datagram.src != pair.remote.address or datagram.dst != pair.local.base:
            if not context.consent:
                pair.state = "failed"
            return
        if response.msg_class == StunClass.ERROR:
            code = response.error_code
            if code is not None and code.code == 487 and not context.consent:
                # §7.2.5.1: switch role and retry the pair.
                self._set_role(not self.controlling)
                pair.state = "waiting"
                self._triggered.append(pair)
                self._schedule_checks(now)
            elif not context.consent:
                pair.state = "failed"
            return
        pair.responses_received += 1
        pair.last_response = now
        pair.last_packet_received = now
        if rtt is not None:
            pair.current_round_trip_time = rtt
            pair.total_round_trip_time += rtt
            pair.round_trip_samples += 1
        mapped = response.xor_mapped_address
        if mapped is not None and mapped != pair.local.address:
            pair.mapped = mapped
        if context.consent:
            self._update_state(now)
            return
        if context.generation != self.generation and pair is not self.selected:
            return
        was_succeeded = pair.state == "succeeded"
        pair.state = "succeeded"
        if self._held:
            self._flush_held()  # a valid pair: what waited for one goes now
        if not was_succeeded:
            # §7.2.5.3.3: unfreeze the pairs sharing the foundation.
            for other in self.pairs:
                if other.state == "frozen" and other.foundation == pair.foundation:
                    other.state = "waiting"
        if (
            context.nominating
            or pair.nominate_on_success
            or (not self.controlling and self.remote_lite)
        ):
            self._nominate_pair(now, pair)
        elif (
            self.controlling
            and self._nominating is None
            and self._nominate_at is None
            and (self.selected is None or self._restarting)
        ):
            # Nominate at once when nothing better is still being checked; otherwise
            # give better pairs a moment (regular nomination, §8.1.1).
            better_pending = any(
                p.priority > pair.priority and p.state in ("waiting", "in-progress", "frozen")
                for p in self.pairs
            )
            self._nominate_at = now + self.nomination_delay if better_pending else now
        self._schedule_checks(now)
        self._update_state(now)

    def _drain_responses(self) -> float | None:
        rtt = None
        while (event := self._transactions.poll_event()) is not None:
            if isinstance(event, TransactionResponse):
                rtt = event.rtt
            elif isinstance(event, TransactionTimedOut):
                self._on_timeout(event.context)
        return rtt

    def _on_gather_response(self, now: float, context: _Gather, response: StunMessage) -> None:
        self._gathers_pending -= 1
        mapped = response.xor_mapped_address or response.mapped_address
        if response.msg_class == StunClass.ERROR or mapped is None:
            code = response.error_code
            self._events.append(
                IceCandidateErrorEvent(
                    context.base[0],
                    context.base[1],
                    context.url,
                    code.code if code is not None else 701,
                    code.reason if code is not None else "no mapped address",
                )
            )
        elif mapped != context.base and all(
            (c.candidate.address, c.candidate.port) != mapped for c in self.local_candidates
        ):
            base_ip, base_port = context.base
            local = next(c for c in self.local_candidates if c.base == context.base)
            pref = local.candidate.priority >> 8 & 0xFFFF
            candidate = Candidate(
                candidate_foundation("srflx", base_ip, "udp", f"{context.server[0]}"),
                1,
                "udp",
                candidate_priority("srflx", pref),
                mapped[0],
                mapped[1],
                "srflx",
                related_address=base_ip,
                related_port=base_port,
                extensions=self._candidate_extensions(),
            )
            self._add_local(now, LocalCandidate(candidate, context.base, context.url))
        self._maybe_gathering_complete()

    # -- nomination, selection, consent ------------------------------------------------------

    def _nominate(self, now: float) -> None:
        """Controlling side, regular nomination: re-check the best valid pair with
        USE-CANDIDATE."""
        if not self.controlling or self._nominating is not None:
            return
        best = next((p for p in self.pairs if p.state == "succeeded"), None)
        if best is None:
            return
        self._nominating = best
        self._start_check(now, best, nominating=True)

    def _nominate_pair(self, now: float, pair: CandidatePair) -> None:
        pair.nominated = True
        pair.nominate_on_success = False
        if self._nominating is pair:
            self._nominating = None
        current = self.selected
        if (
            current is None
            or self._restarting
            or current.state != "succeeded"
            or pair.priority > current.priority
            or current not in self.pairs
        ):
            self._select(now, pair)

    def _select(self, now: float, pair: CandidatePair) -> None:
        changed = pair is not self.selected
        self.selected = pair
        if self._restarting:
            self._restarting = False
            self._previous_credentials = None
        if pair.last_response is None:
            pair.last_response = now
        # §8.1.2: nothing lower than the selected pair is worth checking any more.
        for other in self.pairs:
            if other.state in ("waiting", "frozen") and other.priority < pair.priority:
                other.state = "failed"
        if changed:
            local = pair.local.candidate
            if pair.mapped is not None:
                ip, port = pair.mapped
                local = Candidate(
                    candidate_foundation("prflx", ip, "udp"),
                    1,
                    "udp",
                    candidate_priority("prflx"),
                    ip,
                    port,
                    "prflx",
                )
            self._events.append(IceSelectedPairEvent(local, pair.remote.candidate))
        if self._next_consent is None:
            self._schedule_consent(now)
        self._data_route = None
        if self._held:
            self._flush_held()
        client = self._relays.get(pair.local.base) if self._relays else None
        if client is not None:
            # Data on the selected relayed pair: 4-byte ChannelData, not 36-byte indications.
            client.bind_channel(now, pair.remote.address)
            self._drain_turn(now, client)

    def probe_consent(self, now: float) -> None:
        """Check consent on the selected pair now, outside the periodic schedule (the
        owner probes a path that may be down); at most once per round trip."""
        pair = self.selected
        if pair is None or self._closed or self.state in ("failed", "closed"):
            return
        if self.remote_pwd is None:
            return
        rtt = pair.current_round_trip_time or 0.0
        if now - self._last_probe < max(0.05, rtt):
            return
        self._last_probe = now
        self._now = now
        # One transmission, no retransmissions (the owner probes again if it must);
        # an answer up to a second (or 4 RTT) late still counts.
        timeout = max(1.0, 4 * rtt)
        self._start_check(now, pair, nominating=False, consent=True, probe_timeout=timeout)

    def _schedule_consent(self, now: float) -> None:
        # RFC 7675 §5.1: randomised interval, 0.8-1.2 of the base.
        self._next_consent = now + self.consent_interval * (0.8 + 0.4 * self.rng.random())

    def _send_consent(self, now: float) -> None:
        pair = self.selected
        if pair is None or self.state in ("failed", "closed") or self.remote_pwd is None:
            return
        self._start_check(now, pair, nominating=False, consent=True)
        self._schedule_consent(now)

    def _set_role(self, controlling: bool) -> None:
        if controlling == self.controlling:
            return
        self.controlling = controlling
        for pair in self.pairs:
            pair.priority = self._pair_priority(pair.local.candidate, pair.remote.candidate)
        self.pairs.sort(key=lambda p: p.priority, reverse=True)

    # -- states ---------------------------------------------------------------------------

    def _set_state(self, state: IceState) -> None:
        if state == self.state:
            return
        if state not in _ICE_TRANSITIONS[self.state]:
            raise AssertionError(f"ICE state {self.state} -> {state} is not allowed")
        self.state = state
        self._events.append(IceStateEvent(state))

    def _set_gathering(self, state: GatheringState) -> None:
        if state == self.gathering_state:
            return
        if state not in _GATHERING_TRANSITIONS[self.gathering_state]:
            raise AssertionError(f"gathering state {self.gathering_state} -> {state}")
        self.gathering_state = state
        self._events.append(IceGatheringStateEvent(state))

    def _checks_finished(self) -> bool:
        # A pair learned from a check after completion (a replay, say) does not
        # reopen checking: the state the user sees stays "completed".
        return all(p.state in ("succeeded", "failed") or p.learned_late for p in self.pairs)

    def _prune(self, pair: CandidatePair) -> None:
        """Forget a failed pair learned late, and its peer-reflexive candidate
        (RFC 8445 §6.1.2.6, §8.3: pairs that cannot work are removed)."""
        if pair in self.pairs:
            self.pairs.remove(pair)
        self._pair_by_key.pop(pair.key, None)
        remote = pair.remote
        unused = not any(p.remote is remote for p in self.pairs)
        if remote.candidate.type == "prflx" and unused and remote in self.remote_candidates:
            self.remote_candidates.remove(remote)

    def _update_state(self, now: float | None) -> None:
        if self._closed or self._consent_revoked:
            return
        if now is None:
            now = self._now  # the latest input's time: liveness is never skipped
        pair = self.selected
        if pair is not None and pair.last_response is not None and now is not None:
            # Same expressions as poll_timeout's deadlines, so float rounding agrees.
            if now >= pair.last_response + self.failed_timeout:
                self._set_state("failed")
                return
            if now >= pair.last_response + self.disconnected_timeout:
                self._set_state("disconnected")
                return
        if pair is not None:
            if (
                self._checks_finished()
                and self.remote_end_of_candidates
                and self.gathering_state == "complete"
                and not self._restarting
            ):
                if self.state not in ("connected", "completed"):
                    # Code written for browsers waits for "connected": never skip it.
                    self._set_state("connected")
                self._set_state("completed")
            else:
                self._set_state("connected")
            return
        if self.state == "new":
            return
        all_failed = bool(self.pairs) and all(p.state == "failed" for p in self.pairs)
        timed_out = (
            now is not None
            and self._checking_since is not None
            and now >= self._checking_since + self.checking_timeout
            and not any(p.state in ("in-progress", "succeeded") for p in self.pairs)
        )
        if (
            all_failed and self.remote_end_of_candidates and self.gathering_state == "complete"
        ) or timed_out:
            self._set_state("failed")
        elif self.state == "failed" and not all_failed:
            self._set_state("checking")
