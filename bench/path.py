"""Data channel transfers over an impaired path: rtcpeer beside aiortc and Chromium.

Two peers of one stack talk through :mod:`bench.relay` (its own process: delay,
loss, a 100 Mbit/s rate limit with a tail-drop queue, seeded), which stands for each
peer's candidate: the descriptions are exchanged whole (no trickle) with their
candidates rewritten to the relay's ports. One reliable ordered channel carries
``--total`` bytes in 64 KiB messages with bufferedAmount flow control; the clock runs
from the first send to the last byte received. Prints one JSON object per run, then a
table of seconds (and rtcpeer's speed-up over each other stack) per cell. Not a test.

    python -m bench.path                              # 10 MB, 50/100/300 ms x 0/1/5 %
    python -m bench.path --rtt 0.3 --loss 0 --stacks rtcpeer aiortc
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.datachannel import send_flow_controlled
from bench.relay import LOOPBACK, Impairment, RelayProcess

Ports = Callable[[int], int]  # real port -> relay port standing for it
_MESSAGE = 65536  # bytes a message
_WINDOW = 4 << 20  # bufferedAmount above which the sender waits for bufferedamountlow
_CANDIDATE = re.compile(r"^(a=candidate:\S+ \d+ udp \d+ )(127\.0\.0\.1) (\d+)( typ host.*)$", re.I)


def through_relay(sdp: str, relay_port: Ports) -> str:
    """The description with its loopback UDP host candidates moved to relay ports,
    and every other candidate removed (traffic must cross the relay)."""
    out = []
    for line in sdp.split("\r\n"):
        if line.startswith("a=candidate:"):
            match = _CANDIDATE.match(line)
            if match is None:
                continue
            line = f"{match[1]}{match[2]} {relay_port(int(match[3]))}{match[4]}"
        out.append(line)
    return "\r\n".join(out)


def _mapper(relay: RelayProcess) -> Ports:
    known: dict[int, int] = {}

    def port(real: int) -> int:
        if real not in known:
            known[real] = relay.stand_for((LOOPBACK, real))
        return known[real]

    return port


class _Arrivals:
    """Counts what the receiving channel gets; ``done`` resolves at the last byte."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.received = 0
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[float] = loop.create_future()

    def open(self, *_: Any) -> None:
        if not self.opened.done():
            self.opened.set_result(None)

    def message(self, data: bytes) -> None:
        self.received += len(data)
        if self.received >= self.total and not self.done.done():
            self.done.set_result(time.perf_counter())

    async def timed(self, send: Awaitable[None]) -> float:
        """Seconds from the first send to the last byte received."""
        await asyncio.wait_for(self.opened, 30)
        start = time.perf_counter()
        await send
        return await asyncio.wait_for(self.done, 600) - start


async def run_rtcpeer(total: int, relay: RelayProcess) -> float:
    os.environ["RTCPEER_HOST_ADDRESSES"] = LOOPBACK
    from rtcpeer import RTCPeerConnection

    a, b = RTCPeerConnection(), RTCPeerConnection()
    ports = _mapper(relay)
    try:
        channel = a.createDataChannel("bulk")
        arrivals = _Arrivals(total)
        b.ondatachannel = lambda e: setattr(
            e.channel, "onmessage", lambda m: arrivals.message(m.data)
        )
        channel.onopen = arrivals.open
        await a.setLocalDescription()
        await _until(lambda: a.iceGatheringState == "complete")
        offer = a.localDescription
        assert offer is not None
        await b.setRemoteDescription({"type": "offer", "sdp": through_relay(offer.sdp, ports)})
        await b.setLocalDescription()
        await _until(lambda: b.iceGatheringState == "complete")
        answer = b.localDescription
        assert answer is not None
        await a.setRemoteDescription({"type": "answer", "sdp": through_relay(answer.sdp, ports)})
        payload = bytes(_MESSAGE)
        send = send_flow_controlled(channel, total, _MESSAGE, _WINDOW, lambda _, n: payload[:n])
        return await arrivals.timed(send)
    finally:
        await a.close()
        await b.close()


async def run_aiortc(total: int, relay: RelayProcess) -> float:
    import aioice.ice
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [LOOPBACK]
    a = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    b = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    ports = _mapper(relay)
    try:
        channel = a.createDataChannel("bulk")
        arrivals = _Arrivals(total)
        b.on("datachannel", lambda remote: remote.on("message", arrivals.message))
        channel.on("open", arrivals.open)
        await a.setLocalDescription(await a.createOffer())
        offer = through_relay(a.localDescription.sdp, ports)
        await b.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await b.setLocalDescription(await b.createAnswer())
        answer = through_relay(b.localDescription.sdp, ports)
        await a.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        return await arrivals.timed(_send_aiortc(channel, total))
    finally:
        await a.close()
        await b.close()


