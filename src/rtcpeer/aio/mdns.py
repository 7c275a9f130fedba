"""mDNS for ICE candidates on asyncio: resolve peers' ``.local`` names, answer for ours.

One :class:`MdnsService` per event loop, shared by every peer connection: a UDP
socket on port 5353 (SO_REUSEPORT, so browsers and other responders on the machine
keep theirs) joined to 224.0.0.251 on the IPv4 addresses candidates are gathered on.
:meth:`MdnsService.resolve` sends a one-question query (RFC 6762 §5.2, resent after
250 ms and 1 s) and waits for an A record; :meth:`MdnsService.publish` makes the
service answer queries for a name (§6) until :meth:`unpublish`. The wire format is
:mod:`rtcpeer.ice.mdns`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from typing import ClassVar

from rtcpeer.aio.interfaces import host_addresses
from rtcpeer.ice.mdns import (
    MDNS_ADDRESS_V4,
    MDNS_PORT,
    TYPE_A,
    MdnsParseError,
    build_query,
    build_response,
    parse_message,
)

__all__ = ["MdnsService"]

logger = logging.getLogger("rtcpeer.mdns")

_RESEND = (0.25, 1.0)
_TIMEOUT = 3.0


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, service: MdnsService) -> None:
        self.service = service

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.service._received(data)

    def error_received(self, exc: Exception) -> None:
        logger.debug("mDNS socket error: %s", exc)


class MdnsService:
    """The loop's mDNS querier and responder (see the module docstring)."""

    _instances: ClassVar[dict[int, MdnsService]] = {}

    def __init__(self, loop: asyncio.AbstractEventLoop, interfaces: list[str]) -> None:
        self._loop = loop
        self._interfaces = interfaces
        self._transport: asyncio.DatagramTransport | None = None
        self._published: dict[str, str] = {}
        self._answered: dict[str, float] = {}  # name -> when we last answered for it
        self._waiting: dict[str, list[asyncio.Future[str]]] = {}
        self._starting: asyncio.Future[None] | None = None
        #: Counters for tests and debugging.
        self.queries_sent = 0
        self.responses_sent = 0
        self.malformed = 0

    @classmethod
    def for_loop(cls, interfaces: list[str] | None = None) -> MdnsService:
        """The running loop's service (interfaces: the IPv4 host addresses, by
        default those host candidates are gathered on)."""
        loop = asyncio.get_running_loop()
        for key, old in list(cls._instances.items()):
            if old._loop.is_closed():  # a finished loop's service: release its socket
                if old._transport is not None:
                    old._transport.close()
                del cls._instances[key]
        service = cls._instances.get(id(loop))
        if service is None or service._loop is not loop:
            ips = interfaces if interfaces is not None else host_addresses(None)
            service = cls(loop, [ip for ip in ips if ":" not in ip])
            cls._instances[id(loop)] = service
        return service

    async def _start(self) -> None:
        if self._transport is not None:
            return
        if self._starting is not None:
            await self._starting
            return
        starting = self._starting = self._loop.create_future()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if hasattr(socket, "SO_REUSEPORT"):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(("", MDNS_PORT))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)  # RFC 6762 §11
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            group = socket.inet_aton(MDNS_ADDRESS_V4)
            for ip in self._interfaces:
                with contextlib.suppress(OSError):  # already joined, or no such interface
                    sock.setsockopt(
                        socket.IPPROTO_IP,
                        socket.IP_ADD_MEMBERSHIP,
                        struct.pack("4s4s", group, socket.inet_aton(ip)),
                    )
            sock.setblocking(False)
            transport, _ = await self._loop.create_datagram_endpoint(
                lambda: _Protocol(self), sock=sock
            )
            self._transport = transport
        except BaseException:
            sock.close()
            self._starting = None  # the next resolve/publish tries again
            raise
        finally:
            starting.set_result(None)

    def _send(self, data: bytes) -> None:
        transport = self._transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        for ip in self._interfaces or ["0.0.0.0"]:
            with contextlib.suppress(OSError):
                if sock is not None and ip != "0.0.0.0":
                    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ip))
                transport.sendto(data, (MDNS_ADDRESS_V4, MDNS_PORT))

    # -- querier ---------------------------------------------------------------------------

    async def resolve(self, name: str, timeout: float = _TIMEOUT) -> str | None:
        """The IPv4 address of ``name``, or None when nobody answers in time."""
        key = name.lower().rstrip(".")
        if key in self._published:
            return self._published[key]
        await self._start()
        future: asyncio.Future[str] = self._loop.create_future()
        self._waiting.setdefault(key, []).append(future)
        query = build_query(key, TYPE_A)
        try:
            start = self._loop.time()
            self._send(query)
            self.queries_sent += 1
            for delay in (*_RESEND, timeout):
                remaining = start + delay - self._loop.time()
                if remaining > 0:
                    with contextlib.suppress(TimeoutError):
                        return await asyncio.wait_for(asyncio.shield(future), remaining)
                if future.done():
                    return future.result()
                if delay != timeout:
                    self._send(query)
                    self.queries_sent += 1
            return future.result() if future.done() else None
        finally:
            waiters = self._waiting.get(key, [])
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiting.pop(key, None)

    # -- responder -------------------------------------------------------------------------

    async def publish(self, name: str, address: str) -> None:
        """Answer queries for ``name`` with ``address`` (and announce it once, §8.3)."""
        key = name.lower().rstrip(".")
        self._published[key] = address
        await self._start()
        self._send(build_response(key, address))
        self.responses_sent += 1

    def unpublish(self, name: str) -> None:
        key = name.lower().rstrip(".")
        self._published.pop(key, None)
        self._answered.pop(key, None)

    def _received(self, data: bytes) -> None:
        try:
            message = parse_message(data)
        except MdnsParseError:
            self.malformed += 1
            return
        if message.response:
            for answer in message.answers:
                for future in self._waiting.get(answer.name, []):
                    if not future.done():
                        future.set_result(answer.address)
            return
        now = self._loop.time()
        for name in {n for n, qtype in message.questions if qtype in (TYPE_A, 255)}:
            address = self._published.get(name)
            if address is None:
                continue
            # RFC 6762 §6: at most one multicast answer per name per second.
            if now - self._answered.get(name, float("-inf")) < 1.0:
                continue
            self._answered[name] = now
            self._send(build_response(name, address))
            self.responses_sent += 1
