"""Every signaling shape against real foreign peers, in both roles: trickle both
ways, full descriptions without trickle, and the answer sent before gathering and
never trickled (the shape that left rtcpeer at ICE "new" as answerer).

How fast each row opens is measured by ``bench/setup.py``, not asserted here; these
tests check that every shape connects and carries data both ways."""

from __future__ import annotations

import pytest

from tests.interop.harness import ROLES, SHAPES, ChromiumBrowser, negotiate, pair


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("role", ROLES)
async def test_every_signaling_shape_connects(
    peer_kind: tuple[str, ChromiumBrowser | None], role: str, shape: str
) -> None:
    kind, browser = peer_kind
    offerer, answerer, ours, theirs = await pair(kind, role, browser)
    try:
        channel = await offerer.create_data_channel("shape")
        await negotiate(offerer, answerer, shape=shape)
        await channel.wait_open()
        remote = await answerer.channel_from_event("shape")
        await remote.wait_open()
        await channel.send(f"{shape} from the offerer")
        assert await remote.messages(1) == [f"{shape} from the offerer"]
        await remote.send(b"\x01" * 3000)
        assert await channel.messages(1) == [b"\x01" * 3000]
        await ours.log.wait("connectionstatechange", lambda e: e["state"] == "connected")
        # Nothing we made before a pair could carry it was dropped.
        assert ours.pc._agent.dropped_unsendable == 0  # type: ignore[attr-defined]
    finally:
        await ours.close()
        await theirs.close()
