"""Send-side bandwidth estimation from transport-wide feedback: Google Congestion
Control as draft-ietf-rmcat-gcc-02 describes it, sans-IO.

:class:`BandwidthEstimator` remembers when and how big each packet it sent was
(by transport-wide sequence number) and, for each feedback message, reads the
arrivals back:

- *delay-based* (§5): packets sent within 5 ms form a group; the growth of
  one-way delay between groups is smoothed and its trend over the last 20 groups
  (a least-squares slope, as libwebrtc's trendline filter does) is compared with an
  adaptive threshold (§5.4) to detect over-use, normal use or under-use. An AIMD
  controller (§5.5) follows: over-use sets the rate to 85 % of what the receiver
  measured (and updates the link capacity estimate), normal use grows it (8 % a
  second; near the capacity estimate by one packet per 200 ms, so the queue left by
  a cut can drain), under-use holds it.
- *loss-based* (§6): more than 10 % of packets lost (counted over 200 ms) reduces
  the rate by half the loss fraction, at most once a second; under 2 % lets it grow
  (about 26 % a second, so it recovers within seconds).

:attr:`target_bitrate` is the smaller of the two, between ``min_bitrate`` and
``max_bitrate``.
"""

from __future__ import annotations

from collections import deque
from typing import Final, Literal

from rtcpeer.rtp.twcc import TwccFeedback

__all__ = ["BandwidthEstimator"]

_GROUP_SPAN: Final = 0.005
_WINDOW: Final = 20
_SMOOTHING: Final = 0.9
_TREND_GAIN: Final = 4.0
_OVERUSE_TIME: Final = 0.01
_HISTORY: Final = 8192
_RATE_WINDOW: Final = 0.5
_DECREASE_INTERVAL: Final = 1.0

Signal = Literal["normal", "overuse", "underuse"]


