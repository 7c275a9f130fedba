"""Runs a sans-IO :class:`~rtcpeer.connection.Connection` on asyncio.

One UDP socket per host address (each a candidate base), ONE timer per connection
re-armed to the connection's earliest deadline, and a flush that sends what the
connection queued. Datagrams are fed in batches (all a socket had on one wake-up) and
events are handed to the owner only after the connection is done with the batch, so
user handlers never run inside protocol code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rtcpeer.aio.stream import TurnStream, open_turn_stream
from rtcpeer.aio.udp import UdpSocket
from rtcpeer.connection import Connection, ConnectionEvent
from rtcpeer.datagram import Address, Datagram

__all__ = ["ConnectionDriver"]


class ConnectionDriver:
    """Owns the sockets and the timer of one connection."""

    def __init__(self, connection: Connection, on_event: Callable[[ConnectionEvent], None]) -> None:
        self.connection = connection
        self._on_event = on_event
        self._loop = asyncio.get_running_loop()
        self._sockets: dict[Address, UdpSocket] = {}
        #: TURN over TCP/TLS: (local, server) -> stream.
        self._streams: dict[tuple[Address, Address], TurnStream] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._flush_scheduled = False
        self._closed = False
        self._dispatching = False
        self._pending_events: list[ConnectionEvent] = []

    def now(self) -> float:
        return self._loop.time()

    # -- sockets ------------------------------------------------------------------------

    def bind(self, ip: str) -> Address:
        """Bind a socket on ``ip`` (free port) and return its address (a candidate base)."""

        def receive(batch: list[tuple[bytes, Address]]) -> None:
            self._on_batch(local, batch)

        sock = UdpSocket.bind(ip, 0, receive)
        local = sock.local_address
        self._sockets[local] = sock
        return local

    async def open_stream(self, server: Address, host: str, *, tls: bool) -> Address:
        """Connect a TURN stream; its reads reach the connection as datagrams from
        ``server`` to the stream's local address. Returns that address."""
        stream: TurnStream | None = None

        def on_data(data: bytes) -> None:
            if stream is not None and not self._closed:
                self.connection.handle_datagrams(
                    self._loop.time(), [Datagram(server, stream.local, data)]
                )
                self.service()

        def on_closed() -> None:
            if stream is not None and not self._closed:
                self._streams.pop((stream.local, server), None)
                self.connection.ice.turn_stream_closed(self._loop.time(), stream.local)
                self.connection.pump(self._loop.time())
                self.service()

        for _ in range(3):  # (stream is set on the first pass)
            stream = await open_turn_stream(
                server, host, tls=tls, on_data=on_data, on_closed=on_closed
            )
            if stream.local not in self._sockets:
                break
            # Same ip:port as one of our UDP sockets: datagrams are routed by address,
            # so take another port rather than mix the two up.
            stream.closed = True
            stream.close()
        assert stream is not None
        if self._closed or stream.closed:
            stream.close()
            raise ConnectionError("could not open a distinct TURN stream")
        self._streams[(stream.local, server)] = stream
        return stream.local

    def _on_batch(self, local: Address, batch: list[tuple[bytes, Address]]) -> None:
        if self._closed:
            return
        self.connection.handle_datagrams(
            self._loop.time(), [Datagram(src, local, data) for data, src in batch]
        )
        self.service()

    # -- servicing -------------------------------------------------------------------------

    def service(self) -> None:
        """Send what is queued, hand events to the owner, re-arm the timer."""
        if self._closed:
            return
        self._flush()
        ice = self.connection.ice
        while (local := ice.poll_stream_to_close()) is not None:
            for key in [k for k in self._streams if k[0] == local]:
                self._streams.pop(key).close()
        connection = self.connection
        events = self._pending_events
        while (event := connection.poll_event()) is not None:
            events.append(event)
        if events and not self._dispatching:
            self._dispatching = True
            try:
                while events:
                    batch = events[:]
                    events.clear()
                    for event in batch:
                        self._on_event(event)
                    # Handlers may have sent data or created channels.
                    self._flush()
                    while (event := connection.poll_event()) is not None:
                        events.append(event)
            finally:
                self._dispatching = False
        self._arm()

    def requeue(self, events: list[ConnectionEvent]) -> None:
        """Dispatch ``events`` (held back by the owner) before any newer ones, soon."""
        self._pending_events[:0] = events
        self.schedule()

    def schedule(self) -> None:
        """Service soon (once), after user operations in the current task: many
        ``send()`` calls in a row are flushed together."""
        if not self._flush_scheduled and not self._closed:
            self._flush_scheduled = True
            self._loop.call_soon(self._scheduled)

    def _scheduled(self) -> None:
        self._flush_scheduled = False
        if not self._closed:
            self.connection.pump(self._loop.time())
            self.service()

    def _flush(self) -> None:
        connection = self.connection
        sockets = self._sockets
        streams = self._streams
        while (datagram := connection.poll_transmit()) is not None:
            if streams:
                stream = streams.get((datagram.src, datagram.dst))
                if stream is not None:
                    stream.write(datagram.data)
                    continue
            sock = sockets.get(datagram.src)
            if sock is not None:
                sock.sendto(datagram.data, datagram.dst)

    def _arm(self) -> None:
        deadline = self.connection.poll_timeout()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        if self._closed:
            return
        self.connection.handle_timeout(self._loop.time())
        self.service()

    # -- closing ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection, send its goodbye datagrams, release the sockets."""
        if self._closed:
            return
        self.connection.close(self._loop.time())
        while (datagram := self.connection.poll_final_transmit()) is not None:
            stream = self._streams.get((datagram.src, datagram.dst))
            if stream is not None:
                stream.write(datagram.data)
                continue
            sock = self._sockets.get(datagram.src)
            if sock is not None:
                sock.sendto(datagram.data, datagram.dst)
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        sockets = list(self._sockets.values())
        self._sockets.clear()

        streams = list(self._streams.values())
        self._streams.clear()

        # Let the kernel take the goodbye datagrams before the sockets go.
        def release() -> None:
            for sock in sockets:
                sock.close()
            for stream in streams:
                stream.close()

        self._loop.call_later(0.05, release)
