"""Fuzz the TURN paths: whatever a TURN server (or someone spoofing it) sends, the
client and the ICE agent drop it or use it; nothing raises, and an allocation that
is up stays consistent."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcpeer.datagram import Datagram
from rtcpeer.ice.agent import IceAgent
from rtcpeer.ice.stun import AttrType, ChannelData, StunClass, StunMessage, StunMethod
from rtcpeer.ice.turn import TurnClient, TurnServerConfig
from rtcpeer.testing.turn_server import TurnServer

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SERVER = ("192.0.2.10", 3478)
BASE = ("10.0.0.1", 5000)
PEER = ("198.51.100.7", 7000)


def allocated_client(transport: str = "udp") -> TurnClient:
    server = TurnServer(SERVER, {"u": "p"})
    client = TurnClient(
        server=SERVER, base=BASE, username="u", password="p", transport=transport,  # type: ignore[arg-type]
        rng=random.Random(1),
    )  # fmt: skip
    client.start(0.0)
    for _ in range(4):
        while (data := client.poll_transmit()) is not None:
            server.handle_datagram(0.0, Datagram(BASE, SERVER, data))
        while (reply := server.poll_datagram()) is not None:
            client.handle_receive(0.0, reply.data)
    assert client.state == "allocated"
    client.permit(0.0, PEER[0])
    client.bind_channel(0.0, PEER)
    return client


def shaped() -> st.SearchStrategy[bytes]:
    """Bytes that look like what a TURN server sends, and then some."""
    stun = st.builds(
        lambda method, cls, body: StunMessage(method, cls).serialize()[:20] + body,
        st.sampled_from(list(StunMethod)),
        st.sampled_from(list(StunClass)),
        st.binary(max_size=80),
    )
    data_indication = st.builds(
        lambda payload: StunMessage(
            StunMethod.DATA,
            StunClass.INDICATION,
            attributes=[(AttrType.XOR_PEER_ADDRESS, PEER), (AttrType.DATA, payload)],
        ).serialize(),
        st.binary(max_size=64),
    )
    channel = st.builds(
        lambda number, payload: ChannelData(number, payload).serialize(),
        st.integers(0x4000, 0x4FFF),
        st.binary(max_size=64),
    )
    return st.one_of(st.binary(max_size=200), stun, data_indication, channel)


@FUZZ
@given(st.lists(shaped(), max_size=8))
def test_client_never_raises_and_stays_allocated(frames: list[bytes]) -> None:
    client = allocated_client()
    for frame in frames:
        for peer, payload in client.handle_receive(0.0, frame):
            assert isinstance(payload, bytes) and peer[0] == PEER[0]
    assert client.state == "allocated"  # unsigned junk cannot end the allocation
    client.handle_timeout(10.0)


@FUZZ
@given(st.binary(max_size=400), st.integers(1, 50))
def test_stream_framing_never_raises(stream: bytes, chunk: int) -> None:
    client = allocated_client("tcp")
    for i in range(0, len(stream), chunk):
        client.handle_receive(0.0, stream[i : i + chunk])
    assert client.state == "allocated"


@FUZZ
@given(st.lists(shaped(), max_size=8))
def test_agent_takes_anything_from_the_turn_servers_address(frames: list[bytes]) -> None:
    config = TurnServerConfig(SERVER, "u", "p", "turn:fuzz")
    agent = IceAgent(controlling=True, rng=random.Random(2), turn_servers=[config])
    agent.start_gathering(0.0)
    agent.add_host_candidate(0.0, BASE)
    agent.end_of_host_candidates(0.0)
    for frame in frames:
        result = agent.handle_datagram(0.0, Datagram(SERVER, BASE, frame))
        assert result is None or isinstance(result, bytes)
    agent.handle_timeout(1.0)
    while agent.poll_transmit() is not None:
        pass
