"""The SCTP association (RFC 9260), sans-IO, as WebRTC runs it over DTLS (RFC 8261).

One :class:`Association` is one SCTP association on one path: it takes whole SCTP
packets (one DTLS record each) with :meth:`Association.handle_receive` and hands whole
packets back from :meth:`Association.poll_transmit`. There are no IP addresses; the
ports come from ``a=sctp-port`` (5000 by default).

What it implements:

- Handshake (§5): INIT / INIT ACK with an HMAC-SHA256 State Cookie carrying a timestamp
  and a lifetime, COOKIE ECHO / COOKIE ACK; both ends may INIT at once (§5.2); a
  listening association (no ``connect()``) answers the peer's INIT.
- Verification tags on every packet (§8.5, with the T-bit rules), CRC32c, out-of-the-blue
  handling (§8.4), unknown chunks and parameters by their upper two bits (§3.2).
- DATA: fragmentation to ``mtu``, bundling of many chunks per packet (control chunks,
  SACK and DATA together), reassembly, ordered and unordered delivery per stream.
- SACK (§6.2, §6.7): delayed (every second packet or ``min(delayed_ack, RTO/2)``),
  immediate on gaps, gap fills and duplicates; gap blocks and duplicate TSNs; receive
  window bounded by the buffer, sender honours the peer's window, zero-window probing.
- Retransmission (§6.3): RTO from SRTT/RTTVAR with Karn's rule, T3-rtx with back-off;
  congestion control (§7.2): slow start, congestion avoidance, fast retransmit on three
  miss indications with HTNA, fast recovery, Max.Burst.
- PR-SCTP (RFC 3758): per-message ``max_retransmits`` / ``max_lifetime``, abandoning,
  FORWARD TSN with stream/SSN pairs, receiver skipping.
- Stream reset (RFC 6525): outgoing SSN reset requests, answering the peer's (deferred
  until its last TSN has arrived), events for both directions.
- SHUTDOWN / SHUTDOWN ACK / SHUTDOWN COMPLETE after all data is acknowledged; ABORT.
- HEARTBEAT on an idle path (§8.3); too many retransmissions fail the association.

Output is computed lazily: inputs mark the association dirty and the next ``poll_*``
call builds packets, so many ``send()`` calls in a row share packets.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
import struct
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from heapq import heappop, heappush

import google_crc32c

from rtcpeer.errors import InvalidStateError, NotSupportedError, OperationError
from rtcpeer.sctp.events import (
    Aborted,
    AssociationState,
    BufferedAmountLow,
    Closed,
    Connected,
    Event,
    Restarted,
    StateChanged,
    StreamResetFailed,
    StreamsReset,
)
from rtcpeer.sctp.packet import (
    ABORT,
    CAUSE_COOKIE_WHILE_SHUTTING_DOWN,
    CAUSE_INVALID_STREAM,
    CAUSE_PROTOCOL_VIOLATION,
    CAUSE_STALE_COOKIE,
    CAUSE_UNRECOGNIZED_CHUNK,
    CAUSE_UNRECOGNIZED_PARAMS,
    CAUSE_USER_INITIATED_ABORT,
    CHUNK_HEADER,
    COMMON_HEADER,
    COOKIE_ACK,
    COOKIE_ECHO,
    CRC_LE,
    DATA,
    DATA_HEADER,
    ERROR,
    FLAG_BEGIN,
    FLAG_END,
    FLAG_IMMEDIATE,
    FLAG_T,
    FLAG_UNORDERED,
    FORWARD_TSN,
    INIT,
    PARAM_FORWARD_TSN_SUPPORTED,
    PARAM_HEADER,
    PARAM_STATE_COOKIE,
    PARAM_SUPPORTED_EXTENSIONS,
    PARAM_UNRECOGNIZED,
    RECONFIG,
    SACK,
    SACK_HEADER,
    SHUTDOWN_ACK,
    SHUTDOWN_COMPLETE,
    U16_PAIR,
    U32,
    AbortChunk,
    Chunk,
    CookieAckChunk,
    CookieEchoChunk,
    ErrorCause,
    ErrorChunk,
    ForwardTsnChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    IncomingSsnResetRequest,
    InitAckChunk,
    InitChunk,
    OutgoingSsnResetRequest,
    ReconfigChunk,
    ReconfigResponse,
    SctpParseError,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    UnknownChunk,
    parse_chunk,
)
from rtcpeer.sctp.reassembly import ReassemblyQueue

__all__ = ["TRANSITIONS", "Association", "AssociationStats"]

_M32 = 0xFFFFFFFF
_HALF = 0x80000000
_ZERO4 = b"\x00\x00\x00\x00"
_PAD = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")
_DATA_BODY = struct.Struct("!IHHI")
_SACK_BODY = struct.Struct("!IIHH")
_COOKIE_BODY = struct.Struct("!BdIIIIIHHIIB")  # see _make_cookie
_COOKIE_VERSION = 1
_COOKIE_MAC_LEN = 32
_HB_INFO = struct.Struct("!d8s")
_SIMPLE_SHUTDOWN_ACK = CHUNK_HEADER.pack(SHUTDOWN_ACK, 0, 4)
_SIMPLE_COOKIE_ACK = CHUNK_HEADER.pack(COOKIE_ACK, 0, 4)
_crc_extend = google_crc32c.extend
_crc_value = google_crc32c.value

# INIT / INIT ACK parameters we understand or knowingly ignore (addresses, ECN, AUTH,
# adaptation layer, zero checksum...); others are handled by their upper two bits.
_KNOWN_INIT_PARAMS = frozenset(
    {5, 6, 7, 8, 9, 11, 12, 0x8000, 0x8001, 0x8002, 0x8003, 0x8004, 0x8008, 0xC000, 0xC006}
)

S = AssociationState
_CLOSED = S.CLOSED
_COOKIE_WAIT = S.COOKIE_WAIT
_COOKIE_ECHOED = S.COOKIE_ECHOED
_ESTABLISHED = S.ESTABLISHED
_SHUTDOWN_PENDING = S.SHUTDOWN_PENDING
_SHUTDOWN_SENT = S.SHUTDOWN_SENT
_SHUTDOWN_RECEIVED = S.SHUTDOWN_RECEIVED
_SHUTDOWN_ACK_SENT = S.SHUTDOWN_ACK_SENT

#: The legal state transitions (RFC 9260 §4); ``_set_state`` enforces them.
TRANSITIONS: dict[AssociationState, frozenset[AssociationState]] = {
    _CLOSED: frozenset({_COOKIE_WAIT, _ESTABLISHED}),
    _COOKIE_WAIT: frozenset({_COOKIE_ECHOED, _ESTABLISHED, _CLOSED}),
    _COOKIE_ECHOED: frozenset({_ESTABLISHED, _COOKIE_WAIT, _CLOSED}),
    _ESTABLISHED: frozenset({_SHUTDOWN_PENDING, _SHUTDOWN_RECEIVED, _CLOSED}),
    _SHUTDOWN_PENDING: frozenset({_SHUTDOWN_SENT, _SHUTDOWN_RECEIVED, _CLOSED}),
    _SHUTDOWN_SENT: frozenset({_SHUTDOWN_ACK_SENT, _CLOSED}),
    _SHUTDOWN_RECEIVED: frozenset({_SHUTDOWN_ACK_SENT, _CLOSED}),
    _SHUTDOWN_ACK_SENT: frozenset({_CLOSED}),
}

# States in which we send DATA, accept DATA, and process SACKs.
_TX_STATES = frozenset({_ESTABLISHED, _SHUTDOWN_PENDING, _SHUTDOWN_RECEIVED})
_RX_STATES = frozenset(
    {_COOKIE_ECHOED, _ESTABLISHED, _SHUTDOWN_PENDING, _SHUTDOWN_SENT, _SHUTDOWN_RECEIVED}
)
_SACK_STATES = frozenset(
    {_ESTABLISHED, _SHUTDOWN_PENDING, _SHUTDOWN_SENT, _SHUTDOWN_RECEIVED, _SHUTDOWN_ACK_SENT}
)
_SEND_API_STATES = frozenset({_CLOSED, _COOKIE_WAIT, _COOKIE_ECHOED, _ESTABLISHED})


@dataclass(slots=True)
class AssociationStats:
    """Counters; useful in tests, logs and ``getStats``."""

    packets_sent: int = 0
    packets_received: int = 0
    bad_checksum: int = 0
    bad_port: int = 0
    bad_vtag: int = 0
    malformed: int = 0
    out_of_the_blue: int = 0
    bad_cookie: int = 0
    stale_cookie: int = 0
    data_chunks_received: int = 0
    duplicate_tsns: int = 0
    dropped_no_buffer: int = 0
    invalid_stream: int = 0
    sacks_sent: int = 0
    sacks_received: int = 0
    retransmitted_chunks: int = 0
    fast_retransmits: int = 0
    fast_recoveries: int = 0
    t3_expirations: int = 0
    #: Slow start left early because the round trip grew (HyStart++, RFC 9406).
    slow_start_exits: int = 0
    abandoned_messages: int = 0
    forward_tsn_sent: int = 0
    forward_tsn_received: int = 0
    heartbeats_sent: int = 0
    unknown_chunks: int = 0
    errors_received: int = 0


class _OutMessage:
    """A user message on its way out."""

    __slots__ = (
        "abandoned",
        "counted",
        "data",
        "expires",
        "first_tsn",
        "last_tsn",
        "max_retransmits",
        "offset",
        "ppid",
        "sid",
        "ssn",
        "uflag",
        "view",
    )

    def __init__(
        self,
        sid: int,
        ppid: int,
        data: bytes,
        unordered: bool,
        max_retransmits: int | None,
        expires: float | None,
        counted: bool = True,
    ) -> None:
        self.sid = sid
        self.ppid = ppid
        self.counted = counted
        self.data = data
        self.view = memoryview(data)
        self.offset = 0
        self.uflag = FLAG_UNORDERED if unordered else 0
        self.ssn = 0
        self.max_retransmits = max_retransmits
        self.expires = expires
        self.abandoned = False
        self.first_tsn = -1
        self.last_tsn = -1


class _Chunk:
    """A DATA chunk we sent and the peer has not cumulatively acknowledged.

    ``size`` (payload plus the 16-byte chunk header) is what counts in the flight size,
    the congestion window and the peer's window, so that tiny messages cannot put an
    unbounded number of chunks in flight.

    States: ``in_flight`` (counted in the flight size), ``rtx`` (waiting for
    retransmission, not in flight), ``acked`` (cumulatively or gap acknowledged),
    ``abandoned`` (PR-SCTP). Bytes of chunks neither acked nor abandoned are outstanding.
    """

    __slots__ = (
        "abandoned",
        "acked",
        "fast_rtx",
        "in_flight",
        "missing",
        "msg",
        "nsent",
        "rtx",
        "sent_at",
        "size",
        "tsn",
        "wire",
    )

    def __init__(self, tsn: int, msg: _OutMessage, wire: bytes, size: int, now: float) -> None:
        self.tsn = tsn
        self.msg = msg
        self.wire = wire
        self.size = size
        self.sent_at = now
        self.nsent = 1
        self.missing = 0
        self.acked = False
        self.abandoned = False
        self.in_flight = True
        self.rtx = False
        self.fast_rtx = False


class _Cookie:
    __slots__ = (
        "features",
        "local_tag",
        "local_tie",
        "local_tsn",
        "peer_mis",
        "peer_os",
        "peer_rwnd",
        "peer_tag",
        "peer_tie",
        "peer_tsn",
        "timestamp",
    )

    def __init__(self, fields: tuple[int | float, ...]) -> None:
        self.timestamp = float(fields[1])
        (
            self.local_tag,
            self.peer_tag,
            self.local_tsn,
            self.peer_tsn,
            self.peer_rwnd,
            self.peer_os,
            self.peer_mis,
            self.local_tie,
            self.peer_tie,
            self.features,
        ) = (int(x) for x in fields[2:])


class _StopPacket(Exception):
    """Internal: stop processing the rest of this packet."""


def _peer_features(params: list[tuple[int, bytes]]) -> tuple[int, list[bytes]]:
    """(feature bits, unrecognized parameters to report) of an INIT / INIT ACK.

    Bit 0: FORWARD TSN (RFC 3758), bit 1: RE-CONFIG (RFC 6525). Unknown parameters follow
    their upper two bits (RFC 9260 §3.2.1): 0x4000 set → report, 0x8000 clear → stop.
    """
    features = 0
    report: list[bytes] = []
    for ptype, value in params:
        if ptype == PARAM_FORWARD_TSN_SUPPORTED:
            features |= 1
        elif ptype == PARAM_SUPPORTED_EXTENSIONS:
            if FORWARD_TSN in value:
                features |= 1
            if RECONFIG in value:
                features |= 2
        elif ptype not in _KNOWN_INIT_PARAMS:
            if ptype & 0x4000:
                report.append(PARAM_HEADER.pack(ptype, 4 + len(value)) + value)
            if not ptype & 0x8000:
                break
    return features, report


class Association:
    """One SCTP association (RFC 9260) over DTLS; see the module docstring.

    Inputs: :meth:`connect`, :meth:`handle_receive`, :meth:`handle_timeout`,
    :meth:`send`, :meth:`reset_streams`, :meth:`shutdown`, :meth:`abort`. Outputs:
    :meth:`poll_transmit` (whole SCTP packets), :meth:`poll_event`,
    :meth:`poll_timeout`. Without :meth:`connect` the association listens: it answers
    the peer's INIT. Calling :meth:`connect` on both ends is fine (§5.2.1).

    ``mtu`` is the largest SCTP packet to emit (the owner subtracts DTLS overhead).
    ``max_message_size`` bounds incoming messages (larger ones are dropped and counted
    in ``reassembly_oversized``) and, until :attr:`max_send_message_size` is set to the
    peer's limit, outgoing ones (larger sends raise ``TypeError``).
    ``max_receive_buffer`` is the receive window and bounds reassembly memory;
    ``max_send_buffer`` bounds bytes queued and not yet sent (``send`` raises
    :class:`~rtcpeer.errors.OperationError` beyond it).
    """

    def __init__(
        self,
        *,
        rng: random.Random,
        local_port: int = 5000,
        remote_port: int = 5000,
        mtu: int = 1200,
        max_message_size: int = 256 * 1024,
        max_receive_buffer: int = 8 * 1024 * 1024,
        max_send_buffer: int = 16 * 1024 * 1024,
        outbound_streams: int = 65535,
        inbound_streams: int = 65535,
        rto_initial: float = 1.0,
        rto_min: float = 0.2,
        rto_max: float = 60.0,
        max_retransmissions: int = 10,
        max_init_retransmits: int = 8,
        heartbeat_interval: float = 30.0,
        delayed_ack: float = 0.2,
        cookie_lifetime: float = 60.0,
        max_burst: int = 4,
    ) -> None:
        if not 256 <= mtu <= 65535:
            raise ValueError(f"mtu must be in [256, 65535] bytes, got {mtu}")
        # A message is held whole until its last fragment: with the per-fragment
        # bookkeeping (FRAGMENT_OVERHEAD) it needs about 1.25x its size of buffer.
        if max_message_size < 1 or max_message_size * 5 > max_receive_buffer * 4:
            raise ValueError(
                "max_message_size must be at least 1 and at most 0.8 x max_receive_buffer"
            )
        if not 1 <= outbound_streams <= 65535 or not 1 <= inbound_streams <= 65535:
            raise ValueError("stream counts must be in [1, 65535]")
        if not 0 < rto_min <= rto_initial <= rto_max:
            raise ValueError("need 0 < rto_min <= rto_initial <= rto_max")
        if max_burst < 1 or heartbeat_interval <= 0 or delayed_ack < 0 or cookie_lifetime <= 0:
            raise ValueError(
                "need max_burst >= 1, heartbeat_interval > 0, delayed_ack >= 0, cookie_lifetime > 0"
            )
        self._rng = rng
        self.local_port = local_port
        self.remote_port = remote_port
        self._mtu = mtu
        #: Largest incoming message we reassemble (our ``a=max-message-size``).
        self.max_message_size = max_message_size
        #: Largest message ``send`` accepts; set it to the peer's ``a=max-message-size``
        #: (the send buffer bounds it anyway). Defaults to ``max_message_size``.
        self.max_send_message_size = max_message_size
        self._max_rbuf = max_receive_buffer
        self._max_sbuf = max_send_buffer
        self._cfg_os = outbound_streams
        self._cfg_mis = inbound_streams
        self._rto_initial = rto_initial
        self._rto_min = rto_min
        self._rto_max = rto_max
        self._max_retrans = max_retransmissions
        self._max_init_retrans = max_init_retransmits
        self._hb_interval = heartbeat_interval
        self._delayed_ack = delayed_ack
        self._cookie_lifetime = cookie_lifetime
        self._max_burst = max_burst
        self._cookie_secret = secrets.token_bytes(32)
        self.stats = AssociationStats()

        self._state = _CLOSED
        self._tx_ok = self._rx_ok = self._sack_ok = False
        self._send_ok = True
        self._terminated = False  # closed for good (after an association existed)
        self._now = 0.0
        self._dirty = False
        self._events: deque[Event] = deque()
        self._tx: deque[bytes] = deque()
        self._ctrl: list[bytes] = []

        # Tags and the precomputed header of our packets.
        self._local_vtag = 0
        self._rx_head8 = b""  # the first 8 bytes every packet from the peer starts with
        self._rx_crc_head = 0
        self._peer_vtag = 0
        self._head8 = b""
        self._crc_head = 0
        self._local_initial_tsn = 0
        self._out_streams = outbound_streams
        self._in_streams = inbound_streams
        self._peer_features = 0

        # Handshake.
        self._t1: float | None = None
        self._t1_rto = rto_initial
        self._init_retries = 0
        self._init_packet = b""
        self._cookie_echo_packet = b""

        # RTO (§6.3.1).
        self._rto = rto_initial
        self._srtt: float | None = None
        self._rttvar = 0.0
        self._errors = 0

        # Timers.
        self._t2: float | None = None
        self._t3: float | None = None
        self._sack_deadline: float | None = None
        self._hb_deadline: float | None = None
        self._reconfig_deadline: float | None = None

        # Send queues (per stream, round robin at message boundaries).
        self._sq: dict[int, deque[_OutMessage]] = {}
        self._rr: deque[int] = deque()
        self._cur: _OutMessage | None = None
        self._out_ssn: dict[int, int] = {}
        self._buffered: dict[int, int] = {}
        self._buffered_total = 0
        self._low_thr: dict[int, int] = {}

        self._rq = ReassemblyQueue(self._events, max_message_size)
        # Sender state (§6.1, §7); set by _init_tx. TSNs are unwrapped (never wrap).
        self._next_tsn = 0
        self._cum_ack = -1  # the peer's Cumulative TSN Ack of our data
        self._out: list[_Chunk] = []  # chunk of TSN t at index t - _out_tsn0
        self._out_tsn0 = 0
        self._flight = 0
        self._outstanding = 0
        self._rtxq: list[int] = []  # heap of TSNs marked for retransmission
        self._prev_gaps: dict[int, int] = {}
        self._cwnd = 0
        self._ssthresh = 0
        self._pba = 0
        self._peer_rwnd = 0
        self._in_fr = False
        self._fr_exit = 0
        self._fast_rtx_allowance = False
        self._sacks_since_flush = 0  # each SACK is a chance to send Max.Burst packets
        # HyStart++ rounds (see _hystart).
        self._hs_round_end = -1
        self._hs_min = float("inf")
        self._hs_last_min = float("inf")
        self._hs_samples = 0
        self._cwnd_full = False  # the last flush had more to send than cwnd allowed
        self._adv_ack = -1  # RFC 3758 Advanced.Peer.Ack.Point
        self._abandon_pending = False
        self._fwd_pending = False
        self._fwd_streams: dict[int, int] = {}
        self._fwd_sent_at = -1e9
        self._rtt_tsn: int | None = None
        self._rtt_time = 0.0
        self._reconfig_seq = 0
        # Receiver state (§6.2); set by _init_rx.
        self._rcv_cum = -1
        self._rcv_highest = -1
        self._rcv_gaps: list[list[int]] = []  # sorted disjoint [start, end] above cum + 1
        self._dups: list[int] = []
        self._unacked_pkts = 0
        self._sack_now = False
        self._peer_reconfig_seq = 0
        self._init_tx(0, 0)
        self._init_rx(0)

        # When the first T3-rtx expired since data was last acknowledged.
        self._stalled_since: float | None = None
        # Heartbeats.
        self._hb_outstanding = False
        self._hb_nonce = b""
        self._last_data_tx = 0.0

        # Stream reset (RFC 6525).
        self._reset_pending: dict[int, None] = {}  # ordered set of our streams to reset
        self._reconfig_out: tuple[int, tuple[int, ...], bytes] | None = None
        self._reconfig_results: dict[int, int] = {}
        self._deferred_resets: list[tuple[int, tuple[int, ...], int]] = []

    # =====================================================================================
    # Public API
    # =====================================================================================

    @property
    def state(self) -> AssociationState:
        """The RFC 9260 §4 state."""
        return self._state

    @property
    def is_established(self) -> bool:
        """True in ESTABLISHED (not while shutting down)."""
        return self._state is _ESTABLISHED

    @property
    def local_tag(self) -> int:
        """Our verification tag: the one the peer's packets must carry (0 until chosen)."""
        return self._local_vtag

    @property
    def peer_tag(self) -> int:
        """The peer's verification tag, carried by our packets (0 until known)."""
        return self._peer_vtag

    @property
    def outbound_streams(self) -> int:
        """Negotiated number of streams we may send on (0..n-1)."""
        return self._out_streams

    @property
    def inbound_streams(self) -> int:
        """Negotiated number of streams the peer may send on."""
        return self._in_streams

    @property
    def rto(self) -> float:
        """Current retransmission timeout (§6.3.1)."""
        return self._rto

    @property
    def srtt(self) -> float | None:
        """Smoothed round-trip time (§6.3.1), None before the first measurement."""
        return self._srtt

    @property
    def cwnd(self) -> int:
        """Congestion window in bytes (§7.2)."""
        return self._cwnd

    @property
    def ssthresh(self) -> int:
        """Slow-start threshold in bytes (§7.2)."""
        return self._ssthresh

    @property
    def flight_size(self) -> int:
        """Bytes of DATA chunks (with their headers) sent and not yet acknowledged."""
        return self._flight

    @property
    def peer_rwnd(self) -> int:
        """What we believe the peer can still take (§6.2.1)."""
        return self._peer_rwnd

    @property
    def partial_reliability(self) -> bool:
        """The peer supports FORWARD TSN (RFC 3758), so per-message policies apply."""
        return bool(self._peer_features & 1)

    @property
    def stream_reset_supported(self) -> bool:
        """The peer supports RE-CONFIG (RFC 6525)."""
        return bool(self._peer_features & 2)

    @property
    def reassembly_oversized(self) -> int:
        """Incoming messages dropped for exceeding ``max_message_size``."""
        return self._rq.oversized

    def connect(self, now: float) -> None:
        """Start the handshake (send INIT, §5.1). Both ends may do it."""
        if self._state is not _CLOSED or self._terminated:
            raise InvalidStateError("connect() is only possible once, on a new association")
        self._now = now
        self._local_vtag = self._random_tag()
        self._local_initial_tsn = self._rng.getrandbits(32)
        init = InitChunk(
            self._local_vtag,
            self._max_rbuf,
            self._cfg_os,
            self._cfg_mis,
            self._local_initial_tsn,
            self._our_params(),
        )
        self._init_packet = self._raw_packet(0, init.serialize())
        self._tx.append(self._init_packet)
        self._set_state(_COOKIE_WAIT)
        self._init_retries = 0
        self._t1_rto = self._rto_initial
        self._t1 = now + self._t1_rto

    def send(
        self,
        now: float,
        stream_id: int,
        ppid: int,
        data: bytes | bytearray | memoryview,
        *,
        ordered: bool = True,
        max_retransmits: int | None = None,
        max_lifetime: float | None = None,
        counted: bool = True,
    ) -> None:
        """Queue one user message on ``stream_id`` with payload protocol id ``ppid``.

        ``counted=False`` keeps the message out of :meth:`buffered_amount` and its
        low-threshold events (control messages such as DCEP, or the one-byte body of
        an empty message, which W3C's ``bufferedAmount`` does not count); it still
        counts against the send buffer.

        ``max_retransmits`` / ``max_lifetime`` (seconds from now) make it partially
        reliable (RFC 3758) when the peer supports it. Messages queued before the
        association is up go out once it is.

        Raises :class:`InvalidStateError` when closing or closed or when the stream is
        being reset, ``TypeError`` when larger than ``max_message_size``, ``ValueError``
        for an empty message or a stream id out of range, and :class:`OperationError`
        when the send buffer is full.
        """
        if not self._send_ok:
            raise InvalidStateError(f"cannot send in SCTP state {self._state.value}")
        limit = self._out_streams if self._state is _ESTABLISHED else self._cfg_os
        if not 0 <= stream_id < limit:
            raise ValueError(f"stream id {stream_id} outside the {limit} outbound streams")
        if stream_id in self._reset_pending:
            raise InvalidStateError(f"stream {stream_id} is being reset; wait for StreamsReset")
        if type(data) is not bytes:
            data = bytes(data)
        n = len(data)
        if n > self.max_send_message_size:
            raise TypeError(
                f"message of {n} bytes exceeds max_send_message_size {self.max_send_message_size}"
            )
        if n == 0:
            raise ValueError("SCTP cannot carry an empty message; send at least one byte")
        if self._buffered_total + n > self._max_sbuf:
            raise OperationError(
                f"send buffer full ({self._buffered_total} of {self._max_sbuf} bytes queued);"
                " wait for BufferedAmountLow"
            )
        if not 0 <= ppid <= _M32:
            raise ValueError("ppid is a 32-bit unsigned integer")
        if max_retransmits is not None and max_retransmits < 0:
            raise ValueError("max_retransmits cannot be negative")
        if max_lifetime is not None and max_lifetime < 0:
            raise ValueError("max_lifetime cannot be negative")
        self._now = now
        msg = _OutMessage(
            stream_id,
            ppid,
            data,
            not ordered,
            max_retransmits,
            None if max_lifetime is None else now + max_lifetime,
            counted,
        )
        q = self._sq.get(stream_id)
        if q is None:
            self._sq[stream_id] = q = deque()
            self._rr.append(stream_id)
        q.append(msg)
        if counted:
            self._buffered[stream_id] = self._buffered.get(stream_id, 0) + n
        self._buffered_total += n
        self._dirty = True

    @property
    def max_send_buffer(self) -> int:
        """Bytes :meth:`send` may hold queued, in all streams together."""
        return self._max_sbuf

    def buffered_amount(self, stream_id: int) -> int:
        """Bytes queued on ``stream_id`` and not yet sent (W3C ``bufferedAmount``)."""
        return self._buffered.get(stream_id, 0)

    @property
    def buffered_amount_total(self) -> int:
        """Bytes queued on all streams and not yet sent."""
        return self._buffered_total

    def set_buffered_amount_low_threshold(self, stream_id: int, threshold: int) -> None:
        """Queue :class:`BufferedAmountLow` when the stream's buffered amount falls from
        above ``threshold`` to at most it (default threshold 0)."""
        if threshold < 0:
            raise ValueError("threshold cannot be negative")
        if threshold:
            self._low_thr[stream_id] = threshold
        else:
            self._low_thr.pop(stream_id, None)

    @property
    def stalled_since(self) -> float | None:
        """When T3-rtx first expired since the peer last acknowledged new data (the
        path may be down); None while data is being acknowledged."""
        return self._stalled_since

    def undelivered(self, stream_id: int) -> int:
        """Bytes of ``stream_id``'s messages the peer has not acknowledged: queued
        and outstanding (for what a channel reports when the association fails)."""
        total = self._buffered.get(stream_id, 0)
        for chunk in self._out[self._cum_ack + 1 - self._out_tsn0 :]:
            msg = chunk.msg
            if msg.sid == stream_id and not chunk.acked and not chunk.abandoned:
                total += max(0, chunk.size - 16)  # the payload, without the chunk header
        return total

    def path_changed(self, now: float, rtt: float | None = None) -> None:
        """The path under the association changed or came back (ICE selected another
        pair, or consent returned after an outage): what is outstanding is
        retransmitted now instead of when a backed-off T3-rtx fires, the RTO starts
        afresh (§6.3.1 C1 from ``rtt`` when the caller measured one, else
        RTO.Initial) and congestion control starts again from the initial window
        (RFC 9260 §7.2.1: a new path's capacity is unknown). The error count stays:
        only the peer's acknowledgements clear it (§8.3)."""
        self._now = now
        if self._state not in _SACK_STATES:
            return
        self._srtt = None
        self._rttvar = 0.0
        self._rtt_tsn = None
        if rtt is not None and rtt > 0:
            self._update_rto(rtt)
        else:
            self._rto = self._rto_initial
        self._stalled_since = None
        if self._hb_outstanding:
            self._hb_outstanding = False
            self._schedule_heartbeat()
        if self._cum_ack == self._next_tsn - 1:
            return
        mtu = self._mtu
        self._cwnd = min(4 * mtu, max(2 * mtu, 4380))
        self._pba = 0
        self._in_fr = False
        self._retransmit_outstanding()
        self._dirty = True

    def give_up(self, now: float, reason: str) -> None:
        """End the association without a word to the peer, which cannot be reached
        (the transport under it failed for good): an :class:`Aborted` event follows."""
        self._now = now
        if self._state is _CLOSED and self._terminated:
            return
        self._fail(reason)

    def reset_streams(self, now: float, stream_ids: list[int] | tuple[int, ...]) -> None:
        """Reset our outgoing side of ``stream_ids`` (RFC 6525 §5.1.2), e.g. to close
        data channels. Messages already queued on them are sent first; new sends on them
        raise until :class:`StreamsReset` (``outgoing``) arrives."""
        if self._state is not _ESTABLISHED:
            raise InvalidStateError(f"cannot reset streams in SCTP state {self._state.value}")
        if not self.stream_reset_supported:
            raise NotSupportedError("the peer does not support stream reset (RFC 6525)")
        for sid in stream_ids:
            if not 0 <= sid < self._out_streams:
                raise ValueError(f"stream id {sid} outside the {self._out_streams} streams")
        self._now = now
        for sid in stream_ids:
            self._reset_pending[sid] = None
        self._dirty = True

    def shutdown(self, now: float) -> None:
        """Close gracefully (§9.2): send what is queued, then SHUTDOWN."""
        self._now = now
        st = self._state
        if self._terminated or st in (
            _SHUTDOWN_PENDING,
            _SHUTDOWN_SENT,
            _SHUTDOWN_RECEIVED,
            _SHUTDOWN_ACK_SENT,
        ):
            return
        if st is not _ESTABLISHED:
            # Nothing established to shut down: stop, and tell a peer that may think
            # otherwise (it has our cookie) with an ABORT.
            if st is _COOKIE_ECHOED:
                self._tx.append(self._raw_packet(self._peer_vtag, AbortChunk().serialize()))
            self._close_silently()
            self._events.append(Closed())
            return
        self._set_state(_SHUTDOWN_PENDING)
        self._dirty = True
        self._check_shutdown_progress()

    def abort(self, now: float, reason: str = "") -> None:
        """Send ABORT with a User-Initiated Abort cause (§9.1) and close."""
        self._now = now
        if self._terminated:
            return
        if self._state is not _CLOSED and self._peer_vtag:
            info = reason.encode("utf-8", "replace")[:256]
            chunk = AbortChunk([ErrorCause(CAUSE_USER_INITIATED_ABORT, info)]).serialize()
            self._tx.append(self._raw_packet(self._peer_vtag, chunk))
        self._close_silently()
        self._events.append(Aborted(reason, False, CAUSE_USER_INITIATED_ABORT))

    def poll_transmit(self) -> bytes | None:
        """The next SCTP packet to send (inside one DTLS record), or None."""
        if self._dirty:
            self._flush()
        tx = self._tx
        if tx:
            self.stats.packets_sent += 1
            return tx.popleft()
        return None

    def poll_event(self) -> Event | None:
        """The next event, or None."""
        if self._dirty:
            self._flush()
        return self._events.popleft() if self._events else None

    def poll_timeout(self) -> float | None:
        """The earliest deadline at which :meth:`handle_timeout` must run, or None."""
        if self._dirty:
            self._flush()
        best: float | None = None
        for t in (
            self._t1,
            self._t2,
            self._t3,
            self._sack_deadline,
            self._hb_deadline,
            self._reconfig_deadline,
        ):
            if t is not None and (best is None or t < best):
                best = t
        return best

    def handle_timeout(self, now: float) -> None:
        """Run every timer whose deadline is at or before ``now``."""
        self._now = now
        self._dirty = True
        if self._t1 is not None and self._t1 <= now:
            self._on_t1()
        if self._t2 is not None and self._t2 <= now:
            self._on_t2()
        if self._t3 is not None and self._t3 <= now:
            self._on_t3()
        if self._sack_deadline is not None and self._sack_deadline <= now:
            self._sack_deadline = None
            if self._unacked_pkts:
                self._sack_now = True
        if self._hb_deadline is not None and self._hb_deadline <= now:
            self._on_heartbeat_timer()
        if self._reconfig_deadline is not None and self._reconfig_deadline <= now:
            self._on_reconfig_timer()

    # =====================================================================================
    # Receive path
    # =====================================================================================

    def handle_receive(self, now: float, data: bytes) -> None:
        """One SCTP packet from the peer (the payload of one DTLS record).

        Bad packets never raise: they are dropped and counted in :attr:`stats`.
        """
        self._now = now
        self._dirty = True
        stats = self.stats
        stats.packets_received += 1
        n = len(data)
        if n < 16:
            stats.malformed += 1
            return
        if type(data) is not bytes:
            data = bytes(data)
        head = data[:8]
        if head == self._rx_head8:
            # Our ports and our tag: the common case, with the header's CRC precomputed.
            if CRC_LE.unpack_from(data, 8)[0] != _crc_extend(self._rx_crc_head, data[12:]):
                stats.bad_checksum += 1
                return
            if self._state is not _CLOSED:
                self._process_chunks(data, n, self._local_vtag)
                return
        elif CRC_LE.unpack_from(data, 8)[0] != _crc_value(head + _ZERO4 + data[12:]):
            stats.bad_checksum += 1
            return
        sport, dport, vtag, _ = COMMON_HEADER.unpack_from(data)
        if sport != self.remote_port or dport != self.local_port:
            stats.bad_port += 1
            return
        ctype0 = data[12]
        if ctype0 == INIT:
            self._on_init_packet(data, vtag)
            return
        st = self._state
        if vtag == self._local_vtag and st is not _CLOSED:
            pass
        elif ctype0 == COOKIE_ECHO:
            pass  # checked against the cookie's own tag
        elif (
            ctype0 in (ABORT, SHUTDOWN_COMPLETE)
            and data[13] & FLAG_T
            and st is not _CLOSED
            and vtag == self._peer_vtag
        ):
            pass  # §8.5.1 B, C: the T bit reflects the peer's own tag
        elif ctype0 == SHUTDOWN_ACK and st in (_CLOSED, _COOKIE_WAIT, _COOKIE_ECHOED):
            # §8.5.1 E / §8.4 5: answer with SHUTDOWN COMPLETE, T bit set.
            stats.out_of_the_blue += 1
            self._tx.append(self._raw_packet(vtag, CHUNK_HEADER.pack(SHUTDOWN_COMPLETE, FLAG_T, 4)))
            return
        elif st is _CLOSED:
            self._on_out_of_the_blue(data, vtag, ctype0)
            return
        else:
            stats.bad_vtag += 1
            return
        self._process_chunks(data, n, vtag)

    #: Alias: the name the brief and some callers use.
    handle_packet = handle_receive

    def _process_chunks(self, data: bytes, n: int, vtag: int) -> None:
        stats = self.stats
        rq = self._rq
        off = 12
        got_data = False
        immediate = False
        had_gaps = bool(self._rcv_gaps)
        try:
            while off + 4 <= n:
                ctype, flags, clen = CHUNK_HEADER.unpack_from(data, off)
                end = off + clen
                if clen < 4 or end > n:
                    stats.malformed += 1
                    break
                if ctype == DATA:
                    if not self._rx_ok:
                        pass
                    elif clen <= 16:
                        stats.malformed += 1  # no user data (§6.2: protocol error)
                    else:
                        tsn, sid, ssn, ppid = _DATA_BODY.unpack_from(data, off + 4)
                        got_data = True
                        stats.data_chunks_received += 1
                        if flags & FLAG_IMMEDIATE:
                            immediate = True
                        cum = self._rcv_cum
                        if (
                            (tsn - cum) & _M32 == 1
                            and not self._rcv_gaps
                            and rq.buffered < self._max_rbuf
                            and sid < self._in_streams
                        ):
                            # In order, nothing missing: the common case.
                            self._rcv_cum = self._rcv_highest = cum + 1
                            rq.add(cum + 1, flags, sid, ssn, ppid, data[off + 16 : end])
                        else:
                            self._on_data(tsn, flags, sid, ssn, ppid, data[off + 16 : end])
                elif ctype == SACK:
                    if clen < 16:
                        stats.malformed += 1
                        break
                    cum_w, a_rwnd, ngaps, ndups = _SACK_BODY.unpack_from(data, off + 4)
                    if 16 + 4 * (ngaps + ndups) > clen:
                        stats.malformed += 1
                        break
                    if self._sack_ok:
                        stats.sacks_received += 1
                        self._process_sack(cum_w, a_rwnd, data, off + 16, ngaps)
                else:
                    try:
                        chunk = parse_chunk(ctype, flags, data[off + 4 : end])
                    except SctpParseError:
                        stats.malformed += 1
                        break
                    self._on_control(chunk, vtag, off == 12)
                off += (clen + 3) & ~3
        except _StopPacket:
            pass
        if got_data:
            self._unacked_pkts += 1
            if self._unacked_pkts >= 2 and self._state is not _SHUTDOWN_SENT:
                # §6.2: every second packet. Sent now, not at the next poll, so that the
                # peer's ack clock does not depend on how the owner batches its polls.
                self._tx.append(self._packet_of(self._build_sack()))
            elif (
                immediate
                or had_gaps
                or self._rcv_gaps
                or self._dups
                or self._state is _SHUTDOWN_SENT
            ):
                self._sack_now = True
                self._sack_deadline = None
            elif self._sack_deadline is None:
                self._sack_deadline = self._now + min(self._delayed_ack, self._rto * 0.5)
            if self._state is _SHUTDOWN_SENT:
                # §9.2: answer each DATA packet with SACK and SHUTDOWN; restart T2.
                self._ctrl.append(ShutdownChunk(self._rcv_cum & _M32).serialize())
                self._t2 = self._now + self._rto
            if self._deferred_resets:
                self._check_deferred_resets()

    def _on_out_of_the_blue(self, data: bytes, vtag: int, ctype0: int) -> None:
        """§8.4: a packet for no association."""
        self.stats.out_of_the_blue += 1
        if ctype0 in (ABORT, SHUTDOWN_COMPLETE, COOKIE_ACK, ERROR):
            return
        if self._terminated:
            # Late or duplicated packets of the association that just ended: an ABORT
            # could overtake our own SHUTDOWN COMPLETE and turn a clean close into an
            # abort on the peer. It learns of the end from the close itself.
            return
        self._tx.append(self._raw_packet(vtag, CHUNK_HEADER.pack(ABORT, FLAG_T, 4)))

    # -- DATA (receiver side, §6.2) ------------------------------------------------------

    def _on_data(self, tsn: int, flags: int, sid: int, ssn: int, ppid: int, payload: bytes) -> None:
        cum = self._rcv_cum
        d = (tsn - cum) & _M32
        if d == 0 or d >= _HALF:
            self._dups.append(tsn)
            self.stats.duplicate_tsns += 1
            return
        t = cum + d
        rq = self._rq
        n = len(payload)
        gaps = self._rcv_gaps
        if d == 1 and not gaps:
            if rq.buffered >= self._max_rbuf:
                self.stats.dropped_no_buffer += 1
                return
            self._rcv_cum = t
            self._rcv_highest = t
        else:
            if d > 1 << 20:
                self.stats.dropped_no_buffer += 1
                return
            if t > self._rcv_highest:
                # New data needs window; a sender may overshoot it by one chunk.
                if rq.buffered >= self._max_rbuf:
                    self.stats.dropped_no_buffer += 1
                    return
            elif rq.buffered + n > 2 * self._max_rbuf:
                self.stats.dropped_no_buffer += 1
                return
            if not self._record_tsn(t):
                self._dups.append(tsn)
                self.stats.duplicate_tsns += 1
                return
        if sid >= self._in_streams:
            # §6.5: acknowledge, discard, report.
            self.stats.invalid_stream += 1
            cause = ErrorCause(CAUSE_INVALID_STREAM, U16_PAIR.pack(sid, 0))
            self._ctrl.append(ErrorChunk([cause]).serialize())
            return
        rq.add(t, flags, sid, ssn, ppid, payload)

    def _record_tsn(self, t: int) -> bool:
        """Mark unwrapped TSN ``t`` (> cum) received; False if it already was."""
        gaps = self._rcv_gaps
        if t > self._rcv_highest:
            self._rcv_highest = t
        if t == self._rcv_cum + 1:
            self._rcv_cum = t
            if gaps and gaps[0][0] == t + 1:
                self._rcv_cum = gaps[0][1]
                del gaps[0]
            return True
        i = bisect_right(gaps, t, key=_first)
        if i:
            prev = gaps[i - 1]
            if prev[1] >= t:
                return False
            if prev[1] == t - 1:
                prev[1] = t
                if i < len(gaps) and gaps[i][0] == t + 1:
                    prev[1] = gaps[i][1]
                    del gaps[i]
                return True
        if i < len(gaps) and gaps[i][0] == t + 1:
            gaps[i][0] = t
        else:
            gaps.insert(i, [t, t])
        return True

    def _advance_rcv_cum(self, new_cum: int) -> None:
        """Move the receiver's cumulative TSN to ``new_cum`` (FORWARD TSN)."""
        gaps = self._rcv_gaps
        while gaps and gaps[0][0] <= new_cum + 1:
            new_cum = max(new_cum, gaps[0][1])
            del gaps[0]
        self._rcv_cum = new_cum
        if new_cum > self._rcv_highest:
            self._rcv_highest = new_cum

    def _build_sack(self) -> bytes:
        self._sack_now = False
        self._sack_deadline = None
        self._unacked_pkts = 0
        self.stats.sacks_sent += 1
        cum = self._rcv_cum
        arwnd = self._max_rbuf - self._rq.buffered
        if arwnd < 0:
            arwnd = 0
        elif arwnd > _M32:
            arwnd = _M32
        gaps = self._rcv_gaps
        dups = self._dups
        if not gaps and not dups:
            return SACK_HEADER.pack(SACK, 0, 16, cum & _M32, arwnd, 0, 0)
        room = (self._mtu - 12 - 16) // 4
        blocks: list[bytes] = []
        for s, e in gaps:
            if len(blocks) >= room or e - cum > 0xFFFF:
                break
            blocks.append(U16_PAIR.pack(s - cum, e - cum))
        dlist = [U32.pack(x) for x in dups[: room - len(blocks)]]
        self._dups = []
        return b"".join(
            [
                SACK_HEADER.pack(
                    SACK,
                    0,
                    16 + 4 * (len(blocks) + len(dlist)),
                    cum & _M32,
                    arwnd,
                    len(blocks),
                    len(dlist),
                ),
                *blocks,
                *dlist,
            ]
        )

    # -- SACK (sender side, §6.2.1, §7.2) -------------------------------------------------

    def _process_sack(self, cum_w: int, a_rwnd: int, data: bytes, goff: int, ngaps: int) -> None:
        old_cum = self._cum_ack
        d = (cum_w - old_cum) & _M32
        if d >= _HALF:
            return  # older than what we know: an out-of-order SACK (§6.2.1 D i)
        next_tsn = self._next_tsn
        cum = old_cum + d
        if cum >= next_tsn:
            self._protocol_violation("SACK acknowledges a TSN that was never sent")
            return
        now = self._now
        out = self._out
        base = self._out_tsn0
        flight_before = self._flight
        flight = flight_before
        outstanding = self._outstanding
        acked_bytes = 0
        htna = 0
        if d:
            self._sacks_since_flush += 1
            newest = out[cum - base]
            if newest.nsent == 1 and not newest.acked and self._cwnd <= self._ssthresh:
                self._hystart(cum, now - newest.sent_at)
            for i in range(old_cum + 1 - base, cum + 1 - base):
                ch = out[i]
                if not ch.acked:
                    ch.acked = True
                    if not ch.abandoned:
                        sz = ch.size
                        acked_bytes += sz
                        outstanding -= sz
                        if ch.in_flight:
                            flight -= sz
                            ch.in_flight = False
                        ch.rtx = False
                ch.wire = b""
            htna = cum
            self._cum_ack = cum
        gaps: list[tuple[int, int]] = []
        if ngaps:
            prev = self._prev_gaps
            newprev: dict[int, int] = {}
            last = next_tsn - 1
            for k in range(ngaps):
                gs, ge = U16_PAIR.unpack_from(data, goff + 4 * k)
                if gs == 0 or gs > ge:
                    continue
                s = cum + gs
                e = cum + ge
                if e > last:
                    continue
                newprev[s] = e
                pe = prev.get(s)
                a = s if pe is None else pe + 1
                for t in range(a, e + 1):
                    ch = out[t - base]
                    if not ch.acked:
                        ch.acked = True
                        if not ch.abandoned:
                            sz = ch.size
                            acked_bytes += sz
                            outstanding -= sz
                            if ch.in_flight:
                                flight -= sz
                                ch.in_flight = False
                            ch.rtx = False
                        if t > htna:
                            htna = t
                gaps.append((s, e))
            self._prev_gaps = newprev
        elif self._prev_gaps:
            self._prev_gaps = {}
        self._flight = flight
        self._outstanding = outstanding
        if acked_bytes:
            # §8.3: any acknowledgement of new data clears the error count.
            self._errors = 0
            self._stalled_since = None
        rtt_tsn = self._rtt_tsn
        if rtt_tsn is not None and (
            rtt_tsn <= cum or (htna >= rtt_tsn and out[rtt_tsn - base].acked)
        ):
            # Karn (§6.3.1 C4/C5): the timed chunk was sent once and is now acknowledged,
            # cumulatively or by a gap block.
            self._rtt_tsn = None
            self._update_rto(now - self._rtt_time)

        # Congestion window (§7.2.1, §7.2.2), before any fast-retransmit reduction.
        mtu = self._mtu
        if self._in_fr and cum >= self._fr_exit:
            self._in_fr = False
        if d and acked_bytes and not self._in_fr:
            cwnd = self._cwnd
            # "Fully utilized" (§7.2.1): the last flush was held back by cwnd, or the
            # flight filled it when this SACK came. (Several SACKs handled in one batch
            # arrive before any refill: judging by the flight alone, only the first
            # of them would count, and slow start would grow linearly.)
            utilized = self._cwnd_full or flight_before + mtu > cwnd
            if cwnd <= self._ssthresh:
                if utilized:
                    self._cwnd = cwnd + (acked_bytes if acked_bytes < mtu else mtu)
            else:
                pba = self._pba + acked_bytes
                if pba >= cwnd and utilized:
                    pba -= cwnd
                    self._cwnd = cwnd + mtu
                self._pba = pba
        if flight == 0:
            self._pba = 0

        # Miss indications and fast retransmit (§7.2.4, HTNA).
        if gaps and htna:
            limit = gaps[-1][1] if (self._in_fr and d) else htna
            marked = False
            t = cum + 1
            for s, e in gaps:
                if t >= limit:
                    break
                stop = s if s < limit else limit
                for x in range(t, stop):
                    ch = out[x - base]
                    if ch.in_flight and not ch.fast_rtx:
                        ch.missing += 1
                        if ch.missing >= 3:
                            self.stats.fast_retransmits += 1
                            ch.fast_rtx = True
                            if self._mark_rtx(ch):
                                marked = True
                if e + 1 > t:
                    t = e + 1
            if marked:
                if not self._in_fr:
                    self.stats.fast_recoveries += 1
                    self._in_fr = True
                    self._fr_exit = next_tsn - 1
                    self._ssthresh = max(self._cwnd // 2, 4 * mtu)
                    self._cwnd = self._ssthresh
                    self._pba = 0
                self._fast_rtx_allowance = True

        next_tsn = self._next_tsn  # an abandoned message may have taken a TSN above
        # Peer's receive window (§6.2.1).
        rwnd = a_rwnd - self._outstanding
        self._peer_rwnd = rwnd if rwnd > 0 else 0

        # T3-rtx (§6.3.2 R2, R3).
        if cum == next_tsn - 1:
            self._t3 = None
            if len(out) > 64:
                out.clear()
                self._out_tsn0 = next_tsn
        elif d:
            self._t3 = now + self._rto
            first = cum + 1 - base
            if first > 1024 and first * 2 > len(out):
                del out[:first]
                self._out_tsn0 = base + first

        # PR-SCTP (RFC 3758 §3.5 C1-C3).
        if self._adv_ack < cum:
            self._adv_ack = cum
            self._fwd_streams.clear()
        adv = self._adv_ack
        if (
            self._abandon_pending
            or adv > cum
            or (adv + 1 < next_tsn and out[adv + 1 - self._out_tsn0].abandoned)
        ):
            self._advance_ack_point(False)
            if self._adv_ack > cum and not self._fwd_pending:
                # The peer still waits below the ack point: resend the FORWARD TSN once
                # the last one has had a round trip to arrive (C4/C5 of RFC 3758 §3.5).
                wait = self._srtt if self._srtt is not None else self._rto
                if now - self._fwd_sent_at >= wait:
                    self._fwd_pending = True

        if self._state is not _ESTABLISHED:
            self._check_shutdown_progress()

    def _mark_rtx(self, ch: _Chunk) -> bool:
        """Queue ``ch`` for retransmission, or abandon its message (PR-SCTP); True if
        queued."""
        msg = ch.msg
        if ch.tsn == self._rtt_tsn:
            self._rtt_tsn = None  # Karn: no RTT sample from a chunk that is not acked once
        if self._peer_features & 1 and (
            (msg.max_retransmits is not None and ch.nsent > msg.max_retransmits)
            or (msg.expires is not None and self._now >= msg.expires)
        ):
            self._abandon(msg)
            return False
        if ch.in_flight:
            ch.in_flight = False
            self._flight -= ch.size
        if not ch.rtx:
            ch.rtx = True
            heappush(self._rtxq, ch.tsn)
        return True

    def _hystart(self, cum: int, rtt: float) -> None:
        """Leave slow start when the round trip grows (RFC 9406 HyStart++'s delay
        test; without its conservative phase, straight to congestion avoidance):
        a queue is building at the bottleneck, and doubling on would overflow it.
        A round is one window of data; each compares the least of its RTT samples
        (of chunks sent once, cumulatively acknowledged) with the previous round's."""
        if cum > self._hs_round_end:
            self._hs_last_min = self._hs_min
            self._hs_min = float("inf")
            self._hs_samples = 0
            self._hs_round_end = self._next_tsn - 1
        if rtt < self._hs_min:
            self._hs_min = rtt
        self._hs_samples += 1
        last = self._hs_last_min
        if self._hs_samples >= 8 and last != float("inf"):
            threshold = min(max(last / 8, 0.004), 0.016)
            if self._hs_min >= last + threshold:
                self._ssthresh = self._cwnd
                self.stats.slow_start_exits += 1

    def _update_rto(self, r: float) -> None:
        """§6.3.1 C2, C3 with alpha 1/8 and beta 1/4."""
        if r < 0:
            return
        srtt = self._srtt
        if srtt is None:
            srtt = r
            self._rttvar = r * 0.5
        else:
            self._rttvar = 0.75 * self._rttvar + 0.25 * abs(srtt - r)
            srtt = 0.875 * srtt + 0.125 * r
        self._srtt = srtt
        rto = srtt + 4 * max(self._rttvar, 0.001)
        self._rto = min(max(rto, self._rto_min), self._rto_max)

    # -- PR-SCTP sender (RFC 3758 §3.5) -----------------------------------------------------

    def _abandon(self, msg: _OutMessage) -> None:
        if msg.abandoned:
            return
        msg.abandoned = True
        self.stats.abandoned_messages += 1
        if msg.first_tsn >= 0:
            out = self._out
            base = self._out_tsn0
            for t in range(max(msg.first_tsn, self._cum_ack + 1), msg.last_tsn + 1):
                ch = out[t - base]
                if not ch.acked and not ch.abandoned:
                    ch.abandoned = True
                    if t == self._rtt_tsn:
                        self._rtt_tsn = None
                    self._outstanding -= ch.size
                    if ch.in_flight:
                        ch.in_flight = False
                        self._flight -= ch.size
                    ch.rtx = False
        rest = len(msg.data) - msg.offset
        if rest > 0:
            msg.offset = len(msg.data)
            self._consume_buffered(msg, rest)
            if self._cur is msg:
                self._cur = None
            if msg.first_tsn >= 0:
                # Partly sent: the unsent tail gets a TSN of its own, abandoned and never
                # sent, so that the FORWARD TSN reaches past everything the receiver may
                # already hold of this message; otherwise it would be "out of date" there
                # and the message's SSN would never be skipped.
                tsn = self._next_tsn
                tail = _Chunk(tsn, msg, b"", 0, self._now)
                tail.in_flight = False
                tail.abandoned = True
                self._out.append(tail)
                self._next_tsn = tsn + 1
                msg.last_tsn = tsn
                if self._t3 is None:
                    self._t3 = self._now + self._rto
        self._abandon_pending = True

    def _advance_ack_point(self, force: bool) -> None:
        """C2: move the Advanced.Peer.Ack.Point over abandoned TSNs; C3: queue
        a FORWARD TSN when it is ahead of the cumulative ack."""
        self._abandon_pending = False
        out = self._out
        base = self._out_tsn0
        adv = self._adv_ack
        start = adv
        nxt = self._next_tsn
        streams = self._fwd_streams
        while adv + 1 < nxt:
            ch = out[adv + 1 - base]
            if not ch.abandoned:
                break
            adv += 1
            msg = ch.msg
            if not msg.uflag:
                streams[msg.sid] = msg.ssn
        self._adv_ack = adv
        if adv > self._cum_ack and (force or adv > start):
            self._fwd_pending = True

    # -- control chunks --------------------------------------------------------------------

    def _on_control(self, chunk: Chunk, vtag: int, first: bool) -> None:
        st = self._state
        if isinstance(chunk, CookieEchoChunk):
            if not first or not self._on_cookie_echo(chunk.cookie, vtag):
                raise _StopPacket
        elif isinstance(chunk, HeartbeatAckChunk):
            self._on_heartbeat_ack(chunk.info)
        elif isinstance(chunk, HeartbeatChunk):
            if st is not _CLOSED:
                self._ctrl.append(HeartbeatAckChunk(chunk.info).serialize())
        elif isinstance(chunk, ForwardTsnChunk):
            if self._rx_ok:
                self._on_forward_tsn(chunk)
        elif isinstance(chunk, ReconfigChunk):
            if self._tx_ok or st is _SHUTDOWN_SENT:
                self._on_reconfig(chunk)
        elif isinstance(chunk, InitAckChunk):
            self._on_init_ack(chunk)
            raise _StopPacket  # INIT ACK is alone in its packet
        elif isinstance(chunk, InitChunk):
            raise _StopPacket  # INIT must be alone; we only get here if bundled
        elif isinstance(chunk, AbortChunk):
            # §8.5.1 B: T bit set → the tag must be the peer's; clear → ours.
            if vtag == (self._peer_vtag if chunk.t_bit else self._local_vtag):
                self._on_abort(chunk)
            else:
                self.stats.bad_vtag += 1
            raise _StopPacket
        elif isinstance(chunk, CookieAckChunk):
            if st is _COOKIE_ECHOED:
                self._t1 = None
                self._enter_established()
        elif isinstance(chunk, ShutdownChunk):
            self._on_shutdown(chunk.cumulative_tsn_ack)
        elif isinstance(chunk, ShutdownAckChunk):
            if st in (_SHUTDOWN_SENT, _SHUTDOWN_ACK_SENT):
                self._tx.append(
                    self._raw_packet(self._peer_vtag, CHUNK_HEADER.pack(SHUTDOWN_COMPLETE, 0, 4))
                )
                self._finish_graceful()
                raise _StopPacket
        elif isinstance(chunk, ShutdownCompleteChunk):
            if vtag != (self._peer_vtag if chunk.t_bit else self._local_vtag):
                self.stats.bad_vtag += 1  # §8.5.1 C
                raise _StopPacket
            if st is _SHUTDOWN_ACK_SENT:
                self._finish_graceful()
                raise _StopPacket
        elif isinstance(chunk, ErrorChunk):
            self._on_error(chunk)
        elif isinstance(chunk, UnknownChunk):
            self.stats.unknown_chunks += 1
            if chunk.report:
                cause = ErrorCause(CAUSE_UNRECOGNIZED_CHUNK, chunk.serialize())
                self._ctrl.append(ErrorChunk([cause]).serialize())
            if not chunk.skip:
                raise _StopPacket

    def _on_error(self, chunk: ErrorChunk) -> None:
        self.stats.errors_received += 1
        for cause in chunk.causes:
            if cause.code == CAUSE_STALE_COOKIE and self._state is _COOKIE_ECHOED:
                # §5.2.6: start over with a fresh INIT (same tag and TSN).
                self._set_state(_COOKIE_WAIT)
                self._tx.append(self._init_packet)
                self._t1 = self._now + self._t1_rto
            elif cause.code == CAUSE_UNRECOGNIZED_CHUNK and len(cause.info) >= 1:
                if cause.info[0] == RECONFIG:
                    self._peer_features &= ~2
                elif cause.info[0] == FORWARD_TSN:
                    self._peer_features &= ~1

    def _on_abort(self, chunk: AbortChunk) -> None:
        if self._state is _CLOSED:
            return
        code = chunk.causes[0].code if chunk.causes else None
        reason = "aborted by peer"
        for cause in chunk.causes:
            if cause.code == CAUSE_USER_INITIATED_ABORT:
                reason = cause.info.decode("utf-8", "replace")
                break
        self._close_silently()
        self._events.append(Aborted(reason, True, code))

    def _protocol_violation(self, what: str) -> None:
        if self._state is not _CLOSED and self._peer_vtag:
            cause = ErrorCause(CAUSE_PROTOCOL_VIOLATION, what.encode())
            self._tx.append(self._raw_packet(self._peer_vtag, AbortChunk([cause]).serialize()))
        self._close_silently()
        self._events.append(Aborted(what, False, CAUSE_PROTOCOL_VIOLATION))
        raise _StopPacket

    # -- handshake (§5) ---------------------------------------------------------------------

    def _our_params(self) -> list[tuple[int, bytes]]:
        return [
            (PARAM_FORWARD_TSN_SUPPORTED, b""),
            (PARAM_SUPPORTED_EXTENSIONS, bytes((RECONFIG, FORWARD_TSN))),
        ]

    def _random_tag(self) -> int:
        return self._rng.randint(1, _M32)

    def _on_init_packet(self, data: bytes, vtag: int) -> None:
        stats = self.stats
        if vtag != 0:
            stats.bad_vtag += 1
            return
        _, flags, clen = CHUNK_HEADER.unpack_from(data, 12)
        if clen < 4 or 12 + clen > len(data) or 12 + ((clen + 3) & ~3) < len(data):
            stats.malformed += 1  # truncated, or bundled with other chunks (§6.10)
            return
        try:
            init = InitChunk.parse_value(flags, data[16 : 12 + clen])
        except SctpParseError:
            stats.malformed += 1
            return
        if (
            init.initiate_tag == 0
            or init.outbound_streams == 0
            or init.inbound_streams == 0
            or self._terminated
        ):
            stats.malformed += 1
            return
        st = self._state
        if st is _SHUTDOWN_ACK_SENT:
            # §9.2: discard and retransmit SHUTDOWN ACK.
            self._tx.append(self._raw_packet(self._peer_vtag, _SIMPLE_SHUTDOWN_ACK))
            return
        features, report = _peer_features(init.params)
        if st is _CLOSED:
            tag, tsn = self._random_tag(), self._rng.getrandbits(32)
            tie_local = tie_peer = 0
        elif st is _COOKIE_WAIT:
            tag, tsn = self._local_vtag, self._local_initial_tsn
            tie_local = tie_peer = 0
        elif st is _COOKIE_ECHOED:
            tag, tsn = self._local_vtag, self._local_initial_tsn
            tie_local, tie_peer = self._local_vtag, self._peer_vtag
        else:
            # §5.2.2: an unexpected INIT (peer restart?): fresh tag, tie-tags in cookie.
            tag, tsn = self._random_tag(), self._rng.getrandbits(32)
            tie_local, tie_peer = self._local_vtag, self._peer_vtag
        cookie = self._make_cookie(tag, tsn, init, tie_local, tie_peer, features)
        params = [(PARAM_STATE_COOKIE, cookie), *self._our_params()]
        params.extend((PARAM_UNRECOGNIZED, raw) for raw in report)
        ack = InitAckChunk(tag, self._max_rbuf, self._cfg_os, self._cfg_mis, tsn, params)
        self._tx.append(self._raw_packet(init.initiate_tag, ack.serialize()))

    def _make_cookie(
        self,
        tag: int,
        tsn: int,
        init: InitChunk,
        tie_local: int,
        tie_peer: int,
        features: int,
    ) -> bytes:
        body = _COOKIE_BODY.pack(
            _COOKIE_VERSION,
            self._now,
            tag,
            init.initiate_tag,
            tsn,
            init.initial_tsn,
            init.a_rwnd,
            init.outbound_streams,
            init.inbound_streams,
            tie_local,
            tie_peer,
            features,
        )
        return body + hmac.new(self._cookie_secret, body, hashlib.sha256).digest()

    def _open_cookie(self, cookie: bytes) -> _Cookie | None:
        size = _COOKIE_BODY.size
        if len(cookie) != size + _COOKIE_MAC_LEN:
            return None
        body = cookie[:size]
        mac = hmac.new(self._cookie_secret, body, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, cookie[size:]):
            return None
        fields = _COOKIE_BODY.unpack(body)
        if fields[0] != _COOKIE_VERSION:
            return None
        return _Cookie(fields)

    def _on_init_ack(self, ack: InitAckChunk) -> None:
        if self._state is not _COOKIE_WAIT:
            return  # §5.2.3
        cookie = ack.param(PARAM_STATE_COOKIE)
        if (
            cookie is None
            or ack.initiate_tag == 0
            or ack.outbound_streams == 0
            or ack.inbound_streams == 0
        ):
            self.stats.malformed += 1
            return
        features, report = _peer_features(ack.params)
        self._set_peer(
            ack.initiate_tag,
            ack.initial_tsn,
            ack.a_rwnd,
            ack.outbound_streams,
            ack.inbound_streams,
            features,
        )
        body = CookieEchoChunk(cookie).serialize()
        if report:
            # §3.2.1: unrecognized parameters of an INIT ACK go back in an ERROR chunk.
            cause = ErrorCause(CAUSE_UNRECOGNIZED_PARAMS, b"".join(report))
            body += ErrorChunk([cause]).serialize()
        self._cookie_echo_packet = self._raw_packet(self._peer_vtag, body)
        self._tx.append(self._cookie_echo_packet)
        self._set_state(_COOKIE_ECHOED)
        self._init_retries = 0
        self._t1_rto = self._rto_initial
        self._t1 = self._now + self._t1_rto

    def _on_cookie_echo(self, raw: bytes, vtag: int) -> bool:
        """§5.1.5 and §5.2.4; False stops processing the packet."""
        c = self._open_cookie(raw)
        if c is None:
            self.stats.bad_cookie += 1
            return False
        if vtag != c.local_tag:
            self.stats.bad_vtag += 1
            return False
        if self._terminated:
            return False
        age = self._now - c.timestamp
        st = self._state
        same_tags = (
            st is not _CLOSED and c.local_tag == self._local_vtag and c.peer_tag == self._peer_vtag
        )
        # §5.2.4 3: a stale cookie that matches the existing association (our COOKIE ACK
        # was lost) is still answered; only others are refused as stale.
        if age > self._cookie_lifetime and not same_tags:
            self.stats.stale_cookie += 1
            staleness = min(int((age - self._cookie_lifetime) * 1e6), _M32)
            cause = ErrorCause(CAUSE_STALE_COOKIE, U32.pack(staleness))
            self._tx.append(self._raw_packet(c.peer_tag, ErrorChunk([cause]).serialize()))
            return False
        if st is _CLOSED:
            self._local_vtag = c.local_tag
            self._local_initial_tsn = c.local_tsn
            self._set_peer_from_cookie(c)
            self._enter_established()
            self._ctrl.append(_SIMPLE_COOKIE_ACK)
            return True
        if c.local_tag == self._local_vtag:
            # Action B or D: the handshake (or a collision) completes.
            if st is _COOKIE_WAIT or (st is _COOKIE_ECHOED and c.peer_tag != self._peer_vtag):
                self._set_peer_from_cookie(c)
            if st in (_COOKIE_WAIT, _COOKIE_ECHOED):
                self._t1 = None
                self._enter_established()
            self._ctrl.append(_SIMPLE_COOKIE_ACK)
            return True
        if (
            c.peer_tag != self._peer_vtag
            and c.local_tie == self._local_vtag
            and c.peer_tie == self._peer_vtag
        ):
            # Action A: the peer restarted.
            if st is _SHUTDOWN_ACK_SENT:
                cause = ErrorCause(CAUSE_COOKIE_WHILE_SHUTTING_DOWN)
                self._tx.append(
                    self._raw_packet(
                        self._peer_vtag,
                        _SIMPLE_SHUTDOWN_ACK + ErrorChunk([cause]).serialize(),
                    )
                )
                return False
            if st is not _ESTABLISHED:
                return False
            self._restart(c)
            self._ctrl.append(_SIMPLE_COOKIE_ACK)
            return True
        return False  # action C or an unmatched cookie: discard

    def _set_peer_from_cookie(self, c: _Cookie) -> None:
        self._local_initial_tsn = c.local_tsn
        self._set_peer(c.peer_tag, c.peer_tsn, c.peer_rwnd, c.peer_os, c.peer_mis, c.features)

    def _set_peer(
        self, tag: int, tsn: int, rwnd: int, peer_os: int, peer_mis: int, features: int
    ) -> None:
        self._rx_head8 = COMMON_HEADER.pack(self.remote_port, self.local_port, self._local_vtag, 0)[
            :8
        ]
        self._rx_crc_head = _crc_value(self._rx_head8 + _ZERO4)
        self._peer_vtag = tag
        self._head8 = COMMON_HEADER.pack(self.local_port, self.remote_port, tag, 0)[:8]
        self._crc_head = _crc_value(self._head8 + _ZERO4)
        self._out_streams = min(self._cfg_os, peer_mis)
        self._in_streams = min(self._cfg_mis, peer_os)
        self._peer_features = features
        self._init_tx(self._local_initial_tsn, rwnd)
        self._init_rx(tsn)

    def _init_tx(self, tsn: int, peer_rwnd: int) -> None:
        mtu = self._mtu
        self._next_tsn = tsn
        self._cum_ack = tsn - 1
        self._out = []
        self._out_tsn0 = tsn
        self._flight = 0
        self._outstanding = 0
        self._rtxq = []
        self._prev_gaps = {}
        self._cwnd = min(4 * mtu, max(2 * mtu, 4380))  # §7.2.1
        self._ssthresh = peer_rwnd if peer_rwnd else 1 << 30
        self._pba = 0
        self._peer_rwnd = peer_rwnd
        self._in_fr = False
        self._fr_exit = 0
        self._fast_rtx_allowance = False
        self._adv_ack = tsn - 1
        self._abandon_pending = False
        self._fwd_pending = False
        self._fwd_streams = {}
        self._fwd_sent_at = -1e9
        self._rtt_tsn = None
        self._rtt_time = 0.0
        self._reconfig_seq = tsn

    def _init_rx(self, peer_tsn: int) -> None:
        self._rcv_cum = peer_tsn - 1
        self._rcv_highest = peer_tsn - 1
        self._rcv_gaps = []
        self._dups = []
        self._unacked_pkts = 0
        self._sack_now = False
        self._peer_reconfig_seq = peer_tsn

    def _enter_established(self) -> None:
        self._set_state(_ESTABLISHED)
        self._events.append(Connected())
        self._last_data_tx = self._now
        self._schedule_heartbeat()
        # Streams queued before the handshake may exceed what was negotiated.
        for sid in [s for s in self._sq if s >= self._out_streams]:
            for msg in self._sq.pop(sid):
                self._consume_buffered(msg, len(msg.data) - msg.offset)
            self._rr.remove(sid)

    def _restart(self, c: _Cookie) -> None:
        """Action A (§5.2.4): start over with the cookie's parameters."""
        for q in list(self._sq.values()):
            for msg in q:
                self._consume_buffered(msg, len(msg.data) - msg.offset)
        self._sq.clear()
        self._rr.clear()
        if self._cur is not None:
            self._consume_buffered(self._cur, len(self._cur.data) - self._cur.offset)
            self._cur = None
        self._out_ssn.clear()
        self._reset_pending.clear()
        self._reconfig_out = None
        self._reconfig_deadline = None
        self._deferred_resets.clear()
        self._rq.reset_all()
        self._local_vtag = c.local_tag
        self._local_initial_tsn = c.local_tsn
        self._set_peer_from_cookie(c)
        self._t3 = None
        self._t2 = None
        self._sack_deadline = None
        self._errors = 0
        self._events.append(Restarted())

    # -- FORWARD TSN (receiver, RFC 3758 §3.6) --------------------------------------------

    def _on_forward_tsn(self, chunk: ForwardTsnChunk) -> None:
        self.stats.forward_tsn_received += 1
        self._sack_now = True
        cum = self._rcv_cum
        d = (chunk.new_cumulative_tsn - cum) & _M32
        if d == 0 or d >= _HALF:
            return
        if d > 1 << 20:
            return  # implausible jump
        new = cum + d
        self._advance_rcv_cum(new)
        rq = self._rq
        rq.forget(new, self._rcv_cum)
        for sid, ssn in chunk.streams:
            rq.skip_ssn(sid, ssn)
        if self._deferred_resets:
            self._check_deferred_resets()

    # -- heartbeats (§8.3) --------------------------------------------------------------------

    def _schedule_heartbeat(self) -> None:
        jitter = self._rto * (self._rng.random() - 0.5)
        self._hb_deadline = self._now + self._hb_interval + self._rto + jitter

    def _on_heartbeat_timer(self) -> None:
        if self._state in (_CLOSED, _COOKIE_WAIT, _COOKIE_ECHOED):
            self._hb_deadline = None
            return
        now = self._now
        if self._hb_outstanding:
            self._hb_outstanding = False
            self._rto = min(self._rto * 2, self._rto_max)
            self._errors += 1
            if self._errors > self._max_retrans:
                self._fail("peer unreachable: heartbeats unanswered")
                return
        elif now - self._last_data_tx < self._hb_interval:
            self._hb_deadline = self._last_data_tx + self._hb_interval + self._rto
            return
        self._hb_nonce = self._rng.getrandbits(64).to_bytes(8, "big")
        self._ctrl.append(HeartbeatChunk(_HB_INFO.pack(now, self._hb_nonce)).serialize())
        self.stats.heartbeats_sent += 1
        self._hb_outstanding = True
        self._hb_deadline = now + self._rto

    def _on_heartbeat_ack(self, info: bytes) -> None:
        if not self._hb_outstanding or len(info) != _HB_INFO.size:
            return
        sent, nonce = _HB_INFO.unpack(info)
        if nonce != self._hb_nonce:
            return
        self._hb_outstanding = False
        self._errors = 0
        self._update_rto(self._now - sent)
        self._schedule_heartbeat()

    # -- stream reset (RFC 6525) ---------------------------------------------------------------

    def _on_reconfig(self, chunk: ReconfigChunk) -> None:
        for p in chunk.params:
            if isinstance(p, OutgoingSsnResetRequest):
                self._on_outgoing_reset_request(p)
            elif isinstance(p, ReconfigResponse):
                self._on_reconfig_response(p)
            elif isinstance(p, IncomingSsnResetRequest):
                # WebRTC only resets outgoing streams (RFC 8831 §6.7); decline the rest.
                self._reconfig_reply(p.request_seq, ReconfigResponse.DENIED, check_seq=True)
            else:
                # SSN/TSN reset and add-streams requests carry their seq first.
                if len(p.data) >= 4:
                    seq = U32.unpack_from(p.data)[0]
                    self._reconfig_reply(seq, ReconfigResponse.DENIED, check_seq=True)

    def _reconfig_reply(self, seq: int, result: int, *, check_seq: bool) -> None:
        if check_seq:
            expected = self._peer_reconfig_seq
            if seq == (expected - 1) & _M32 and seq in self._reconfig_results:
                result = self._reconfig_results[seq]
            elif seq != expected & _M32:
                result = ReconfigResponse.ERROR_BAD_SEQUENCE
            else:
                self._peer_reconfig_seq = expected + 1
                self._reconfig_results = {seq: result}
        self._ctrl.append(ReconfigChunk([ReconfigResponse(seq, result)]).serialize())

    def _on_outgoing_reset_request(self, req: OutgoingSsnResetRequest) -> None:
        seq = req.request_seq
        expected = self._peer_reconfig_seq & _M32
        if seq == (expected - 1) & _M32 and seq in self._reconfig_results:
            self._reconfig_reply(seq, self._reconfig_results[seq], check_seq=False)
            return
        if seq != expected:
            self._reconfig_reply(seq, ReconfigResponse.ERROR_BAD_SEQUENCE, check_seq=False)
            return
        self._peer_reconfig_seq += 1
        cum = self._rcv_cum
        d = (req.last_tsn - cum) & _M32
        if d == 0 or d >= _HALF:
            self._perform_incoming_reset(req.streams)
            result = ReconfigResponse.SUCCESS_PERFORMED
        else:
            # §5.2.2: defer until everything up to the sender's last TSN has arrived.
            self._deferred_resets.append((cum + d, req.streams, seq))
            result = ReconfigResponse.IN_PROGRESS
        self._reconfig_results = {seq: result}
        self._reconfig_reply(seq, result, check_seq=False)

    def _check_deferred_resets(self) -> None:
        cum = self._rcv_cum
        keep = []
        for last, streams, seq in self._deferred_resets:
            if last <= cum:
                self._perform_incoming_reset(streams)
                if seq in self._reconfig_results:
                    self._reconfig_results[seq] = ReconfigResponse.SUCCESS_PERFORMED
                self._reconfig_reply(seq, ReconfigResponse.SUCCESS_PERFORMED, check_seq=False)
            else:
                keep.append((last, streams, seq))
        self._deferred_resets = keep

    def _perform_incoming_reset(self, streams: tuple[int, ...]) -> None:
        rq = self._rq
        if streams:
            for sid in streams:
                rq.reset_stream(sid)
        else:
            for sid in list(rq._next_ssn):
                rq.reset_stream(sid)
            for sid in list(rq._held):
                rq.reset_stream(sid)
        self._events.append(StreamsReset(incoming=tuple(streams)))

    def _maybe_send_reset_request(self) -> None:
        if self._reconfig_out is not None or not self._reset_pending:
            return
        cur = self._cur
        ready = tuple(
            sid
            for sid in self._reset_pending
            if sid not in self._sq and (cur is None or cur.sid != sid)
        )
        if not ready:
            return
        req = OutgoingSsnResetRequest(
            self._reconfig_seq & _M32,
            (self._peer_reconfig_seq - 1) & _M32,
            (self._next_tsn - 1) & _M32,
            ready,
        )
        wire = ReconfigChunk([req]).serialize()
        self._reconfig_out = (self._reconfig_seq & _M32, ready, wire)
        self._ctrl.append(wire)
        self._reconfig_deadline = self._now + self._rto

    def _on_reconfig_response(self, resp: ReconfigResponse) -> None:
        out = self._reconfig_out
        if out is None or resp.response_seq != out[0]:
            return
        streams = out[1]
        self._errors = 0
        if resp.result == ReconfigResponse.IN_PROGRESS:
            self._reconfig_deadline = self._now + self._rto
            return
        self._reconfig_out = None
        self._reconfig_deadline = None
        self._reconfig_seq += 1
        for sid in streams:
            self._reset_pending.pop(sid, None)
        if resp.result in (
            ReconfigResponse.SUCCESS_PERFORMED,
            ReconfigResponse.SUCCESS_NOTHING_TO_DO,
        ):
            for sid in streams:
                self._out_ssn.pop(sid, None)
            self._events.append(StreamsReset(outgoing=streams))
        else:
            self._events.append(StreamResetFailed(streams, resp.result))
        self._dirty = True

    def _on_reconfig_timer(self) -> None:
        out = self._reconfig_out
        if out is None or self._state not in _TX_STATES:
            self._reconfig_deadline = None
            return
        # RFC 6525 §5.1.1: like T3-rtx, count an error and back off.
        self._errors += 1
        if self._errors > self._max_retrans:
            self._fail("peer unreachable: stream reset unanswered")
            return
        self._rto = min(self._rto * 2, self._rto_max)
        self._ctrl.append(out[2])
        self._reconfig_deadline = self._now + self._rto

    # -- shutdown (§9.2) -----------------------------------------------------------------------

    def _on_shutdown(self, cum_w: int) -> None:
        st = self._state
        if st not in _SACK_STATES:
            return
        # The Cumulative TSN Ack works as a SACK without gaps (§9.2).
        self._process_sack(cum_w, self._peer_rwnd + self._outstanding, b"", 0, 0)
        st = self._state
        if st in (_ESTABLISHED, _SHUTDOWN_PENDING):
            self._set_state(_SHUTDOWN_RECEIVED)
            self._check_shutdown_progress()
        elif st is _SHUTDOWN_SENT:
            self._ctrl.append(_SIMPLE_SHUTDOWN_ACK)
            self._set_state(_SHUTDOWN_ACK_SENT)
            self._t2 = self._now + self._rto

    def _all_sent_and_acked(self) -> bool:
        return not self._sq and self._cur is None and self._cum_ack == self._next_tsn - 1

    def _check_shutdown_progress(self) -> None:
        st = self._state
        if st is _SHUTDOWN_PENDING and self._all_sent_and_acked():
            self._ctrl.append(ShutdownChunk(self._rcv_cum & _M32).serialize())
            self._set_state(_SHUTDOWN_SENT)
            self._t3 = None
            self._t2 = self._now + self._rto
            self._dirty = True
        elif st is _SHUTDOWN_RECEIVED and self._all_sent_and_acked():
            self._ctrl.append(_SIMPLE_SHUTDOWN_ACK)
            self._set_state(_SHUTDOWN_ACK_SENT)
            self._t3 = None
            self._t2 = self._now + self._rto
            self._dirty = True

    def _on_t2(self) -> None:
        st = self._state
        if st not in (_SHUTDOWN_SENT, _SHUTDOWN_ACK_SENT):
            self._t2 = None
            return
        self._errors += 1
        if self._errors > self._max_retrans:
            self._fail("peer unreachable during shutdown")
            return
        self._rto = min(self._rto * 2, self._rto_max)
        if st is _SHUTDOWN_SENT:
            self._ctrl.append(ShutdownChunk(self._rcv_cum & _M32).serialize())
        else:
            self._ctrl.append(_SIMPLE_SHUTDOWN_ACK)
        self._t2 = self._now + self._rto

    def _finish_graceful(self) -> None:
        self._close_silently()
        self._events.append(Closed())

    def _close_silently(self) -> None:
        self._terminated = True
        self._stalled_since = None
        if self._state is not _CLOSED:
            self._set_state(_CLOSED)
        self._send_ok = False
        self._t1 = self._t2 = self._t3 = None
        self._sack_deadline = self._hb_deadline = self._reconfig_deadline = None
        self._ctrl.clear()

    def _fail(self, reason: str) -> None:
        self._close_silently()
        self._events.append(Aborted(reason, False, None))

    # =====================================================================================
    # Timers: T1 (§5.1), T3-rtx (§6.3.3)
    # =====================================================================================

    def _on_t1(self) -> None:
        st = self._state
        if st not in (_COOKIE_WAIT, _COOKIE_ECHOED):
            self._t1 = None
            return
        self._init_retries += 1
        if self._init_retries > self._max_init_retrans:
            self._fail("handshake timed out")
            return
        self._t1_rto = min(self._t1_rto * 2, self._rto_max)
        self._tx.append(self._init_packet if st is _COOKIE_WAIT else self._cookie_echo_packet)
        self._t1 = self._now + self._t1_rto

    def _on_t3(self) -> None:
        self._t3 = None
        if self._cum_ack == self._next_tsn - 1 or self._state not in _SACK_STATES:
            return
        stats = self.stats
        stats.t3_expirations += 1
        if self._stalled_since is None:
            self._stalled_since = self._now
        self._errors += 1
        if self._errors > self._max_retrans:
            self._fail("peer unreachable: too many retransmissions")
            return
        mtu = self._mtu
        self._ssthresh = max(self._cwnd // 2, 4 * mtu)  # §7.2.3
        self._cwnd = mtu
        self._pba = 0
        self._in_fr = False
        self._rto = min(self._rto * 2, self._rto_max)  # §6.3.3 E2
        self._rtt_tsn = None
        self._retransmit_outstanding()

    def _retransmit_outstanding(self) -> None:
        """Mark every outstanding chunk for retransmission and restart T3-rtx (§6.3.3
        E3); on a T3 expiry and when the path changes."""
        out = self._out
        base = self._out_tsn0
        for i in range(self._cum_ack + 1 - base, self._next_tsn - base):
            ch = out[i]
            if not ch.acked and not ch.abandoned:
                self._mark_rtx(ch)
        self._advance_ack_point(True)
        self._t3 = self._now + self._rto

    # =====================================================================================
    # Transmit path
    # =====================================================================================

    def _set_state(self, new: AssociationState) -> None:
        assert new in TRANSITIONS[self._state], f"illegal SCTP transition {self._state} → {new}"
        self._state = new
        # Cached membership tests: enum hashing is slow on the per-packet path.
        self._tx_ok = new in _TX_STATES
        self._rx_ok = new in _RX_STATES
        self._sack_ok = new in _SACK_STATES
        self._send_ok = new in _SEND_API_STATES and not self._terminated
        self._events.append(StateChanged(new))

    def _raw_packet(self, vtag: int, body: bytes) -> bytes:
        head = COMMON_HEADER.pack(self.local_port, self.remote_port, vtag, 0)
        crc = _crc_value(head + body)
        return head[:8] + CRC_LE.pack(crc) + body

    def _packet_of(self, body: bytes) -> bytes:
        return b"".join((self._head8, CRC_LE.pack(_crc_extend(self._crc_head, body)), body))

    def _emit(self, parts: list[bytes]) -> None:
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        crc = _crc_extend(self._crc_head, body)
        self._tx.append(b"".join((self._head8, CRC_LE.pack(crc), body)))

    def _consume_buffered(self, msg: _OutMessage, n: int) -> None:
        self._buffered_total -= n
        if not msg.counted:
            return
        sid = msg.sid
        b = self._buffered.get(sid, 0)
        nb = b - n
        if nb > 0:
            self._buffered[sid] = nb
        else:
            self._buffered.pop(sid, None)
        thr = self._low_thr.get(sid, 0)
        if b > thr >= nb:
            self._events.append(BufferedAmountLow(sid))

    def _next_message(self) -> _OutMessage | None:
        """Round robin over streams with queued messages; drops expired ones."""
        rr = self._rr
        sq = self._sq
        while rr:
            sid = rr[0]
            q = sq[sid]
            msg = q.popleft()
            if q:
                rr.rotate(-1)
            else:
                rr.popleft()
                del sq[sid]
            if msg.expires is not None and self._now >= msg.expires and self._peer_features & 1:
                # Timed out before any of it was sent: drop it without a TSN.
                self.stats.abandoned_messages += 1
                msg.abandoned = True
                self._consume_buffered(msg, len(msg.data))
                continue
            if not msg.uflag:
                ssn = self._out_ssn.get(sid, 0)
                msg.ssn = ssn
                self._out_ssn[sid] = (ssn + 1) & 0xFFFF
            return msg
        return None

    def _flush(self) -> None:
        self._dirty = False
        st = self._state
        if st is _CLOSED or not self._peer_vtag:
            self._ctrl.clear()
            return
        mtu = self._mtu
        parts: list[bytes] = []
        size = 12
        tx_ok = self._tx_ok
        if tx_ok:
            if self._reset_pending:
                self._maybe_send_reset_request()
            if self._fwd_pending:
                self._ctrl.append(self._build_forward_tsn())
        if self._rx_ok and (
            self._sack_now
            or (
                self._unacked_pkts
                and tx_ok
                and (self._rr or self._cur is not None or self._rtxq)
                and self._flight < self._cwnd
            )
        ):
            sack = self._build_sack()
            parts.append(sack)
            size += len(sack)
        ctrl = self._ctrl
        if ctrl:
            for c in ctrl:
                if size + len(c) > mtu and parts:
                    self._emit(parts)
                    parts = []
                    size = 12
                parts.append(c)
                size += len(c)
            self._ctrl = []
        if tx_ok and (self._rtxq or self._rr or self._cur is not None):
            parts, size = self._fill_data(parts, size)
            if self._reset_pending and self._reconfig_out is None:
                self._maybe_send_reset_request()
                for c in self._ctrl:
                    if size + len(c) > mtu and parts:
                        self._emit(parts)
                        parts = []
                        size = 12
                    parts.append(c)
                    size += len(c)
                self._ctrl = []
        if parts:
            self._emit(parts)
        if st is _SHUTDOWN_PENDING or st is _SHUTDOWN_RECEIVED:
            # Messages that expired in the queue leave no SACK behind to trigger this.
            self._check_shutdown_progress()

    def _build_forward_tsn(self) -> bytes:
        self._fwd_pending = False
        self._fwd_sent_at = self._now
        self.stats.forward_tsn_sent += 1
        streams = sorted(self._fwd_streams.items())
        return ForwardTsnChunk(self._adv_ack & _M32, streams).serialize()

    def _fill_data(self, parts: list[bytes], size: int) -> tuple[list[bytes], int]:
        """Retransmissions first, then new DATA, within cwnd, rwnd and Max.Burst."""
        now = self._now
        mtu = self._mtu
        out = self._out
        flight = self._flight
        cwnd = self._cwnd
        sent = False
        rtxq = self._rtxq
        if rtxq:
            base = self._out_tsn0
            cum = self._cum_ack
            allowance = self._fast_rtx_allowance
            self._fast_rtx_allowance = False
            nrtx = 0
            while rtxq:
                t = rtxq[0]
                if t <= cum:
                    heappop(rtxq)
                    continue
                ch = out[t - base]
                if not ch.rtx:
                    heappop(rtxq)
                    continue
                wire = ch.wire
                wl = len(wire)
                if size + wl > mtu and parts:
                    self._emit(parts)
                    parts = []
                    size = 12
                    allowance = False
                if not allowance and flight >= cwnd:
                    break
                heappop(rtxq)
                ch.rtx = False
                ch.in_flight = True
                ch.nsent += 1
                ch.sent_at = now
                ch.missing = 0
                flight += ch.size
                if t == self._rtt_tsn:
                    self._rtt_tsn = None
                if t == cum + 1:
                    self._t3 = now + self._rto  # retransmitting the earliest outstanding
                parts.append(wire)
                size += wl
                nrtx += 1
            self.stats.retransmitted_chunks += nrtx
            sent = nrtx > 0

        if self._rr or self._cur is not None:
            rwnd = self._peer_rwnd
            first_tsn = tsn = self._next_tsn
            bursts = 0
            # Max.Burst (§6.1 D) per transmission opportunity: each SACK that arrived
            # since the last flush is one, and so is the flush itself.
            max_burst = self._max_burst * max(1, self._sacks_since_flush)
            self._sacks_since_flush = 0
            outstanding = self._outstanding
            new_in_packet = False
            pack = DATA_HEADER.pack
            join = b"".join
            tx_append = self._tx.append
            head8 = self._head8
            crc_head = self._crc_head
            crc_pack = CRC_LE.pack
            full = (mtu - 28) & ~3  # payload of a packet holding one full-size fragment
            msg = self._cur
            taken = 0  # bytes of msg sent in this call, for the buffered amount
            while flight < cwnd and (rwnd > 0 or flight == 0):
                if msg is None:
                    msg = self._next_message()
                    if msg is None:
                        break
                    self._cur = msg
                off = msg.offset
                data = msg.data
                remaining = len(data) - off
                if size == 12 and remaining > full:
                    # Fast path: a packet of its own for one full-size fragment.
                    wire = join(
                        (
                            pack(
                                DATA,
                                msg.uflag | (FLAG_BEGIN if off == 0 else 0),
                                16 + full,
                                tsn & _M32,
                                msg.sid,
                                msg.ssn,
                                msg.ppid,
                            ),
                            msg.view[off : off + full],
                        )
                    )
                    out.append(_Chunk(tsn, msg, wire, full + 16, now))
                    if off == 0:
                        msg.first_tsn = tsn
                    msg.last_tsn = tsn
                    msg.offset = off + full
                    taken += full
                    tsn += 1
                    flight += full + 16
                    rwnd -= full + 16
                    outstanding += full + 16
                    tx_append(join((head8, crc_pack(_crc_extend(crc_head, wire)), wire)))
                    bursts += 1
                    if bursts >= max_burst:
                        break
                    continue
                room = (mtu - size - 16) & ~3
                if remaining > room:
                    if room < 512 and parts:
                        self._emit(parts)
                        parts = []
                        size = 12
                        if new_in_packet:
                            new_in_packet = False
                            bursts += 1
                            if bursts >= max_burst:
                                break
                        continue
                    n = room
                    flags = msg.uflag | (FLAG_BEGIN if off == 0 else 0)
                    payload: bytes | memoryview = msg.view[off : off + n]
                else:
                    n = remaining
                    flags = msg.uflag | FLAG_END | (FLAG_BEGIN if off == 0 else 0)
                    payload = data if off == 0 else msg.view[off:]
                wire = join(
                    (
                        pack(DATA, flags, 16 + n, tsn & _M32, msg.sid, msg.ssn, msg.ppid),
                        payload,
                        _PAD[n & 3],
                    )
                )
                out.append(_Chunk(tsn, msg, wire, n + 16, now))
                if off == 0:
                    msg.first_tsn = tsn
                msg.last_tsn = tsn
                msg.offset = off + n
                taken += n
                tsn += 1
                flight += n + 16
                rwnd -= n + 16
                outstanding += n + 16
                parts.append(wire)
                size += len(wire)
                new_in_packet = True
                if flags & FLAG_END:
                    self._cur = None
                    self._consume_buffered(msg, taken)
                    taken = 0
                    msg = None
            if taken:
                assert msg is not None
                self._consume_buffered(msg, taken)
            # More to send, held back by cwnd or Max.Burst (not by the peer's window):
            # the window is in full use (§7.2.1) until a later flush runs out of data.
            self._cwnd_full = bool(self._rr or self._cur is not None) and rwnd > 0
            if tsn != first_tsn:
                sent = True
                self._next_tsn = tsn
                self._outstanding = outstanding
                self._peer_rwnd = rwnd if rwnd > 0 else 0
                if self._rtt_tsn is None:
                    self._rtt_tsn = first_tsn
                    self._rtt_time = now
        self._flight = flight
        if sent:
            self._last_data_tx = now
            if self._t3 is None:
                self._t3 = now + self._rto
        return parts, size


def _first(block: list[int]) -> int:
    return block[0]