async def run_chromium(total: int, relay: RelayProcess) -> float:
    from tests.interop.harness import ChromiumBrowser

    ports = _mapper(relay)
    async with ChromiumBrowser().running() as running:
        a = await running.peer()
        b = await running.peer()
        try:
            channel = await a.create_data_channel("bulk")
            await a.set_local_description()
            offer = await _gathered(a)
            await b.set_remote_description(
                {"type": "offer", "sdp": through_relay(offer["sdp"], ports)}
            )
            await b.set_local_description()
            answer = await _gathered(b)
            await a.set_remote_description(
                {"type": "answer", "sdp": through_relay(answer["sdp"], ports)}
            )
            await channel.wait_open(timeout=30)
            remote = await b.channel_from_event("bulk")
            await b.sink(remote, total)
            start = time.perf_counter()
            await a.send_pattern(channel, total, 65536)
            await b.log.wait("sinkdone", timeout=600)
            return time.perf_counter() - start
        finally:
            await a.close()
            await b.close()


async def _gathered(peer: Any) -> dict[str, str]:
    from tests.interop.harness import gathered_description

    return await gathered_description(peer)


async def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.01)


async def _send_aiortc(channel: Any, total: int) -> None:
    """What ``bench.datachannel.send_flow_controlled`` does, through aiortc's
    pyee events (it has no ``onbufferedamountlow`` attribute)."""
    low = asyncio.Event()
    channel.bufferedAmountLowThreshold = _WINDOW // 4
    channel.on("bufferedamountlow", low.set)
    payload = bytes(_MESSAGE)
    sent = 0
    while sent < total:
        if channel.bufferedAmount > _WINDOW:
            low.clear()
            await low.wait()
            continue
        n = min(_MESSAGE, total - sent)
        channel.send(payload[:n])
        sent += n


RUNNERS: dict[str, Callable[[int, RelayProcess], Awaitable[float]]] = {
    "rtcpeer": run_rtcpeer,
    "aiortc": run_aiortc,
    "chromium": run_chromium,
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stacks", nargs="+", default=list(RUNNERS), choices=list(RUNNERS))
    parser.add_argument("--rtt", nargs="+", type=float, default=[0.05, 0.1, 0.3])
    parser.add_argument("--loss", nargs="+", type=float, default=[0.0, 0.01, 0.05])
    parser.add_argument("--rate", type=float, default=100e6, help="bits per second")
    parser.add_argument("--total", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args()
    results: dict[tuple[float, float, str], list[float]] = {}
    status = 0
    for rtt in args.rtt:
        for loss in args.loss:
            for _ in range(args.repeat):
                for stack in args.stacks:
                    # Queue: the path's bandwidth-delay product, at least 64 KiB.
                    queue = max(64 * 1024, int(args.rate / 8 * rtt))
                    imp = Impairment(delay=rtt / 2, loss=loss, rate=args.rate, queue=queue)
                    relay = RelayProcess(imp)
                    record: dict[str, Any] = {
                        "bench": "path",
                        "stack": stack,
                        "rtt": rtt,
                        "loss": loss,
                        "total": args.total,
                    }
                    try:
                        seconds = asyncio.run(
                            asyncio.wait_for(RUNNERS[stack](args.total, relay), args.timeout)
                        )
                    except Exception as exc:  # report and go on
                        record["error"] = f"{type(exc).__name__}: {exc}"
                        status = 1
                    else:
                        record["seconds"] = round(seconds, 2)
                        record["Mbit_per_s"] = round(args.total * 8 / seconds / 1e6, 1)
                        results.setdefault((rtt, loss, stack), []).append(seconds)
                    with contextlib.suppress(Exception):
                        record["relay"] = relay.stop()
                    print(json.dumps(record), flush=True)
    print("\n| RTT | loss | " + " | ".join(f"{s} s" for s in args.stacks) + " | rtcpeer speed-up |")
    print("|---|---|" + "---|" * len(args.stacks) + "---|")
    for rtt in args.rtt:
        for loss in args.loss:
            cells = []
            medians: dict[str, float] = {}
            for stack in args.stacks:
                values = results.get((rtt, loss, stack))
                if values:
                    medians[stack] = statistics.median(values)
                    cells.append(f"{medians[stack]:.2f}")
                else:
                    cells.append("-")
            ours = medians.get("rtcpeer")
            ratios = [
                f"{medians[s] / ours:.1f}x vs {s}"
                for s in args.stacks
                if s != "rtcpeer" and s in medians and ours
            ]
            print(
                f"| {rtt * 1000:.0f} ms | {loss:.0%} | "
                + " | ".join(cells)
                + f" | {', '.join(ratios)} |"
            )
    return status


if __name__ == "__main__":
    sys.exit(main())
