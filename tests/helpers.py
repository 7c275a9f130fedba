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
