"""Small helpers the asyncio-level tests share."""

from __future__ import annotations

import asyncio
from typing import Any


async def until(predicate: Any, timeout: float = 10.0) -> None:
    """Wait (polling every 10 ms) until ``predicate()`` is true; fail after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def nominated_pair(pc: Any, timeout: float = 10.0) -> tuple[Any, Any]:
    """``(pair stats, report)`` of ``pc``'s nominated candidate pair, waiting for the
    nomination: data may flow on a valid pair before one is nominated (RFC 8445
    §12.1), so a channel can be open and busy before this returns."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        stats = await pc.getStats()
        pair = next(
            (s for s in stats.values() if s["type"] == "candidate-pair" and s.get("nominated")),
            None,
        )
        if pair is not None:
            return pair, stats
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("no candidate pair was nominated in time")
        await asyncio.sleep(0.05)


def trickle_between(a: Any, b: Any) -> None:
    """Each connection's candidates go to the other as they come (trickle ICE in one
    process: the other must have its remote description by the time they arrive)."""
    for x, y in ((a, b), (b, a)):
        x.onicecandidate = (
            lambda peer: (
                lambda e: e.candidate and asyncio.ensure_future(peer.addIceCandidate(e.candidate))
            )
        )(y)
