"""Deterministic network emulation for testing sans-IO WebRTC layers in simulated time.

Shipped with rtcpeer so that users' tests can use it too:

- :class:`Netem`: one direction of a link (latency, jitter, random and burst loss,
  reordering, duplication, a rate limit with a bounded queue, MTU drop), seeded.
- :class:`Nat`: RFC 4787 mapping and filtering behaviours with binding timeouts.
- :class:`Simulator`: hosts, links and NATs driven by a discrete-event clock that
  jumps to the next deadline; no sleeping.
- :class:`TurnServer`: a small RFC 8656 TURN server (UDP, long-term credentials) to
  put on a simulated public host, so relayed ICE paths can be tested too.
"""

from rtcpeer.testing.nat import Nat, NatBehavior, NatStats
from rtcpeer.testing.netem import GilbertElliott, LinkStats, Netem
from rtcpeer.testing.simulator import Endpoint, Host, PointToPoint, Simulator, TraceEntry
from rtcpeer.testing.turn_server import TurnServer

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
    "TurnServer",
]
