"""Event targets the way browser code expects them, in Python.

Every W3C object that fires events (``RTCPeerConnection``, ``RTCDataChannel``,
``MediaStreamTrack``, the transports) derives from :class:`EventTarget` and accepts a
handler three ways::

    pc.onicecandidate = handler                      # as in the browser
    pc.addEventListener("icecandidate", handler)
    @pc.on("icecandidate")
    def handler(event): ...

Handlers may be plain functions or ``async def``; coroutine handlers are scheduled as
tasks on the running loop. As in the DOM, the ``on<type>`` handler runs first, then the
listeners in the order they were added; an exception in one handler is reported through
the loop's exception handler and does not stop the others.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

__all__ = ["Event", "EventTarget"]

logger = logging.getLogger("rtcpeer")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Event:
    """A plain event: ``type`` and the object it was fired on (``target``)."""

    type: str
    target: Any = None


class EventTarget:
    """Dispatches events to ``on<type>`` attributes and registered listeners.

    Subclasses list their event types in ``_event_types``; assigning ``on<type>``
    for a type not listed raises ``AttributeError`` like any unknown attribute would
    (the usual typo, ``pc.onIceCandidate``, is caught rather than ignored).
    """

    _event_types: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        self._handlers: dict[str, Callable[..., Any] | None] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: the on<type> properties live here.
        if name.startswith("on") and name[2:] in type(self)._event_types:
            return self.__dict__.get("_handlers", {}).get(name[2:])
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("on") and not name.startswith("on_") and name != "on":
            event_type = name[2:]
            if event_type not in type(self)._event_types:
                known = ", ".join(sorted("on" + t for t in type(self)._event_types))
                raise AttributeError(
                    f"{type(self).__name__} fires no {event_type!r} event; "
                    f"handlers it accepts: {known or 'none'}"
                )
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be a function, a coroutine function or None")
            self._handlers[event_type] = value
            if value is not None:
                self._listener_added(event_type)
            return
        object.__setattr__(self, name, value)

    def addEventListener(self, type: str, listener: Callable[..., Any]) -> None:
        """Add ``listener`` for events of ``type`` (a second add of the same one is ignored)."""
        self._check_type(type)
        listeners = self._listeners.setdefault(type, [])
        if listener not in listeners:
            listeners.append(listener)
            self._listener_added(type)

    def _listener_added(self, event_type: str) -> None:
        """Hook: a handler or listener for ``event_type`` was just registered."""

    def removeEventListener(self, type: str, listener: Callable[..., Any]) -> None:
        """Remove ``listener``; removing one that was never added does nothing."""
        listeners = self._listeners.get(type)
        if listeners and listener in listeners:
            listeners.remove(listener)

    def on(self, type: str) -> Callable[[F], F]:
        """Decorator form of :meth:`addEventListener`."""
        self._check_type(type)

        def register(listener: F) -> F:
            self.addEventListener(type, listener)
            return listener

        return register

    def _check_type(self, event_type: str) -> None:
        if event_type not in type(self)._event_types:
            known = ", ".join(sorted(type(self)._event_types))
            raise ValueError(
                f"{type(self).__name__} fires no {event_type!r} event; known events: {known}"
            )

    def dispatchEvent(self, event: Any) -> None:
        """Call the ``on<type>`` handler, then every listener, with ``event``."""
        event_type: str = event.type
        callbacks: list[Callable[..., Any]] = []
        handler = self._handlers.get(event_type)
        if handler is not None:
            callbacks.append(handler)
        callbacks.extend(self._listeners.get(event_type, ()))
        for callback in callbacks:
            try:
                result = callback(event)
            except Exception:
                logger.exception("%s handler for %r raised", type(self).__name__, event_type)
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s async handler raised", type(self).__name__, exc_info=task.exception())
