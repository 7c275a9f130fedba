"""Seeded random scenarios with invariant checks: whatever the link does, the accounting
stays exact, reliable data arrives in order, and nothing raises."""

from __future__ import annotations

import random

import pytest
from sctp_sim import Pair, check_invariants

from rtcpeer.sctp.events import Aborted, Closed, StreamsReset
from rtcpeer.testing import GilbertElliott, Netem


def random_link(rng: random.Random, seed: int) -> Netem[bytes]:
    kind = rng.randrange(4)
    return Netem(
        seed=seed,
        latency=rng.choice([0.0, 0.005, 0.03]),
        jitter=rng.choice([0.0, 0.01]),
        loss=rng.choice([0.0, 0.02, 0.1]) if kind != 1 else 0.0,
        burst=GilbertElliott(p=0.02, r=0.4) if kind == 1 else None,
        reorder=rng.choice([0.0, 0.05]),
        duplicate=rng.choice([0.0, 0.05]),
        rate=rng.choice([None, 2_000_000]),
        queue_bytes=256 * 1024,
    )


@pytest.mark.parametrize("seed", range(24))
def test_random_scenario(seed: int) -> None:
    rng = random.Random(seed)
    small = rng.random() < 0.3
    kwargs = {"max_receive_buffer": 64 * 1024, "max_message_size": 32 * 1024} if small else {}
    pair = Pair(
        seed=seed,
        ab=random_link(rng, seed * 2),
        ba=random_link(rng, seed * 2 + 1),
        mtu=rng.choice([1200, 1280, 1500]),
        **kwargs,
    )
    pair.connect(both=rng.random() < 0.5, timeout=120)
    max_size = 32 * 1024 if small else 100_000
    reliable: dict[tuple[str, int], list[bytes]] = {}
    for n in range(rng.randrange(50, 250)):
        side = rng.choice("ab")
        src = pair.a if side == "a" else pair.b
        sid = rng.randrange(6)
        policy = rng.randrange(4)
        # Unique content: a counter and the policy, then random filler.
        size = rng.choice([0, 10, 500, 3000, rng.randrange(0, max_size - 5)])
        data = n.to_bytes(4, "big") + bytes([policy]) + rng.randbytes(size)
        if policy == 0:
            src.send(pair.now, sid, 51, data, ordered=False, max_retransmits=0)
        elif policy == 1:
            src.send(pair.now, sid, 51, data, max_lifetime=rng.choice([0.05, 0.5]))
        else:
            src.send(pair.now, sid, 51, data)
            reliable.setdefault((side, sid), []).append(data)
        if rng.random() < 0.2:
            pair.run_for(rng.random() * 0.2)
            check_invariants(pair.a)
            check_invariants(pair.b)

    def all_reliable_arrived() -> bool:
        for (side, sid), msgs in reliable.items():
            rx = pair.received_b if side == "a" else pair.received_a
            if len([m for m in rx if m.stream_id == sid and m.data in msgs]) < len(msgs):
                return False
        return True

    steps = 0
    while not all_reliable_arrived():
        assert pair.step(pair.now + 600), "stalled"
        pair.drain()
        steps += 1
        if steps % 200 == 0:
            check_invariants(pair.a)
            check_invariants(pair.b)
    for (side, sid), msgs in reliable.items():
        rx = pair.received_b if side == "a" else pair.received_a
        got = [m.data for m in rx if m.stream_id == sid and not m.unordered and m.data in msgs]
        assert got == msgs, (side, sid)
    check_invariants(pair.a)
    check_invariants(pair.b)

    # Finish with stream resets and a graceful close; everything must settle. Streams
    # with data still queued are reset in a later request than idle ones.
    pair.a.reset_streams(pair.now, [0, 1])

    def reset_done() -> bool:
        done = {s for e in pair.events_a if isinstance(e, StreamsReset) for s in e.outgoing}
        return done == {0, 1}

    assert pair.run_until(reset_done, 300)
    pair.b.shutdown(pair.now)
    assert pair.run_until(lambda: Closed() in pair.events_a and Closed() in pair.events_b, 300)
    assert not any(isinstance(e, Aborted) for e in pair.events_a + pair.events_b)
    assert pair.a.poll_timeout() is None and pair.b.poll_timeout() is None
