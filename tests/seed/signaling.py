"""An in-process signaling channel for the seed's examples: named messages between
two peers, delivered in order as tasks, optionally delayed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

Handler = Callable[[Any], Awaitable[None] | None]


class Signaling:
    """One end of a pair; ``send(kind, data)`` reaches the other end's ``on(kind)``."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.peer: Signaling | None = None
        self.handlers: dict[str, Handler] = {}
        self.sent: list[tuple[str, Any]] = []
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run())
        self.errors: list[BaseException] = []

    @staticmethod
    def pair(delay: float = 0.0) -> tuple[Signaling, Signaling]:
        a, b = Signaling(delay), Signaling(delay)
        a.peer, b.peer = b, a
        return a, b

    def on(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    def send(self, kind: str, data: Any) -> None:
        assert self.peer is not None
        self.sent.append((kind, data))
        self.peer._queue.put_nowait((kind, data))

    async def _run(self) -> None:
        while True:
            kind, data = await self._queue.get()
            if self.delay:
                await asyncio.sleep(self.delay)
            handler = self.handlers.get(kind)
            if handler is None:
                continue
            try:
                result = handler(data)
                if asyncio.iscoroutine(result):
                    await result
            except Exception as exc:  # recorded; tests assert there were none
                self.errors.append(exc)

    def close(self) -> None:
        self._task.cancel()
