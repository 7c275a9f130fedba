"""Data channel throughput, rtcpeer side by side with aiortc and Chromium.

Two peers in one process over real loopback sockets; one reliable ordered channel;
``--total`` bytes in ``--size``-byte messages with bufferedAmountLowThreshold flow
control (the sender waits for ``bufferedamountlow`` when more than ``--window`` bytes
are buffered). Prints one JSON object per run. Not a test: figures vary with the
machine, compare ratios within one run.

    python -m bench.datachannel --peers aiortc chromium rtcpeer
    python -m bench.datachannel --peers aiortc --total 5000000 --size 100   # small messages
    python -m bench.datachannel --peers aiortc rtcpeer --repeat 5   # interleaved, medians
    python -m bench.datachannel --peers rtcpeer-to-chromium chromium-to-rtcpeer
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

Runner = Callable[[int, int, int], Awaitable[dict[str, Any]]]


async def run_aiortc(total: int, size: int, window: int) -> dict[str, Any]:
    import aioice.ice
    from aiortc import RTCConfiguration, RTCPeerConnection

    # Loopback only, and no STUN server: aiortc's default config contacts Google's.
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    a = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    b = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    channel = a.createDataChannel("bench")
    done = asyncio.get_running_loop().create_future()
    received = 0
    messages = 0

    @b.on("datachannel")
    def on_channel(remote: Any) -> None:
        @remote.on("message")
        def on_message(data: bytes) -> None:
            nonlocal received, messages
            received += len(data)
            messages += 1
            if received >= total and not done.done():
                done.set_result(time.perf_counter())

    opened = asyncio.get_running_loop().create_future()
    channel.on("open", lambda: opened.set_result(None))
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    await asyncio.wait_for(opened, 30)

    payload = bytes(size)
    low = asyncio.Event()
    channel.bufferedAmountLowThreshold = window // 4
    channel.on("bufferedamountlow", low.set)
    start = time.perf_counter()
    sent = 0
    while sent < total:
        if channel.bufferedAmount > window:
            low.clear()
            await low.wait()
            continue
        channel.send(payload)
        sent += size
    end = await asyncio.wait_for(done, 600)
    await a.close()
    await b.close()
    return {"received": received, "messages": messages, "seconds": end - start}


async def run_chromium(total: int, size: int, window: int) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    executable = shutil.which("chromium")
    if executable is None:
        raise RuntimeError("Debian chromium is not installed")
    script = """
    async ([total, size, window]) => {
      const a = new RTCPeerConnection(), b = new RTCPeerConnection();
      a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
      b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
      const ch = a.createDataChannel("bench");
      let received = 0, messages = 0, done;
      const finished = new Promise((r) => (done = r));
      b.ondatachannel = (e) => {
        e.channel.binaryType = "arraybuffer";
        e.channel.onmessage = (m) => {
          received += m.data.byteLength; messages++;
          if (received >= total) done(performance.now());
        };
      };
      const opened = new Promise((r) => (ch.onopen = r));
      await a.setLocalDescription(); await b.setRemoteDescription(a.localDescription);
      await b.setLocalDescription(); await a.setRemoteDescription(b.localDescription);
      await opened;
      const payload = new Uint8Array(size);
      ch.bufferedAmountLowThreshold = window / 4;
      const start = performance.now();
      let sent = 0;
      while (sent < total) {
        if (ch.bufferedAmount > window) {
          await new Promise((r) => (ch.onbufferedamountlow = r));
          continue;
        }
        ch.send(payload); sent += size;
      }
      const end = await finished;
      a.close(); b.close();
      return { received, messages, seconds: (end - start) / 1000 };
    }"""
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--allow-loopback-in-peer-connection",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
    ]
    with tempfile.TemporaryDirectory() as profile:
        async with async_playwright() as p:
            context = await p.chromium.launch_persistent_context(
                profile,
                executable_path=executable,
                headless=True,
                args=flags,
                permissions=["camera", "microphone"],
            )
            page = context.pages[0] if context.pages else await context.new_page()
            result: dict[str, Any] = await page.evaluate(script, [total, size, window])
            await context.close()
    return result


async def run_rtcpeer(total: int, size: int, window: int) -> dict[str, Any]:
    try:
        from rtcpeer import RTCPeerConnection  # type: ignore[attr-defined]
    except ImportError:
        raise RuntimeError("rtcpeer has no RTCPeerConnection yet") from None
    os.environ.setdefault("RTCPEER_HOST_ADDRESSES", "127.0.0.1")
    a, b = RTCPeerConnection(), RTCPeerConnection()
    channel = a.createDataChannel("bench")
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    opened = loop.create_future()
    received = 0
    messages = 0

    def on_channel(event: Any) -> None:
        def on_message(message: Any) -> None:
            nonlocal received, messages
            received += len(message.data)
            messages += 1
            if received >= total and not done.done():
                done.set_result(time.perf_counter())

        event.channel.onmessage = on_message

    b.ondatachannel = on_channel
    channel.onopen = lambda event: opened.set_result(None)
    a.onicecandidate = lambda e: e.candidate and loop.create_task(b.addIceCandidate(e.candidate))
    b.onicecandidate = lambda e: e.candidate and loop.create_task(a.addIceCandidate(e.candidate))
    await a.setLocalDescription()
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription()
    await a.setRemoteDescription(b.localDescription)
    await asyncio.wait_for(opened, 30)
    payload = bytes(size)
    start = time.perf_counter()
    await send_flow_controlled(channel, total, size, window, lambda offset, n: payload)
    end = await asyncio.wait_for(done, 600)
    sctp_stats = {}
    sender = a._connection.sctp
    if sender is not None:
        s = sender.stats
        sctp_stats = {
            "packets_sent": s.packets_sent,
            "retransmitted_chunks": s.retransmitted_chunks,
            "fast_retransmits": s.fast_retransmits,
            "t3_expirations": s.t3_expirations,
        }
    await a.close()
    await b.close()
    return {
        "received": received,
        "messages": messages,
        "seconds": end - start,
        "sender_sctp": sctp_stats,
    }


async def send_flow_controlled(
    channel: Any, total: int, size: int, window: int, payload: Callable[[int, int], bytes]
) -> None:
    """Send ``total`` bytes in ``size`` messages (``payload(offset, n)``), waiting for
    ``bufferedamountlow`` whenever more than ``window`` bytes are buffered."""
    low = asyncio.Event()
    channel.bufferedAmountLowThreshold = window // 4
    channel.onbufferedamountlow = lambda event: low.set()
    sent = 0
    while sent < total:
        if channel.bufferedAmount > window:
            low.clear()
            await low.wait()
            continue
        n = min(size, total - sent)
        channel.send(payload(sent, n))
        sent += n


async def run_rtcpeer_to_chromium(total: int, size: int, window: int) -> dict[str, Any]:
    """rtcpeer sends, headless Chromium receives (and checks every byte), through the
    interop harness; one process, loopback."""
    from tests.interop.harness import ChromiumBrowser, RtcpeerPeer, negotiate

    browser = ChromiumBrowser()
    async with browser.running() as running:
        theirs = await running.peer()
        ours = RtcpeerPeer()
        try:
            channel = await ours.create_data_channel("bench")
            await negotiate(ours, theirs)
            await channel.wait_open()
            remote = await theirs.channel_from_event("bench")
            await remote.wait_open()
            await theirs.sink(remote, total)  # type: ignore[attr-defined]
            pattern = bytes(i % 251 for i in range(251)) * (size // 251 + 2)
            start = time.perf_counter()
            await send_flow_controlled(
                channel.key,
                total,
                size,
                window,
                lambda offset, n: pattern[offset % 251 : offset % 251 + n],
            )
            done = await theirs.log.wait("sinkdone", timeout=600)
            end = time.perf_counter()
            if done["errors"]:
                raise RuntimeError(f"Chromium saw {done['errors']} corrupted messages")
            return {
                "received": done["received"],
                "messages": done["messages"],
                "seconds": end - start,
            }
        finally:
            await ours.close()
            await theirs.close()


async def run_chromium_to_rtcpeer(total: int, size: int, window: int) -> dict[str, Any]:
    """Headless Chromium sends (bufferedAmountLowThreshold flow control), rtcpeer
    receives; one process, loopback."""
    from tests.interop.harness import ChromiumBrowser, RtcpeerPeer, negotiate

    browser = ChromiumBrowser()
    async with browser.running() as running:
        theirs = await running.peer()
        ours = RtcpeerPeer()
        try:
            channel = await theirs.create_data_channel("bench")
            await negotiate(theirs, ours)
            await channel.wait_open()
            remote = await ours.channel_from_event("bench")
            loop = asyncio.get_running_loop()
            done: asyncio.Future[float] = loop.create_future()
            counts = {"received": 0, "messages": 0}

            def on_message(event: Any) -> None:
                counts["received"] += len(event.data)
                counts["messages"] += 1
                if counts["received"] >= total and not done.done():
                    done.set_result(time.perf_counter())

            remote.key.onmessage = on_message
            start = time.perf_counter()
            await theirs.send_pattern(channel, total, size)  # type: ignore[attr-defined]
            end = await asyncio.wait_for(done, 600)
            return {**counts, "seconds": end - start}
        finally:
            await ours.close()
            await theirs.close()


RUNNERS: dict[str, Runner] = {
    "aiortc": run_aiortc,
    "chromium": run_chromium,
    "rtcpeer": run_rtcpeer,
    "rtcpeer-to-chromium": run_rtcpeer_to_chromium,
    "chromium-to-rtcpeer": run_chromium_to_rtcpeer,
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--peers", nargs="+", default=["aiortc", "rtcpeer"], choices=sorted(RUNNERS)
    )
    parser.add_argument("--total", type=int, default=64 << 20, help="bytes to transfer")
    parser.add_argument("--size", type=int, default=64 << 10, help="message size")
    parser.add_argument("--window", type=int, default=4 << 20, help="bufferedAmount high mark")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the peers this many times, interleaved, then print each peer's median",
    )
    args = parser.parse_args()
    status = 0
    runs: dict[str, list[float]] = {peer: [] for peer in args.peers}
    for peer in args.peers * args.repeat:
        record: dict[str, Any] = {
            "bench": "datachannel",
            "peer": peer,
            "total": args.total,
            "size": args.size,
        }
        try:
            result = asyncio.run(RUNNERS[peer](args.total, args.size, args.window))
        except Exception as exc:  # report and go on with the other peers
            record["error"] = f"{type(exc).__name__}: {exc}"
            status = 1
        else:
            record.update(result)
            record["MB_per_s"] = round(result["received"] / result["seconds"] / 1e6, 2)
            record["messages_per_s"] = round(result["messages"] / result["seconds"])
            runs[peer].append(result["seconds"])
        print(json.dumps(record), flush=True)
    if args.repeat > 1:
        for peer, seconds in runs.items():
            if not seconds:
                continue
            median = statistics.median(seconds)
            summary = {
                "bench": "datachannel-median",
                "peer": peer,
                "runs": len(seconds),
                "size": args.size,
                "MB_per_s": round(args.total / median / 1e6, 2),
                "messages_per_s": round(args.total / args.size / median),
                "MB_per_s_range": [
                    round(args.total / max(seconds) / 1e6, 2),
                    round(args.total / min(seconds) / 1e6, 2),
                ],
            }
            print(json.dumps(summary), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
