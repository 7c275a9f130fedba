"""A UDP socket for the asyncio shell, built for throughput.

asyncio's stock datagram transport wakes the protocol once per datagram and tops out
near 20-25k datagrams/s in CPython. Here the socket is non-blocking and registered
with ``loop.add_reader``; each wake-up reads until the socket is empty and hands the
whole batch to one callback, so the sans-IO core can process many packets and then
flush its outputs once. Sends go straight to ``sendto``; only when the kernel buffer
is full are they queued behind ``add_writer``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections import deque
from collections.abc import Callable

from rtcpeer.datagram import Address

__all__ = ["UdpSocket"]

logger = logging.getLogger("rtcpeer.udp")

_MAX_DATAGRAM = 65535
# Upper bound of datagrams read per wake-up, so one busy socket cannot starve the loop.
_BATCH = 256
# Bytes of datagrams queued while the kernel send buffer is full, before dropping.
_MAX_PENDING = 4 << 20
_SOCKET_BUFFER = 4 << 20

Receiver = Callable[[list[tuple[bytes, Address]]], None]


def _address(raw: tuple[str, int] | tuple[str, int, int, int]) -> Address:
    host = raw[0]
    if "%" in host:  # scope id of a link-local IPv6 address
        host = host.split("%", 1)[0]
    return (host, raw[1])


class UdpSocket:
    """One bound, non-blocking UDP socket feeding batches of datagrams to ``receiver``."""

    def __init__(self, sock: socket.socket, receiver: Receiver) -> None:
        self._sock = sock
        self._receiver = receiver
        self._loop = asyncio.get_running_loop()
        self._pending: deque[tuple[bytes, Address]] = deque()
        self._pending_bytes = 0
        self._writing = False
        self._closed = False
        self.local_address: Address = _address(sock.getsockname())
        self.send_dropped = 0
        self.send_errors = 0
        self._loop.add_reader(sock.fileno(), self._on_readable)

    @classmethod
    def bind(cls, host: str, port: int, receiver: Receiver) -> UdpSocket:
        """Bind ``host:port`` (port 0 picks a free one) and start reading."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, option, _SOCKET_BUFFER)
            sock.setblocking(False)
            sock.bind((host, port))
        except Exception:
            sock.close()
            raise
        return cls(sock, receiver)

    def _on_readable(self) -> None:
        recvfrom = self._sock.recvfrom
        batch: list[tuple[bytes, Address]] = []
        for _ in range(_BATCH):
            try:
                data, raw = recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                # ICMP port unreachable surfaces as ECONNREFUSED on Linux: not fatal.
                if exc.errno not in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
                    logger.debug("recvfrom on %s: %s", self.local_address, exc)
                continue
            batch.append((data, _address(raw)))
        if batch:
            self._receiver(batch)

    def sendto(self, data: bytes, address: Address) -> None:
        """Send now if the kernel takes it; otherwise queue (bounded) until writable."""
        if self._closed:
            return
        if not self._writing:
            try:
                self._sock.sendto(data, address)
                return
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as exc:
                self.send_errors += 1
                logger.debug("sendto %s from %s: %s", address, self.local_address, exc)
                return
        if self._pending_bytes + len(data) > _MAX_PENDING:
            self.send_dropped += 1
            return
        self._pending.append((data, address))
        self._pending_bytes += len(data)
        if not self._writing:
            self._writing = True
            self._loop.add_writer(self._sock.fileno(), self._on_writable)

    def _on_writable(self) -> None:
        pending = self._pending
        while pending:
            data, address = pending[0]
            try:
                self._sock.sendto(data, address)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.send_errors += 1
                logger.debug("sendto %s: %s", address, exc)
            pending.popleft()
            self._pending_bytes -= len(data)
        self._writing = False
        self._loop.remove_writer(self._sock.fileno())

    @property
    def write_pending(self) -> int:
        """Bytes waiting for the kernel to accept them (backpressure signal)."""
        return self._pending_bytes

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._sock.fileno())
        if self._writing:
            self._loop.remove_writer(self._sock.fileno())
        self._sock.close()