class BandwidthEstimator:
    """GCC-style target bitrate (bits per second) from TWCC feedback."""

    def __init__(
        self,
        *,
        initial_bitrate: int = 1_000_000,
        min_bitrate: int = 30_000,
        max_bitrate: int = 10_000_000,
    ) -> None:
        self.min_bitrate = min_bitrate
        self.max_bitrate = max_bitrate
        self.delay_bitrate = float(initial_bitrate)
        self.loss_bitrate = float(initial_bitrate)
        # transport-wide seq (extended) -> (send time, size in bytes)
        self._sent: dict[int, tuple[float, int]] = {}
        self._highest_sent: int | None = None
        # delay-based state
        self._group: tuple[float, float, float] | None = None  # first send, last send, last arrival
        self._previous_group: tuple[float, float] | None = None  # last send, last arrival
        self._accumulated = 0.0
        self._smoothed = 0.0
        self._points: deque[tuple[float, float]] = deque(maxlen=_WINDOW)
        self._first_arrival: float | None = None
        self._threshold = 12.5  # ms
        self._last_threshold_update: float | None = None
        self._overuse_since: float | None = None
        self._deltas = 0
        self.signal: Signal = "normal"
        self._capacity: float | None = None
        self._capacity_deviation = 0.0
        self._last_update: float | None = None
        self._last_loss_update: float | None = None
        self._loss_counts = [0, 0]
        self._last_decrease: float | None = None
        # received-rate measurement (receiver clock, bytes)
        self._received: deque[tuple[float, int]] = deque()
        #: Latest loss fraction and estimated receive rate, for stats.
        self.loss_fraction = 0.0
        self.received_bitrate: float | None = None
        self.feedback_received = 0
        self.feedback_delay = 0.1
        self._last_reference: int | None = None
        self._unwrapped_reference = 0

    @property
    def target_bitrate(self) -> int:
        rate = min(self.delay_bitrate, self.loss_bitrate)
        return int(max(self.min_bitrate, min(self.max_bitrate, rate)))

    def on_packet_sent(self, now: float, sequence: int, size: int) -> None:
        """We sent the packet with transport-wide ``sequence`` (16 bits), ``size`` bytes."""
        if self._highest_sent is None:
            ext = sequence
        else:
            delta = ((sequence - self._highest_sent + 0x8000) & 0xFFFF) - 0x8000
            ext = self._highest_sent + delta
        if self._highest_sent is None or ext > self._highest_sent:
            self._highest_sent = ext
        self._sent[ext] = (now, size)
        if len(self._sent) > _HISTORY:
            del self._sent[next(iter(self._sent))]

    def _extend(self, sequence: int) -> int | None:
        if self._highest_sent is None:
            return None
        delta = ((sequence - self._highest_sent + 0x8000) & 0xFFFF) - 0x8000
        return self._highest_sent + delta

    def on_feedback(self, now: float, feedback: TwccFeedback) -> None:
        """A transport-wide feedback message arrived at ``now``."""
        base = self._extend(feedback.base_sequence)
        if base is None:
            return
        self.feedback_received += 1
        # The reference time is the receiver's clock modulo 2^24 x 64 ms: unwrap it.
        raw = feedback.reference_time
        if self._last_reference is None:
            unwrapped = raw
        else:
            # The signed 24-bit step from the last one: reordering across the wrap
            # cannot count it twice.
            step = ((raw - self._last_reference + (1 << 23)) & 0xFFFFFF) - (1 << 23)
            unwrapped = self._unwrapped_reference + step
        self._last_reference = raw
        self._unwrapped_reference = unwrapped
        shift = (unwrapped - raw) * 0.064
        lost = received = 0
        newest: float | None = None
        for offset, arrival in enumerate(feedback.arrivals):
            sent = self._sent.pop(base + offset, None)
            if sent is None:
                continue  # not ours, or reported before
            newest = sent[0]
            if arrival is None:
                lost += 1
                continue
            received += 1
            self._on_arrival(sent[0], arrival + shift, sent[1])
        if newest is not None:
            # Send to feedback: the round trip plus queueing, what a response takes.
            self.feedback_delay += 0.1 * (max(0.0, now - newest) - self.feedback_delay)
        if lost + received:
            self._update_loss(now, lost, lost + received)
        self._update_rate(now)

    # -- delay-based ------------------------------------------------------------------

    def _on_arrival(self, send: float, arrival: float, size: int) -> None:
        self._received.append((arrival, size))
        while self._received and self._received[0][0] < arrival - _RATE_WINDOW:
            self._received.popleft()
        group = self._group
        if group is None:
            self._group = (send, send, arrival)
            return
        first_send, _last_send, _last_arrival = group
        if send - first_send <= _GROUP_SPAN:
            self._group = (first_send, max(send, group[1]), max(arrival, group[2]))
            return
        # The group is complete: compare it with the one before.
        _, done_send, done_arrival = group
        if self._previous_group is not None:
            prev_send, prev_arrival = self._previous_group
            delay_delta = (done_arrival - prev_arrival) - (done_send - prev_send)
            self._on_delay_delta(done_arrival, delay_delta * 1000.0)
        self._previous_group = (done_send, done_arrival)
        self._group = (send, send, arrival)

    def _on_delay_delta(self, arrival: float, delta_ms: float) -> None:
        self._deltas = min(self._deltas + 1, 60)
        self._accumulated += delta_ms
        self._smoothed = _SMOOTHING * self._smoothed + (1 - _SMOOTHING) * self._accumulated
        if self._first_arrival is None:
            self._first_arrival = arrival
        self._points.append(((arrival - self._first_arrival) * 1000.0, self._smoothed))
        if len(self._points) < _WINDOW:
            return
        xs = [p[0] for p in self._points]
        ys = [p[1] for p in self._points]
        mean_x = sum(xs) / len(xs)
        mean_y = sum(ys) / len(ys)
        denominator = sum((x - mean_x) ** 2 for x in xs)
        if denominator == 0:
            return
        slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / denominator
        trend = slope * self._deltas * _TREND_GAIN
        self._detect(arrival, trend)

    def _detect(self, arrival: float, trend: float) -> None:
        """§5.4 over-use detector with an adaptive threshold."""
        if trend > self._threshold:
            if self._overuse_since is None:
                self._overuse_since = arrival
            if arrival - self._overuse_since >= _OVERUSE_TIME:
                self.signal = "overuse"
        elif trend < -self._threshold:
            self._overuse_since = None
            self.signal = "underuse"
        else:
            self._overuse_since = None
            self.signal = "normal"
        if self._last_threshold_update is not None and abs(trend) < self._threshold + 15:
            k = 0.039 if abs(trend) < self._threshold else 0.0087
            dt = min(arrival - self._last_threshold_update, 0.1) * 1000.0
            self._threshold += k * (abs(trend) - self._threshold) * dt
            self._threshold = max(6.0, min(600.0, self._threshold))
        self._last_threshold_update = arrival

    def _measured_rate(self) -> float | None:
        if len(self._received) < 2:
            return None
        span = self._received[-1][0] - self._received[0][0]
        if span <= 0:
            return None
        return sum(size for _, size in self._received) * 8 / max(span, 0.1)

    def _update_rate(self, now: float) -> None:
        """§5.5 AIMD rate control."""
        measured = self._measured_rate()
        self.received_bitrate = measured
        dt = 0.0 if self._last_update is None else min(now - self._last_update, 1.0)
        self._last_update = now
        capacity = self._capacity
        if (
            measured is not None
            and capacity is not None
            and measured > capacity + 3 * self._capacity_deviation
        ):
            capacity = self._capacity = None  # the path got better: probe again
        if self.signal == "overuse":
            if measured is not None:
                self.delay_bitrate = min(self.delay_bitrate, 0.85 * measured)
                self._update_capacity(measured)
            else:
                self.delay_bitrate *= 0.85
            self.signal = "normal"  # one decrease per detection
            self._overuse_since = None
        elif self.signal == "normal":
            if (
                capacity is not None
                and self.delay_bitrate > capacity - 3 * self._capacity_deviation
            ):
                # Near the capacity last seen: additive, about one packet per
                # response time (§5.5), so the queue left by the cut can drain.
                response = self.feedback_delay + 0.1
                grown = self.delay_bitrate + dt * 1200 * 8 / response
            else:
                grown = self.delay_bitrate * (1.08**dt)
            if measured is not None:
                grown = min(grown, 1.5 * measured + 10_000)  # stay near what gets through
            self.delay_bitrate = max(self.delay_bitrate, grown)
        self.delay_bitrate = max(self.min_bitrate, min(self.max_bitrate, self.delay_bitrate))

    def _update_capacity(self, measured: float) -> None:
        """The link capacity seen at over-use: an average and a deviation."""
        if self._capacity is None:
            self._capacity = measured
            self._capacity_deviation = 0.1 * measured
            return
        error = measured - self._capacity
        self._capacity += 0.05 * error
        self._capacity_deviation = max(
            0.02 * self._capacity,
            (0.95 * self._capacity_deviation**2 + 0.05 * error**2) ** 0.5,
        )

    # -- loss-based ---------------------------------------------------------------------

    def _update_loss(self, now: float, lost: int, total: int) -> None:
        """§6: loss over 10 % cuts, under 2 % lets the rate grow (counted over at
        least 200 ms, so one feedback's handful of packets does not decide)."""
        self._loss_counts[0] += lost
        self._loss_counts[1] += total
        last = self._last_loss_update
        if last is not None and now - last < 0.2:
            return
        dt = 0.2 if last is None else min(now - last, 1.0)
        self._last_loss_update = now
        lost, total = self._loss_counts
        self._loss_counts = [0, 0]
        fraction = lost / total
        self.loss_fraction = fraction
        if fraction > 0.1:
            # A cut of what we send now, at most once per response time: losses keep
            # being reported for a while after the rate came down. Heavy loss is
            # congestion the delay signal may not show (a full drop-tail queue), so
            # the delay-based rate comes down too.
            interval = max(_DECREASE_INTERVAL, self.feedback_delay + 0.3)
            if self._last_decrease is None or now - self._last_decrease >= interval:
                self._last_decrease = now
                self.loss_bitrate = self.target_bitrate * (1 - 0.5 * fraction)
                self.delay_bitrate = min(self.delay_bitrate, self.loss_bitrate)
        elif fraction < 0.02:
            self.loss_bitrate = min(self.loss_bitrate * 1.08 ** (dt * 3), self.max_bitrate)
        self.loss_bitrate = max(self.min_bitrate, self.loss_bitrate)
