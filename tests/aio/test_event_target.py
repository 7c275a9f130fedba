from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from rtcpeer.aio.events import Event, EventTarget


class Thing(EventTarget):
    _event_types: ClassVar[frozenset[str]] = frozenset({"message", "open"})


def test_three_ways_in_dom_order() -> None:
    thing = Thing()
    calls: list[str] = []
    thing.onmessage = lambda e: calls.append("on:" + e.type)
    thing.addEventListener("message", lambda e: calls.append("listener"))

    @thing.on("message")
    def decorated(event: Any) -> None:
        calls.append("decorated")

    thing.dispatchEvent(Event("message", thing))
    assert calls == ["on:message", "listener", "decorated"]
    assert callable(thing.onmessage)


def test_handler_replaced_and_cleared() -> None:
    thing = Thing()
    calls: list[int] = []
    thing.onopen = lambda e: calls.append(1)
    thing.onopen = lambda e: calls.append(2)
    thing.dispatchEvent(Event("open"))
    thing.onopen = None
    thing.dispatchEvent(Event("open"))
    assert calls == [2]
    assert thing.onopen is None


def test_remove_listener_and_no_double_add() -> None:
    thing = Thing()
    calls: list[int] = []

    def listener(e: Any) -> None:
        calls.append(1)

    thing.addEventListener("open", listener)
    thing.addEventListener("open", listener)
    thing.dispatchEvent(Event("open"))
    thing.removeEventListener("open", listener)
    thing.dispatchEvent(Event("open"))
    assert calls == [1]


def test_typos_are_errors_not_silence() -> None:
    thing = Thing()
    with pytest.raises(AttributeError, match="onmessage"):
        thing.onMessage = lambda e: None
    with pytest.raises(ValueError, match="known events"):
        thing.addEventListener("mesage", lambda e: None)
    with pytest.raises(TypeError):
        thing.onopen = 5


def test_failing_handler_does_not_stop_others(caplog: pytest.LogCaptureFixture) -> None:
    thing = Thing()
    calls: list[str] = []

    def boom(e: Any) -> None:
        raise RuntimeError("boom")

    thing.onopen = boom
    thing.addEventListener("open", lambda e: calls.append("after"))
    thing.dispatchEvent(Event("open"))
    assert calls == ["after"]
    assert "boom" in caplog.text


async def test_async_handlers_run_as_tasks() -> None:
    thing = Thing()
    done = asyncio.Event()
    seen: list[str] = []

    async def handler(event: Any) -> None:
        await asyncio.sleep(0)
        seen.append(event.type)
        done.set()

    thing.onmessage = handler
    thing.dispatchEvent(Event("message"))
    assert seen == []  # scheduled, not run inline
    await asyncio.wait_for(done.wait(), 1.0)
    assert seen == ["message"]


async def test_handlers_without_a_parameter_are_called_without_the_event() -> None:
    """The JavaScript ``() => ...`` habit works: every registration style, sync or
    async, bound methods too."""
    thing = Thing()
    calls: list[str] = []
    done = asyncio.Event()
    thing.onopen = lambda: calls.append("on")
    thing.addEventListener("open", lambda: calls.append("listener"))

    @thing.on("open")
    async def decorated() -> None:
        calls.append("async")
        done.set()

    class Owner:
        def opened(self) -> None:
            calls.append("method")

        def with_event(self, event: Any) -> None:
            calls.append("method:" + event.type)

    owner = Owner()
    thing.addEventListener("open", owner.opened)
    thing.addEventListener("open", owner.with_event)
    thing.addEventListener("open", lambda *args: calls.append(f"varargs:{len(args)}"))
    thing.addEventListener("open", lambda event=None: calls.append(f"default:{event.type}"))  # type: ignore[union-attr]
    thing.dispatchEvent(Event("open"))
    await asyncio.wait_for(done.wait(), 1.0)
    assert calls == [
        "on",
        "listener",
        "method",
        "method:open",
        "varargs:1",
        "default:open",
        "async",
    ]


def test_handlers_that_cannot_take_the_event_are_refused_when_registered() -> None:
    thing = Thing()
    with pytest.raises(TypeError, match="requires 2 arguments"):
        thing.onopen = lambda a, b: None
    with pytest.raises(TypeError, match="keyword-only"):
        thing.addEventListener("open", lambda event, *, flag: None)
    with pytest.raises(TypeError, match="requires 2 arguments"):
        thing.on("open")(lambda a, b: None)
    assert thing.onopen is None


def test_snake_case_handler_names_are_refused() -> None:
    thing = Thing()
    with pytest.raises(AttributeError, match="onmessage"):
        thing.on_message = lambda e: None  # type: ignore[attr-defined]
