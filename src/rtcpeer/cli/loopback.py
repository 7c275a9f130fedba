"""``rtcpeer loopback``: two peer connections in this process, over UDP on 127.0.0.1.

Alice offers a data channel and her (synthetic) camera and microphone, Bob answers;
candidates trickle between them through an in-process "signaling" hop. Every state
change of both is printed with the time since start; Bob decodes Alice's audio and
video for a moment, then Alice sends a payload on the channel, both report what they
measured, and Alice closes (Bob's reaction to the close is printed too).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from rtcpeer import RTCPeerConnection, mediaDevices
from rtcpeer.aio.interfaces import ENV_HOST_ADDRESSES

__all__ = ["run_loopback"]

_STATE_EVENTS = {
    "signalingstatechange": "signalingState",
    "icegatheringstatechange": "iceGatheringState",
    "iceconnectionstatechange": "iceConnectionState",
    "connectionstatechange": "connectionState",
}


async def _watch_media(log: Any, tracks: list[Any], seconds: float) -> dict[str, int]:
    """Read Bob's remote tracks for ``seconds``: frames decoded per kind."""
    counts = {t.kind: 0 for t in tracks}
    first: dict[str, Any] = {}

    async def read(track: Any) -> None:
        while True:
            frame = await track.recv()
            if track.kind not in first:
                first[track.kind] = frame
                log("bob", f"first {track.kind} frame: {_describe(frame)}")
            counts[track.kind] += 1

    readers = [asyncio.ensure_future(read(t)) for t in tracks]
    await asyncio.sleep(seconds)
    for reader in readers:
        reader.cancel()
    return counts


def _describe(frame: Any) -> str:
    if hasattr(frame, "width"):
        return f"{frame.width}x{frame.height} {frame.format.name}"
    return f"{frame.samples} samples at {frame.sample_rate} Hz"


async def run_loopback(
    payload_bytes: int = 1 << 20, timeout: float = 20.0, media_seconds: float = 2.0
) -> int:
    """Run the demo; returns a process exit status (0 on success)."""
    os.environ.setdefault(ENV_HOST_ADDRESSES, "127.0.0.1")
    start = time.monotonic()

    def log(who: str, what: str) -> None:
        print(f"{(time.monotonic() - start) * 1000:8.1f} ms  {who:<5} {what}", flush=True)

    alice, bob = RTCPeerConnection(), RTCPeerConnection()
    loop = asyncio.get_running_loop()
    for name, pc, other in (("alice", alice, bob), ("bob", bob, alice)):
        for event, attribute in _STATE_EVENTS.items():
            pc.addEventListener(
                event,
                lambda _e, n=name, p=pc, a=attribute: log(n, f"{a} -> {getattr(p, a)}"),
            )

        async def on_candidate(event: Any, n: str = name, o: RTCPeerConnection = other) -> None:
            if event.candidate is None:
                log(n, "end of candidates")
                return
            log(n, f"candidate {event.candidate.candidate}")
            await o.addIceCandidate(event.candidate)

        pc.onicecandidate = on_candidate

    camera = await mediaDevices.getUserMedia(
        {"audio": True, "video": {"width": 640, "height": 480, "frameRate": 30}}
    )
    for track in camera.getTracks():
        alice.addTrack(track, camera)
    remote_tracks: list[Any] = []

    def on_track(event: Any) -> None:
        log("bob", f"track {event.track.kind} (mid {event.transceiver.mid})")
        remote_tracks.append(event.track)

    bob.ontrack = on_track
    channel = alice.createDataChannel("loopback", ordered=True)
    opened = loop.create_future()
    done = loop.create_future()
    received = 0
    first_byte_at = 0.0

    def on_datachannel(event: Any) -> None:
        remote = event.channel
        log("bob", f"datachannel {remote.label!r} id={remote.id}")

        def on_message(message: Any) -> None:
            nonlocal received, first_byte_at
            if not received:
                first_byte_at = time.monotonic()
            received += len(message.data)
            if received >= payload_bytes and not done.done():
                done.set_result(time.monotonic())

        remote.onmessage = on_message

    bob.ondatachannel = on_datachannel

    def on_open(_event: Any) -> None:
        log("alice", "channel open")
        opened.set_result(None)

    channel.onopen = on_open

    try:
        await alice.setLocalDescription()
        await bob.setRemoteDescription(alice.localDescription)
        await bob.setLocalDescription()
        await alice.setRemoteDescription(bob.localDescription)
        await asyncio.wait_for(opened, timeout)
        counts = await _watch_media(log, remote_tracks, media_seconds)
        log("bob", f"decoded in {media_seconds:g} s: " + ", ".join(
            f"{n} {kind} frames" for kind, n in sorted(counts.items())
        ))  # fmt: skip
        for report in (await alice.getStats()).values():
            if report.type == "outbound-rtp":
                remote = report.get("remoteId")
                rtt = (
                    (await alice.getStats()).get(remote, {}).get("roundTripTime")
                    if remote
                    else None
                )
                log(
                    "alice",
                    f"{report.kind} {report.packetsSent} packets, {report.bytesSent} bytes"
                    + (f", rtt {rtt * 1000:.2f} ms" if rtt is not None else ""),
                )

        chunk = bytes(min(65536, max(1, payload_bytes)))
        channel.bufferedAmountLowThreshold = 1 << 20
        low = asyncio.Event()
        channel.onbufferedamountlow = lambda _e: low.set()
        sent = 0
        send_start = time.monotonic()
        while sent < payload_bytes:
            if channel.bufferedAmount > 4 << 20:
                low.clear()
                await low.wait()
                continue
            size = min(len(chunk), payload_bytes - sent)
            channel.send(chunk[:size])
            sent += size
        finished = await asyncio.wait_for(done, timeout)
        seconds = max(finished - send_start, 1e-9)
        log(
            "alice",
            f"sent {sent} bytes; bob got {received} in {seconds * 1000:.1f} ms "
            f"({received / seconds / 1e6:.1f} MB/s)",
        )
        stats = await alice.getStats()
        for report in stats.values():
            if report.type == "candidate-pair" and report.state == "succeeded" and report.nominated:
                rtt = report.get("currentRoundTripTime")
                log(
                    "alice",
                    f"selected pair rtt={rtt * 1000 if rtt else 0:.2f} ms "
                    f"bytesSent={report.bytesSent} bytesReceived={report.bytesReceived}",
                )
        log("alice", "close()")
        await alice.close()
        deadline = time.monotonic() + 5.0
        while bob.connectionState not in ("closed", "failed") and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        log("bob", f"sees connectionState={bob.connectionState}")
        media_ok = counts.get("audio", 0) > 0 and counts.get("video", 0) > 0
        return 0 if received >= payload_bytes and media_ok else 1
    except TimeoutError:
        log("-", f"timed out after {timeout} s: alice={alice!r} bob={bob!r}")
        return 1
    finally:
        await alice.close()
        await bob.close()
        await asyncio.sleep(0.1)
