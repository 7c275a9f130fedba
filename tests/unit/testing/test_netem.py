from __future__ import annotations

import itertools
import math

import pytest

from rtcpeer.testing import GilbertElliott, Netem


def drain(link: Netem[bytes], until: float = 1e9) -> list[tuple[float, bytes]]:
    """Deliver everything, returning (delivery time, item) in delivery order."""
    out = []
    while (deadline := link.poll_timeout()) is not None and deadline <= until:
        while (item := link.poll(deadline)) is not None:
            out.append((deadline, item))
    return out


def packets(n: int, size: int = 100) -> list[bytes]:
    return [i.to_bytes(4, "big") + bytes(size - 4) for i in range(n)]


def test_needs_a_seed() -> None:
    with pytest.raises(TypeError, match="seed"):
        Netem()


def test_perfect_link_delivers_in_order_at_latency() -> None:
    link: Netem[bytes] = Netem(seed=1, latency=0.05)
    for i, p in enumerate(packets(10)):
        link.send(i * 0.001, p)
    assert link.poll(0.0499) is None
    out = drain(link)
    assert [item for _, item in out] == packets(10)
    assert [round(t, 6) for t, _ in out] == [round(0.05 + i * 0.001, 6) for i in range(10)]
    assert link.stats.delivered == 10 and link.stats.dropped == 0


@pytest.mark.parametrize("loss", [0.01, 0.05, 0.3])
def test_random_loss_rate_within_tolerance(loss: float) -> None:
    n = 20_000
    link: Netem[bytes] = Netem(seed=42, loss=loss)
    for p in packets(n, 8):
        link.send(0.0, p)
    observed = link.stats.dropped_loss / n
    # Binomial standard deviation; 5 sigma keeps this deterministic seed far from the edge.
    sigma = math.sqrt(loss * (1 - loss) / n)
    assert abs(observed - loss) < 5 * sigma, observed
    assert len(drain(link)) == n - link.stats.dropped_loss


def test_burst_loss_comes_in_bursts() -> None:
    ge = GilbertElliott(p=0.01, r=0.25)
    n = 50_000
    link: Netem[bytes] = Netem(seed=3, burst=ge)
    for p in packets(n, 8):
        link.send(0.0, p)
    received = {int.from_bytes(item[:4], "big") for _, item in drain(link)}
    lost = [i for i in range(n) if i not in received]
    assert abs(len(lost) / n - ge.mean_loss) < 0.01
    runs, run = [], 1
    for a, b in itertools.pairwise(lost):
        if b == a + 1:
            run += 1
        else:
            runs.append(run)
            run = 1
    mean_burst = sum(runs) / len(runs)
    assert 3.0 < mean_burst < 5.0  # 1/r = 4
    # Independent loss at the same rate would give bursts of ~1.04.


def test_jitter_does_not_reorder_without_reorder_probability() -> None:
    link: Netem[bytes] = Netem(seed=5, latency=0.02, jitter=0.015)
    for i, p in enumerate(packets(500)):
        link.send(i * 0.001, p)
    out = drain(link)
    assert [item for _, item in out] == packets(500)
    times = [t for t, _ in out]
    assert times == sorted(times)
    assert len({round(t - i * 0.001, 6) for i, t in enumerate(times)}) > 10  # delays vary


def test_reordering() -> None:
    link: Netem[bytes] = Netem(seed=7, latency=0.01, reorder=0.1, reorder_delay=0.005)
    for i, p in enumerate(packets(2000)):
        link.send(i * 0.001, p)
    order = [int.from_bytes(item[:4], "big") for _, item in drain(link)]
    assert sorted(order) == list(range(2000))  # nothing lost
    inversions = sum(1 for a, b in itertools.pairwise(order) if b < a)
    assert inversions > 100
    assert 150 < link.stats.reordered < 250


def test_duplication() -> None:
    link: Netem[bytes] = Netem(seed=9, duplicate=0.05)
    for p in packets(4000):
        link.send(0.0, p)
    out = [item for _, item in drain(link)]
    assert len(out) == 4000 + link.stats.duplicated
    assert 140 < link.stats.duplicated < 260
    assert set(out) == set(packets(4000))


def test_rate_limit_is_honoured_and_queue_tail_drops() -> None:
    rate = 100_000.0  # bytes/s
    link: Netem[bytes] = Netem(seed=1, rate=rate, queue_bytes=10_000)
    # Offer 1 MB/s for one second: ten times the rate.
    t = 0.0
    for p in packets(10_000):
        link.send(t, p)
        t += 0.0001
    out = drain(link)
    delivered = sum(len(item) for _, item in out)
    span = out[-1][0] - out[0][0]
    assert delivered / span == pytest.approx(rate, rel=0.02)
    assert link.stats.dropped_queue > 8000
    # The queue bound caps the added delay at queue_bytes / rate.
    assert max(t_out - int.from_bytes(item[:4], "big") * 0.0001 for t_out, item in out) <= (
        10_000 / rate + 100 / rate + 1e-9
    )


def test_mtu_drop() -> None:
    link: Netem[bytes] = Netem(seed=1, mtu=1200)
    link.send(0.0, bytes(1200))
    link.send(0.0, bytes(1201))
    assert [len(item) for _, item in drain(link)] == [1200]
    assert link.stats.dropped_mtu == 1


def trace(seed: int) -> list[tuple[float, bytes]]:
    link: Netem[bytes] = Netem(
        seed=seed,
        latency=0.03,
        jitter=0.01,
        loss=0.05,
        burst=GilbertElliott(p=0.01, r=0.3),
        reorder=0.02,
        duplicate=0.01,
        rate=500_000,
        queue_bytes=20_000,
    )
    for i, p in enumerate(packets(3000, 200)):
        link.send(i * 0.0002, p)
    return drain(link)


def test_same_seed_same_trace() -> None:
    assert trace(11) == trace(11)
    assert trace(11) != trace(12)


def test_poll_timeout_is_earliest_delivery() -> None:
    link: Netem[bytes] = Netem(seed=1, latency=0.1)
    assert link.poll_timeout() is None
    link.send(1.0, b"a")
    link.send(1.05, b"b")
    assert link.poll_timeout() == pytest.approx(1.1)
    assert link.poll(1.1) == b"a"
    assert link.poll_timeout() == pytest.approx(1.15)


@pytest.mark.parametrize("bad", [{"loss": 1.5}, {"reorder": -0.1}, {"latency": -1}, {"rate": 0}])
def test_bad_parameters(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Netem(seed=1, **bad)  # type: ignore[arg-type]
