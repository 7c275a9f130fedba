from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests use loopback addresses only, the way users' tests would."""
    monkeypatch.setenv("RTCPEER_HOST_ADDRESSES", "127.0.0.1")
