from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.interop.harness import ChromiumBrowser


@pytest_asyncio.fixture
async def chromium() -> AsyncIterator[ChromiumBrowser]:
    browser = ChromiumBrowser()
    async with browser.running() as running:
        yield running


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/interop/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.interop)
