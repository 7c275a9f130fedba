from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from rtcpeer import RTCPeerConnection


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests use loopback addresses only, the way users' tests would."""
    monkeypatch.setenv("RTCPEER_HOST_ADDRESSES", "127.0.0.1")


@pytest.fixture
async def pair() -> AsyncIterator[tuple[RTCPeerConnection, RTCPeerConnection, list[Any]]]:
    """Two connections; the tracks ``b`` receives (its ``ontrack``) are collected."""
    a, b = RTCPeerConnection(), RTCPeerConnection()
    tracks: list[Any] = []
    b.ontrack = lambda e: tracks.append(e.track)
    yield a, b, tracks
    await a.close()
    await b.close()
