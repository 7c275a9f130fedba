"""Time to open: from ``createOffer`` to a data channel ``open`` at both ends.

Each row is one pair of stacks in one role: the offerer creates a channel, offers,
the answerer answers, candidates trickle both ways through an in-process relay, and
the clock stops when the offerer's channel and the answerer's announced channel are
both ``open``. All on loopback, one process (Chromium is driven through Playwright,
whose calls add a few milliseconds to its rows; the Chromium<->Chromium row runs
inside the page and has no such cost). Rows run interleaved, ``--repeat`` times;
the medians go last. Prints one JSON object per line. Not a test.

    python -m bench.setup                       # every row, median of 20
    python -m bench.setup --rows rtcpeer:rtcpeer rtcpeer:chromium --repeat 5
    python -m bench.setup --shape full          # descriptions with every candidate, no trickle
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

ROWS = [
    "rtcpeer:rtcpeer",
    "rtcpeer:chromium",
    "chromium:rtcpeer",
    "rtcpeer:aiortc",
    "aiortc:rtcpeer",
    "chromium:chromium",
    "aiortc:aiortc",
]

IN_PAGE = """
async ([shape]) => {
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  const gathered = (pc) => new Promise((r) => {
    if (pc.iceGatheringState === "complete") return r();
    pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && r());
  });
  if (shape === "trickle") {
    a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
    b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  }
  const start = performance.now();
  const ch = a.createDataChannel("setup");
  const opened = new Promise((r) => (ch.onopen = r));
  const remote = new Promise((r) => (b.ondatachannel = (e) =>
    e.channel.readyState === "open" ? r() : (e.channel.onopen = r)));
  await a.setLocalDescription(await a.createOffer());
  if (shape === "full") await gathered(a);
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  if (shape === "full") await gathered(b);
  await a.setRemoteDescription(b.localDescription);
  await Promise.all([opened, remote]);
  const ms = performance.now() - start;
  a.close(); b.close();
  return ms;
}"""


class Browser:
    """One headless Chromium for the whole run (started only if a row needs it)."""

    def __init__(self) -> None:
        self.running: Any = None
        self._stack: contextlib.AsyncExitStack | None = None

    async def get(self) -> Any:
        if self.running is None:
            from tests.interop.harness import ChromiumBrowser

            self._stack = contextlib.AsyncExitStack()
            self.running = await self._stack.enter_async_context(ChromiumBrowser().running())
        return self.running

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()


async def _peer(kind: str, browser: Browser) -> Any:
    from tests.interop.harness import AiortcPeer, RtcpeerPeer

    if kind == "rtcpeer":
        return RtcpeerPeer()
    if kind == "aiortc":
        return AiortcPeer()
    return await (await browser.get()).peer()


@contextlib.asynccontextmanager
async def _closing(*peers: Any) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for peer in peers:
            with contextlib.suppress(Exception):
                await peer.close()


async def _wait_gathered(peer: Any) -> dict[str, str]:
    """The peer's local description once gathering completed (every candidate)."""
    await peer.log.wait("icegatheringstatechange", lambda e: e["state"] == "complete")
    if hasattr(peer, "pc") and hasattr(peer.pc, "localDescription"):
        local = peer.pc.localDescription
        return {"type": local.type, "sdp": local.sdp}
    if hasattr(peer, "browser"):
        result: dict[str, str] = await peer.browser.call("localDescription", peer.pc_id)
        return result
    raise RuntimeError(f"cannot read {peer.name}'s gathered description")


