from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.interop.harness import ChromiumBrowser


@pytest_asyncio.fixture(params=["chromium", "aiortc"])
async def peer_kind(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[str, ChromiumBrowser | None]]:
    """Each foreign peer in turn: ``("chromium", browser)`` then ``("aiortc", None)``."""
    if request.param == "chromium":
        browser = ChromiumBrowser()
        async with browser.running() as running:
            yield "chromium", running
    else:
        yield "aiortc", None


@pytest_asyncio.fixture
async def chromium() -> AsyncIterator[ChromiumBrowser]:
    browser = ChromiumBrowser()
    async with browser.running() as running:
        yield running


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/interop/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.interop)
