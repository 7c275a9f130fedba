"""Deterministic network emulation for testing sans-IO WebRTC layers in simulated time.

Shipped with rtcpeer so that users' tests can use it too:

- :class:`Netem`: one direction of a link (latency, jitter, random and burst loss,
  reordering, duplication, a rate limit with a bounded queue, MTU drop), seeded.
- :class:`Nat`: RFC 4787 mapping and filtering behaviours with binding timeouts.
- :class:`Simulator`: hosts, links and NATs driven by a discrete-event clock that
  jumps to the next deadline; no sleeping.
"""

from rtcpeer.testing.nat import Nat, NatBehavior, NatStats
from rtcpeer.testing.netem import GilbertElliott, LinkStats, Netem
from rtcpeer.testing.simulator import Endpoint, Host, PointToPoint, Simulator, TraceEntry

__all__ = [
    "Endpoint",
    "GilbertElliott",
    "Host",
    "LinkStats",
    "Nat",
    "NatBehavior",
    "NatStats",
    "Netem",
    "PointToPoint",
    "Simulator",
    "TraceEntry",
]
