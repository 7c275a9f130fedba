"""Transport-wide feedback (parse/serialize, the recorder) and the GCC-style
estimator's responses to delay growth and loss."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.rtp.bwe import BandwidthEstimator
from rtcpeer.rtp.packet import RtcpOther, parse_rtcp
from rtcpeer.rtp.twcc import TwccFeedback, TwccParseError, TwccRecorder


def feedback_of(packet: bytes) -> TwccFeedback:
    [part] = parse_rtcp(packet)
    assert isinstance(part, RtcpOther) and (part.packet_type, part.count) == (205, 15)
    return TwccFeedback.parse_body(part.body)


def test_feedback_round_trip_with_losses_small_and_large_deltas() -> None:
    arrivals = (
        0.0010,
        None,
        None,
        0.0020,
        0.1000,
        0.0900,
        None,
        *[0.1 + i * 0.001 for i in range(20)],
    )
    message = TwccFeedback(
        1, 2, 65530, 100, 7, tuple(a + 6.4 if a is not None else None for a in arrivals)
    )
    parsed = feedback_of(message.serialize())
    assert (parsed.base_sequence, parsed.reference_time, parsed.feedback_count) == (65530, 100, 7)
    assert len(parsed.arrivals) == len(arrivals)
    for got, want in zip(parsed.arrivals, message.arrivals, strict=True):
        assert (got is None) == (want is None)
        if got is not None and want is not None:
            assert abs(got - want) < 0.00025  # the 250 µs grid


@given(st.lists(st.one_of(st.none(), st.floats(0, 2.0)), min_size=1, max_size=300))
def test_feedback_round_trip_property(raw: list[float | None]) -> None:
    if raw[0] is None:
        raw[0] = 0.0
    arrivals = tuple(None if a is None else 64 * 0.064 + a for a in raw)
    parsed = feedback_of(TwccFeedback(1, 2, 5, 64, 0, arrivals).serialize())
    assert [a is None for a in parsed.arrivals] == [a is None for a in arrivals]
    for got, want in zip(parsed.arrivals, arrivals, strict=True):
        if got is not None and want is not None:
            assert abs(got - want) < 0.0003


@pytest.mark.parametrize("body", [b"", bytes(15), bytes(10) + b"\x00\x05" + bytes(4)])
def test_truncated_feedback_raises(body: bytes) -> None:
    with pytest.raises(TwccParseError):
        TwccFeedback.parse_body(body)


def test_recorder_reports_every_packet_once_in_order() -> None:
    recorder = TwccRecorder(9)
    rng = random.Random(1)
    sequences = [s & 0xFFFF for s in range(65500, 65600) if rng.random() > 0.1]
    shuffled = sequences[:]
    rng.shuffle(shuffled)
    for i, seq in enumerate(shuffled):
        recorder.record(10.0 + i * 0.001, seq, 77)
    due = recorder.poll_timeout()
    assert due is not None
    assert recorder.feedback(due - 0.001) == []
    [packet] = recorder.feedback(due)
    parsed = feedback_of(packet)
    assert parsed.media_ssrc == 77 and parsed.base_sequence == sequences[0]
    received = {
        (parsed.base_sequence + i) & 0xFFFF for i, a in enumerate(parsed.arrivals) if a is not None
    }
    assert received == set(sequences)
    recorder.record(11.0, sequences[3], 77)  # late duplicate: already reported
    assert recorder.poll_timeout() is None


def _feed(
    bwe: BandwidthEstimator,
    seconds: float,
    rate: float,
    delay_growth: float,
    loss: float,
    rng: random.Random,
    start: float = 0.0,
) -> float:
    """Send 1200-byte packets at ``rate`` bps for ``seconds``; the path adds
    ``delay_growth`` s of queueing per second and drops ``loss``; feedback every 50 ms."""
    interval = 1200 * 8 / rate
    t = start
    seq = int(start / interval) + 1
    pending: list[tuple[int, float | None]] = []
    next_feedback = t + 0.05
    while t < start + seconds:
        bwe.on_packet_sent(t, seq & 0xFFFF, 1200)
        arrival = None if rng.random() < loss else t + 0.02 + (t - start) * delay_growth
        pending.append((seq, arrival))
        seq += 1
        t += interval
        if t >= next_feedback and pending:
            base = pending[0][0]
            bwe.on_feedback(
                t + 0.02, TwccFeedback(1, 2, base & 0xFFFF, 0, 0, tuple(a for _, a in pending))
            )
            pending.clear()
            next_feedback = t + 0.05
    return t


def test_growing_delay_is_overuse_and_cuts_the_rate() -> None:
    bwe = BandwidthEstimator(initial_bitrate=2_000_000)
    rng = random.Random(2)
    t = _feed(bwe, 2.0, 1_000_000, 0.0, 0.0, rng)
    steady = bwe.target_bitrate
    assert steady >= 2_000_000  # no congestion: no cut
    _feed(bwe, 2.0, 1_000_000, 0.1, 0.0, rng, start=t)  # the queue grows 100 ms/s
    assert bwe.target_bitrate < 0.9 * 1_000_000  # below what got through


def test_heavy_loss_cuts_and_light_loss_lets_it_grow() -> None:
    bwe = BandwidthEstimator(initial_bitrate=1_000_000)
    rng = random.Random(3)
    t = _feed(bwe, 3.0, 1_000_000, 0.0, 0.3, rng)
    # 30 % loss: about 15 % less each second (one cut a second).
    assert 500_000 < bwe.loss_bitrate < 750_000 and bwe.target_bitrate < 750_000
    assert 0.1 < bwe.loss_fraction < 0.5
    low = bwe.loss_bitrate
    _feed(bwe, 2.0, 400_000, 0.0, 0.0, rng, start=t)
    assert bwe.loss_bitrate > low * 1.2


def test_target_stays_within_bounds() -> None:
    bwe = BandwidthEstimator(initial_bitrate=100_000, min_bitrate=50_000, max_bitrate=200_000)
    rng = random.Random(4)
    t = _feed(bwe, 3.0, 100_000, 0.0, 0.9, rng)
    assert bwe.target_bitrate == 50_000
    _feed(bwe, 30.0, 200_000, 0.0, 0.0, rng, start=t)
    assert bwe.target_bitrate <= 200_000


def test_recorder_reports_leading_losses_and_survives_an_empty_window() -> None:
    recorder = TwccRecorder(9)
    recorder.record(1.0, 100, 7)
    [first] = recorder.feedback(recorder.poll_timeout() or 0.0)
    assert feedback_of(first).base_sequence == 100
    # 101..104 lost; 105 arrives: the message starts at 101 with four losses.
    recorder.record(2.0, 105, 7)
    [second] = recorder.feedback(recorder.poll_timeout() or 0.0)
    parsed = feedback_of(second)
    assert parsed.base_sequence == 101
    assert parsed.arrivals[:4] == (None, None, None, None) and parsed.arrivals[4] is not None
    # After a long outage (more than one message's worth lost) arrivals still go out.
    recorder.record(3.0, 105 + 2500, 7)
    messages = recorder.feedback(recorder.poll_timeout() or 0.0)
    assert any(any(a is not None for a in feedback_of(m).arrivals) for m in messages)


def test_reference_time_wrap_is_unwrapped() -> None:
    bwe = BandwidthEstimator()
    top = (1 << 24) - 1
    for seq in range(1, 4):
        bwe.on_packet_sent(seq * 0.01, seq, 1200)
    bwe.on_feedback(0.1, TwccFeedback(1, 2, 1, top, 0, (top * 0.064, top * 0.064 + 0.01)))
    bwe.on_feedback(0.2, TwccFeedback(1, 2, 3, 0, 1, (0.02,)))
    assert bwe._unwrapped_reference == 1 << 24  # one wrap, forward
