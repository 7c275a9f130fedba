"""Certificates shared by the DTLS tests (RSA generation is the slow part)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rtcpeer.dtls import Certificate

#: A fixed wall-clock time: the core takes the clock as an argument, so tests pin it.
WALL = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def ecdsa_cert() -> Certificate:
    return Certificate.generate(not_before=WALL)


@pytest.fixture(scope="session")
def ecdsa_cert2() -> Certificate:
    return Certificate.generate(not_before=WALL)


@pytest.fixture(scope="session")
def rsa_cert() -> Certificate:
    return Certificate.generate(not_before=WALL, key_type="rsa")


@pytest.fixture(scope="session")
def rsa_cert2() -> Certificate:
    return Certificate.generate(not_before=WALL, key_type="rsa")
