"""Event targets the way browser code expects them, in Python.

Every W3C object that fires events (``RTCPeerConnection``, ``RTCDataChannel``,
``MediaStreamTrack``, the transports) derives from :class:`EventTarget` and accepts a
handler three ways::

    pc.onicecandidate = handler                      # as in the browser
    pc.addEventListener("icecandidate", handler)
    @pc.on("icecandidate")
    def handler(event): ...

Handlers may be plain functions or ``async def``; coroutine handlers are scheduled as
tasks on the running loop. A handler that takes no parameter (the JavaScript
``() => ...`` habit: ``pc.oniceconnectionstatechange = lambda: print(...)``) is called
without the event; one that cannot take the event is refused when it is registered, with a
``TypeError`` that says why. As in the DOM, the ``on<type>`` handler runs first, then
the listeners in the order they were added; an exception in one handler is reported
through the loop's exception handler and does not stop the others.
"""

from __future__ import annotations

import asyncio
import functools
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


def _wants_event(callback: Callable[..., Any]) -> bool:
    """Whether ``callback`` is called with the event (else with nothing); TypeError
    if it can take neither."""
    try:
        hash(callback)
    except TypeError:
        return _inspect_handler(callback)
    return _inspect_cached(callback)


def _inspect_handler(callback: Callable[..., Any]) -> bool:
    try:
        signature = inspect.signature(callback)
    except (TypeError, ValueError):  # a builtin without a signature: pass the event
        return True
    positional = 0
    required = 0
    for parameter in signature.parameters.values():
        kind = parameter.kind
        if kind is parameter.VAR_POSITIONAL:
            return True
        if kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            positional += 1
            if parameter.default is parameter.empty:
                required += 1
        elif kind is parameter.KEYWORD_ONLY and parameter.default is parameter.empty:
            raise TypeError(
                f"handler {getattr(callback, '__qualname__', callback)!r} has a required "
                f"keyword-only parameter {parameter.name!r}: an event handler takes the "
                "event, or nothing"
            )
    if required > 1:
        raise TypeError(
            f"handler {getattr(callback, '__qualname__', callback)!r} requires {required} "
            "arguments: an event handler takes one (the event) or none"
        )
    return positional > 0


_inspect_cached = functools.lru_cache(maxsize=512)(_inspect_handler)


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
        if name.startswith("on_") and name[3:].replace("_", "") in type(self)._event_types:
            raise AttributeError(
                f"{type(self).__name__} has no {name!r}: event handlers are spelled as "
                f"in the browser, on{name[3:].replace('_', '')}"
            )
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
            if value is not None:
                _wants_event(value)  # refuses a handler that cannot take the event
            self._handlers[event_type] = value
            if value is not None:
                self._listener_added(event_type)
            return
        object.__setattr__(self, name, value)

    def addEventListener(self, type: str, listener: Callable[..., Any]) -> None:
        """Add ``listener`` for events of ``type`` (a second add of the same one is ignored)."""
        self._check_type(type)
        if not callable(listener):
            raise TypeError("a listener must be a function or a coroutine function")
        _wants_event(listener)
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
                result = callback(event) if _wants_event(callback) else callback()
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