async def one_run(row: str, shape: str, browser: Browser) -> tuple[float, float | None]:
    """Milliseconds from createOffer to both channels open, for ``offerer:answerer``,
    and from the offerer's setRemoteDescription(answer) resolving to both open (the
    transports alone, without the signaling path; None for in-page rows)."""
    from tests.interop.harness import CandidateRelay, loopback_only

    offer_kind, answer_kind = row.split(":")
    if row == "chromium:chromium":
        running = await browser.get()
        ms: float = await running.page.evaluate(IN_PAGE, [shape])
        return ms, None
    if row == "aiortc:aiortc":
        return await _aiortc_pair(), None
    offerer = await _peer(offer_kind, browser)
    answerer = await _peer(answer_kind, browser)
    async with _closing(offerer, answerer):
        trickle = shape == "trickle"
        relays = [CandidateRelay(offerer, answerer), CandidateRelay(answerer, offerer)]
        if not trickle:
            for relay in relays:
                relay.stop()
        try:
            start = time.perf_counter()
            channel = await offerer.create_data_channel("setup")
            offer = await offerer.set_local_description(await offerer.create_offer())
            if shape == "full" and offerer.name != "aiortc":
                offer = await _wait_gathered(offerer)
            await answerer.set_remote_description(loopback_only(offer))
            relays[0].remote_set.set()
            answer = await answerer.set_local_description(await answerer.create_answer())
            if shape == "full" and answerer.name != "aiortc":
                answer = await _wait_gathered(answerer)
            await offerer.set_remote_description(loopback_only(answer))
            signaled = time.perf_counter()
            relays[1].remote_set.set()
            await channel.wait_open(timeout=30)
            remote = await answerer.channel_from_event("setup", timeout=30)
            await remote.wait_open(timeout=30)
            end = time.perf_counter()
            return (end - start) * 1000, (end - signaled) * 1000
        finally:
            for relay in relays:
                relay.stop()


async def _aiortc_pair() -> float:
    import aioice.ice
    from aiortc import RTCConfiguration, RTCPeerConnection

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    a = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    b = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    loop = asyncio.get_running_loop()
    opened: asyncio.Future[None] = loop.create_future()
    remote_open: asyncio.Future[None] = loop.create_future()
    start = time.perf_counter()
    channel = a.createDataChannel("setup")
    channel.on("open", lambda: opened.done() or opened.set_result(None))

    @b.on("datachannel")
    def on_channel(remote: Any) -> None:
        if remote.readyState == "open":
            remote_open.set_result(None)
        else:
            remote.on("open", lambda: remote_open.done() or remote_open.set_result(None))

    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    await asyncio.wait_for(asyncio.gather(opened, remote_open), 30)
    ms = (time.perf_counter() - start) * 1000
    await a.close()
    await b.close()
    return ms


async def run(rows: list[str], repeat: int, shape: str) -> int:
    os.environ.setdefault("RTCPEER_HOST_ADDRESSES", "127.0.0.1")
    browser = Browser()
    times: dict[str, list[float]] = {row: [] for row in rows}
    after_answer: dict[str, list[float]] = {row: [] for row in rows}
    status = 0
    try:
        for index in range(repeat):
            for row in rows:
                record: dict[str, Any] = {
                    "bench": "setup",
                    "row": row,
                    "shape": shape,
                    "run": index,
                }
                try:
                    ms, connect = await asyncio.wait_for(one_run(row, shape, browser), 60)
                except Exception as exc:  # report and go on with the other rows
                    record["error"] = f"{type(exc).__name__}: {exc}"
                    status = 1
                else:
                    record["ms"] = round(ms, 1)
                    times[row].append(ms)
                    if connect is not None:
                        record["after_answer_ms"] = round(connect, 1)
                        after_answer[row].append(connect)
                print(json.dumps(record), flush=True)
    finally:
        await browser.close()
    for row, values in times.items():
        if not values:
            continue
        summary = {
            "bench": "setup-median",
            "row": row,
            "shape": shape,
            "runs": len(values),
            "median_ms": round(statistics.median(values), 1),
            "range_ms": [round(min(values), 1), round(max(values), 1)],
            "over_500_ms": sum(v > 500 for v in values),
        }
        if after_answer[row]:
            summary["after_answer_median_ms"] = round(statistics.median(after_answer[row]), 1)
        print(json.dumps(summary), flush=True)
    return status


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", nargs="+", default=ROWS, choices=ROWS, metavar="OFFERER:ANSWERER")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--shape", choices=["trickle", "full"], default="trickle")
    args = parser.parse_args()
    return asyncio.run(run(args.rows, args.repeat, args.shape))


if __name__ == "__main__":
    sys.exit(main())
