"""Video send/receive cost, rtcpeer side by side with aiortc.

Two peers in one process over real loopback sockets; one VP8 video track of
``--width``x``--height`` at ``--fps`` for ``--seconds``, the same synthetic source
for both stacks (a moving luma ramp with a noisy band, so the encoder has work).
The receiver decodes every frame. Reported per run, as JSON: frames produced,
frames decoded at the far end, CPU seconds the process used per second of media
(both peers, encode + packetize + protect + decode), and the bitrate on the wire.
Not a test: compare ratios within one run.

    python -m bench.media --peers aiortc rtcpeer --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from av.video.frame import VideoFrame

Runner = Callable[[int, int, int, float], Awaitable[dict[str, Any]]]


class Pattern:
    """Frames of a moving ramp with a band of noise (fixed seed)."""

    def __init__(self, width: int, height: int) -> None:
        rng = random.Random(1)
        self.width, self.height = width, height
        row = bytes((x * 255) // width for x in range(width))
        self.row = row * 2
        self.noise = [rng.randbytes(width * (height // 8)) for _ in range(8)]
        self.chroma = bytes([128]) * ((width // 2) * (height // 2))

    def frame(self, index: int) -> VideoFrame:
        w, h = self.width, self.height
        shift = (index * 4) % w
        ramp = self.row[w - shift : 2 * w - shift] * (h - h // 8)
        frame = VideoFrame(w, h, "yuv420p")
        luma, cb, cr = frame.planes
        data = ramp + self.noise[index % 8]
        stride = luma.line_size
        if stride != w:
            data = b"".join(data[r * w : (r + 1) * w] + bytes(stride - w) for r in range(h))
        luma.update(data)
        for plane in (cb, cr):
            plane.update(_pad(self.chroma, w // 2, h // 2, plane.line_size))
        frame.pts = index * 3000
        frame.time_base = fractions.Fraction(1, 90000)
        return frame


def _pad(data: bytes, width: int, rows: int, stride: int) -> bytes:
    if stride == width:
        return data
    return b"".join(data[r * width : (r + 1) * width] + bytes(stride - width) for r in range(rows))


async def _paced(pattern: Pattern, fps: int, state: dict[str, Any]) -> VideoFrame:
    loop = asyncio.get_running_loop()
    if state.get("start") is None:
        state["start"] = loop.time()
    index = state.get("n", 0)
    due = state["start"] + index / fps
    delay = due - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)
    state["n"] = index + 1
    return pattern.frame(index)


async def run_rtcpeer(width: int, height: int, fps: int, seconds: float) -> dict[str, Any]:
    os.environ.setdefault("RTCPEER_HOST_ADDRESSES", "127.0.0.1")
    from rtcpeer import MediaStreamTrack, RTCPeerConnection

    pattern = Pattern(width, height)
    state: dict[str, Any] = {}

    class Source(MediaStreamTrack):
        def __init__(self) -> None:
            super().__init__("video")

        async def recv(self) -> VideoFrame:
            return await _paced(pattern, fps, state)

    a, b = RTCPeerConnection(), RTCPeerConnection()
    for x, y in ((a, b), (b, a)):
        x.onicecandidate = (
            lambda peer: (
                lambda e: e.candidate and asyncio.ensure_future(peer.addIceCandidate(e.candidate))
            )
        )(y)
    tracks: list[Any] = []
    b.ontrack = lambda e: tracks.append(e.track)
    a.addTrack(Source())
    return await _call(a, b, tracks, seconds, state)


async def run_aiortc(width: int, height: int, fps: int, seconds: float) -> dict[str, Any]:
    import aioice.ice
    from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    pattern = Pattern(width, height)
    state: dict[str, Any] = {}

    class Source(MediaStreamTrack):
        kind = "video"

        async def recv(self) -> VideoFrame:
            return await _paced(pattern, fps, state)

    a = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    b = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    tracks: list[Any] = []
    b.on("track", tracks.append)
    a.addTrack(Source())
    return await _call(a, b, tracks, seconds, state)


async def _call(
    a: Any, b: Any, tracks: list[Any], seconds: float, state: dict[str, Any]
) -> dict[str, Any]:
    """Offer/answer between ``a`` (sending) and ``b`` (either stack), measure,
    read the sender's outbound-rtp, close."""
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    while not tracks:
        await asyncio.sleep(0.01)
    result = await _measure(tracks[0], seconds, state)
    stats = await a.getStats()
    out = next(r for r in stats.values() if r.type == "outbound-rtp")
    result["bytes_sent"] = out.bytesSent
    for key, name in (("key_frames", "keyFramesEncoded"), ("target_bitrate", "targetBitrate")):
        if getattr(out, name, None) is not None:  # (rtcpeer has them, aiortc not)
            result[key] = getattr(out, name)
    await a.close()
    await b.close()
    return result


async def _measure(track: Any, seconds: float, state: dict[str, Any]) -> dict[str, Any]:
    await asyncio.wait_for(track.recv(), 20)  # media flows
    decoded = 0
    produced0 = state.get("n", 0)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    deadline = wall0 + seconds
    size = None
    while time.perf_counter() < deadline:
        try:
            frame = await asyncio.wait_for(track.recv(), 2)
        except TimeoutError:
            break
        decoded += 1
        size = (frame.width, frame.height)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {
        "frames_produced": state.get("n", 0) - produced0,
        "frames_decoded": decoded,
        "decoded_size": size,
        "seconds": round(wall, 3),
        "cpu_per_media_second": round(cpu / wall, 3),
    }


RUNNERS: dict[str, Runner] = {"rtcpeer": run_rtcpeer, "aiortc": run_aiortc}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--peers", nargs="+", default=["aiortc", "rtcpeer"], choices=RUNNERS)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in args.peers}
    for _ in range(args.repeat):
        for peer in args.peers:  # interleaved, so drift hits both alike
            record = asyncio.run(RUNNERS[peer](args.width, args.height, args.fps, args.seconds))
            record["peer"] = peer
            record["kbps"] = round(record["bytes_sent"] * 8 / 1000 / max(record["seconds"], 1e-9))
            runs[peer].append(record)
            print(json.dumps(record), flush=True)
    if args.repeat > 1:
        for peer, records in runs.items():
            summary = {
                "peer": peer,
                "median_cpu_per_media_second": statistics.median(
                    r["cpu_per_media_second"] for r in records
                ),
                "median_frames_decoded": statistics.median(r["frames_decoded"] for r in records),
            }
            print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
