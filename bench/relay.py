"""A user-space UDP relay that impairs what it carries: delay, jitter, random and
burst loss, a rate limit with a tail-drop queue. Seeded, loopback only.

Two peers are made to talk through it by rewriting the candidates they signal:
each real address ``A`` gets a relay port ``R(A)``; the other peer sends to
``R(A)``, and the relay forwards from ``R(B)`` (``B`` the sender's real address), so
each peer sees the other at its relay port. Run it in its own process
(:func:`start`), so its work does not share a CPU with the peers it measures.

    python -m bench.relay --delay 0.15 --loss 0.01 --rate 100e6 A_PORT B_PORT
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import random
import socket
import sys
from dataclasses import dataclass
from typing import Any

LOOPBACK = "127.0.0.1"
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux, needs CAP_NET_ADMIN


@dataclass
class Impairment:
    delay: float = 0.0  # one way, seconds
    jitter: float = 0.0  # uniform +- seconds (packets may reorder)
    loss: float = 0.0  # random loss probability
    burst: float = 0.0  # probability that a loss starts a burst of ``burst_length``
    burst_length: int = 3
    rate: float | None = None  # bits per second, None: unlimited
    queue: int = 256 * 1024  # bytes the rate limiter may hold, tail drop beyond
    seed: int = 1


class _Direction:
    """One way through the relay: its own loss draws, rate limiter and queue."""

    def __init__(self, imp: Impairment, seed: int) -> None:
        self.imp = imp
        self.rng = random.Random(seed)
        self.busy_until = 0.0
        self.queued = 0
        self.burst_left = 0
        self.forwarded = 0
        self.dropped = 0

    def schedule(self, now: float, size: int) -> tuple[float, float] | None:
        """(when it leaves the rate limiter, when it arrives), or None: dropped."""
        imp = self.imp
        if self.burst_left > 0:
            self.burst_left -= 1
            self.dropped += 1
            return None
        if imp.loss and self.rng.random() < imp.loss:
            if imp.burst and self.rng.random() < imp.burst:
                self.burst_left = imp.burst_length - 1
            self.dropped += 1
            return None
        leave = now
        if imp.rate is not None:
            if self.queued + size > imp.queue:
                self.dropped += 1  # tail drop
                return None
            leave = max(now, self.busy_until) + size * 8 / imp.rate
            self.busy_until = leave
            self.queued += size
        jitter = self.rng.uniform(-imp.jitter, imp.jitter) if imp.jitter else 0.0
        self.forwarded += 1
        return leave, leave + max(0.0, imp.delay + jitter)

    def released(self, size: int) -> None:
        self.queued -= size


class _Side(asyncio.DatagramProtocol):
    def __init__(self, relay: Relay, real: tuple[str, int]) -> None:
        self.relay = relay
        self.real = real  # the peer this socket stands for
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.relay.forward(self, data, addr)


class Relay:
    """Stands for each real address on a port of its own and forwards between them."""

    def __init__(self, imp: Impairment) -> None:
        self.imp = imp
        self.sides: dict[tuple[str, int], _Side] = {}
        self.by_real: dict[tuple[str, int], _Side] = {}
        self.directions: dict[tuple[int, int], _Direction] = {}
        self.loop = asyncio.get_running_loop()

    async def stand_for(self, real: tuple[str, int]) -> int:
        """A relay port that stands for ``real``; what reaches it goes to ``real``."""
        side = _Side(self, real)
        transport, _ = await self.loop.create_datagram_endpoint(
            lambda: side, local_addr=(LOOPBACK, 0)
        )
        sock = transport.get_extra_info("socket")
        for option in (_SO_RCVBUFFORCE, socket.SO_RCVBUF):
            # The queue is ours (``Impairment.queue``), not the kernel's: a socket
            # buffer that overflows under a sender's burst would add losses no one
            # configured.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, option, 32 << 20)
                break
        port = transport.get_extra_info("sockname")[1]
        self.sides[(LOOPBACK, port)] = side
        self.by_real[real] = side
        return int(port)

    def forward(self, side: _Side, data: bytes, sender: tuple[str, int]) -> None:
        # Sent by ``sender`` to the port standing for side.real: deliver to side.real
        # from the port standing for the sender (created on first sight).
        source = self.by_real.get(sender)
        if source is None or source.transport is None or side.transport is None:
            return
        key = (id(source), id(side))
        direction = self.directions.get(key)
        if direction is None:
            seed = self.imp.seed * 1000 + len(self.directions)
            direction = self.directions[key] = _Direction(self.imp, seed)
        now = self.loop.time()
        timing = direction.schedule(now, len(data))
        if timing is None:
            return
        leave, arrive = timing
        size = len(data)
        if self.imp.rate is not None:
            self.loop.call_at(leave, direction.released, size)
        self.loop.call_at(arrive, source.transport.sendto, data, side.real)

    def stats(self) -> dict[str, int]:
        return {
            "forwarded": sum(d.forwarded for d in self.directions.values()),
            "dropped": sum(d.dropped for d in self.directions.values()),
        }


def _serve(imp: Impairment, conn: Any) -> None:
    """Process entry: receive real addresses, answer relay ports, until told to stop."""

    async def main() -> None:
        relay = Relay(imp)
        loop = asyncio.get_running_loop()
        while True:
            request = await loop.run_in_executor(None, conn.recv)
            if request is None:
                conn.send(relay.stats())
                return
            conn.send(await relay.stand_for(tuple(request)))

    asyncio.run(main())


class RelayProcess:
    """The relay in a process of its own."""

    def __init__(self, imp: Impairment) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(imp, child), daemon=True)
        self._process.start()

    def stand_for(self, real: tuple[str, int]) -> int:
        self._conn.send(list(real))
        port: int = self._conn.recv()
        return port

    def stop(self) -> dict[str, int]:
        self._conn.send(None)
        stats: dict[str, int] = self._conn.recv()
        self._process.join(5)
        return stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--loss", type=float, default=0.0)
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("ports", type=int, nargs="+")
    args = parser.parse_args()
    imp = Impairment(delay=args.delay, loss=args.loss, rate=args.rate)
    relay = RelayProcess(imp)
    for port in args.ports:
        print(json.dumps({"real": port, "relay": relay.stand_for((LOOPBACK, port))}))
    try:
        input("relaying; press enter to stop\n")
    finally:
        print(json.dumps(relay.stop()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
