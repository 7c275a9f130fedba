"""TCP and TLS connections to TURN servers for the asyncio shell.

The sans-IO TURN client frames STUN and ChannelData on the stream; this module only
moves bytes: it connects (TLS verified against the system's trust store, as a
browser does for ``turns:``), writes what the core queued, and hands every read to a
callback. When the server stops reading and the transport's buffer fills, writes are dropped
(counted), as a full UDP socket would: the protocols above retransmit.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

from rtcpeer.datagram import Address

__all__ = ["TurnStream", "open_turn_stream"]

Receiver = Callable[[bytes], None]
Closed = Callable[[], None]


class TurnStream(asyncio.Protocol):
    """One connection: ``local`` and ``server`` addresses, ``write``, ``close``."""

    def __init__(self, server: Address, on_data: Receiver, on_closed: Closed) -> None:
        self.server = server
        self.local: Address = ("", 0)
        self._on_data = on_data
        self._on_closed = on_closed
        self._transport: asyncio.Transport | None = None
        self.closed = False
        self._paused = False
        #: Writes dropped while the kernel buffer was full (like UDP loss: ICE,
        #: SCTP and DTLS retransmit what matters).
        self.dropped = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        sockname = transport.get_extra_info("sockname")
        self.local = (str(sockname[0]), int(sockname[1]))

    def data_received(self, data: bytes) -> None:
        self._on_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            self._on_closed()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False

    def write(self, data: bytes) -> None:
        if self._transport is None or self.closed:
            return
        if self._paused:
            self.dropped += 1  # a stalled server must not make us buffer without bound
            return
        self._transport.write(data)

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


async def open_turn_stream(
    server: Address,
    host: str,
    *,
    tls: bool,
    on_data: Receiver,
    on_closed: Closed,
    timeout: float = 10.0,
) -> TurnStream:
    """Connect to ``server`` (``host`` is the name in the URL, for TLS verification)."""
    loop = asyncio.get_running_loop()
    context = ssl.create_default_context() if tls else None
    _, protocol = await asyncio.wait_for(
        loop.create_connection(
            lambda: TurnStream(server, on_data, on_closed),
            server[0],
            server[1],
            ssl=context,
            server_hostname=host if tls else None,
        ),
        timeout,
    )
    assert isinstance(protocol, TurnStream)
    return protocol
